import unittest

from freezegun import freeze_time

from undeclared import today_iso


class TodayTest(unittest.TestCase):
    @freeze_time("2012-01-14")
    def test_frozen_day(self):
        self.assertEqual(today_iso(), "2012-01-14")


if __name__ == "__main__":
    unittest.main()
