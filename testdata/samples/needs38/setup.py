import os
from setuptools import setup

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "VERSION")) as f:
    version = f.read().strip()

setup(
    name="needs38",
    version=version,
    description="A pysmoke sample that declares Requires-Python >= 3.8 and uses math.prod (new in 3.8)",
    packages=["needs38"],
    python_requires=">=3.8",
)
