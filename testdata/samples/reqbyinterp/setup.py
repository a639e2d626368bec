import sys

from setuptools import setup

# install_requires decided at build time by the building interpreter (as
# projects did before environment markers): the wheel's Requires-Dist
# names tomli when built on 3.7 to 3.10, nothing when built on 3.11 and
# later, where tomllib is in the standard library.
install_requires = []
if (3, 7) <= sys.version_info < (3, 11):
    install_requires.append("tomli")

setup(
    name="reqbyinterp",
    version="1.0",
    description="A pysmoke sample whose requirements depend on the building Python",
    packages=["reqbyinterp"],
    install_requires=install_requires,
)
