# SPDX-License-Identifier: GPL-2.0-or-later
"""
`irqlab run --vfio`: msix-testdev's MSI-X enabled from a guest user
program through vfio-pci (guest/vfio/irqlab-vfio.c), checked against what
the device saw.

Linux 6.1's chain (drivers/vfio/pci/vfio_pci_intrs.c, file:line in
docs/guest.rst): VFIO_DEVICE_SET_IRQS -> vfio_pci_set_irqs_ioctl() ->
vfio_pci_set_msi_trigger() -> vfio_msi_enable(): pci_alloc_irq_vectors()
without PCI_IRQ_AFFINITY (so no managed vector) -> msix_capability_init(),
as for any driver; then vfio_msi_set_block() -> vfio_msi_set_vector_signal()
per vector, which first rewrites the entry with its cached message
(get_cached_msi_msg() + pci_write_msi_msg(), the entry still masked), then
request_irq() writes the real message and unmasks it.  6.1 has no
pci_setup_msix_device_domain() / msi_create_device_irq_domain() (later
kernels' per-device MSI domains): the vectors live in the global PCI-MSI
domain, whose hwirq is pci_msi_domain_calc_hwirq()'s.  6.12 has them: the
vectors live in the device's own domain, whose hwirq is the entry, and
which can allocate MSI-X vectors one by one (pci_msix_can_alloc_dyn()), so
GET_IRQ_INFO no longer says NORESIZE.  Which of the two a run had is read
from its irq_domain chains (irqchain.per_device_domain()), never from the
kernel's version.

The program holds the device twice: "loaded" (first enable, N1 vectors)
and "reenabled" (disabled, enabled again with N2: MSI-X is NORESIZE); at
each the guest reports as for a driver and the host queries QEMU.  Its
own output ("vfio WHAT key=value ...") is the report "vfio".
"""

from dataclasses import dataclass, field

from . import checks, cpulist, faults, irqchain, sequence, vectors
from .guest import GuestView, ReportError, parse_loaded
from .host import (DWORD_VECTOR_CONTROL, ENTRY_MASKBIT, MSIX_ENABLE,
                   MSIX_MASKALL, HostView)
from .scenario import BDF
from .verdict import Check

OUTPUT = "/tmp/irqlab-vfio.out"
PHASES = ("loaded", "reenabled")
# pci_msi_domain_calc_hwirq() (drivers/pci/msi/irqdomain.c, 6.1): the
# global PCI-MSI domain's hwirq, msi_index | pci_dev_id << 11 |
# pci_domain_nr << 27.
HWIRQ_DEV_SHIFT = 11
DUT_DEVID = 4 << 3          # 00:04.0


@dataclass
class Enable:
    """One VFIO_DEVICE_SET_IRQS enable, as held at @phase."""
    step: int
    phase: str
    n: int
    guest: GuestView
    host: HostView
    rows: list
    raised: dict = field(default_factory=dict)      # entry -> RAISEs
    signals: dict = field(default_factory=dict)     # entry -> eventfd reads
    early: dict = field(default_factory=dict)       # ... before any RAISE
    timeouts: int = 0
    chains: dict | None = None      # irqchain.Chain by irq, at the hold

    def eventfd(self, entry: int) -> int | None:
        if entry not in self.signals:
            return None
        return self.signals[entry] + self.early.get(entry, 0)


@dataclass
class VfioRun:
    lines: list                     # (what, {key: value}) of the program
    enables: list = field(default_factory=list)
    steps: list = field(default_factory=list)       # the whole log
    controls: list = field(default_factory=list)    # report lines


def parse_output(text: str) -> list[tuple[str, dict]]:
    """irqlab-vfio's lines: "vfio WHAT key=value ..." -> (WHAT, dict);
    "vfio error MESSAGE" -> ("error", {"message": MESSAGE})."""
    out = []
    for line in text.splitlines():
        word, _, rest = line.partition(" ")
        if word != "vfio":
            continue
        what, _, rest = rest.partition(" ")
        if what == "error":
            out.append((what, {"message": rest}))
            continue
        out.append((what, dict(kv.split("=", 1) for kv in rest.split()
                               if "=" in kv)))
    return out


