import os
from setuptools import setup

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "VERSION")) as f:
    version = f.read().strip()

setup(
    name="flaky",
    version=version,
    description="A pysmoke corpus sample: a test that fails about half the time",
    packages=["flaky"],
)
