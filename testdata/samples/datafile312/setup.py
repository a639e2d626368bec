import sys

from setuptools import setup

# A build that depends on the interpreter running it: the data file is
# part of the distribution only when built on 3.12 or later, so the sdist
# and the wheel built there hold one more file than those built before.
package_data = {}
if sys.version_info >= (3, 12):
    package_data["datafile312"] = ["data/new.txt"]

setup(
    name="datafile312",
    version="1.0",
    description="A pysmoke sample whose data file ships only when built on 3.12+",
    packages=["datafile312"],
    package_data=package_data,
)
