from .about import DESCRIPTION


def describe():
    return DESCRIPTION
