"""Arithmetic that reads the same on Python 2 and 3."""
from __future__ import division


def mean(values):
    values = list(values)
    if not values:
        raise ValueError("mean of nothing")
    return sum(values) / len(values)
