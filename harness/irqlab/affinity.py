# SPDX-License-Identifier: GPL-2.0-or-later
"""
Managed affinity: pci_alloc_irq_vectors_affinity() with pre_vectors = 1
gives vector 0 (admin/config) every CPU, not managed, and spreads the
CPUs over the other vectors, each managed (irq_create_affinity_masks(),
IRQD_AFFINITY_MANAGED).

Measured on Debian's 6.1 guest with 8 CPUs and each device's default
queue count, those tables are frozen here and applied exactly when the
run has 8 CPUs and the default queues.  For any other topology the
expectation is derived from the guest's own CPUs: one vector per I/O
queue, min(queues, CPUs) of them, each managed, their affinities a
partition of the online CPUs; vector 0 not managed, spanning them all.
"""

from dataclasses import dataclass

from . import cpulist
from .verdict import Check

MEASURED_CPUS = 8
ALL = frozenset(range(MEASURED_CPUS))
# Measured at -smp 8: nvme with 9 queues (and msix-testdev, whose driver
# allocates like nvme), and virtio-blk with num-queues=4.
NVME_LIKE = [(ALL, False)] + [(frozenset({c}), True) for c in range(8)]
FROZEN = {
    "msix-testdev": NVME_LIKE,
    "nvme": NVME_LIKE,
    "virtio-blk": [(ALL, False)] + [(frozenset({c, c + 1}), True)
                                    for c in range(0, 8, 2)],
}
MEASURED = f"measured at -smp {MEASURED_CPUS}, frozen"
# Whether a vector is managed comes from tracefs (vector_activate's
# is_managed): a check of it needs those events (kconfig.py).
MANAGED = ("irq_vectors",)


@dataclass
class Expectation:
    source: str                 # MEASURED or "derived ..."
    count: int
    table: list | None          # [(affinity, managed)] when exact


def expect(scenario: str, smp: int, default_queues: bool, io_queues: int,
           online: frozenset) -> Expectation:
    """@io_queues: the I/O queues the device offers (capped by the CPUs)."""
    if smp == MEASURED_CPUS and default_queues:
        table = FROZEN[scenario]
        return Expectation(MEASURED, len(table), table)
    return Expectation("derived from the guest's CPUs",
                       1 + min(io_queues, len(online)), None)


def check(exp: Expectation, rows: list, online: frozenset) -> list[Check]:
    """@rows: vectors.Row in MSI-X entry order."""
    g = "affinity"
    checks = [Check(g, f"{exp.count} vectors ({exp.source})",
                    len(rows) == exp.count, f"guest has {len(rows)}")]
    if exp.table is not None:
        for row, (aff, managed) in zip(rows, exp.table):
            want = f"{cpulist.format(aff)} " + \
                ("managed" if managed else "not managed")
            got = f"{cpulist.format(row.affinity)} " + \
                ("managed" if row.managed else
                 "not managed" if row.managed is False else "managed ?")
            checks.append(Check(g, f"vector {row.entry}: {want}",
                                row.affinity == aff and row.managed is managed,
                                f"guest: {got}", needs=MANAGED))
        return checks
    if not rows:
        return checks
    admin, io = rows[0], rows[1:]
    checks.append(Check(
        g, "vector 0 spans every online CPU, not managed",
        admin.affinity == online and admin.managed is False,
        f"{cpulist.format(admin.affinity)} managed={admin.managed}, "
        f"online {cpulist.format(online)}", needs=MANAGED))
    checks.append(Check(
        g, "I/O vectors managed",
        all(r.managed is True for r in io),
        " ".join(f"{r.entry}:{r.managed}" for r in io), needs=MANAGED))
    seen: set[int] = set()
    disjoint = True
    for r in io:
        disjoint &= not (seen & r.affinity) and bool(r.affinity)
        seen |= r.affinity
    checks.append(Check(
        g, "I/O vectors' affinities partition the online CPUs",
        disjoint and seen == online,
        " | ".join(cpulist.format(r.affinity) for r in io)
        + f" vs online {cpulist.format(online)}"))
    return checks
