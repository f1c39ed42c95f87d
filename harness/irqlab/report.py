# SPDX-License-Identifier: GPL-2.0-or-later
"""The printed report, and the JSON document that holds all of it."""

from . import cpulist, dom0, irqchain, storm, vfio, xen
from .analysis import Analysis
from .machine import TAIL


def text(a: Analysis, verbose: bool = False) -> str:
    run = a.run
    out = []
    w = out.append
    accel = run.get("accel", "?")
    w(f"irqlab run: {run['scenario']}, -smp {run['smp']}"
      + (f", {run['io_queues']} I/O queues" if run.get("queues") else "")
      + (", intel-iommu intremap" if run["iommu"] else "")
      + (", vfio-pci (intremap off)" if run.get("vfio") and not run["iommu"]
         else ", vfio-pci" if run.get("vfio") else "")
      + f", -accel {accel}; kernel {run.get('kernel', '?')}, "
      f"QEMU {run.get('qemu-version', '?')}")
    if not run.get("irqlab-qemu", True):
        w("(a QEMU without irqlab's patches: nothing queried, only the "
          "outcome checked)")
    if a.hook:
        w(f"*** {a.hook} ***")
    t = run.get("times", {})
    o = run.get("outcome", {})
    w(f"guest: {o.get('status', '?')}"
      + (f" ({o['detail']})" if o.get("detail") else "")
      + _figures(run))
    if run.get("kernel-config"):
        _kernel_config(w, a)

    if a.steps:
        w("")
        w("MSI-X as the device saw it (x-query-msix-log; "
          + ("every table write is Xen's)" if run.get("dom0") else
             "msix_capability_init(), then request_irq())"))
        _steps(w, a.steps)
    if a.teardown:
        w("  after unbind:")
        _steps(w, a.teardown)

    if a.rows:
        w("")
        w("Vectors (guest: /proc, tracefs; host: x-query-msix"
          + (", IRTE" if run["iommu"] else "") + ")")
        _rows(w, a)
    if a.rows and a.chains is not None:
        w("")
        w("irq_domain hierarchy (guest: irqlab_irqchain, domain hwirq chip "
          "per level, then the vector level's irq_cfg; host: x-query-msix"
          + (", IRTE" if run["iommu"] else "") + ")")
        _chains(w, a)
    if a.vfio is not None:
        vfio.render(w, a, _rows, _chains)
    if a.storm is not None:
        storm.render(w, a.storm)
    if a.dom0_rows:
        w("")
        w("Vectors in dom0 (dom0: /proc; host: x-query-msix, its log; every "
          "table write is Xen's)")
        _dom0_rows(w, a)
        w("")
        w("The same vectors as Xen shows them (debug keys 'M', 'i', 'e')")
        _xen_view(w, a)
        w("")
        w("Who wrote the device's MSI-X control and table (x-query-msix-log "
          "cpu-index, privilege-level):")
        w("  " + dom0.describe_writers(dom0.writers(a.host.events)))
    if a.model:
        w("")
        w("xen-physirq against Xen 4.17, the same flow (xenmodel.py; "
          "docs/xen-model.rst lists the kept differences)")
        for asp in a.model:
            mark = "same" if asp.same else \
                "differs, listed" if asp.documented else "DIFFERS, NOT LISTED"
            w(f"  {asp.name}: {mark}")
            w(f"    Xen 4.17: {asp.xen or '-'}")
            if not asp.same:
                w(f"    model:    {asp.model or '-'}")
    if a.xen_rows:
        w("")
        w("Vectors through Xen (guest: /proc; host: x-query-msix, "
          "x-query-xen-irqs, xen-event-list)")
        _xen_rows(w, a)

    if a.expectation:
        e = a.expectation
        w("")
        w("Managed affinity expected (irq_create_affinity_masks()): "
          f"{e.source}: {e.count} vectors"
          + (": " + ", ".join(
              f"{i}:{cpulist.format(aff)}{'' if m else ' unmanaged'}"
              for i, (aff, m) in enumerate(e.table)) if e.table else
             ": vector 0 every CPU unmanaged, I/O vectors managed, "
             "partitioning the CPUs"))

    w("")
    w("Checks")
    _checks(w, a.checks, verbose)
    _skipped(w, a.skipped)
    if a.stalled:
        w("")
        w("What stopped")
        for line in a.stalled:
            w(f"  {line}")
    if run.get("stuck"):
        w("")
        w("QEMU when the run stopped (info registers -a, info lapic, "
          "x-query-msix)")
        _stuck(w, run["stuck"])
    if o.get("status") != "done":
        w("")
        w(f"last {TAIL} console lines:")
        for line in run.get("console", [])[-TAIL:]:
            w(f"  | {line}")
    nfail = sum(not c.ok for c in a.checks)
    w("")
    w(f"irqlab: {'PASS' if a.ok else 'FAIL'}: {len(a.checks) - nfail} "
      f"passed, {nfail} failed"
      + (f", {len(a.skipped)} skipped" if a.skipped else "")
      + (f"; boot to poweroff {t['boot-to-poweroff-s']:.1f} s"
         if "boot-to-poweroff-s" in t else ""))
    return "\n".join(out)


