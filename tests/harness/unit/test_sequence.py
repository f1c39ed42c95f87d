# SPDX-License-Identifier: GPL-2.0-or-later
"""sequence.py: the device's event log condensed into steps, and Linux's
msix_capability_init() order checked on it."""

import unittest

from irqlab import sequence

# A compatibility-format message (x-query-msix-log's address/data).
ADDR, DATA = 0xfee01004, 0x25


class Log:
    """An x-query-msix-log entry list, in the shapes the device logs
    (table-write per dword, then "programmed"; a vector control write,
    then "mask"/"unmask" when the entry's state changed)."""

    def __init__(self):
        self.entries = []
        self.masked = {}

    def add(self, kind, **fields):
        self.entries.append({"seq": len(self.entries), "kind": kind,
                             "capability": "msix", **fields})
        return self

    def control(self, old, new):
        return self.add("control", old=old, new=new)

    def write(self, entry, address=ADDR, data=DATA):
        for dword, value in enumerate((address, 0, data)):
            self.add("table-write", vector=entry, dword=dword, new=value,
                     old=0)
        return self.add("programmed", vector=entry, address=address,
                        data=data)

    def maskbit(self, entry, masked):
        old = self.masked.get(entry, True)
        self.add("table-write", vector=entry, dword=3, new=int(masked),
                 old=int(old))
        if old != masked:
            self.add("mask" if masked else "unmask", vector=entry)
        self.masked[entry] = masked
        return self

    def message(self, entry):
        return self.add("message", vector=entry, address=ADDR, data=DATA)


def capability_init(table=4, used=2, log=None) -> Log:
    """msix_capability_init() then request_irq() on @used of @table
    entries, as Linux 6.1 does it on x86 (drivers/pci/msi/msi.c)."""
    log = log or Log()
    log.control(0x0000, 0xc000)                 # 1. ENABLE|MASKALL
    for e in range(used):                       # 3. early activation
        log.write(e, data=0xef)
    for e in range(table):                      # 4. msix_mask_all()
        log.maskbit(e, True)
    log.control(0xc000, 0x8000)                 # 5. MASKALL cleared
    for e in range(used):                       # request_irq()
        log.write(e)
        log.maskbit(e, False)
        log.message(e)
    return log


class Condense(unittest.TestCase):
    def test_steps_of_capability_init(self):
        steps = sequence.condense(capability_init().entries)
        self.assertEqual(
            [(s.seqs, s.kind, sorted(set(s.entries))) for s in steps],
            [("#0", "control", []),
             ("#1-#8", "write", [0, 1]),
             ("#9-#12", "maskbit", [0, 1, 2, 3]),
             ("#13", "control", []),
             ("#14-#19", "startup", [0]),
             ("#20", "traffic", [0]),
             ("#21-#26", "startup", [1]),
             ("#27", "traffic", [1])])

    def test_control_text(self):
        steps = sequence.condense(capability_init().entries)
        self.assertEqual(steps[0].text(),
                         "control 0x0000 -> 0xc000: ENABLE set, MASKALL set")
        self.assertEqual(steps[3].text(),
                         "control 0xc000 -> 0x8000: MASKALL cleared")

    def test_traffic_counted_per_entry(self):
        log = Log()
        for e in (0, 0, 2):
            log.message(e)
        (step,) = sequence.condense(log.entries)
        self.assertEqual(step.text(), "3 messages on entries 0,2")

    def test_rewrite_under_mask(self):
        log = Log()
        log.maskbit(1, False)
        log.maskbit(1, True).write(1).maskbit(1, False)
        steps = sequence.condense(log.entries)
        self.assertEqual([s.kind for s in steps], ["unmaskbit", "rewrite"])

    def test_message_text(self):
        log = Log().write(0)
        log.entries[-1]["decoded"] = {"summary": "compat dest 0x10 vector 0x25"}
        (step,) = sequence.condense(log.entries)
        self.assertIn("compat dest 0x10 vector 0x25", step.text())

    def test_message_text_without_summary(self):
        """A record from a QEMU before x-query-msix-log decoded a message
        into a summary: its raw address and data."""
        (step,) = sequence.condense(Log().write(0).entries)
        self.assertIn(f"address 0x{ADDR:x} data 0x{DATA:x}", step.text())

    def test_other_capability_ignored(self):
        log = capability_init()
        log.entries[0]["capability"] = "msi"
        self.assertEqual(sequence.condense(log.entries)[0].kind, "write")


