# SPDX-License-Identifier: GPL-2.0-or-later
"""xenkeys.py: Xen 4.17's debug-key dumps, as a --dom0 run read them."""

import unittest

from irqlab import xenkeys

# From a real run (msix-testdev, -smp 2), "(XEN) " taken off.
M = """\
MSI information:
 MSI-X   24 vec=c0  fixed  edge   assert phys    cpu dest=00000000 mask=1/  /0
 MSI-X   25 vec=d8  fixed  edge   assert phys    cpu dest=00000001 mask=1/HG/1
"""
I = """\
IRQ information:
   IRQ:   0 vec:f0 IO-APIC-edge    status=000 aff:{0}/{0} arch/x86/time.c#timer_interrupt()
   IRQ:   1 vec:a8 IO-APIC-edge    status=010 aff:{1}/{1} in-flight=0 d0:  1(---)
   IRQ:  20 vec:b8 IO-APIC-level   status=002 aff:{0-1}/{0} mapped, unbound
   IRQ:  24 vec:c0 PCI-MSI/-X      status=030 aff:{0}/{0} in-flight=0 d0:415(---)
Direct vector information:
   0x22 -> irq_move_cleanup_interrupt()
"""
E = """\
'e' pressed -> dumping event-channel info
Event channel information for domain 0:
Polling vCPUs: {}
    port [p/m/s]
       1 [1/0/  0   ]: s=5 n=0 x=0 v=0
      22 [0/0/  -   ]: s=4 n=0 x=0 p=415 i=24
      23 [0/1/  -   ]: s=4 n=1 x=0 p=414 i=25
Event channel information for domain 1:
      22 [0/0/  -   ]: s=4 n=0 x=0 p=99 i=99
"""


class XenKeys(unittest.TestCase):
    def test_msi(self):
        m = xenkeys.parse_msi(M)
        self.assertEqual(sorted(m), [24, 25])
        self.assertEqual((m[24].kind, m[24].vector, m[24].dest,
                          m[24].delivery, m[24].dest_mode,
                          m[24].redirection, m[24].masked),
                         ("MSI-X", 0xc0, 0, "fixed", "phys", "cpu", "0"))
        self.assertFalse(m[24].host_masked or m[24].guest_masked)
        self.assertTrue(m[25].host_masked and m[25].guest_masked)
        self.assertEqual(m[25].masked, "1")

    def test_irqs(self):
        i = xenkeys.parse_irqs(I)
        self.assertEqual(sorted(i), [0, 1, 20, 24])
        self.assertEqual(i[24].pirqs, {0: 415})
        self.assertEqual((i[24].vector, i[24].chip, i[24].affinity),
                         (0xc0, "PCI-MSI/-X", "0"))
        self.assertEqual(i[20].pirqs, {})
        self.assertEqual(i[20].affinity, "0-1")

    def test_evtchn_dom0_only(self):
        e = xenkeys.parse_evtchn(E)
        self.assertEqual(sorted(e), [1, 22, 23])
        self.assertEqual((e[22].state, e[22].vcpu, e[22].pirq, e[22].irq),
                         (xenkeys.ECS_PIRQ, 0, 415, 24))
        self.assertTrue(e[23].masked)
        self.assertIsNone(e[1].pirq)

    def test_prefix(self):
        self.assertEqual(xenkeys._strip("(XEN) [  12.3] IRQ information:"),
                         "IRQ information:")
        self.assertEqual(xenkeys._strip("(XEN) x"), "x")


if __name__ == "__main__":
    unittest.main()
