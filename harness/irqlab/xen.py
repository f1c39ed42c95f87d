# SPDX-License-Identifier: GPL-2.0-or-later
"""
A Xen HVM guest's MSI-X (`irqlab run --xen`): the HVM pirq path, each
vector followed hop by hop, the guest's view against the model's.

Linux 6.1's xen_hvm_setup_msi_irqs() (arch/x86/pci/xen.c) takes a pirq for
each vector (PHYSDEVOP_get_free_pirq) and writes the entry itself in Xen's
pirq format: vector 0, the pirq in the destination ID bits
(xen_msi_compose_msg()).  Xen's MSI domain skips msix_mask_all()
(pci_msi_ignore_mask).  Its irq chip is "xen-pirq", shown as "xen-pirq
-msi-x" in /proc/interrupts.  request_irq() -> __startup_pirq()
(drivers/xen/events/events_base.c) binds an event channel to the pirq
(EVTCHNOP_bind_pirq), on which Xen, here QEMU's model, unmasks the entry
(pirq_guest_bind()), and the irq's affinity moves the port to a vCPU
(EVTCHNOP_bind_vcpu).  A message then goes: the pirq -> its port's
pending bit -> an upcall on the port's vCPU (the global callback vector,
which Linux counts as "HYP") -> the irq's handler, on that CPU.

Host side: x-query-msix (the entry, decoded "xen-pirq N"), its event log
(the writes, the unmask, the messages), x-query-xen-irqs (the pirq's port,
its messages delivered to the port or dropped; each vCPU's upcalls and
callback vectors taken) and xen-event-list (the port's vCPU).
"""

from dataclasses import dataclass

from .verdict import Check

GROUP = "xen"


@dataclass
class XenRow:
    entry: int
    irq: int | None
    name: str
    chip: str                   # the guest's irq chip and name
    affinity: frozenset
    effective: frozenset
    pirq: int | None            # from the entry's message
    port: int | None            # the pirq's port (x-query-xen-irqs)
    port_type: str              # xen-event-list's type of that port
    vcpu: int | None            # the port's vCPU (xen-event-list)
    sent: int | None            # messages since MSI-X was enabled (log)
    delivered: int | None       # the pirq's messages set on its port
    dropped: int | None         # ... with no port bound
    counted: int                # the guest's /proc/interrupts, all CPUs
    handler_cpus: frozenset     # the CPUs whose column is non-zero
    written: int | None         # log seq of the pirq message's write
    unmasked: int | None        # log seq of the model's unmask

    def as_json(self) -> dict:
        d = dict(self.__dict__)
        for k in ("affinity", "effective", "handler_cpus"):
            d[k] = sorted(d[k])
        return d


def hyp_counts(interrupts_text: str) -> list[int]:
    """The guest's HYP line of /proc/interrupts ("Hypervisor callback
    interrupts": sysvec_xen_hvm_callback() per CPU)."""
    for line in interrupts_text.splitlines():
        label, _, rest = line.partition(":")
        if label.strip() == "HYP":
            return [int(x) for x in rest.split() if x.isdigit()]
    return []


def _model_unmasks(events: list[dict], since: int) -> dict[int, int]:
    """{entry: seq} of the first unmask after @since that no guest write
    of the entry's vector control caused: the model's (bind_pirq)."""
    out: dict[int, int] = {}
    prev = None
    for e in events:
        if e["capability"] == "msix" and e["seq"] > since:
            guest = (prev is not None and prev["kind"] == "table-write"
                     and prev.get("vector") == e.get("vector"))
            if e["kind"] == "unmask" and not guest:
                out.setdefault(e["vector"], e["seq"])
        prev = e
    return out


def build(guest, host, xirqs: dict, ports: list) -> list[XenRow]:
    """@guest: guest.GuestView, @host: host.HostView, @xirqs: the answer
    of x-query-xen-irqs, @ports: of xen-event-list."""
    from .vectors import entry_of_irqs
    since = host.last_enable_seq()
    logged = host.messages_since(since) if host.complete_since(since) \
        else None
    pirqs = {p["pirq"]: p for p in xirqs.get("pirqs", [])}
    by_port = {p["port"]: p for p in ports}
    written = {}
    for e in host.events:
        if (e["capability"] == "msix" and e["kind"] == "programmed"
                and (since is None or e["seq"] > since)):
            written[e["vector"]] = e["seq"]
    unmasked = _model_unmasks(host.events, since or 0)
    rows = []
    for irq, entry in sorted(entry_of_irqs(guest).items(),
                             key=lambda x: x[1]):
        line = guest.interrupts.get(irq)
        dec = host.entries.get(entry, {}).get("decoded", {})
        pirq = dec.get("pirq") if dec.get("format") == "xen-pirq" else None
        p = pirqs.get(pirq, {})
        port = p.get("port") or None
        ev = by_port.get(port, {})
        rows.append(XenRow(
            entry=entry, irq=irq,
            name=(line.actions or "?") if line else "?",
            chip=f"{line.chip} -{line.flow}" if line else "?",
            affinity=guest.affinity.get(irq, frozenset()),
            effective=guest.effective.get(irq, frozenset()),
            pirq=pirq, port=port, port_type=ev.get("type", ""),
            vcpu=ev.get("vcpu"),
            sent=None if logged is None else logged.get(entry, 0),
            delivered=p.get("delivered"), dropped=p.get("dropped"),
            counted=line.total if line else 0,
            handler_cpus=line.cpus if line else frozenset(),
            written=written.get(entry), unmasked=unmasked.get(entry)))
    return rows


