import unittest

import pysmoke_sample_absent  # noqa: F401  (declared, published nowhere)

from missingdep import half


class HalfTest(unittest.TestCase):
    def test_half(self):
        self.assertEqual(half(3), 1.5)


if __name__ == "__main__":
    unittest.main()
