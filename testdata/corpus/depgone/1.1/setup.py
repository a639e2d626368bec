import os
from setuptools import setup

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "VERSION")) as f:
    version = f.read().strip()

setup(
    name="depgone",
    version=version,
    description="A pysmoke corpus sample: 1.1 needs a test dependency nobody provides",
    packages=["depgone"],
    extras_require={"test": ["pysmoke-corpus-absent>=1.0"]},
)