def _find(lines, what: str, **match) -> list[dict]:
    return [d for w, d in lines if w == what
            and all(d.get(k) == str(v) for k, v in match.items())]


def _int(v) -> int | None:
    return None if v is None else int(v, 0)


def analyze(a, fault: str | None) -> None:
    """Fill @a (analysis.Analysis) for a --vfio run."""
    run = a.run
    text = (run.get("reports", {}).get("vfio") or {}).get(OUTPUT)
    if text is None:
        a.checks.append(Check("vfio", "irqlab-vfio's output reported",
                              False, f"no {OUTPUT} in report 'vfio'"))
        return
    lines = parse_output(text)
    if fault in faults.VFIO_FAULTS:
        a.hook = faults.apply_vfio(fault, lines)
    v = a.vfio = VfioRun(lines)
    a.checks += _uapi_checks(lines, a.host, device_domain(
        _chains(run, PHASES[0])))
    lapics = {int(k): x for k, x in (run.get("lapic") or {}).items()}
    for step, phase in enumerate(PHASES, 1):
        e = _enable(run, lines, step, phase, lapics, a, fault)
        if e is None:
            return
        v.enables.append(e)
        a.checks += _enable_checks(e, run)
    a.checks += _controls(v, run)
    v.steps = _annotated_steps(run)
    _unload(a)


def _chains(run, phase: str) -> dict | None:
    """The irq_domain chains the guest reported at @phase, None when it
    did not or they do not parse (_enable() says so)."""
    try:
        return irqchain.parse((run.get("reports", {}).get(phase) or {})
                              .get(irqchain.PATH))
    except ReportError:
        return None


def device_domain(chains: dict | None) -> str | None:
    """The device's own MSI domain its vectors' chains start in (6.12:
    pci_setup_msix_device_domain() -> msi_create_device_irq_domain()), or
    None: the global PCI-MSI domain (6.1), or no chains."""
    for ch in (chains or {}).values():
        if ch.dev == BDF and irqchain.per_device_domain(ch.levels[0]):
            return ch.levels[0].domain
    return None


def _uapi_checks(lines, host: HostView,
                 own_domain: str | None) -> list[Check]:
    """@own_domain: the device's own MSI domain, if the run had one: then
    vfio_pci_ioctl_get_irq_info() leaves NORESIZE out (it can allocate
    vectors one by one, pci_msix_can_alloc_dyn())."""
    g = "vfio"
    err = _find(lines, "error")
    cont = (_find(lines, "container") or [{}])[0]
    grp = (_find(lines, "group") or [{}])[0]
    info = (_find(lines, "irq-info") or [{}])[0]
    bar = (_find(lines, "bar0") or [{}])[0]
    master = _find(lines, "command")
    out = [
        Check(g, "irqlab-vfio ran to the close",
              bool(_find(lines, "closed")) and not err,
              err[0]["message"] if err else ""),
        Check(g, "container: VFIO_API_VERSION 0, TYPE1v2 supported",
              cont.get("api") == "0" and cont.get("type1v2") == "1",
              f"api={cont.get('api')} type1v2={cont.get('type1v2')}"),
        Check(g, "group viable, type1v2 IOMMU set",
              grp.get("viable") == "1" and bool(_find(lines, "iommu",
                                                     type="type1v2")),
              f"{grp.get('path')} flags={grp.get('flags')}"),
        Check(g, "BAR 0 reached (mmap, else pwrite)",
              bar.get("access") in ("mmap", "pwrite"),
              f"access={bar.get('access')}"),
        Check(g, "PCI_COMMAND_MASTER set through the config region "
              "(opening the device cleared it)",
              bool(master) and master[0].get("master") == "1",
              f"command {master[0].get('value') if master else '-'}"),
        Check(g, "GET_IRQ_INFO(MSIX): the table's size, EVENTFD, NORESIZE"
              if own_domain is None else "GET_IRQ_INFO(MSIX): the table's "
              "size, EVENTFD, not NORESIZE (the device's own MSI domain "
              "allocates dynamically)",
              _int(info.get("count")) == host.table_size
              and info.get("eventfd") == "1" and info.get("noresize") ==
              ("1" if own_domain is None else "0"),
              f"count={info.get('count')} flags={info.get('flags')}, table "
              f"{host.table_size}"
              + (f"; MSI domain {own_domain}" if own_domain else "")),
    ]
    return out


