import os
from setuptools import setup

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "VERSION")) as f:
    version = f.read().strip()

setup(
    name="markapp",
    version=version,
    description="A pysmoke sample that depends on markdep",
    packages=["markapp"],
    install_requires=["markdep"],
)
