import os
from setuptools import Extension, setup

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "VERSION")) as f:
    version = f.read().strip()

setup(
    name="depcext",
    version=version,
    description="A pysmoke sample dependency with a C extension, published as wheels built per interpreter",
    packages=["depcext"],
    ext_modules=[Extension("depcext._native", ["depcext/_native.c"])],
)