def _enable(run, lines, step, phase, lapics, a, fault) -> Enable | None:
    loaded = run.get("reports", {}).get(phase)
    qmp = run.get("qmp", {}).get(phase)
    en = _find(lines, "enable", step=step)
    if loaded is None or qmp is None or not en:
        a.checks.append(Check(f"enable {step}", f"phase '{phase}' reported "
                              "and queried", False, "never reached"))
        return None
    try:
        guest = parse_loaded(loaded)
    except ReportError as e:
        a.checks.append(Check(f"enable {step}", "the guest's report parses",
                              False, str(e)))
        return None
    host = HostView.from_qmp(qmp["x-query-msix"], qmp["x-query-msix-log"])
    key = "irte" if phase == "loaded" else f"irte-{phase}"
    irtes = {int(k): x for k, x in (run.get(key) or {}).items()}
    if step == 1 and fault in faults.FAULTS:
        a.hook = faults.apply(fault, guest, host, irtes)
    e = Enable(step, phase, int(en[0]["n"]), guest, host,
               vectors.build(guest, host, irtes if run["iommu"] else None,
                             lapics))
    for d in _find(lines, "vector", step=step):
        e.raised[int(d["vector"])] = int(d["raised"])
        e.signals[int(d["vector"])] = int(d["signals"])
        e.timeouts += int(d["timeouts"])
    for d in _find(lines, "early", step=step):
        e.early[int(d["vector"])] = int(d["signals"])
    try:
        e.chains = irqchain.parse(loaded.get(irqchain.PATH))
    except ReportError as err:
        a.checks.append(Check(f"enable {step}", "the irq_domain chains "
                              "parse", False, str(err), needs=("irqchain",)))
    return e


def _prefixed(cs: list[Check], step: int) -> list[Check]:
    """The second enable's checks, told apart from the first's."""
    if step > 1:
        for c in cs:
            c.name = f"re-enable: {c.name}"
    return cs


