import os
from setuptools import setup

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "VERSION")) as f:
    version = f.read().strip()

setup(
    name="smokegood",
    version=version,
    description="A pysmoke sample that builds and passes on 2.7 and every 3.x",
    packages=["smokegood"],
)
