"""A pysmoke sample built with flit_core."""


def answer():
    return 6 * 7
