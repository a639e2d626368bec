import os
import unittest

import pkgtests


class AnswerTest(unittest.TestCase):
    def test_answer(self):
        self.assertEqual(pkgtests.answer(), 42)

    def test_installed(self):
        # Run against the installed wheel, never the source tree.
        self.assertNotIn(os.sep + "src" + os.sep, pkgtests.__file__)


if __name__ == "__main__":
    unittest.main()
