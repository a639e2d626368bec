from setuptools import setup

# The version comes from setuptools-scm: from the VCS in a checkout, from
# PKG-INFO in an sdist.
setup(
    name="scmpkg",
    use_scm_version=True,
    description="A pysmoke sample whose version comes from setuptools-scm",
    packages=["scmpkg"],
    python_requires=">=3.7",
)
