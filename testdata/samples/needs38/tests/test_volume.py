import unittest

from needs38 import volume


class VolumeTest(unittest.TestCase):
    def test_volume(self):
        self.assertEqual(volume(2, 3, 7), 42)


if __name__ == "__main__":
    unittest.main()
