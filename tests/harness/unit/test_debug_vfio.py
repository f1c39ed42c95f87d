# SPDX-License-Identifier: GPL-2.0-or-later
"""debug.py's checks on a --vfio walk (vfio_stop_checks()), on the stops
of a real `irqlab debug --vfio --batch --smp 4`
(tests/harness/gdb-walk-vfio-smp4.json), and each failing on a doctored
copy."""

import copy
import json
import os
import unittest

from irqlab import debug

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def checks(rec):
    return debug.vfio_stop_checks(rec["gdb-stops"], rec)


class VfioWalk(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(os.path.join(HERE, "gdb-walk-vfio-smp4.json")) as f:
            cls.saved = json.load(f)

    def failed(self, doctor) -> list[str]:
        rec = copy.deepcopy(self.saved)
        doctor(rec)
        return [c.name for c in checks(rec) if not c.ok]

    def stop(self, rec, function, n=0, **info):
        return [s for s in rec["gdb-stops"] if s["function"] == function
                and s["phase"] == "entry" and all(s["info"].get(k) == v for k, v in info.items())][n]

    def test_every_check_passes(self):
        out = checks(self.saved)
        self.assertEqual([c for c in out if not c.ok], [])
        self.assertEqual(len(out), 9)

    def test_armed_late_or_not_at_all(self):
        def doctor(rec):
            del rec["gdb-armed"]["vfio_msi_set_vector_signal"]
        self.assertIn("vfio: vfio_pci_core's walk functions armed when it "
                      "loaded", self.failed(doctor))

    def test_inlined_function_with_a_symbol(self):
        def doctor(rec):
            rec["gdb-inlined"]["vfio_msi_enable"]["symbol"] = True
        self.assertEqual(len(self.failed(doctor)), 1)

    def test_caller_not_reported_inlined(self):
        def doctor(rec):
            self.stop(rec, "pci_alloc_irq_vectors_affinity", 1)[
                "inlined-caller"] = None
        self.assertEqual(self.failed(doctor), [
            "vfio: enable 2 (6 vectors): SET_IRQS -> vfio_pci_set_irqs_ioctl()"
            " -> vfio_pci_set_msi_trigger() -> [vfio_msi_enable()] "
            "pci_alloc_irq_vectors_affinity() -> __pci_enable_msix_range() "
            "[msix_capability_init()]"])

    def test_managed_allocation(self):
        def doctor(rec):
            self.stop(rec, "pci_alloc_irq_vectors_affinity")["info"][
                "flags"] |= debug.PCI_IRQ_AFFINITY
        self.assertEqual(len(self.failed(doctor)), 1)

    def test_entry_unmasked_before_request_irq(self):
        def doctor(rec):
            s = self.stop(rec, "vfio_msi_set_vector_signal", entry=2, fd=9)
            s["msix"]["entries"]["2"]["masked"] = False
        self.assertEqual(len(self.failed(doctor)), 1)

    def test_a_vector_signal_missing(self):
        def doctor(rec):
            s = self.stop(rec, "vfio_msi_set_vector_signal", 1, entry=3)
            rec["gdb-stops"].remove(s)
        self.assertEqual(len(self.failed(doctor)), 1)

    def test_one_enable_only(self):
        def doctor(rec):
            rec["vfio"] = [4, 8]
        self.assertGreaterEqual(len(self.failed(doctor)), 2)

    def test_loopback_that_allocates(self):
        def doctor(rec):
            loop = self.stop(rec, "vfio_pci_set_msi_trigger", flags=0x21,
                             count=4)
            fake = copy.deepcopy(self.stop(
                rec, "pci_alloc_irq_vectors_affinity"))
            fake["n"] = loop["n"]
            loop["n"] -= 0.5
            rec["gdb-stops"].append(fake)
        self.assertIn("vfio: loopback SET_IRQS(DATA_NONE|ACTION_TRIGGER) on "
                      "enabled MSI-X: no allocation, no vector signal "
                      "(eventfd_signal() only)", self.failed(doctor))


if __name__ == "__main__":
    unittest.main()
