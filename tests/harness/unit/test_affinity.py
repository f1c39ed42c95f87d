# SPDX-License-Identifier: GPL-2.0-or-later
"""affinity.py: managed affinity (irq_create_affinity_masks()) expected
and checked, from the tables measured at -smp 8 or derived."""

import unittest
from collections import namedtuple

from irqlab import affinity

# What affinity.check() reads of a vectors.Row.
Row = namedtuple("Row", "entry affinity managed")
CPUS8 = frozenset(range(8))


def nvme_like(cpus: int) -> list[Row]:
    """Vector 0 on every CPU, unmanaged; one managed vector per CPU."""
    every = frozenset(range(cpus))
    return [Row(0, every, False)] + [Row(c + 1, frozenset({c}), True)
                                     for c in range(cpus)]


class Expect(unittest.TestCase):
    def test_measured_table_at_smp8(self):
        e = affinity.expect("virtio-blk", 8, True, 4, CPUS8)
        self.assertEqual(e.source, "measured at -smp 8, frozen")
        self.assertEqual(e.count, 5)
        self.assertEqual(e.table[2], (frozenset({2, 3}), True))

    def test_derived_elsewhere(self):
        e = affinity.expect("msix-testdev", 6, False, 4,
                            frozenset(range(6)))
        self.assertIsNone(e.table)
        self.assertEqual(e.count, 5)        # admin + min(4 queues, 6 CPUs)
        e = affinity.expect("nvme", 2, True, 64, frozenset({0, 1}))
        self.assertEqual(e.count, 3)

    def test_queues_given_at_smp8_is_derived(self):
        e = affinity.expect("nvme", 8, False, 4, CPUS8)
        self.assertIsNone(e.table)
        self.assertEqual(e.count, 5)


class Check(unittest.TestCase):
    def test_measured_table_passes(self):
        e = affinity.expect("nvme", 8, True, 64, CPUS8)
        checks = affinity.check(e, nvme_like(8), CPUS8)
        self.assertEqual(len(checks), 10)
        self.assertTrue(all(c.ok for c in checks))
        self.assertEqual((checks[0].group, checks[0].name),
                         ("affinity", "9 vectors (measured at -smp 8, "
                          "frozen)"))
        self.assertEqual(checks[2].name, "vector 1: 0 managed")

    def test_measured_table_names_the_wrong_vector(self):
        rows = nvme_like(8)
        rows[3] = Row(3, CPUS8, True)
        bad = [c for c in affinity.check(
            affinity.expect("nvme", 8, True, 64, CPUS8), rows, CPUS8)
            if not c.ok]
        self.assertEqual([(c.name, c.detail) for c in bad],
                         [("vector 3: 2 managed", "guest: 0-7 managed")])

    def test_derived_partition(self):
        online = frozenset(range(4))
        e = affinity.expect("msix-testdev", 4, False, 2, online)
        rows = [Row(0, online, False), Row(1, frozenset({0, 1}), True),
                Row(2, frozenset({2, 3}), True)]
        checks = affinity.check(e, rows, online)
        self.assertEqual([(c.name, c.ok) for c in checks],
                         [("3 vectors (derived from the guest's CPUs)", True),
                          ("vector 0 spans every online CPU, not managed",
                           True),
                          ("I/O vectors managed", True),
                          ("I/O vectors' affinities partition the online "
                           "CPUs", True)])

    def test_derived_overlap_and_unmanaged(self):
        online = frozenset(range(4))
        e = affinity.expect("msix-testdev", 4, False, 2, online)
        rows = [Row(0, online, True), Row(1, frozenset({0, 1, 2}), True),
                Row(2, frozenset({2, 3}), None)]
        ok = {c.name: c.ok for c in affinity.check(e, rows, online)}
        self.assertFalse(ok["vector 0 spans every online CPU, not managed"])
        self.assertFalse(ok["I/O vectors managed"])
        self.assertFalse(ok["I/O vectors' affinities partition the online "
                            "CPUs"])


if __name__ == "__main__":
    unittest.main()