def _stuck(w, st) -> None:
    if "error" in st:
        w(f"  could not query QEMU: {st['error']}")
        return
    for cap in st.get("x-query-msix", []):
        w(f"  {cap['capability']}: enabled {cap['enabled']}, function "
          f"masked {cap['function-masked']}")
        for v in cap["vectors"]:
            if (v["sent"] or v["held"] or v["pending"] or
                    (cap["enabled"] and not v["masked"])):
                w(f"    vector {v['index']}: sent {v['sent']}, held "
                  f"{v['held']}, pending {v['pending']}, masked "
                  f"{v['masked']}, dest {v['decoded'].get('dest-id', '?')} "
                  f"vector {v['decoded'].get('vector', '?')}")
    for cpu, regs in sorted(st["cpus"].items(), key=lambda x: int(x[0])):
        run = "halted" if regs.get("halted") else "running"
        w(f"  CPU {cpu}: {run}, IF={int(bool(regs.get('if')))}; ISR "
          f"{regs.get('isr', '?')}; IRR {regs.get('irr', '?')}")


def _figures(run) -> str:
    t = run.get("times", {})
    parts = []
    if "boot-to-poweroff-s" in t:
        parts.append(f"boot to poweroff {t['boot-to-poweroff-s']:.1f} s")
    elif "wall-s" in t:
        parts.append(f"QEMU killed after {t['wall-s']:.1f} s")
    for phase in ("loaded", "unloaded"):
        if f"sync-{phase}-s" in t:
            parts.append(f"sync {phase} at {t[f'sync-{phase}-s']:.1f} s")
    host = sum(run.get("sync-host-s", {}).values())
    if host:
        parts.append(f"QMP at the syncs {host * 1000:.0f} ms")
    return "; " + ", ".join(parts) if parts else ""


def _steps(w, steps):
    for st in steps:
        note = f"  [{st.note}]" if st.note else ""
        w(f"  {st.seqs:>13}  {st.text()}{note}")


