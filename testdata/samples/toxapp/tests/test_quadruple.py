import unittest

import depsdist

from toxapp import quadruple


class QuadrupleTest(unittest.TestCase):
    def test_twice_doubled(self):
        # depsdist is installed only if tox.ini's deps were read.
        self.assertEqual(quadruple(3), depsdist.double(depsdist.double(3)))


if __name__ == "__main__":
    unittest.main()
