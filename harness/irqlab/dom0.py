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
-msi-x".  Every table write the device logs here is Xen's, which the
log's privilege level shows (CPL 0; dom0's kernel runs at CPL 3).  That
dom0 does not write is Linux's doing (pci_msi_ignore_mask, and no
__pci_write_msi_msg() under Xen), not a read-only mapping: Xen puts the
table's pages in mmio_ro_ranges, but the mapping the driver made at
probe, before MSI-X was set up, stays writable (`info tlb` under
`irqlab debug --dom0`).

Xen's own view comes from its debug keys (xenkeys.py), read while dom0
waits at the "loaded" sync: 'M' gives each MSI-X irq's message as Xen
wrote it, 'i' the irq's vector, affinity and dom0's pirq, 'e' the pirq's
event channel and the vCPU it notifies.  The device's event log says who
made each access: the vCPU and its privilege level (MsiLogEntry's
cpu-index and privilege-level), CPL 0 for Xen, CPL 3 for the 64-bit PV
kernel.

What is checked: dom0's irqs are xen-pirq msi-x; each entry in use holds
a compat-format message with a vector (not a pirq-format message, which
is what an HVM guest writes); that message is the one Xen's 'M' shows for
one of its irqs, which is bound to a dom0 pirq whose port notifies the
vCPU dom0 handled it on; the device's messages since MSI-X was enabled =
the events dom0 counted (Xen 4.17 counts none per irq: dump_irqs() shows
none); and no control or table write came from CPL 3.
"""

from dataclasses import dataclass

from . import xenkeys
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
    effective: frozenset        # dom0's effective_affinity_list
    # Xen's view ('M', 'i', 'e'); None where Xen shows no such irq
    xen_irq: int | None = None
    xen_message: str = "-"      # 'M', in Xen's words
    xen_vector: int | None = None
    xen_dest: int | None = None
    xen_masked: str = "-"       # 'M': the mask bit Xen read back
    xen_affinity: str = "-"     # 'i': affinity/effective
    pirq: int | None = None     # 'i': d0's pirq
    port: int | None = None     # 'e': the port bound to that pirq
    port_vcpu: int | None = None

    def as_json(self) -> dict:
        d = dict(self.__dict__)
        d["handler_cpus"] = sorted(d["handler_cpus"])
        d["effective"] = sorted(d["effective"])
        return d


def build(guest, host, keys: dict | None) -> list[Dom0Row]:
    """One row per vector in dom0, with Xen's view from @keys (the
    record's "xen-keys": each debug key's output)."""
    from .vectors import entry_of_irqs
    since = host.last_enable_seq()
    logged = host.messages_since(since) if host.complete_since(since) \
        else None
    keys = keys or {}
    msis = xenkeys.parse_msi(keys.get("M", ""))
    irqs = xenkeys.parse_irqs(keys.get("i", ""))
    ports = {p.pirq: p for p in xenkeys.parse_evtchn(keys.get("e", ""))
             .values() if p.state == xenkeys.ECS_PIRQ}
    rows = []
    for irq, entry in sorted(entry_of_irqs(guest).items(),
                             key=lambda x: x[1]):
        line = guest.interrupts.get(irq)
        dec = host.entries.get(entry, {}).get("decoded", {})
        row = Dom0Row(
            entry=entry, irq=irq,
            name=(line.actions or "?") if line else "?",
            chip=f"{line.chip} -{line.flow}" if line else "?",
            message=dec.get("summary", "-"),
            fmt=dec.get("format", "-"), vector=dec.get("vector"),
            dest=dec.get("dest-id"),
            sent=None if logged is None else logged.get(entry, 0),
            counted=line.total if line else 0,
            handler_cpus=line.cpus if line else frozenset(),
            effective=guest.effective.get(irq, frozenset()))
        # Xen's irq for the entry: the one whose vector is set on the
        # entry's destination CPU (a CPU's vector names one irq:
        # per_cpu(vector_irq)); the checks then compare the rest.
        msi = next((m for m in msis.values() if m.kind == "MSI-X"
                    and m.vector == row.vector and m.dest == row.dest), None)
        if msi:
            row.xen_irq, row.xen_vector, row.xen_dest = \
                msi.irq, msi.vector, msi.dest
            row.xen_masked = msi.masked
            row.xen_message = (f"{msi.delivery} {msi.dest_mode} "
                               f"{msi.trigger} hint={msi.redirection}")
            xirq = irqs.get(msi.irq)
            if xirq:
                row.xen_affinity = f"{xirq.affinity}/{xirq.effective}"
                row.pirq = xirq.pirqs.get(0)
            port = ports.get(row.pirq)
            if port and port.irq == msi.irq:
                row.port, row.port_vcpu = port.port, port.vcpu
        rows.append(row)
    return rows


def writers(events: list[dict]) -> dict[tuple, int]:
    """Who made the device's control and table writes: {(cpu-index,
    privilege-level): count}, None where the log has no accessor."""
    out: dict[tuple, int] = {}
    for e in events:
        if e["kind"] in ("control", "table-write"):
            k = (e.get("cpu-index"), e.get("privilege-level"))
            out[k] = out.get(k, 0) + 1
    return out


def describe_writers(w: dict[tuple, int]) -> str:
    return ", ".join(
        f"{n} by " + ("no vCPU" if cpu is None else f"CPU {cpu}")
        + ("" if cpl is None else f" at CPL {cpl}")
        for (cpu, cpl), n in sorted(w.items(), key=str))


def checks(rows: list[Dom0Row], keys: dict | None,
           events: list[dict]) -> list[Check]:
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
    w = writers(events)
    bad = {k: n for k, n in w.items() if k[1] != 0}
    out.append(Check(GROUP, "every control and table write was made at "
                     "CPL 0 (Xen), none at CPL 3 (dom0's kernel)",
                     bool(w) and not bad, describe_writers(bad or w)))
    if not keys or "error" in keys:
        out.append(Check(GROUP, "Xen's debug keys read (M, i, e)", False,
                     (keys or {}).get("error", "not read")))
    else:
        bad = [r for r in rows if r.xen_irq is None]
        out.append(Check(
            GROUP, "each entry's destination and vector are those Xen's "
            "'M' shows for one of its MSI-X irqs", not bad, "; ".join(
                f"entry {r.entry}: dest {_hex(r.dest)} vector "
                f"{_hex(r.vector)}" + (": none" if r.xen_irq is None else
                                       f" = Xen irq {r.xen_irq}")
                for r in (bad or rows))))
        bad = [r for r in rows if r.xen_masked != "0"]
        out.append(Check(GROUP, "Xen reads each bound entry unmasked", not bad,
                         "; ".join(f"entry {r.entry}: mask {r.xen_masked}"
                                   for r in bad)))
        bad = [r for r in rows if r.pirq is None or r.port is None]
        out.append(Check(
            GROUP, "Xen's irq is bound to a dom0 pirq, the pirq to an "
            "event channel ('i', 'e')", not bad, "; ".join(
                f"entry {r.entry}: irq {_num(r.xen_irq)} pirq {_num(r.pirq)} "
                f"port {_num(r.port)}" for r in (bad or rows))))
        bad = [r for r in rows
               if r.port_vcpu is None or r.effective != {r.port_vcpu}]
        out.append(Check(
            GROUP, "each port notifies the vCPU of dom0's effective "
            "affinity for the irq", not bad,
            "; ".join(f"entry {r.entry}: port {_num(r.port)} vCPU "
                      f"{_num(r.port_vcpu)}, effective "
                      f"{sorted(r.effective)}" for r in (bad or rows))))
    bad = [r for r in rows if r.sent is None or r.sent != r.counted]
    out.append(Check(GROUP, "messages sent = events dom0 counted (Xen 4.17 "
                     "counts none per irq)",
                     not bad, "; ".join(
                         f"entry {r.entry}: sent {r.sent}, counted "
                         f"{r.counted}" for r in (bad or rows[:3]))))
    return out


def _hex(v) -> str:
    return "-" if v is None else f"{v:#x}"


def _num(v) -> str:
    return "-" if v is None else str(v)
