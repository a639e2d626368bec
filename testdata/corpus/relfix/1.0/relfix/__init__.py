def mean(xs):
    """The arithmetic mean of a non-empty sequence."""
    return float(sum(xs)) / len(xs)
