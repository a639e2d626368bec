DESCRIPTION = "A pysmoke sample whose setup.py imports imp (removed in Python 3.12)"
