import unittest

from imprel import is_source


class SuffixTest(unittest.TestCase):
    def test_py(self):
        self.assertTrue(is_source(".py"))