def _enable_checks(e: Enable, run) -> list[Check]:
    g = f"enable {e.step}"
    out = []
    steps = sequence.condense(e.host.events)
    remappable = any(r.host_format == "remappable" for r in e.rows)
    seq = sequence.check_order(e.host.events, steps, len(e.rows),
                               e.host.table_size, remappable)
    for c in seq:
        c.group = g
    out += seq
    out.append(_cached_rewrite_check(g, e))
    out.append(Check(g, f"{e.n} vectors in use (SET_IRQS count), "
                     f"{e.n} msi_irqs", len(e.guest.msi_irqs) == e.n
                     and [r.entry for r in e.rows] == list(range(e.n)),
                     f"entries {cpulist.format(r.entry for r in e.rows)}"))
    out.append(Check(g, "every RAISE signalled its eventfd",
                     e.timeouts == 0, f"{e.timeouts} RAISEs timed out"))
    if run["iommu"]:
        unit = run.get("iommu-unit") or {}
        out.append(Check(g, "interrupt remapping enabled (GSTS.IRES)",
                         bool(unit.get("ir-enabled")),
                         f"GSTS {unit.get('gsts', 0):#010x}"))
    vc = checks.vector_checks(e.rows, e.guest, run["iommu"], driver=False)
    for r in e.rows:
        grp = f"vector {r.entry}"
        want = f"vfio-msix[{r.entry}]({BDF})"
        vc.append(Check(grp, "the irq is vfio_msi_set_vector_signal()'s "
                        "vfio-msix[v](bdf)", r.name == want,
                        f"/proc/interrupts {r.name!r}"))
        ev = e.eventfd(r.entry)
        vc.append(Check(grp, "eventfd signals = host messages sent",
                        ev is not None and ev == r.sent,
                        f"eventfd {ev} ({e.signals.get(r.entry)} after "
                        f"{e.raised.get(r.entry)} RAISEs, "
                        f"{e.early.get(r.entry, 0)} before), host {r.sent}"))
        vc.append(Check(grp, "not managed, default affinity "
                        "(vfio_msi_enable(): no PCI_IRQ_AFFINITY)",
                        r.managed is False and r.affinity ==
                        e.guest.online,
                        f"managed {r.managed}, smp_affinity "
                        f"{cpulist.format(r.affinity)}",
                        needs=("irq_vectors",)))
        line = e.guest.interrupts.get(r.irq)
        hw = line.hwirq if line else None
        if device_domain(e.chains) is None:
            vc.append(Check(grp, "hwirq of the global PCI-MSI domain "
                            "(pci_msi_domain_calc_hwirq(); 6.1 has no "
                            "per-device MSI domain)",
                            hw == r.entry | DUT_DEVID << HWIRQ_DEV_SHIFT,
                            f"hwirq {hw}, want {r.entry} | {DUT_DEVID:#x} "
                            f"<< {HWIRQ_DEV_SHIFT}", needs=("irqchain",)))
        else:
            vc.append(Check(grp, "hwirq of the device's own MSI domain, "
                            "the entry (pci_device_domain_set_desc())",
                            hw == r.entry,
                            f"hwirq {hw} (/proc/interrupts), want "
                            f"{r.entry}; {device_domain(e.chains)}",
                            needs=("irqchain",)))
    vc += irqchain.checks(e.rows, e.chains, e.host, e.guest.apicid)
    out += _prefixed(vc, e.step)
    return out


def _cached_rewrite_check(g: str, e: Enable) -> Check:
    """
    vfio_msi_set_vector_signal(): after MASKALL cleared, each entry in use
    is first written with the message early activation left in it
    (get_cached_msi_msg()), while its mask bit is still set, and only then
    request_irq() writes the real message and unmasks it.
    """
    ev = [x for x in e.host.events if x["capability"] == "msix"]
    enable = [x["seq"] for x in ev if x["kind"] == "control"
              and not x["old"] & MSIX_ENABLE and x["new"] & MSIX_ENABLE]
    clear = next((x["seq"] for x in ev if enable and x["seq"] > enable[-1]
                  and x["kind"] == "control" and x["old"] & MSIX_MASKALL
                  and not x["new"] & MSIX_MASKALL), None)
    if clear is None:
        return Check(g, "vfio_msi_set_vector_signal: cached message "
                     "rewritten while masked", False, "no MASKALL clear")
    bad = []
    for n in range(e.n):
        early = [x for x in ev if x.get("vector") == n and enable[-1] <
                 x["seq"] < clear and x["kind"] == "programmed"]
        unmask = next((x["seq"] for x in ev if x.get("vector") == n
                       and x["seq"] > clear and x["kind"] == "table-write"
                       and x.get("dword") == DWORD_VECTOR_CONTROL
                       and not x["new"] & ENTRY_MASKBIT), None)
        late = [x for x in ev if x.get("vector") == n and x["seq"] > clear
                and x["kind"] == "programmed"
                and (unmask is None or x["seq"] < unmask)]
        if not (early and unmask and len(late) >= 2 and
                (late[0]["address"], late[0]["data"]) ==
                (early[-1]["address"], early[-1]["data"])):
            bad.append(n)
    return Check(g, f"vfio_msi_set_vector_signal: entries "
                 f"{cpulist.format(range(e.n))} rewritten with their cached "
                 "message while masked, then request_irq's message and "
                 "unmask", not bad,
                 f"not so: {cpulist.format(bad) or 'none'}")


