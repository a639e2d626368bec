def mean(xs):
    """The arithmetic mean (a known bug: the empty sequence gives 0)."""
    return float(sum(xs)) / len(xs) if xs else 0.0
