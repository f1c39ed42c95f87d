# SPDX-License-Identifier: GPL-2.0-or-later
"""vfio.py: a --vfio run's record to its checks, on a real run
(tests/harness/vfio-intremap-smp4.json), and irqlab-vfio's lines."""

import copy
import unittest

from irqlab import faults, report, vfio
from irqlab.analysis import analyze

from .recorded import FaultHooks, record


class RealRun(FaultHooks, unittest.TestCase):
    """`irqlab run --vfio --iommu-intremap on --smp 4` (N1 4, N2 6, K 8),
    as --json saved it, trimmed of its console and transcript and of
    x-query-msix's entries past 7."""

    FAULTS = {**faults.VFIO_FAULTS, **faults.UNLOAD_FAULTS,
              "guest-count": ""}
    COPY_FAULT = "vfio-eventfd"

    @classmethod
    def setUpClass(cls):
        cls.saved = record("vfio-intremap-smp4.json")

    def test_every_check_passes(self):
        a = analyze(self.saved)
        self.assertEqual([c for c in a.checks if not c.ok], [])
        self.assertEqual([(e.step, e.n, len(e.rows))
                          for e in a.vfio.enables], [(1, 4, 4), (2, 6, 6)])

    def test_sequence_names_vfio_steps(self):
        notes = [s.note for s in analyze(self.saved).vfio.steps]
        self.assertEqual(notes[1], "FLR at open: vfio_pci_core_enable(): "
                         "pci_try_reset_function()")
        self.assertEqual(notes[-1], "FLR at close: vfio_pci_core_disable()")
        cached = [n for n in notes if n.startswith(
            "vfio_msi_set_vector_signal")]
        self.assertEqual(len(cached), 4 + 6)
        self.assertEqual(sum(n.startswith("SET_IRQS") for n in notes), 2)

    def test_report_renders(self):
        text = report.text(analyze(self.saved))
        for want in ("Vectors of enable 2, N=6", "Controls",
                     "msi_create_device_irq_domain",
                     "irqlab: PASS: "):
            self.assertIn(want, text)

    def test_stopped_before_reenable(self):
        run = copy.deepcopy(self.saved)
        for key in ("reenabled", "unloaded"):
            run["qmp"].pop(key)
            run["reports"].pop(key)
        a = analyze(run)
        self.assertFalse(a.ok)
        self.assertIn(("enable 2", "phase 'reenabled' reported and "
                       "queried", False),
                      [(c.group, c.name, c.ok) for c in a.checks])


    def test_bus_master_accounting(self):
        """With QEMU's dropped-bus-master count (qapi/pci-msi.json), the
        RAISE made with bus mastering off must be counted there, not as
        sent; this record is of a QEMU without it, which logged a
        message."""
        a = analyze(self.saved)
        self.assertIn("counted as sent", "".join(a.vfio.controls))
        run = copy.deepcopy(self.saved)
        loaded = run["qmp"]["loaded"]["x-query-msix-log"]["next-seq"]
        for phase in ("reenabled", "unloaded"):
            q = run["qmp"][phase]
            for v in q["x-query-msix"][0]["vectors"]:
                v["dropped-bus-master"] = int(v["index"] == 0)
            ev = next(x for x in q["x-query-msix-log"]["entries"]
                      if x["seq"] >= loaded and x["kind"] == "message")
            ev["kind"] = "dropped-bus-master"
        a = analyze(run)
        self.assertEqual([c for c in a.checks if not c.ok], [])
        self.assertIn("RAISE with bus mastering off: counted "
                      "dropped-bus-master, not sent",
                      [c.name for c in a.checks])


class Output(unittest.TestCase):
    def test_parse(self):
        lines = vfio.parse_output(
            "noise\n"
            "vfio irq-info index=msix count=65 flags=0x9 noresize=1\n"
            "vfio error VFIO_SET_IOMMU(TYPE1v2): Operation not permitted\n")
        self.assertEqual(lines, [
            ("irq-info", {"index": "msix", "count": "65", "flags": "0x9",
                          "noresize": "1"}),
            ("error", {"message": "VFIO_SET_IOMMU(TYPE1v2): Operation not "
                       "permitted"})])


if __name__ == "__main__":
    unittest.main()
