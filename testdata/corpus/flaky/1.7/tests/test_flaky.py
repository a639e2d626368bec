import os
import random
import unittest

from flaky import mean


class FlakyTest(unittest.TestCase):
    def test_mean(self):
        self.assertEqual(mean([1, 2]), 1.5)

    def test_timing(self):
        # Stands for a test that races the clock: it fails about half the
        # time. Seeded from the run's id, so that one run always does the
        # same and a rerun is a new draw.
        draw = random.Random(int(os.environ.get("PYSMOKE_RUN_ID", "0"))).random()
        self.assertGreaterEqual(draw, 0.5, "lost the race (draw %.3f)" % draw)
