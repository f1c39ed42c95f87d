# SPDX-License-Identifier: GPL-2.0-or-later
"""
From one run's raw material (the guest's reports, the QMP answers, the
IRTEs) to the report: the sequence, the vector rows, the checks.  Works
the same on a live run and on a saved --json document (`irqlab check`).
"""

import copy
import re
from dataclasses import dataclass, field

from . import (affinity, checks, dom0, faults, irqchain, sequence, stall,
               storm, vectors, xen, xenmodel)
from .guest import GuestView, ReportError, parse_loaded
from .host import HostView
from .verdict import Check


@dataclass
class Analysis:
    run: dict
    guest: GuestView | None = None
    host: HostView | None = None
    rows: list = field(default_factory=list)
    steps: list = field(default_factory=list)
    teardown: list = field(default_factory=list)
    expectation: affinity.Expectation | None = None
    checks: list = field(default_factory=list)
    hook: str = ""
    unload_fault: str = ""      # a faults.UNLOAD_FAULTS kind, for _unload()
    stalled: list = field(default_factory=list)    # stall.describe()
    xen_rows: list = field(default_factory=list)    # xen.XenRow, --xen
    dom0_rows: list = field(default_factory=list)   # dom0.Dom0Row, --dom0
    model: list = field(default_factory=list)       # xenmodel.Aspect, --dom0
    chains: dict | None = None      # irqchain.Chain by irq; None: unreported
    vfio: object = None             # vfio.VfioRun, --vfio
    storm: object = None            # storm.Storm, --storm
    # (check, why) for each check the kernel cannot answer (kconfig.py)
    skipped: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)


def analyze(run: dict, fault: str | None = None) -> Analysis:
    """
    The checks of a run's record; with @fault, a faults.py test hook
    breaks one value first.  ValueError: @fault found nothing to break in
    this run (an --expect run, or one that stopped early).
    """
    a = _analyze(copy.deepcopy(run), fault)  # faults doctor the copy
    if fault and not a.hook:
        raise ValueError(f"fault {fault}: this run has nothing it breaks")
    _skip(a)
    return a


def _skip(a: Analysis):
    """
    Out of the checks, into a.skipped: those that read what the guest
    kernel lacks, as the run's record says (its "kernel-config": "unmet",
    NEEDS key -> why; kconfig.unmet()).  They are neither passed nor
    failed.
    """
    unmet = (a.run.get("kernel-config") or {}).get("unmet") or {}
    keep = []
    for c in a.checks:
        why = [unmet[k] for k in c.needs if k in unmet]
        if why:
            a.skipped.append((c, "; ".join(why)))
        else:
            keep.append(c)
    a.checks = keep


