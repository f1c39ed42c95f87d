# SPDX-License-Identifier: GPL-2.0-or-later
"""
One row per vector in use: the guest's view of each irq joined with the
device's view of the MSI-X table entry it owns.
"""

import re
from dataclasses import dataclass

from . import cpulist, lapic
from .guest import GuestView, trace_bool, trace_int
from .host import HostView


@dataclass
class Row:
    entry: int                      # MSI-X table entry (msi_index)
    irq: int
    name: str                       # the action, e.g. nvme0q1
    affinity: frozenset
    effective: frozenset
    managed: bool | None            # tracefs vector_activate is_managed
    # host: the table entry as the device decodes it
    host_format: str
    host_message: str
    host_dest: int | None           # destination (compat, or the IRTE's)
    host_mode: str | None           # physical or logical
    host_apics: frozenset | None    # the APIC IDs it selects (lapic.py)
    host_vector: int | None
    irte: dict | None               # remappable: the IRTE it names
    masked: bool
    sent_total: int                 # x-query-msix "sent", since reset
    sent: int | None                # messages logged since the allocation
    # guest
    trace_vector: int | None        # last vector_config for the irq
    trace_cpu: int | None
    trace_apicdest: int | None
    count: int                      # /proc/interrupts, summed
    handler_cpus: frozenset         # non-zero /proc/interrupts columns
    driver_count: int | None = None     # msix-testdev debugfs "vectors"
    driver_cpus: frozenset | None = None

    def as_json(self) -> dict:
        d = dict(self.__dict__)
        for k in ("affinity", "effective", "handler_cpus", "driver_cpus"):
            if d[k] is not None:
                d[k] = cpulist.format(d[k])
        if d["host_apics"] is not None:
            d["host_apics"] = sorted(d["host_apics"])
        return d


# The entry a driver's irq name says, where the irq has no hwirq to say it
# (a Xen event-channel irq: --xen, --dom0).  nvme: nvme_create_queue()
# gives queue N vector N (0: the admin queue), named nvme<ctrl>q<N>;
# virtio-pci: vp_find_vqs_msix() gives the config change vector 0, then
# one vector per virtqueue in order (virtio-blk's "req.<N>": vector
# N + 1), or one shared by all of them.
_NAMED_ENTRY = (
    (re.compile(r"nvme\d+q(\d+)"), lambda m: int(m[1])),
    (re.compile(r"virtio\d+-config"), lambda m: 0),
    (re.compile(r"virtio\d+-req\.(\d+)"), lambda m: int(m[1]) + 1),
    (re.compile(r"virtio\d+-virtqueues"), lambda m: 1),
)


def _entry_of_name(name: str) -> int | None:
    for pattern, entry in _NAMED_ENTRY:
        m = pattern.fullmatch(name)
        if m:
            return entry(m)
    return None


def entry_of_irqs(g: GuestView) -> dict[int, int]:
    """
    irq -> MSI-X entry: from /proc/interrupts' hwirq (guest.IrqLine), or
    msix-testdev's driver, or the irq's name (_NAMED_ENTRY); only failing
    all three, the irq's place among the device's msi_irqs.  That order is
    not the entries': a Xen event-channel irq is freed after an RCU grace
    period (xen_free_irq()), so an irq number freed by the driver's first
    allocation can come back in the middle of its second (nvme's admin
    vector: entries 0, 1, 2 as irqs 41, 40, 42).
    """
    out = {}
    for i, irq in enumerate(g.msi_irqs):
        line = g.interrupts.get(irq)
        named = _entry_of_name(line.actions) if line else None
        out[irq] = line.msi_index if line and line.msi_index is not None \
            else named if named is not None else i
    if g.vectors:
        # msix-testdev's driver says which entry each irq is.
        for v in g.vectors:
            if "irq" in v and "vector" in v:
                out[int(v["irq"])] = int(v["vector"])
    return out


def build(g: GuestView, h: HostView, irtes: dict | None,
          lapics: dict | None) -> list[Row]:
    """@irtes by entry (remappable messages), @lapics by APIC ID."""
    since = h.last_enable_seq()
    logged = h.messages_since(since) if h.complete_since(since) else None
    driver = {int(v["irq"]): v for v in g.vectors or [] if "irq" in v}
    rows = []
    for irq, entry in sorted(entry_of_irqs(g).items(), key=lambda x: x[1]):
        line = g.interrupts.get(irq)
        v = h.entries.get(entry, {})
        dec = v.get("decoded", {"format": "missing"})
        dest = vec = mode = None
        irte = None
        if dec["format"] == "compat":
            dest, vec, mode = dec["dest-id"], dec["vector"], dec["dest-mode"]
        elif dec["format"] == "remappable" and irtes is not None:
            irte = irtes.get(entry)
            if irte and irte["present"]:
                dest, vec, mode = (irte["dest-id"], irte["vector"],
                                   irte["dest-mode"])
        apics = None
        if dest is not None and lapics:
            apics = frozenset(lapic.targets(dest, mode, lapics))
        cfg = g.last_trace(irq, "vector_config")
        act = g.last_trace(irq, "vector_activate")
        d = driver.get(irq)
        rows.append(Row(
            entry=entry, irq=irq, name=line.actions if line else "?",
            affinity=g.affinity.get(irq, frozenset()),
            effective=g.effective.get(irq, frozenset()),
            managed=trace_bool(act.args.get("is_managed")) if act else None,
            host_format=dec["format"],
            host_message=dec.get("summary", "no such entry"),
            host_dest=dest, host_mode=mode, host_apics=apics,
            host_vector=vec, irte=irte,
            masked=v.get("masked", True),
            sent_total=v.get("sent", 0),
            sent=None if logged is None else logged.get(entry, 0),
            trace_vector=trace_int(cfg.args.get("vector")) if cfg else None,
            trace_cpu=trace_int(cfg.args.get("cpu")) if cfg else None,
            trace_apicdest=trace_int(cfg.args.get("apicdest")) if cfg
            else None,
            count=line.total if line else 0,
            handler_cpus=line.cpus if line else frozenset(),
            driver_count=int(d["interrupts"]) if d else None,
            driver_cpus=cpulist.parse(d["cpus"]) if d else None))
    return rows
