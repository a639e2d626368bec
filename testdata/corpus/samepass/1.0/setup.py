import os
from setuptools import setup

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "VERSION")) as f:
    version = f.read().strip()

setup(
    name="samepass",
    version=version,
    description="A pysmoke corpus sample: every release passes",
    packages=["samepass"],
)
