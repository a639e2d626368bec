"""A module flit_core builds into a wheel."""


def answer():
    return 6 * 7
