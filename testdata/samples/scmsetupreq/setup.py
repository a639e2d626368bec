from setuptools import setup

# No pyproject.toml and no setup.cfg: setuptools-scm is asked for only
# here, in setup_requires, as python-dateutil's setup.py asks for it. Only
# the backend's get_requires_for_build_* hooks (which run this file) say
# so; without them a legacy "setup.py sdist" would fetch it from the
# network.
setup(
    name="scmsetupreq",
    use_scm_version=True,
    setup_requires=["setuptools_scm"],
    description="A pysmoke sample: setuptools-scm named only in setup.py's setup_requires",
    packages=["scmsetupreq"],
)
