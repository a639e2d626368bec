import os
from setuptools import setup

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "VERSION")) as f:
    version = f.read().strip()

setup(
    name="notests",
    version=version,
    description="A pysmoke sample that builds everywhere and ships no tests",
    packages=["notests"],
)
