# SPDX-License-Identifier: GPL-2.0-or-later
"""guest.parse_interrupts() and vectors.entry_of_irqs(): /proc/interrupts
in an irq domain and outside one (Xen's), and each irq's MSI-X entry."""

import unittest

from irqlab.guest import GuestView, parse_interrupts
from irqlab.vectors import entry_of_irqs

NATIVE = """\
           CPU0       CPU1
 24:          3          0  PCI-MSI 65536-edge      nvme0q0
 25:          0          8  PCI-MSI 65537-edge      nvme0q1
LOC:        100        200   Local timer interrupts
"""
# dom0: no hwirq, Xen's flow name; nvme's second allocation got its irqs
# out of entry order (xen_free_irq() frees after an RCU grace period).
XEN = """\
           CPU0       CPU1
  1:          0          9  xen-pirq    -ioapic-edge  i8042
 40:          0         11  xen-pirq    -msi-x     nvme0q1
 41:         12          0  xen-pirq    -msi-x     nvme0q0
 42:          8          0  xen-pirq    -msi-x     nvme0q2
"""


def view(text: str, msi_irqs: list[int]) -> GuestView:
    return GuestView(files={}, interrupts=parse_interrupts(text)[1],
                     msi_irqs=msi_irqs)


class Interrupts(unittest.TestCase):
    def test_native_line(self):
        ncpu, lines = parse_interrupts(NATIVE)
        self.assertEqual(ncpu, 2)
        self.assertEqual(sorted(lines), [24, 25])
        line = lines[25]
        self.assertEqual((line.chip, line.hwirq, line.flow, line.actions),
                         ("PCI-MSI", 65537, "edge", "nvme0q1"))
        self.assertEqual(line.msi_index, 1)
        self.assertEqual(line.cpus, {1})
        self.assertEqual(line.total, 8)

    def test_xen_line(self):
        line = parse_interrupts(XEN)[1][40]
        self.assertEqual((line.chip, line.hwirq, line.flow, line.actions),
                         ("xen-pirq", None, "msi-x", "nvme0q1"))
        self.assertIsNone(line.msi_index)

    def test_entry_from_hwirq(self):
        self.assertEqual(entry_of_irqs(view(NATIVE, [24, 25])),
                         {24: 0, 25: 1})

    def test_entry_from_name_not_irq_order(self):
        self.assertEqual(entry_of_irqs(view(XEN, [40, 41, 42])),
                         {41: 0, 40: 1, 42: 2})

    def test_virtio_names(self):
        text = ("           CPU0\n"
                " 50:   1  xen-pirq    -msi-x     virtio0-config\n"
                " 51:   1  xen-pirq    -msi-x     virtio0-req.0\n"
                " 52:   1  xen-pirq    -msi-x     virtio0-req.1\n")
        self.assertEqual(entry_of_irqs(view(text, [50, 51, 52])),
                         {50: 0, 51: 1, 52: 2})


if __name__ == "__main__":
    unittest.main()
