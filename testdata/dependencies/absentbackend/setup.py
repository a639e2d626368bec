import os
from setuptools import setup

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "VERSION")) as f:
    version = f.read().strip()

# The build requirement of the needsbackend sample, published by the
# tests that need it only as an sdist (built in the job's sandbox), at the
# versions they choose.
setup(
    name="pysmoke-sample-absent-backend",
    version=version,
    description="A pysmoke sample build requirement",
    py_modules=["pysmoke_sample_backend"],
)