def _rows_check(rows, what, ok, detail) -> list[Check]:
    """One Check for all rows if they all pass, else one per failing row."""
    bad = [r for r in rows if not ok(r)]
    if not bad:
        span = f"{rows[0].entry}-{rows[-1].entry}" if len(rows) > 1 \
            else f"{rows[0].entry}"
        return [Check(GROUP, f"vectors {span}: {what}", True,
                      "; ".join(detail(r) for r in rows[:3])
                      + (" ..." if len(rows) > 3 else ""))]
    return [Check(GROUP, f"vector {r.entry}: {what}", False, detail(r))
            for r in bad]


def checks(rows: list[XenRow], guest, xirqs: dict) -> list[Check]:
    if not rows:
        return [Check(GROUP, "the device's vectors", False, "none")]
    out = []
    out += _rows_check(
        rows, "entry in Xen's pirq format (xen_msi_compose_msg())",
        lambda r: r.pirq is not None, lambda r: f"pirq {r.pirq}")
    out += _rows_check(
        rows, "the guest's irq is a xen-pirq msi-x",
        lambda r: r.chip.startswith("xen-pirq") and "msi-x" in r.chip,
        lambda r: f"irq {r.irq}: {r.chip}")
    out += _rows_check(
        rows, "pirq bound to a pirq port (EVTCHNOP_bind_pirq)",
        lambda r: r.port is not None and r.port_type == "pirq",
        lambda r: f"pirq {r.pirq} port {r.port} ({r.port_type or '-'})")
    out += _rows_check(
        rows, "entry unmasked, not by the guest (Xen's pirq_guest_bind()), "
        "after its pirq message",
        lambda r: r.unmasked is not None and r.written is not None
        and r.written < r.unmasked,
        lambda r: f"written #{r.written}, unmasked #{r.unmasked}")
    out += _rows_check(
        rows, "the port's vCPU is the irq's effective CPU "
        "(EVTCHNOP_bind_vcpu)",
        lambda r: r.vcpu is not None and r.effective == {r.vcpu},
        lambda r: f"port {r.port} vCPU {r.vcpu}, effective "
        f"{sorted(r.effective)}")
    out += _rows_check(
        rows, "messages sent = delivered to the port = counted by the "
        "guest, none dropped",
        lambda r: r.sent is not None and r.sent == r.delivered == r.counted
        and r.dropped == 0,
        lambda r: f"sent {r.sent}, delivered {r.delivered}, counted "
        f"{r.counted}, dropped {r.dropped}")
    out += _rows_check(
        rows, "handled on the port's vCPU only",
        lambda r: r.counted == 0 or r.handler_cpus == {r.vcpu},
        lambda r: f"handler CPUs {sorted(r.handler_cpus)}, vCPU {r.vcpu}")

    hyp = hyp_counts(guest.files.get("/proc/interrupts") or "")
    vcpus = {v["vcpu"]: v for v in xirqs.get("vcpus", [])}
    bad = [(c, n, vcpus.get(c, {}).get("injections"))
           for c, n in enumerate(hyp)
           if vcpus.get(c, {}).get("injections") is None
           or n > vcpus[c]["injections"]]
    out.append(Check(
        GROUP, "callback vectors the guest counted (HYP) <= the host "
        "injected, per CPU", bool(hyp) and not bad,
        ", ".join(f"CPU {c} {n} <= {vcpus.get(c, {}).get('injections')}"
                  for c, n in enumerate(hyp)) if not bad else
        ", ".join(f"CPU {c}: guest {n}, host {h}" for c, n, h in bad)))
    return out


def grant_table_check(console: list[str]) -> Check:
    """What QEMU's own Xen functional test looks for in dmesg: the guest's
    platform-pci driver set up its grant table (GNTTABOP_query_size,
    set_version, XENMEM_add_to_physmap of the frames)."""
    line = next((x for x in console if "Grant table initialized" in x), None)
    return Check(GROUP, "the guest's grant table initialized (dmesg)",
                 line is not None, line.strip() if line else "not in dmesg")
