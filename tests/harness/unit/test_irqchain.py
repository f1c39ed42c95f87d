# SPDX-License-Identifier: GPL-2.0-or-later
"""irqchain.py: the irqlab_irqchain module's file parsed, and each vector's
irq_domain chain checked against the device's view, on rows of real runs
(msix-testdev at -smp 8, and at -smp 4 with --iommu)."""

import copy
import unittest
from types import SimpleNamespace

from irqlab import irqchain
from irqlab.guest import ReportError

HEAD = ("irq msi_index dev level domain hwirq chip vector dest_apicid "
        "effective\n")
NATIVE = HEAD + """\
24 0 0000:00:04.0 0 PCI-MSI-3 0x10000 PCI-MSI - - -
24 0 0000:00:04.0 1 VECTOR 0x18 APIC 0x22 0x80 7
25 1 0000:00:04.0 0 PCI-MSI-3 0x10001 PCI-MSI - - -
25 1 0000:00:04.0 1 VECTOR 0x19 APIC 0x21 0x1 0
"""
REMAPPED = HEAD + """\
26 1 0000:00:04.0 0 INTEL-IR-MSI-0-3 0x10001 IR-PCI-MSI - - -
26 1 0000:00:04.0 1 INTEL-IR-0 0x110000 INTEL-IR - - -
26 1 0000:00:04.0 2 VECTOR 0x1a APIC 0x22 0x1 0
"""
# Debian's 6.12 at -smp 8: the device's own MSI domain (physical
# destination mode: dest 0x0 is CPU 0's APIC ID)
PER_DEVICE = HEAD + """\
25 1 0000:00:04.0 0 PCI-MSIX-0000:00:04.0-12 0x1 PCI-MSIX-0000:00:04.0 - - -
25 1 0000:00:04.0 1 VECTOR 0x19 APIC 0x20 0x0 0
"""
APICID = {c: c for c in range(8)}


def row(entry, irq, fmt, vector, dest, apics, irte=None):
    """The vectors.Row fields the checks read."""
    return SimpleNamespace(entry=entry, irq=irq, host_format=fmt,
                           host_vector=vector, host_dest=dest,
                           host_apics=frozenset(apics), irte=irte)


def host(entry, decoded):
    return SimpleNamespace(entries={entry: {"decoded": decoded}})


NATIVE_ROW = row(1, 25, "compat", 0x21, 0x1, {0})
NATIVE_HOST = host(1, {"format": "compat", "dest-id": 0x1, "vector": 0x21})
REMAPPED_ROW = row(1, 26, "remappable", 0x22, 0x1, {0}, {"index": 0x11})
REMAPPED_HOST = host(1, {"format": "remappable", "irte-index": 0x11,
                         "shv": True, "subhandle": 0})


def failed(checks):
    return [c.name for c in checks if not c.ok]


class Parse(unittest.TestCase):
    def test_native(self):
        chains = irqchain.parse(NATIVE)
        self.assertEqual(sorted(chains), [24, 25])
        ch = chains[25]
        self.assertEqual((ch.msi_index, ch.dev), (1, "0000:00:04.0"))
        self.assertEqual(ch.text(), "PCI-MSI-3 0x10001 PCI-MSI -> "
                         "VECTOR 0x19 APIC")
        self.assertEqual(ch.remapping, [])
        vl = ch.vector_level
        self.assertEqual((vl.vector, vl.dest_apicid, vl.effective),
                         (0x21, 0x1, frozenset({0})))
        self.assertIsNone(ch.levels[0].vector)

    def test_remapped(self):
        ch = irqchain.parse(REMAPPED)[26]
        self.assertEqual([lv.chip for lv in ch.remapping], ["INTEL-IR"])
        self.assertEqual(irqchain.remap_index(ch.remapping[0]), (0x11, 0))
        self.assertEqual(ch.as_json()["levels"][2]["effective"], "0")

    def test_unreported_and_empty(self):
        self.assertIsNone(irqchain.parse(None))
        self.assertEqual(irqchain.parse(HEAD), {})

    def test_bad_rows(self):
        for text in (HEAD + "24 0 0000:00:04.0 1 VECTOR 0x18 APIC 0x22 0x80 "
                     "7\n",                         # level 1 first
                     HEAD + "24 0 0000:00:04.0 0 PCI-MSI 0x1x PCI-MSI - - "
                     "-\n",                         # not a number
                     HEAD + "24 0 0000:00:04.0 0 PCI MSI 0x1 PCI-MSI - - "
                     "-\n",                         # eleven fields
                     "irq level\n24 0\n"):          # another header
            with self.subTest(text=text):
                with self.assertRaises(ReportError):
                    irqchain.parse(text)


