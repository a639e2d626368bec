import unittest

import markapp


# A unittest case, so that it runs under unittest (2.7, 3.6) and pytest.
class ValueTest(unittest.TestCase):
    def test_value(self):
        self.assertEqual(markapp.VALUE, 42)
