from setuptools import setup

# release.py, beside setup.py, is the maintainers' tool: the distribution
# does not ship it (as simplejson's Python-3-only scripts at its sdist's
# top).
setup(
    name="helperscript",
    version="1.0",
    description="A pysmoke sample with a Python-3-only helper script it does not ship",
    packages=["helperscript"],
)
