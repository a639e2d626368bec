import unittest

import depsdist

from groupapp import triple


class TripleTest(unittest.TestCase):
    def test_triple_is_double_plus_one(self):
        # depsdist is installed only if the dependency group was read.
        self.assertEqual(triple(5), depsdist.double(5) + 5)


if __name__ == "__main__":
    unittest.main()
