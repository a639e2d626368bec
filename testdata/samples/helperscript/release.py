"""Cuts a release: the maintainers' tool, on Python 3.10 or later only."""
import sys


def main(argv):
    match argv:
        case [_, version]:
            print("releasing", version)
        case _:
            print("usage: release.py VERSION")
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
