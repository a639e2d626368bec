import imp


def is_source(suffix):
    """Whether a file suffix names Python source, as imp knows suffixes."""
    return any(s == suffix and kind == imp.PY_SOURCE for s, _, kind in imp.get_suffixes())
