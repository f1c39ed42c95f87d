# SPDX-License-Identifier: GPL-2.0-or-later
"""analysis.analyze(): a run's record to its checks, on the records of two
real runs (tests/harness/*.json) and on records cut down to one case."""

import copy
import unittest

from irqlab import faults, report
from irqlab.analysis import analyze

from .recorded import FaultHooks, record


class RealRun(FaultHooks, unittest.TestCase):
    """msix-testdev at -smp 2 (3 vectors, a 65-entry table), as `irqlab
    run --json` saved it, trimmed of its console and transcript."""

    FAULTS = {**faults.FAULTS, **faults.UNLOAD_FAULTS}
    COPY_FAULT = "guest-vector"

    @classmethod
    def setUpClass(cls):
        cls.saved = record("msix-testdev-smp2.json")

    def test_every_check_passes(self):
        a = analyze(self.saved)
        self.assertTrue(a.ok, [c for c in a.checks if not c.ok])
        self.assertEqual(len(a.checks), 63)
        self.assertEqual([r.entry for r in a.rows], [0, 1, 2])
        self.assertEqual([r.managed for r in a.rows], [False, True, True])
        self.assertEqual(a.expectation.count, 3)

    def test_sequence_notes(self):
        a = analyze(self.saved)
        notes = [s.note for s in a.steps if s.note]
        self.assertEqual(notes[:4], [
            "msix_capability_init 1: ENABLE|MASKALL",
            "3: msix_setup_interrupts, early activation",
            "4: msix_mask_all", "5: MASKALL cleared"])
        self.assertEqual(a.teardown[-1].note,
                         "pci_msix_shutdown: MSI-X disabled")

    def test_report_renders(self):
        # The record's QMP answers in the form the report reads: a saved
        # record from an older x-query-msix fails here first.
        lines = report.text(analyze(self.saved), verbose=True).splitlines()
        self.assertIn("Managed affinity expected "
                      "(irq_create_affinity_masks()): derived from the "
                      "guest's CPUs: 3 vectors: vector 0 every CPU "
                      "unmanaged, I/O vectors managed, partitioning the "
                      "CPUs", lines)
        self.assertEqual(sum(x.startswith("  PASS  ") for x in lines), 63)

    def test_no_unload_phase(self):
        run = copy.deepcopy(self.saved)
        del run["qmp"]["unloaded"]
        bad = [c for c in analyze(run).checks if not c.ok]
        self.assertEqual([(c.group, c.name) for c in bad],
                         [("unload", "phase 'unloaded' reported and "
                           "queried")])


class Cases(unittest.TestCase):
    def test_lost_eoi_named(self):
        a = analyze(record("lost-eoi.json"))
        self.assertFalse(a.ok)
        self.assertEqual(a.stalled[0], (
            "CPU 3 halted with vector 0xec (LOCAL_TIMER_VECTOR) in "
            "service: an EOI was lost; vectors of class 0xe and below (up "
            "to 0xef) are blocked"))
        self.assertIn("  0x22 waits in its IRR behind it: device msix "
                      "vector 4 (sent 1)", a.stalled)

    def test_unpatched_qemu_only_the_outcome(self):
        a = analyze({"irqlab-qemu": False,
                     "outcome": {"status": "done", "detail": ""}})
        self.assertEqual([(c.name, c.ok) for c in a.checks],
                         [("guest ran to the end (@@irqlab done, powered "
                           "off)", True)])
        self.assertTrue(a.ok)

    def test_expect_greps_proc_interrupts(self):
        interrupts = ("           CPU0\n"
                      " 24:  5  xen-pirq    -ioapic-level  msix_testdev\n")
        a = analyze({"outcome": {"status": "done", "detail": ""},
                     "expect": [r"xen-pirq\s+\S*ioapic-level\s+msix_testdev",
                                r"PCI-MSI"],
                     "reports": {"loaded": {"/proc/interrupts":
                                            interrupts}}})
        self.assertEqual([(c.name, c.ok, c.detail) for c in a.checks[1:]], [
            ("/proc/interrupts matches 'xen-pirq\\\\s+\\\\S*ioapic-level"
             "\\\\s+msix_testdev'", True,
             "24: 5 xen-pirq -ioapic-level msix_testdev"),
            ("/proc/interrupts matches 'PCI-MSI'", False, "no line")])

    def test_fault_with_nothing_to_break(self):
        with self.assertRaises(ValueError):
            analyze({"outcome": {"status": "timeout", "detail": ""}},
                    "guest-vector")


if __name__ == "__main__":
    unittest.main()
