import os
from setuptools import setup

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "VERSION")) as f:
    version = f.read().strip()

# Its tests need pysmoke-sample-absent, declared in a PEP 735 group
# (pyproject.toml) and published on no index.
setup(
    name="missingdep",
    version=version,
    description="A pysmoke sample whose declared test dependency no index has",
    packages=["missingdep"],
)
