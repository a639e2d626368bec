import os
from setuptools import setup

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "VERSION")) as f:
    version = f.read().strip()

# No install_requires and no test extra: what the tests need is declared
# only in tox.ini, through -r requirements-dev.txt, as python-dateutil does.
setup(
    name="toxapp",
    version=version,
    description="A pysmoke sample whose test dependencies are declared only in tox.ini",
    packages=["toxapp"],
)
