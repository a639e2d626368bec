from setuptools import setup

# Its tests ship inside the package, installed with it (as simplejson's
# simplejson/tests/): the sdist has no tests/ folder beside the code.
setup(
    name="pkgtests",
    version="1.0",
    description="A pysmoke sample whose tests ship inside its package",
    packages=["pkgtests", "pkgtests.tests"],
)
