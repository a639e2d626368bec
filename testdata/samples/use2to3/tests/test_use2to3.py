import unittest

from use2to3 import keys, shout


class Use2to3Test(unittest.TestCase):
    def test_shout(self):
        self.assertEqual(shout("hi"), "HI!")
        self.assertRaises(TypeError, shout, 3)

    def test_keys(self):
        self.assertEqual(keys({"b": 1, "a": 2}), ["a", "b"])


if __name__ == "__main__":
    unittest.main()
