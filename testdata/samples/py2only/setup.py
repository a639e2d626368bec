import os
from setuptools import setup

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "VERSION")) as f:
    version = f.read().strip()

setup(
    name="py2only",
    version=version,
    description="A pysmoke sample written for Python 2 only; 2to3 makes it work on 3",
    packages=["py2only"],
)
