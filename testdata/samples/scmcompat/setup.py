from setuptools import setup

# setup_requires as well, as python-dateutil's setup.py has it: a legacy
# "setup.py sdist" would fetch it from the network if nothing installed it.
setup(
    name="scmcompat",
    use_scm_version=True,
    setup_requires=["setuptools_scm"],
    description="A pysmoke sample: setuptools-scm, built on Python 2.7 to 3.13",
    packages=["scmcompat"],
    python_requires=">=2.7, !=3.0.*, !=3.1.*, !=3.2.*, !=3.3.*, !=3.4.*, !=3.5.*",
)
