# This setup.py fetches its long description from the network at build time,
# which a sealed, offline build must refuse: the build fails for the
# package's own reason ("needs network").
import os
import socket

from setuptools import setup

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "VERSION")) as f:
    version = f.read().strip()

conn = socket.create_connection(("pypi.org", 443), timeout=10)
conn.close()

setup(
    name="phonehome",
    version=version,
    description="A pysmoke sample whose setup.py reaches for the network",
    packages=["phonehome"],
)
