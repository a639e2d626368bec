import os
from setuptools import setup

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "VERSION")) as f:
    version = f.read().strip()

setup(
    name="imprel",
    version=version,
    description="A pysmoke corpus sample: imports imp, removed in Python 3.12",
    packages=["imprel"],
)