def _analyze(run: dict, fault: str | None) -> Analysis:
    a = Analysis(run)
    storm_fault = None
    if fault in faults.UNLOAD_FAULTS:
        a.unload_fault, fault = fault, None
    elif fault in faults.STORM_FAULTS:
        storm_fault, fault = fault, None
    outcome = run.get("outcome", {})
    a.checks.append(Check("guest", "guest ran to the end (@@irqlab done, "
                          "powered off)", outcome.get("status") == "done",
                          outcome.get("detail", "")))
    if run.get("stuck") and "error" not in run["stuck"]:
        names = {int(k, 16): v
                 for k, v in (run.get("linux-vectors") or {}).items()}
        a.stalled = stall.describe(run["stuck"], names)
    if not run.get("irqlab-qemu", True):
        return a            # a QEMU without irqlab: only the outcome counts
    if run.get("xen"):
        a.checks.append(xen.grant_table_check(run.get("console", [])))
    if run.get("expect"):
        a.checks += _expectations(run)
        return a
    loaded = run.get("reports", {}).get("loaded")
    qmp = run.get("qmp", {}).get("loaded")
    if loaded is None or qmp is None:
        a.checks.append(Check("guest", "phase 'loaded' reported and "
                              "queried", False, "never reached"))
        return a
    try:
        a.guest = parse_loaded(loaded)
    except ReportError as e:
        a.checks.append(Check("guest", "the guest's report parses", False,
                              str(e)))
        return a
    a.checks.append(Check("guest", "tracefs kept every irq_vectors event",
                          not a.guest.trace_lost,
                          "entries-in-buffer/entries-written "
                          f"{a.guest.trace_lost}", needs=("irq_vectors",)))
    a.host = HostView.from_qmp(qmp["x-query-msix"], qmp["x-query-msix-log"])
    irtes = {int(k): v for k, v in (run.get("irte") or {}).items()}
    if run.get("xen"):
        return _analyze_xen(a, qmp, fault, storm_fault)
    if run.get("dom0"):
        return _analyze_dom0(a, fault)
    if run.get("vfio"):
        from . import vfio
        vfio.analyze(a, fault)
        return a
    try:
        a.chains = irqchain.parse(loaded.get(irqchain.PATH))
    except ReportError as e:
        a.checks.append(Check("guest", "the irq_domain chains parse", False,
                              str(e), needs=("irqchain",)))
    if fault:
        a.hook = faults.apply(fault, a.guest, a.host, irtes, a.chains)

    lapics = {int(k): v for k, v in (run.get("lapic") or {}).items()}
    a.rows = vectors.build(a.guest, a.host, irtes if run["iommu"] else None,
                           lapics)
    remappable = any(r.host_format == "remappable" for r in a.rows)
    a.steps = sequence.condense(a.host.events)
    a.checks += sequence.check_order(a.host.events, a.steps, len(a.rows),
                                     a.host.table_size, remappable)
    a.checks.append(Check(
        "sequence", "the event log kept the whole allocation",
        a.host.complete_since(a.host.last_enable_seq()),
        f"log size {a.host.log['size']}, "
        f"{a.host.log['overwritten']} overwritten"))
    if run["iommu"]:
        unit = run.get("iommu-unit") or {}
        a.checks.append(Check(
            "iommu", "interrupt remapping enabled (GSTS.IRES)",
            bool(unit.get("ir-enabled")),
            f"GSTS {unit.get('gsts', 0):#010x} IRTA {unit.get('irta', 0):#x}"
            f" ({'x2APIC' if unit.get('eime') else 'xAPIC'} mode, "
            f"{unit.get('entries', 0)} entries)"))
    a.checks += checks.vector_checks(
        a.rows, a.guest, run["iommu"],
        driver=run["scenario"] == "msix-testdev")
    a.checks += irqchain.checks(a.rows, a.chains, a.host, a.guest.apicid)
    domain = irqchain.device_domain(a.chains)
    if domain:
        sequence.note_device_domain(a.steps, domain)

    a.expectation = affinity.expect(run["scenario"], run["smp"],
                                    run["queues"] is None, run["io_queues"],
                                    a.guest.online)
    a.checks += affinity.check(a.expectation, a.rows, a.guest.online)

    if run.get("storm"):
        _storm(a, storm_fault)
    else:
        _unload(a)
    return a


def _storm(a: Analysis, fault: str | None):
    """--storm: the storm's accounting (storm.py) instead of the unbind,
    which a storm run leaves out."""
    try:
        a.storm = storm.build(a.run)
    except ReportError as e:
        a.checks.append(Check("storm", "the storm's counts were reported",
                              False, str(e)))
        return
    if fault:
        a.hook = faults.apply_storm(fault, a.storm)
    a.checks += storm.checks(a.storm)


def _expectations(run: dict) -> list[Check]:
    """--expect: each regex matches a line of the guest's /proc/interrupts
    (phase "loaded"), as QEMU's tests/functional/test_x86_64_kvm_xen.py
    greps it."""
    text = (run.get("reports", {}).get("loaded") or {}).get(
        "/proc/interrupts") or ""
    out = []
    for rx in run["expect"]:
        m = next((x for x in text.splitlines() if re.search(rx, x)), None)
        out.append(Check("interrupts", f"/proc/interrupts matches {rx!r}",
                         m is not None, " ".join(m.split()) if m else
                         "no line"))
    return out


