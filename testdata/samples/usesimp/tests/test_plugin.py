import unittest

from usesimp import make_plugin


class PluginTest(unittest.TestCase):
    def test_make_plugin(self):
        plugin = make_plugin("answer", "VALUE = 6 * 7\n")
        self.assertEqual(plugin.VALUE, 42)
        self.assertEqual(plugin.__name__, "answer")


if __name__ == "__main__":
    unittest.main()
