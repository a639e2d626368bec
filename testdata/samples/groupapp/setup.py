import os
from setuptools import setup

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "VERSION")) as f:
    version = f.read().strip()

# What the tests need is declared only as a PEP 735 dependency group in
# pyproject.toml.
setup(
    name="groupapp",
    version=version,
    description="A pysmoke sample whose test dependencies are only a PEP 735 group",
    packages=["groupapp"],
)
