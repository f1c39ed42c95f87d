# SPDX-License-Identifier: GPL-2.0-or-later
"""storm.py: a --storm run's counts, summed across migrations, and the
accounting checks, on a small record written out by hand."""

import copy
import unittest

from irqlab import faults, storm
from irqlab.guest import ReportError

COUNTS = "/sys/kernel/debug/msix_testdev/0000:00:04.0/storm_counts"
HEAD = ("vector irq raised acked interrupts spurious replays outside "
        "outside_cpu masks skipped pauses\n")


def interrupts(counts: dict[int, tuple[int, int]]) -> str:
    return "           CPU0       CPU1\n" + "".join(
        f" {irq}: {a} {b} PCI-MSIX-0000:00:04.0 {irq - 24}-edge "
        f"msix_testdev-q{irq - 24}\n" for irq, (a, b) in counts.items())


def msix(sent: list[int], held: list[int], pending=()) -> dict:
    return {"x-query-msix": [{"capability": "msix", "vectors": [
        {"index": i, "sent": s, "held": h, "dropped": 0,
         "dropped-bus-master": 0, "pending": i in pending}
        for i, (s, h) in enumerate(zip(sent, held))]}]}


def record() -> dict:
    """Two vectors, one cut.  Vector 0: 3 messages before the storm,
    then 10 raised: 4 sent by the source, 6 by the destination.  Vector
    1: 7 raised, 2 held by masks then sent, 3 + 4 sent."""
    workers = {f"/tmp/storm-{w}": f"{w} 5 0\n" for w in storm.WORKERS}
    return {
        "cuts": 1, "storm": 2.0,
        "reports": {
            "loaded": {"/proc/interrupts": interrupts({24: (3, 0),
                                                       25: (0, 1)})},
            "storm": {
                COUNTS: HEAD + "0 24 10 10 11 1 0 0 -1 4 0 0\n"
                        "1 25 7 7 7 0 0 0 -1 4 1 1\nmaskall 3\n",
                "/proc/interrupts": interrupts({24: (5, 9), 25: (4, 4)}),
                "/tmp/storm-uptime-start": "10.00 70.00\n",
                "/proc/uptime": "12.50 80.00\n", **workers}},
        "qmp": {"loaded": msix([3, 1], [0, 0]),
                "storm-cut-1": msix([3 + 4, 1 + 3], [0, 1]),
                "storm": msix([6, 4], [0, 1])},
        "migrations": [{"phase": "storm-cut-1", "status": "completed",
                        "seconds": 1.5, "bytes": 1 << 26}],
    }


class Accounting(unittest.TestCase):
    def test_counts_summed_over_the_processes(self):
        s = storm.build(record())
        self.assertEqual([(v.raised, v.sent, v.held, v.counted)
                          for v in s.vectors],
                         [(10, 10, 0, 11), (7, 7, 2, 7)])
        self.assertEqual(s.maskalls, 3)
        self.assertAlmostEqual(s.seconds, 2.5)
        self.assertIn("17 messages on 2 vectors in 2.5 s",
                      storm.figures(s))

    def test_every_check_passes(self):
        bad = [c for c in storm.checks(storm.build(record())) if not c.ok]
        self.assertEqual(bad, [])

    def test_a_lost_message_fails_two_checks(self):
        # The destination sent one message fewer than the device raised.
        r = record()
        r["qmp"]["storm"]["x-query-msix"][0]["vectors"][0]["sent"] -= 1
        bad = {c.name for c in storm.checks(storm.build(r)) if not c.ok}
        self.assertEqual(len(bad), 2)
        self.assertTrue(all("sent" in n for n in bad))

    def test_a_message_left_pending_fails(self):
        r = record()
        r["qmp"]["storm"] = msix([5, 4], [0, 1], pending=(0,))
        failed = [c for c in storm.checks(storm.build(r)) if not c.ok]
        self.assertIn("pending 1", " ".join(c.detail for c in failed))

    def test_no_storm_is_no_pass(self):
        # Nothing raised twice and nothing held: the run proved nothing.
        r = record()
        r["reports"]["storm"][COUNTS] = HEAD + "0 24 1 1 1 0 0 0 -1 0 0 0\n" \
            "1 25 1 1 1 0 0 0 -1 0 0 0\nmaskall 0\n"
        r["qmp"]["storm-cut-1"] = msix([4, 2], [0, 0])
        r["qmp"]["storm"] = msix([0, 0], [0, 0])
        r["reports"]["storm"]["/proc/interrupts"] = interrupts(
            {24: (4, 0), 25: (0, 2)})
        failed = {c.name for c in storm.checks(storm.build(r)) if not c.ok}
        self.assertEqual(failed, {
            "every vector stormed (raised more than once)",
            "masks held messages that were sent later"})

    def test_spurious_calls_only_where_a_move_explains_them(self):
        r = record()
        r["reports"]["storm"][COUNTS] = HEAD + "0 24 10 10 11 1 0 0 -1 4 0 0\n" \
            "1 25 7 7 8 1 0 0 -1 4 1 1\nmaskall 3\n"
        r["reports"]["storm"]["/proc/interrupts"] = interrupts(
            {24: (5, 9), 25: (4, 5)})
        failed = [c for c in storm.checks(storm.build(r)) if not c.ok]
        self.assertEqual([c.detail for c in failed],
                         ["vector 1: 1 spurious, 0 replays, 5 moves of "
                          "vector 0"])

    def test_a_replay_is_not_in_proc_interrupts(self):
        # handle_edge_irq() ran the handler twice, counting once.
        r = record()
        r["reports"]["storm"][COUNTS] = HEAD + "0 24 10 10 12 2 1 0 -1 4 0 0\n" \
            "1 25 7 7 7 0 0 0 -1 4 1 1\nmaskall 3\n"
        self.assertEqual([c for c in storm.checks(storm.build(r))
                          if not c.ok], [])

    def test_a_worker_that_failed(self):
        r = record()
        r["reports"]["storm"]["/tmp/storm-hotplug"] = "hotplug 5 2\n"
        failed = [c for c in storm.checks(storm.build(r)) if not c.ok]
        self.assertEqual(len(failed), 1)
        self.assertIn("failed: hotplug 2 of 5", failed[0].detail)

    def test_missing_answer_at_a_cut(self):
        r = record()
        del r["qmp"]["storm-cut-1"]
        with self.assertRaisesRegex(ReportError, "storm-cut-1"):
            storm.build(r)

    def test_unreadable_counts(self):
        r = record()
        r["reports"]["storm"][COUNTS] = HEAD + "0 24 ten\nmaskall 0\n"
        with self.assertRaisesRegex(ReportError, "cannot read"):
            storm.build(r)


class Hooks(unittest.TestCase):
    def test_each_hook_fails_a_check(self):
        for kind in faults.STORM_FAULTS:
            with self.subTest(kind):
                s = storm.build(copy.deepcopy(record()))
                self.assertTrue(faults.apply_storm(kind, s).startswith(
                    "TEST HOOK"))
                self.assertTrue(any(not c.ok for c in storm.checks(s)))
