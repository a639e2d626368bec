import os
from setuptools import setup

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "VERSION")) as f:
    version = f.read().strip()

# Published only as an sdist: its metadata (Requires-Python here, which
# its PKG-INFO does not carry) exists only once it is built.
setup(
    name="depsdist",
    version=version,
    description="A pysmoke sample dependency published only as an sdist",
    packages=["depsdist"],
    python_requires=">=3.6",
)
