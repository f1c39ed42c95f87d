# SPDX-License-Identifier: GPL-2.0-or-later
"""cpulist.py: Linux's cpulist format, both ways."""

import unittest

from irqlab import cpulist


class CpuList(unittest.TestCase):
    def test_parse(self):
        self.assertEqual(cpulist.parse("0-3,6"), {0, 1, 2, 3, 6})
        self.assertEqual(cpulist.parse("5\n"), {5})
        self.assertEqual(cpulist.parse(""), frozenset())
        self.assertEqual(cpulist.parse("-"), frozenset())

    def test_format(self):
        self.assertEqual(cpulist.format({0, 1, 2, 3, 6}), "0-3,6")
        self.assertEqual(cpulist.format({7}), "7")
        self.assertEqual(cpulist.format(set()), "-")

    def test_round_trip(self):
        for text in ("0", "0-63", "1,3,5-7", "-"):
            self.assertEqual(cpulist.format(cpulist.parse(text)), text)


if __name__ == "__main__":
    unittest.main()
