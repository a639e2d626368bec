import os
from setuptools import setup

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "VERSION")) as f:
    version = f.read().strip()

setup(
    name="relreg",
    version=version,
    description="A pysmoke corpus sample: 1.1 breaks its own tests",
    packages=["relreg"],
)
