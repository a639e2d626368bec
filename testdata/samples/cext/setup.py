import os
from setuptools import Extension, setup

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "VERSION")) as f:
    version = f.read().strip()

setup(
    name="cext",
    version=version,
    description="A pysmoke sample with a C extension, for Python 2 and 3",
    packages=["cext"],
    ext_modules=[Extension("cext._speedups", ["cext/_speedups.c"])],
)
