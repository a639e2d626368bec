import os
from setuptools import setup

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "VERSION")) as f:
    version = f.read().strip()

setup(
    name="old2to3",
    version=version,
    description="A pysmoke corpus sample: setup(use_2to3=True)",
    packages=["old2to3"],
    use_2to3=True,
)
