"""Python 2 source: each of these lines needs 2to3 to run on Python 3."""


def shout(word):
    try:
        return word.upper() + "!"
    except AttributeError, e:
        raise TypeError("not a string: %r (%s)" % (word, e))


def keys(d):
    return sorted(d.iterkeys())
