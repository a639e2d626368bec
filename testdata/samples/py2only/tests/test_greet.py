import io
import sys
import unittest

from py2only import greet


class GreetTest(unittest.TestCase):
    def test_greet(self):
        out = io.BytesIO() if str is bytes else io.StringIO()
        saved, sys.stdout = sys.stdout, out
        try:
            self.assertEqual(greet("world"), 5)
        finally:
            sys.stdout = saved
        self.assertEqual(out.getvalue(), "hello, world\n")


if __name__ == "__main__":
    unittest.main()
