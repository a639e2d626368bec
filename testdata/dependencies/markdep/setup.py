import os
from setuptools import setup

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "VERSION")) as f:
    version = f.read().strip()

# Leaves a mark wherever this file runs: in the folder named by
# MARKDEP_DIR, or by a MARKDIR file beside it (a test writes one). A test
# checks that resolving a release that depends on this one leaves no mark
# on the host: the metadata was made inside a sandbox.
mark_dir = os.environ.get("MARKDEP_DIR")
if not mark_dir and os.path.exists(os.path.join(here, "MARKDIR")):
    with open(os.path.join(here, "MARKDIR")) as f:
        mark_dir = f.read().strip()
if mark_dir:
    try:
        with open(os.path.join(mark_dir, "setup-py-ran-%d" % os.getpid()), "w") as f:
            f.write("markdep's setup.py ran here\n")
    except (IOError, OSError):
        pass  # not reachable from here: the point

setup(
    name="markdep",
    version=version,
    description="A pysmoke sample dependency whose setup.py leaves a mark on the host if run there",
    packages=["markdep"],
)
