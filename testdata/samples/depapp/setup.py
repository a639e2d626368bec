import os
from setuptools import setup

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "VERSION")) as f:
    version = f.read().strip()

setup(
    name="depapp",
    version=version,
    description="A pysmoke sample that depends on two other samples and, for its tests, a pytest plugin",
    packages=["depapp"],
    install_requires=["depcext>=1.0", "depsdist"],
    extras_require={"test": ["pytest-mock"]},
)
