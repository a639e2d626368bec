import os
from setuptools import setup

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "VERSION")) as f:
    version = f.read().strip()

setup(
    name="usesimp",
    version=version,
    description="A pysmoke sample that loads plugins with imp, a module removed in Python 3.12",
    packages=["usesimp"],
)
