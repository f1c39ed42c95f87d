# SPDX-License-Identifier: GPL-2.0-or-later
"""
TEST HOOKS ONLY: break one value on purpose so a test can see the checker
FAIL: a deliberately broken case proves the checker can fail.

Each fault changes one parsed value of vector 1 (the first I/O vector) --
the guest's report or the device's answer -- after the run and before
the checks; nothing in the guest or QEMU is touched.  `irqlab run` and
`irqlab check` print a banner when one is active, and the run must then
exit non-zero.
"""

FAULTS = {
    "guest-vector": "the guest's tracefs vector of vector 1, plus one",
    "guest-count": "the guest's /proc/interrupts count of vector 1, plus one",
    "host-dest": "the device's decoded destination of entry 1, plus one",
    "handler-cpu": "an interrupt of vector 1 counted on a CPU outside its "
                   "effective affinity",
    "affinity": "vector 1's smp_affinity widened to every CPU",
    "chain-vector": "the vector in vector 1's irq_cfg (the vector level of "
                    "its irq_domain chain), plus one",
}
VICTIM = 1
# The same, for a Xen HVM guest's vectors (`irqlab run --xen`, xen.py)
# and for dom0's (`irqlab run --dom0`, dom0.py)
XEN_FAULTS = {
    "xen-port-vcpu": "the vCPU of vector 1's port, plus one",
    "xen-delivered": "the messages vector 1's pirq delivered to its port, "
                     "plus one",
}
DOM0_FAULTS = {
    "dom0-counted": "the interrupts dom0 counted on vector 1, plus one",
    "dom0-port-vcpu": "the vCPU of vector 1's port in Xen's 'e' dump, "
                      "plus one",
    "dom0-xen-dest": "the destination of entry 1's message as the device "
                     "holds it, plus one (Xen's 'M' no longer matches)",
    "dom0-cpl": "the first table write of the log made at CPL 3",
    "dom0-model": "the model's first message for entry 1 written to the "
                  "next APIC ID",
}
# The same, for a --vfio run (vfio.py)
VFIO_FAULTS = {
    "vfio-eventfd": "the eventfd signals irqlab-vfio read on vector 1 of "
                    "the first enable, plus one",
}
# The same, for a --storm run (storm.py)
STORM_FAULTS = {
    "storm-lost": "a message of vector 1 the MSI core sent but the "
                  "handler never took (its handler calls, minus one)",
    "storm-outside": "a handler call of vector 1 on a CPU outside its "
                     "effective affinity",
}
# For every kind of run but --storm: the report after the unbind
UNLOAD_FAULTS = {
    "unload-handler": "vector 1's irq still handled after the unbind (its "
                      "line from before, handler and all)",
}


def apply(kind: str, guest, host, irtes: dict | None,
          chains: dict | None = None) -> str:
    """
    Doctor @guest (guest.GuestView), @host (host.HostView), @irtes (the
    IRTEs read through the vIOMMU, by entry) or @chains (irqchain.Chain
    by irq).
    """
    from .vectors import entry_of_irqs
    irq = next((i for i, e in entry_of_irqs(guest).items() if e == VICTIM),
               None)
    if irq is None:
        raise ValueError(f"fault {kind}: no vector {VICTIM} to break")
    if kind == "guest-vector":
        ev = guest.last_trace(irq, "vector_config")
        ev.args["vector"] = str(int(ev.args["vector"]) + 1)
    elif kind == "guest-count":
        line = guest.interrupts[irq]
        eff = guest.effective.get(irq) or {0}
        line.counts[min(eff)] += 1
    elif kind == "host-dest":
        dec = host.entries[VICTIM]["decoded"]
        if dec["format"] == "compat":
            dec["dest-id"] += 1
        elif irtes and VICTIM in irtes:
            irtes[VICTIM]["dest-id"] += 1
    elif kind == "handler-cpu":
        line = guest.interrupts[irq]
        eff = guest.effective.get(irq, frozenset())
        outside = next(c for c in range(len(line.counts)) if c not in eff)
        line.counts[outside] += 1
    elif kind == "affinity":
        guest.affinity[irq] = guest.online
    elif kind == "chain-vector":
        chain = (chains or {}).get(irq)
        level = chain.vector_level if chain else None
        if level is None or level.vector is None:
            raise ValueError(f"fault {kind}: no irq_domain chain of vector "
                             f"{VICTIM} to break")
        level.vector += 1
    else:
        raise ValueError(f"unknown fault {kind}")
    return f"TEST HOOK: {FAULTS[kind]}"