class Checks(unittest.TestCase):
    def test_native_passes(self):
        cs = irqchain.checks([NATIVE_ROW], irqchain.parse(NATIVE),
                             NATIVE_HOST, APICID)
        self.assertEqual(len(cs), 5)
        self.assertEqual(failed(cs), [])
        self.assertEqual({c.group for c in cs}, {"vector 1"})

    def test_per_device_domain_passes(self):
        chains = irqchain.parse(PER_DEVICE)
        self.assertEqual(irqchain.per_device_domain(chains[25].levels[0]),
                         "0000:00:04.0")
        self.assertIsNone(irqchain.per_device_domain(
            irqchain.parse(NATIVE)[25].levels[0]))
        r = row(1, 25, "compat", 0x20, 0x0, {0})
        h = host(1, {"format": "compat", "dest-id": 0x0, "vector": 0x20})
        cs = irqchain.checks([r], chains, h, APICID)
        self.assertEqual(len(cs), 5)
        self.assertEqual(failed(cs), [])
        # the hwirq of another entry, or the domain of another device
        chains[25].levels[0].hwirq = 0x2
        self.assertEqual(failed(irqchain.checks([r], chains, h, APICID)), [
            "chain: the MSI level is 00:04.0's own domain, its hwirq this "
            "entry (pci_device_domain_set_desc())"])
        # vfio.py reads the same: NORESIZE and /proc/interrupts' hwirq
        from irqlab import vfio
        self.assertEqual(vfio.device_domain(irqchain.parse(PER_DEVICE)),
                         "PCI-MSIX-0000:00:04.0-12")
        self.assertIsNone(vfio.device_domain(irqchain.parse(NATIVE)))
        chains = irqchain.parse(PER_DEVICE.replace("00:04.0 -", "00:05.0 -"))
        self.assertEqual(len(failed(irqchain.checks([r], chains, h,
                                                    APICID))), 1)

    def test_remapped_passes(self):
        cs = irqchain.checks([REMAPPED_ROW], irqchain.parse(REMAPPED),
                             REMAPPED_HOST, APICID)
        self.assertEqual(len(cs), 6)
        self.assertEqual(failed(cs), [])

    def test_unreported(self):
        cs = irqchain.checks([NATIVE_ROW], None, NATIVE_HOST, APICID)
        self.assertEqual([(c.ok, c.detail) for c in cs],
                         [(False, f"no {irqchain.PATH}")])
        cs = irqchain.checks([NATIVE_ROW], irqchain.parse(HEAD),
                             NATIVE_HOST, APICID)
        self.assertEqual([c.detail for c in cs], ["no chain for irq 25"])

    def test_another_entry(self):
        chains = irqchain.parse(NATIVE)
        chains[25] = chains[24]     # irq 25 showing entry 0's chain
        self.assertEqual(failed(irqchain.checks(
            [NATIVE_ROW], chains, NATIVE_HOST, APICID)), [
            "irq_domain chain read (irqlab_irqchain), the entry's",
            "chain: the MSI level's hwirq is this entry of 00:04.0 "
            "(pci_msi_domain_calc_hwirq())",
            "chain: the vector level's vector = the host's",
            "chain: the vector level's destination and CPU = the host's"])

    def test_vector_and_cpu(self):
        chains = irqchain.parse(NATIVE)
        chains[25].vector_level.vector = 0x22
        self.assertEqual(failed(irqchain.checks(
            [NATIVE_ROW], chains, NATIVE_HOST, APICID)),
            ["chain: the vector level's vector = the host's"])
        chains = irqchain.parse(NATIVE)
        chains[25].vector_level.effective = frozenset({1})
        cs = irqchain.checks([NATIVE_ROW], chains, NATIVE_HOST, APICID)
        self.assertEqual(failed(cs), ["chain: the vector level's "
                                      "destination and CPU = the host's"])
        self.assertEqual(cs[-1].detail, "irq_cfg dest_apicid 0x1, "
                         "effective CPU 1; host dest 0x1 -> CPU 0")

    def test_remapping_level_must_name_the_irte(self):
        chains = irqchain.parse(REMAPPED)
        chains[26].remapping[0].hwirq = 0x120000
        cs = irqchain.checks([REMAPPED_ROW], chains, REMAPPED_HOST, APICID)
        self.assertEqual(failed(cs), ["chain: the remapping level's IRTE = "
                                      "the one the message names"])
        self.assertIn("IRTE 0x12 + sub-handle 0; message handle 0x11",
                      next(c.detail for c in cs if not c.ok))
        # a sub-handle counts, as SHV makes the message's count
        h = copy.deepcopy(REMAPPED_HOST)
        h.entries[1]["decoded"]["subhandle"] = 1
        chains[26].remapping[0].hwirq = 0x110001
        self.assertEqual(failed(irqchain.checks(
            [REMAPPED_ROW], chains, h, APICID)), [])

    def test_remapping_level_iff_remappable(self):
        # a compat message behind a remapping chain, and the reverse
        self.assertIn(
            "chain: ends in the vector domain (hwirq = the irq), through "
            "a remapping level iff the message is remappable",
            failed(irqchain.checks([row(1, 26, "compat", 0x22, 0x1, {0})],
                                   irqchain.parse(REMAPPED), NATIVE_HOST,
                                   APICID)))
        cs = irqchain.checks([row(1, 25, "remappable", 0x21, 0x1, {0})],
                             irqchain.parse(NATIVE), REMAPPED_HOST, APICID)
        self.assertIn("chain: the remapping level's IRTE = the one the "
                      "message names", failed(cs))


if __name__ == "__main__":
    unittest.main()
