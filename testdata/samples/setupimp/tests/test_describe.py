import unittest

from setupimp import describe


class DescribeTest(unittest.TestCase):
    def test_describe(self):
        self.assertIn("imp", describe())


if __name__ == "__main__":
    unittest.main()
