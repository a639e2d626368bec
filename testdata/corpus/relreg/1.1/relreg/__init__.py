def mean(xs):
    """The arithmetic mean of a non-empty sequence (1.1: integer sums stay integers)."""
    if not xs:
        raise ValueError("mean of nothing")
    return sum(xs) // len(xs)
