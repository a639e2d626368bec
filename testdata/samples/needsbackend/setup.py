from setuptools import setup

setup(name="needsbackend", version="1.0", packages=["needsbackend"],
      description="A pysmoke sample whose build requirement no index has")
