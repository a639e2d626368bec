"""Greets in the Python 2 way: print is a statement here."""


def greet(name):
    print "hello, %s" % name
    return len(name)
