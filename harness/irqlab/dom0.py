# SPDX-License-Identifier: GPL-2.0-or-later
"""
Linux as PV dom0 of Debian's Xen hypervisor (`irqlab run --dom0`): the
device's MSI-X as Xen itself programs it, against what dom0 reports.

In dom0, Linux's xen_initdom_setup_msi_irqs() (arch/x86/pci/xen.c) asks
Xen to map each vector (PHYSDEVOP_map_pirq); Xen allocates an irq and a
CPU vector and writes the entry itself (xen/arch/x86/msi.c:
msix_capability_init(), write_msi_msg(), with msi_compose_msg()'s
message: a real vector, fixed delivery, the CPU's APIC ID), unmasks it
when dom0 binds the pirq (EVTCHNOP_bind_pirq -> pirq_guest_bind()) and
rewrites it when it moves the irq to another CPU (set_msi_affinity()).
Dom0's irq chip is "xen-pirq", its /proc/interrupts lines "xen-pirq
-msi-x".  Every table write the device logs here is Xen's: a PV dom0
cannot write the table, which Xen maps read-only for it (its
mmio_ro_ranges).

What is checked: dom0's irqs are xen-pirq msi-x; each entry in use holds
a compat-format message with a vector (not a pirq-format message, which
is what an HVM guest writes); the device's messages since MSI-X was
enabled = the interrupts dom0 counted.
"""

from dataclasses import dataclass

from .verdict import Check

GROUP = "dom0"


@dataclass
class Dom0Row:
    entry: int
    irq: int | None
    name: str
    chip: str
    message: str                # the entry's message, decoded
    fmt: str                    # compat, xen-pirq, ...
    vector: int | None
    dest: int | None
    sent: int | None
    counted: int
    handler_cpus: frozenset

    def as_json(self) -> dict:
        d = dict(self.__dict__)
        d["handler_cpus"] = sorted(d["handler_cpus"])
        return d


def build(guest, host) -> list[Dom0Row]:
    from .host import describe
    from .vectors import entry_of_irqs
    since = host.last_enable_seq()
    logged = host.messages_since(since) if host.complete_since(since) \
        else None
    rows = []
    for irq, entry in sorted(entry_of_irqs(guest).items(),
                             key=lambda x: x[1]):
        line = guest.interrupts.get(irq)
        dec = host.entries.get(entry, {}).get("decoded", {})
        rows.append(Dom0Row(
            entry=entry, irq=irq,
            name=(line.actions or "?") if line else "?",
            chip=f"{line.chip} -{line.flow}" if line else "?",
            message=describe(dec) if dec else "-",
            fmt=dec.get("format", "-"), vector=dec.get("vector"),
            dest=dec.get("dest-id"),
            sent=None if logged is None else logged.get(entry, 0),
            counted=line.total if line else 0,
            handler_cpus=line.cpus if line else frozenset()))
    return rows


def checks(rows: list[Dom0Row]) -> list[Check]:
    if not rows:
        return [Check(GROUP, "the device's vectors in dom0", False, "none")]
    out = []
    bad = [r for r in rows
           if not (r.chip.startswith("xen-pirq") and "msi-x" in r.chip)]
    out.append(Check(GROUP, "dom0's irqs are xen-pirq msi-x", not bad,
                     "; ".join(f"irq {r.irq}: {r.chip}" for r in bad)))
    bad = [r for r in rows if r.fmt != "compat" or not r.vector]
    out.append(Check(GROUP, "each entry holds Xen's message: a vector, "
                     "not a pirq", not bad,
                     "; ".join(f"entry {r.entry}: {r.message}"
                               for r in (bad or rows[:2]))))
    bad = [r for r in rows if r.sent is None or r.sent != r.counted]
    out.append(Check(GROUP, "messages sent = interrupts dom0 counted",
                     not bad, "; ".join(
                         f"entry {r.entry}: sent {r.sent}, counted "
                         f"{r.counted}" for r in (bad or rows[:3]))))
    return out