def _controls(v: VfioRun, run) -> list[Check]:
    """The controls, each with what the host saw."""
    g = "control"
    out = []
    e1 = v.enables[0]
    lines = v.lines
    beyond = _find(lines, "control", kind="beyond-n")
    if beyond:
        n = int(beyond[0]["vector"])
        seen = []
        for e in v.enables:
            ent = e.host.entries.get(n, {})
            seen.append(f"'{e.phase}' (N={e.n}): pending "
                        f"{ent.get('pending')}, held {ent.get('held')}, "
                        f"sent {ent.get('sent')}")
            out.append(Check(
                g, f"RAISE of entry {n} (beyond N, no eventfd): held in the "
                f"PBA at '{e.phase}'", n >= e.n and bool(ent.get("pending"))
                and ent.get("held") == 1 and ent.get("sent") == 0,
                seen[-1]))
        qu = run.get("qmp", {}).get("unloaded")
        if qu is not None:
            msix = next(c for c in qu["x-query-msix"]
                        if c["capability"] == "msix")
            ent = next((x for x in msix["vectors"] if x["index"] == n), {})
            out.append(Check(
                g, f"entry {n}'s pending bit cleared by the FLR at close",
                ent.get("pending") is False and ent.get("sent") == 0,
                f"pending {ent.get('pending')}, sent {ent.get('sent')}"))
        v.controls.append(f"beyond N: RAISE of entry {n}, masked since "
                          "msix_mask_all(), no eventfd: held at " +
                          "; ".join(seen) + "; the FLR at close clears it")
    loop = _find(lines, "control", kind="loopback")
    if loop:
        sig = {int(d["vector"]): int(d["signals"]) for d in loop}
        sent = {r.entry: r.sent for r in e1.rows}
        out.append(Check(
            g, "SET_IRQS(DATA_NONE|TRIGGER): each eventfd signalled once "
            "(eventfd_signal()), the device sent nothing",
            sig and all(x == 1 for x in sig.values())
            and all(sent.get(i) == e1.raised.get(i) for i in sig),
            f"eventfd {_pairs(sig)}; host sent {_pairs(sent)} for "
            f"{_pairs(e1.raised)} RAISEs"))
        v.controls.append(f"loopback: SET_IRQS(DATA_NONE|TRIGGER) on 0-"
                          f"{e1.n - 1}: eventfd {_pairs(sig)}; device "
                          f"messages {_pairs(sent)} = the RAISEs only")
    bm = _find(lines, "control", kind="bus-master")
    if bm and len(v.enables) > 1:
        out += _bus_master(v, bm[0], run)
    return out


def _bus_master(v: VfioRun, d: dict, run) -> list[Check]:
    """
    RAISE of entry 0 with PCI_COMMAND_MASTER cleared, between the first
    hold and the disable: what the device logged for it and what
    x-query-msix counts (at the second hold: the counters run from the
    FLR at open).
    """
    g = "control"
    e2 = v.enables[1]
    since = v.enables[0].host.log["next-seq"]
    stop = e2.host.last_enable_seq()
    kinds: dict[str, int] = {}
    for x in e2.host.events:
        if (x["capability"] == "msix" and x.get("vector") == 0
                and since <= x["seq"] < (stop or x["seq"] + 1)
                and x["kind"] not in ("table-write", "programmed", "mask",
                                      "unmask")):
            kinds[x["kind"]] = kinds.get(x["kind"], 0) + 1
    ent = e2.host.entries.get(0, {})
    got = int(d["signals"])
    logged = ", ".join(f"{n} {k}" for k, n in kinds.items()) or "nothing"
    out = [Check(g, "RAISE with bus mastering off: no eventfd signal",
                 got == 0, f"eventfd {got}")]
    if "dropped-bus-master" in ent:
        out.append(Check(
            g, "RAISE with bus mastering off: counted dropped-bus-master, "
            "not sent", kinds.get("dropped-bus-master") == 1
            and "message" not in kinds,
            f"log: {logged}; x-query-msix entry 0 dropped-bus-master "
            f"{ent['dropped-bus-master']}"))
        v.controls.append(f"bus master off: RAISE of entry 0: eventfd {got};"
                          f" the device logged {logged}; x-query-msix entry 0"
                          f" dropped-bus-master {ent['dropped-bus-master']}, "
                          f"sent {ent.get('sent')} since the FLR at open")
    else:
        v.controls.append(f"bus master off: RAISE of entry 0: eventfd {got};"
                          f" the device logged {logged} (this QEMU has no "
                          f"dropped-bus-master count: the message is counted "
                          f"as sent, though its write went to a disabled "
                          f"bus-master address space)")
    return out


