def mean(xs):
    """The arithmetic mean of a non-empty sequence."""
    if not xs:
        raise ValueError("mean of nothing")
    return float(sum(xs)) / len(xs)
