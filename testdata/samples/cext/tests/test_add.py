import unittest

from cext import add


class AddTest(unittest.TestCase):
    def test_add(self):
        self.assertEqual(add(40, 2), 42)


if __name__ == "__main__":
    unittest.main()