def _rows(w, a: Analysis):
    driver = any(r.driver_cpus is not None for r in a.rows)
    head = ("vec", "irq", "name", "smp_aff", "eff", "managed",
            "host dest->APIC",
            "host vec", "guest vec", "sent", "counted", "handler CPUs")
    lines = [head]
    for r in a.rows:
        managed = {True: "yes", False: "no", None: "?"}[r.managed]
        hdest = _hex(r.host_dest)
        if r.host_mode == "logical":
            hdest += " log"
        if r.host_apics is not None:
            hdest += "->" + (",".join(f"{i:#x}" for i in sorted(r.host_apics))
                             or "none")
        if r.irte is not None:
            hdest += f" (IRTE {r.irte['index']:#x})"
        handlers = cpulist.format(r.handler_cpus)
        if driver:
            handlers += f" / driver {cpulist.format(r.driver_cpus or ())}"
        lines.append((str(r.entry), str(r.irq), r.name,
                      cpulist.format(r.affinity), cpulist.format(r.effective),
                      managed, hdest, _hex(r.host_vector),
                      _hex(r.trace_vector),
                      "-" if r.sent is None else str(r.sent), str(r.count),
                      handlers))
    widths = [max(len(x[i]) for x in lines) for i in range(len(head))]
    for x in lines:
        w("  " + "  ".join(c.ljust(widths[i]) for i, c in enumerate(x))
          .rstrip())
    apic = ", ".join(f"{c}:{i:#x}" for c, i in sorted(a.guest.apicid.items()))
    w(f"  guest CPU:APIC ID (/proc/cpuinfo): {apic}")
    lap = a.run.get("lapic") or {}
    if lap:
        w("  QEMU's LAPICs, APIC ID:LDR (DFR): " + ", ".join(
            f"{int(k):#x}:{v['ldr']:#04x}({v['dfr']:#x})"
            for k, v in sorted(lap.items(), key=lambda x: int(x[0]))))


def _chains(w, a: Analysis):
    head = ("vec", "irq", "chain (irq's level first)", "vector", "dest",
            "CPU", "host vec, dest")
    _table(w, [head] + [irqchain.describe(r, a.chains.get(r.irq))
                        for r in a.rows])


def _xen_rows(w, a: Analysis):
    head = ("vec", "irq", "name", "smp_aff", "eff", "pirq", "port",
            "vCPU", "sent", "delivered", "counted", "handler CPUs")
    lines = [head]
    for r in a.xen_rows:
        lines.append((str(r.entry), str(r.irq), r.name,
                      cpulist.format(r.affinity), cpulist.format(r.effective),
                      _num(r.pirq), _num(r.port), _num(r.vcpu),
                      _num(r.sent), _num(r.delivered), str(r.counted),
                      cpulist.format(r.handler_cpus)))
    widths = [max(len(x[i]) for x in lines) for i in range(len(head))]
    for x in lines:
        w("  " + "  ".join(c.ljust(widths[i]) for i, c in enumerate(x))
          .rstrip())
    w("  the HVM pirq path (PHYSDEVOP_get_free_pirq -> the guest writes the "
      "entry -> EVTCHNOP_bind_pirq, Xen unmasks -> messages -> port -> "
      "upcall):")
    for r in a.xen_rows:
        w(f"    entry {r.entry}: pirq {_num(r.pirq)}, written "
          f"#{_num(r.written)}, unmasked #{_num(r.unmasked)}; "
          f"{_num(r.sent)} messages -> {_num(r.delivered)} on port "
          f"{_num(r.port)} -> vCPU {_num(r.vcpu)} -> {r.counted} handled "
          f"on CPU {cpulist.format(r.handler_cpus) or '-'}")
    xirqs = (a.run.get("qmp", {}).get("loaded") or {}).get(
        "x-query-xen-irqs") or {}
    hyp = xen.hyp_counts(a.guest.files.get("/proc/interrupts") or "")
    w("  upcalls (host: upcalls raised, callback vectors taken; guest: HYP "
      "per CPU): " + ", ".join(
          f"vCPU {v['vcpu']} {v['upcalls']}/{v['injections']}/"
          f"{hyp[v['vcpu']] if v['vcpu'] < len(hyp) else '-'}"
          for v in xirqs.get("vcpus", [])))


def _dom0_rows(w, a: Analysis):
    head = ("vec", "irq", "name", "Xen's message in the entry", "sent",
            "counted", "handler CPUs")
    lines = [head] + [
        (str(r.entry), str(r.irq), r.name, r.message, _num(r.sent),
         str(r.counted), cpulist.format(r.handler_cpus))
        for r in a.dom0_rows]
    _table(w, lines)