def _analyze_xen(a: Analysis, qmp: dict, fault: str | None,
                 storm_fault: str | None = None) -> Analysis:
    """A Xen HVM guest: the sequence as Xen's MSI domain makes it, then
    each vector through its pirq and port (xen.py) instead of the local
    APIC checks, and the unload."""
    xirqs = qmp.get("x-query-xen-irqs") or {}
    ports = qmp.get("xen-event-list") or []
    a.xen_rows = xen.build(a.guest, a.host, xirqs, ports)
    if fault:
        a.hook = faults.apply_row(fault, a.xen_rows, "xen")
    a.steps = sequence.condense(a.host.events)
    a.checks += sequence.check_order(a.host.events, a.steps,
                                     len(a.xen_rows), a.host.table_size,
                                     False, xen=True)
    a.checks.append(Check(
        "sequence", "the event log kept the whole allocation",
        a.host.complete_since(a.host.last_enable_seq()),
        f"log size {a.host.log['size']}, "
        f"{a.host.log['overwritten']} overwritten"))
    a.checks += xen.checks(a.xen_rows, a.guest, xirqs)
    if a.run.get("storm"):
        _storm(a, storm_fault)
    else:
        _unload(a)
    return a


def _analyze_dom0(a: Analysis, fault: str | None) -> Analysis:
    """Linux as Xen's dom0: Xen's own writes as the device logged them,
    each vector against dom0's count (dom0.py), and the unload.  The
    log's steps carry no notes: Linux's msix_capability_init() is not
    what wrote them."""
    keys = a.run.get("xen-keys")
    if fault:
        a.hook = faults.apply_dom0_input(fault, a.host)
    a.dom0_rows = dom0.build(a.guest, a.host, keys)
    if fault and not a.hook:
        a.hook = faults.apply_model(fault, a.run.get("model-replay") or {})
    if fault and not a.hook:
        a.hook = faults.apply_row(fault, a.dom0_rows, "dom0")
    a.steps = sequence.condense(a.host.events)
    a.checks.append(Check(
        "sequence", "the event log kept the whole allocation",
        a.host.complete_since(a.host.last_enable_seq()),
        f"log size {a.host.log['size']}, "
        f"{a.host.log['overwritten']} overwritten"))
    a.checks += dom0.checks(a.dom0_rows, keys, a.host.events)
    _unload(a, notes=False)
    _model(a)
    return a


def _model(a: Analysis):
    """--dom0: xen-physirq's replay of the run against what Xen wrote."""
    replay = a.run.get("model-replay") or {"error": "not replayed"}
    unloaded = a.run.get("qmp", {}).get("unloaded", {}).get(
        "x-query-msix-log")
    if "error" in replay or unloaded is None:
        a.checks += xenmodel.checks(None, replay.get("error") or
                                    "the run never reached 'unloaded'")
        return
    a.model = xenmodel.compare(
        xenmodel.real_events(a.host, unloaded),
        {k: replay[k]["entries"] for k in ("loaded", "unloaded")})
    a.checks += xenmodel.checks(a.model, None)


def _unload(a: Analysis, notes: bool = True):
    """After the driver let go: the teardown and its checks."""
    run = a.run
    qu = run.get("qmp", {}).get("unloaded")
    if qu is None:
        a.checks.append(Check("unload", "phase 'unloaded' reported and "
                              "queried", False, "never reached"))
    else:
        if a.unload_fault:
            a.hook = faults.apply_unload(a.unload_fault, a.guest, run)
        log = qu["x-query-msix-log"]
        a.teardown = sequence.condense(
            [e for e in log["entries"]
             if e["seq"] >= a.host.log["next-seq"]])
        if notes:
            sequence.annotate_teardown(a.teardown)
        a.checks += checks.unload_checks(
            a.host, qu["x-query-msix"], log,
            run["reports"].get("unloaded"), a.guest.msi_irqs,
            xen_irqs=bool(run.get("xen") or run.get("dom0")))