def _pairs(d: dict) -> str:
    return " ".join(f"{k}:{d[k]}" for k in sorted(d)) or "-"


def _annotated_steps(run) -> list:
    """The whole log (as queried last), condensed and named after VFIO's
    and Linux's functions."""
    qmp = run.get("qmp", {})
    last = next((qmp[p] for p in ("unloaded", "reenabled", "loaded")
                 if p in qmp), None)
    if last is None:
        return []
    events = last["x-query-msix-log"]["entries"]
    table = next((c["table-size"] for c in last["x-query-msix"]
                  if c["capability"] == "msix"), 0)
    steps = _split_cached(sequence.condense(events))
    # The machine's reset and the FLR at open are one run: a step each.
    steps = [one for st in steps for one in (
        [sequence.Step(x["seq"], x["seq"], "reset", [], [x])
         for x in st.events] if st.kind == "reset" else [st])]
    # check_order() names the steps of every allocation; its checks are
    # made per enable, on the log of each hold (_enable_checks()).
    sequence.check_order(events, steps, 1, table, False)
    enables = [x["seq"] for x in events if x["kind"] == "control"
               and x["capability"] == "msix"
               and not x["old"] & MSIX_ENABLE and x["new"] & MSIX_ENABLE]
    for st in steps:
        st.note = st.note.replace("earlier allocation: ", "")
        k = sum(1 for s in enables if s <= st.first)
        if st.kind == "reset":
            if st.events[0].get("time-ns") == 0:
                st.note = "machine reset"
            elif k == 0:
                st.note = "FLR at open: vfio_pci_core_enable(): " \
                    "pci_try_reset_function()"
            else:
                st.note = "FLR at close: vfio_pci_core_disable()"
        elif st.kind == "write" and not st.note and k:
            st.note = "vfio_msi_set_vector_signal: cached message " \
                "(get_cached_msi_msg), entry masked"
        elif st.first in enables:
            st.note = f"SET_IRQS {k}: vfio_msi_enable -> " \
                "pci_alloc_irq_vectors -> " + st.note
        elif st.note.startswith(("free_irq", "pci_free_irq_vectors",
                                 "pci_msix_shutdown")):
            st.note = f"vfio_msi_disable {k}: {st.note}"
        elif st.kind == "dropped-bus-master":
            st.note = "RAISE with PCI_COMMAND_MASTER clear: not sent"
        elif st.kind == "traffic" and not st.note and any(
                x["kind"] in ("message", "held") for x in st.events):
            st.note = "RAISEs"
        elif st.kind == "traffic" and not st.note:
            st.note = "pci_msix_shutdown left it; the FLR clears it"
    return steps


def _split_cached(steps: list) -> list:
    """A request_irq() step ("startup") holding two messages: the first is
    vfio_msi_set_vector_signal()'s rewrite of the cached message."""
    out = []
    for st in steps:
        progs = [i for i, x in enumerate(st.events)
                 if x["kind"] == "programmed"]
        if st.kind != "startup" or len(progs) < 2:
            out.append(st)
            continue
        cut = progs[0] + 1
        for kind, evs in (("write", st.events[:cut]),
                          ("startup", st.events[cut:])):
            out.append(sequence.Step(
                evs[0]["seq"], evs[-1]["seq"], kind,
                [x["vector"] for x in evs if "vector" in x], evs))
    return out


