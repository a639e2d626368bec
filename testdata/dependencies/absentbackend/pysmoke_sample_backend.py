"""Nothing to run: the needsbackend sample only requires it to build."""