# Each row fault: (the rows it applies to, the field it adds one to)
ROW_FAULTS = {
    "xen-port-vcpu": ("xen", "vcpu"),
    "xen-delivered": ("xen", "delivered"),
    "dom0-counted": ("dom0", "counted"),
    "dom0-port-vcpu": ("dom0", "port_vcpu"),
}


def apply_dom0_input(kind: str, host) -> str | None:
    """The dom0 faults that doctor the device's view before the rows are
    built from it (host.HostView); None for the others."""
    if kind == "dom0-xen-dest":
        dec = host.entries.get(VICTIM, {}).get("decoded", {})
        if dec.get("format") != "compat":
            raise ValueError(f"fault {kind}: no vector {VICTIM} to break")
        dec["dest-id"] += 1
    elif kind == "dom0-cpl":
        ev = next((e for e in host.events if e["kind"] == "table-write"),
                  None)
        if ev is None:
            raise ValueError(f"fault {kind}: no table write to break")
        ev["privilege-level"] = 3
    else:
        return None
    return f"TEST HOOK: {DOM0_FAULTS[kind]}"


def apply_model(kind: str, replay: dict) -> str | None:
    """dom0-model: doctor the model's replayed log (xenmodel.py); None for
    the other faults."""
    if kind != "dom0-model":
        return None
    ev = next((e for e in replay.get("loaded", {}).get("entries", [])
               if e["kind"] == "programmed" and e.get("vector") == VICTIM),
              None)
    if ev is None:
        raise ValueError(f"fault {kind}: no model message for entry "
                         f"{VICTIM}")
    ev["decoded"]["dest-id"] += 1
    return f"TEST HOOK: {DOM0_FAULTS[kind]}"


def apply_row(kind: str, rows, run: str) -> str:
    """Doctor vector 1's row (xen.XenRow of a --xen run, dom0.Dom0Row of
    a --dom0 one, @run says which)."""
    if ROW_FAULTS.get(kind, ("",))[0] != run:
        raise ValueError(f"fault {kind} does not apply to a --{run} run")
    row = next((r for r in rows if r.entry == VICTIM), None)
    if row is None:
        raise ValueError(f"fault {kind}: no vector {VICTIM} to break")
    field = ROW_FAULTS[kind][1]
    setattr(row, field, (getattr(row, field) or 0) + 1)
    return f"TEST HOOK: {XEN_FAULTS.get(kind) or DOM0_FAULTS[kind]}"


def apply_vfio(kind: str, lines: list) -> str:
    """Doctor irqlab-vfio's parsed output (vfio.parse_output())."""
    if kind != "vfio-eventfd":
        raise ValueError(f"unknown fault {kind}")
    d = next((d for w, d in lines if w == "vector" and d.get("step") == "1"
              and d.get("vector") == str(VICTIM)), None)
    if d is None:
        raise ValueError(f"fault {kind}: no vector {VICTIM} to break")
    d["signals"] = str(int(d["signals"]) + 1)
    return f"TEST HOOK: {VFIO_FAULTS[kind]}"


def apply_unload(kind: str, guest, run: dict) -> str:
    """Doctor the guest's /proc/interrupts after the unbind in @run (the
    record's copy): vector 1's irq line as it was while loaded."""
    from .vectors import entry_of_irqs
    if kind not in UNLOAD_FAULTS:
        raise ValueError(f"unknown fault {kind}")
    irq = next((i for i, e in entry_of_irqs(guest).items() if e == VICTIM),
               None)
    loaded = run["reports"]["loaded"]["/proc/interrupts"] or ""
    line = next((ln for ln in loaded.splitlines()
                 if ln.partition(":")[0].strip() == str(irq)), None)
    unloaded = run["reports"].get("unloaded")
    if line is None or unloaded is None:
        raise ValueError(f"fault {kind}: no vector {VICTIM} to break")
    text = unloaded.get("/proc/interrupts") or ""
    unloaded["/proc/interrupts"] = text.rstrip("\n") + "\n" + line + "\n"
    return f"TEST HOOK: {UNLOAD_FAULTS[kind]}"


def apply_storm(kind: str, storm) -> str:
    """Doctor vector 1 of a --storm run's counts (storm.Storm)."""
    v = next((v for v in storm.vectors if v.index == VICTIM), None)
    if kind not in STORM_FAULTS:
        raise ValueError(f"fault {kind} does not apply to a --storm run")
    if v is None:
        raise ValueError(f"fault {kind}: no vector {VICTIM} to break")
    if kind == "storm-lost":
        v.interrupts -= 1
    else:
        v.outside, v.outside_cpu = v.outside + 1, 0
    return f"TEST HOOK: {STORM_FAULTS[kind]}"