def _unload(a) -> None:
    """After the close: MSI-X disabled, every entry masked, the irqs of
    both enables gone from the guest."""
    run = a.run
    qu = run.get("qmp", {}).get("unloaded")
    if qu is None:
        a.checks.append(Check("unload", "phase 'unloaded' reported and "
                              "queried", False, "never reached"))
        return
    if a.unload_fault:
        a.hook = faults.apply_unload(a.unload_fault, a.guest, run)
    irqs = sorted({i for e in a.vfio.enables for i in e.guest.msi_irqs})
    a.checks += checks.unload_checks(
        a.host, qu["x-query-msix"], qu["x-query-msix-log"],
        run["reports"].get("unloaded"), irqs)


def render(w, a, rows, chains) -> None:
    """The --vfio part of the printed report; @rows and @chains print
    the vector and irq_domain tables (report._rows, report._chains) of an
    object with rows, guest, run and chains."""
    from types import SimpleNamespace
    v = a.vfio
    out = [d for w_, d in v.lines if w_ in ("container", "group", "region",
                                            "bar0", "irq-info")]
    info = (_find(v.lines, "irq-info") or [{}])[0]
    bar = (_find(v.lines, "bar0") or [{}])[0]
    w("")
    w("VFIO (guest/vfio/irqlab-vfio, its own lines)")
    if out:
        w(f"  BAR 0 by {bar.get('access', '?')}; GET_IRQ_INFO(MSIX): count "
          f"{info.get('count')}, flags {info.get('flags')} (EVENTFD "
          f"{info.get('eventfd')}, MASKABLE {info.get('maskable')}, "
          f"AUTOMASKED {info.get('automasked')}, NORESIZE "
          f"{info.get('noresize')})")
    own = device_domain(v.enables[0].chains if v.enables else None)
    if own is None:
        w("  6.1 has no pci_setup_msix_device_domain() / "
          "msi_create_device_irq_domain() (later kernels): "
          "__pci_enable_msix_range() -> pci_setup_msi_context(), vectors "
          "in the global PCI-MSI domain")
    else:
        w("  __pci_enable_msix_range() -> pci_setup_msix_device_domain() -> "
          f"msi_create_device_irq_domain(): vectors in the device's own "
          f"MSI domain {own} (hwirq = entry; GET_IRQ_INFO without NORESIZE)")
    if v.steps:
        w("")
        w("MSI-X as the device saw it, open to close (x-query-msix-log; "
          "VFIO's steps, then msix_capability_init()'s)")
        for st in v.steps:
            note = f"  [{st.note}]" if st.note else ""
            w(f"  {st.seqs:>13}  {st.text()}{note}")
    for e in v.enables:
        w("")
        w(f"Vectors of enable {e.step}, N={e.n} (held at '{e.phase}'; guest: "
          "/proc, tracefs; host: x-query-msix"
          + (", IRTE" if a.run["iommu"] else "") + ")")
        ns = SimpleNamespace(rows=e.rows, guest=e.guest, run=a.run,
                             chains=e.chains)
        rows(w, ns)
        w("  eventfd (irqlab-vfio, RAISEs+before): " + " ".join(
            f"{n}:{e.signals.get(n, '-')}+{e.early.get(n, 0)}"
            for n in sorted(e.signals)))
        if e.chains is not None:
            w("  irq_domain hierarchy (irqlab_irqchain):")
            chains(w, ns)
    if v.controls:
        w("")
        w("Controls")
        for line in v.controls:
            w(f"  {line}")


def as_json(v: VfioRun | None) -> dict | None:
    if v is None:
        return None
    return {"output": [{"what": w, **d} for w, d in v.lines],
            "sequence": [s.as_json() for s in v.steps],
            "enables": [{"step": e.step, "phase": e.phase, "n": e.n,
                         "vectors": [r.as_json() for r in e.rows],
                         "raised": e.raised, "signals": e.signals,
                         "early": e.early} for e in v.enables],
            "controls": v.controls}