def _xen_view(w, a: Analysis):
    head = ("vec", "Xen irq", "vector", "dest", "Xen's message ('M')",
            "mask", "affinity", "d0 pirq", "port", "vCPU")
    lines = [head] + [
        (str(r.entry), _num(r.xen_irq), _hex(r.xen_vector), _hex(r.xen_dest),
         r.xen_message, r.xen_masked, r.xen_affinity, _num(r.pirq),
         _num(r.port), _num(r.port_vcpu))
        for r in a.dom0_rows]
    _table(w, lines)


def _table(w, lines):
    widths = [max(len(x[i]) for x in lines) for i in range(len(lines[0]))]
    for x in lines:
        w("  " + "  ".join(c.ljust(widths[i]) for i, c in enumerate(x))
          .rstrip())


def _num(v) -> str:
    return "-" if v is None else str(v)


def _checks(w, checks, verbose: bool):
    """Per-vector checks that pass are folded into one line each."""
    if verbose:
        for c in checks:
            w(f"  {c.verdict}  {c.group}: {c.name}"
              + (f"  ({c.detail})" if c.detail else ""))
        return
    folded: dict[str, list] = {}
    order = []
    for c in checks:
        if c.group.startswith("vector "):
            if c.name not in folded:
                folded[c.name] = []
                order.append(("fold", c.name))
            folded[c.name].append(c)
        else:
            order.append(("one", c))
    for kind, item in order:
        if kind == "one":
            c = item
            w(f"  {c.verdict}  {c.group}: {c.name}"
              + (f"  ({c.detail})" if not c.ok and c.detail else ""))
            continue
        cs = folded[item]
        ok = [int(c.group.split()[1]) for c in cs if c.ok]
        if ok:
            w(f"  PASS  vectors {cpulist.format(ok)}: {item}")
        for c in cs:
            if not c.ok:
                w(f"  FAIL  {c.group}: {item}  ({c.detail})")


def _kernel_config(w, a: Analysis):
    """--kernel PATH: where its configuration came from, and each need
    it does not meet with the checks that need it (kconfig.py)."""
    kc = a.run["kernel-config"]
    w(f"kernel configuration: {kc.get('source', '?')}")
    for key, why in sorted((kc.get("unmet") or {}).items()):
        names = sorted({c.name for c, _ in a.skipped if key in c.needs})
        w(f"  missing {why}; skipped: " + ("; ".join(names) if names else
                                            "no check of this run"))


def _skipped(w, skipped: list):
    """The checks the kernel cannot answer, per-vector ones folded as
    passing ones are, each with why."""
    seen: dict[tuple, list] = {}
    for c, why in skipped:
        grp = "vector" if c.group.startswith("vector ") else c.group
        seen.setdefault((grp, c.name, why), []).append(c)
    for (grp, name, why), cs in seen.items():
        if grp == "vector":
            grp = "vectors " + cpulist.format(
                [int(c.group.split()[1]) for c in cs])
        w(f"  SKIP  {grp}: {name}  (needs {why})")


def as_json(a: Analysis) -> dict:
    return {"run": a.run,
            "test-hook": a.hook or None,
            "verdict": "PASS" if a.ok else "FAIL",
            "sequence": [s.as_json() for s in a.steps],
            "teardown": [s.as_json() for s in a.teardown],
            "vectors": [r.as_json() for r in a.rows],
            "xen-vectors": [r.as_json() for r in a.xen_rows],
            "dom0-vectors": [r.as_json() for r in a.dom0_rows],
            "vfio": vfio.as_json(a.vfio),
            "irq-chains": None if a.chains is None else [
                c.as_json() for _, c in sorted(a.chains.items())],
            "expectation": None if a.expectation is None else {
                "source": a.expectation.source,
                "count": a.expectation.count,
                "table": None if a.expectation.table is None else [
                    {"affinity": cpulist.format(aff), "managed": m}
                    for aff, m in a.expectation.table]},
            "checks": [c.as_json() for c in a.checks] + [
                {**c.as_json(), "verdict": "SKIP", "why": why}
                for c, why in a.skipped]}


def _hex(v) -> str:
    return "-" if v is None else f"{v:#x}"
