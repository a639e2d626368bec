import unittest

from relreg import mean


class MeanTest(unittest.TestCase):
    def test_true_division(self):
        self.assertEqual(mean([1, 2]), 1.5)

    def test_empty(self):
        self.assertRaises(ValueError, mean, [])
