import os
from setuptools import setup

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "VERSION")) as f:
    version = f.read().strip()

# Its tests import freezegun, which it declares nowhere (no extra, no
# requirements file, no tox.ini, no dependency group).
setup(
    name="undeclared",
    version=version,
    description="A pysmoke sample whose tests import a module it declares nowhere",
    packages=["undeclared"],
)