class CheckOrder(unittest.TestCase):
    def check(self, log, vectors=2, table=4, **kw):
        steps = sequence.condense(log.entries)
        return steps, {c.name: c for c in sequence.check_order(
            log.entries, steps, vectors, table, False, **kw)}

    def test_linux_order_passes_and_is_named(self):
        steps, checks = self.check(capability_init())
        self.assertEqual(len(checks), 7)
        self.assertTrue(all(c.ok for c in checks.values()),
                        [c for c in checks.values() if not c.ok])
        self.assertEqual(
            [s.note for s in steps],
            ["msix_capability_init 1: ENABLE|MASKALL",
             "3: msix_setup_interrupts, early activation",
             "4: msix_mask_all", "5: MASKALL cleared",
             "request_irq: irq_startup", "", "request_irq: irq_startup",
             ""])
        self.assertEqual(
            checks["4. all 4 entries masked after the messages"].detail,
            "mask bit set on 0-3; last message write #8, first vector "
            "control write #9")

    def test_enable_without_maskall(self):
        log = capability_init()
        log.entries[0]["new"] = 0x8000
        _, checks = self.check(log)
        c = checks["1. ENABLE and MASKALL set in one control write"]
        self.assertFalse(c.ok)
        self.assertEqual(c.detail, "#0 control 0x0000 -> 0x8000")

    def test_mask_all_before_the_messages(self):
        log = Log().control(0, 0xc000)
        for e in range(4):
            log.maskbit(e, True)
        log.write(0).write(1).control(0xc000, 0x8000)
        _, checks = self.check(log)
        self.assertFalse(
            checks["4. all 4 entries masked after the messages"].ok)

    def test_entry_left_masked(self):
        log = capability_init(used=1)
        _, checks = self.check(log)
        c = checks["request_irq: entries 0-1 unmasked after MASKALL "
                   "cleared"]
        self.assertFalse(c.ok)
        self.assertEqual(c.detail, "unmasked: 0")

    def test_message_under_maskall(self):
        log = Log().control(0, 0xc000).write(0).message(0)
        for e in range(4):
            log.maskbit(e, True)
        log.control(0xc000, 0x8000)
        _, checks = self.check(log, vectors=1)
        c = checks["no message before MASKALL cleared"]
        self.assertFalse(c.ok)
        self.assertEqual(c.detail, "1 messages in #0-#10")

    def test_never_enabled(self):
        checks = sequence.check_order(Log().write(0).entries, [], 1, 1,
                                      False)
        self.assertEqual([(c.name, c.ok) for c in checks],
                         [("MSI-X enabled in the log", False)])

    def test_xen_leaves_the_mask_bits(self):
        # pci_msi_ignore_mask: no msix_mask_all(); clearing MASKALL
        # unmasks entry 0 (its mask bit clear), Xen unmasks entry 1 when
        # its pirq is bound.
        log = Log().control(0, 0xc000).write(0).write(1)
        log.control(0xc000, 0x8000).add("unmask", vector=0).message(0)
        log.add("unmask", vector=1)
        steps, checks = self.check(log, xen=True)
        self.assertTrue(checks["4. no msix_mask_all(): Xen's "
                               "pci_msi_ignore_mask"].ok)
        self.assertEqual(
            [(s.kind, s.note) for s in steps],
            [("control", "msix_capability_init 1: ENABLE|MASKALL"),
             ("write", "3: xen_hvm_setup_msi_irqs: a pirq each, written"),
             ("control", "5: MASKALL cleared"), ("traffic", ""),
             ("unmask", "request_irq: EVTCHNOP_bind_pirq, Xen unmasks")])

    def test_xen_mask_all_fails(self):
        _, checks = self.check(capability_init(), xen=True)
        c = checks["4. no msix_mask_all(): Xen's pci_msi_ignore_mask"]
        self.assertFalse(c.ok)
        self.assertEqual(c.detail, "4 vector control writes under MASKALL")

    def test_earlier_allocation_prefixed(self):
        # nvme: one vector for the admin queue, then all of them.
        log = capability_init(used=1)
        log.maskbit(0, True).write(0, 0, 0)
        log.maskbit(0, True).control(0x8000, 0)
        capability_init(log=log)
        steps, checks = self.check(log)
        self.assertTrue(all(c.ok for c in checks.values()))
        self.assertEqual(steps[0].note, "earlier allocation: "
                         "msix_capability_init 1: ENABLE|MASKALL")


class Teardown(unittest.TestCase):
    def test_free_irq_then_shutdown(self):
        log = Log()
        log.masked = {0: False, 1: False}
        for e in (0, 1):                        # free_irq()
            log.maskbit(e, True).write(e, 0, 0)
        log.maskbit(0, True).maskbit(1, True)   # pci_msix_shutdown()
        log.control(0x8000, 0x0000)
        steps = sequence.condense(log.entries)
        sequence.annotate_teardown(steps)
        self.assertEqual(
            [(s.kind, s.note) for s in steps],
            [("shutdown", "free_irq: irq_shutdown_and_deactivate"),
             ("shutdown", "free_irq: irq_shutdown_and_deactivate"),
             ("maskbit", "pci_free_irq_vectors: pci_msix_shutdown masks"),
             ("control", "pci_msix_shutdown: MSI-X disabled")])


if __name__ == "__main__":
    unittest.main()
