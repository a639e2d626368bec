import os
from setuptools import setup

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "VERSION")) as f:
    version = f.read().strip()

# use_2to3 asks setuptools to convert the sources while building on
# Python 3. setuptools 58 removed it: from then on setup() refuses the
# option ("use_2to3 is invalid").
setup(
    name="use2to3",
    version=version,
    description="A pysmoke sample written for Python 2 that relies on setuptools' use_2to3 for Python 3",
    packages=["use2to3"],
    use_2to3=True,
)
