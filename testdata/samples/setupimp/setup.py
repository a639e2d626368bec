import os

# imp was removed in Python 3.12: on 3.12 and later this setup.py cannot
# run at all, so nothing of the package builds there.
import imp
from setuptools import setup

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "VERSION")) as f:
    version = f.read().strip()

# What old setup.py files did with imp: read a module's metadata without
# importing the package.
about = imp.load_source("setupimp_about", os.path.join(here, "setupimp", "about.py"))

setup(
    name="setupimp",
    version=version,
    description=about.DESCRIPTION,
    packages=["setupimp"],
)
