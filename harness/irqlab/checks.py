# SPDX-License-Identifier: GPL-2.0-or-later
"""
The cross-checks between the guest's view and the device's, each PASS or
FAIL: per vector (after request_irq(): irq_msi_compose_msg() wrote the
destination and vector the vector domain picked), through the vIOMMU
when the message is remappable, and after the driver let go.
"""

from . import cpulist
from .guest import GuestView, parse_interrupts
from .host import HostView, entry_mask_bits
from .verdict import Check

# The requester ID of 0000:00:04.0: bus 0, device 4, function 0.
DUT_RID = 4 << 3


def vector_checks(rows: list, g: GuestView, iommu: bool,
                  driver: bool) -> list[Check]:
    checks = []
    for r in rows:
        grp = f"vector {r.entry}"
        cpu = next(iter(r.effective)) if len(r.effective) == 1 else None
        apic = g.apicid.get(cpu)
        eff = cpulist.format(r.effective)
        checks.append(Check(
            grp, "effective affinity one CPU within smp_affinity",
            cpu is not None and r.effective <= r.affinity,
            f"effective {eff}, smp_affinity {cpulist.format(r.affinity)}"))
        checks.append(Check(
            grp, "entry unmasked while the driver owns it", not r.masked,
            f"x-query-msix masked={r.masked}"))
        want_fmt = "remappable" if iommu else "compat"
        checks.append(Check(grp, f"message in {want_fmt} format",
                            r.host_format == want_fmt,
                            f"host: {r.host_message}"))
        if iommu and r.host_format == "remappable":
            checks += irte_checks(grp, r)
        # The device's destination, through QEMU's LAPICs (lapic.py), must
        # reach exactly the APIC of the guest CPU the irq is effective on.
        checks.append(Check(
            grp, "host destination reaches the effective CPU's APIC ID",
            r.host_apics is not None and apic is not None
            and r.host_apics == {apic},
            f"host {r.host_mode} dest {_hex(r.host_dest)} -> APIC ID "
            f"{_ids(r.host_apics)}; guest CPU {cpu} apicid {_hex(apic)}"))
        checks.append(Check(
            grp, "host vector = guest vector (tracefs vector_config)",
            r.host_vector is not None and r.host_vector == r.trace_vector,
            f"host {_hex(r.host_vector)}, guest {_hex(r.trace_vector)}",
            needs=("irq_vectors",)))
        checks.append(Check(
            grp, "tracefs vector_config: the effective CPU, the host's "
            "destination",
            r.trace_cpu == cpu and r.trace_apicdest is not None
            and r.trace_apicdest == r.host_dest,
            f"vector_config cpu={r.trace_cpu} apicdest="
            f"{_hex(r.trace_apicdest)}; effective {eff}, host dest "
            f"{_hex(r.host_dest)}", needs=("irq_vectors",)))
        checks.append(Check(
            grp, "host messages sent = guest interrupts counted",
            r.sent is not None and r.sent == r.count,
            f"host sent {r.sent} since the allocation ({r.sent_total} since "
            f"reset), guest /proc/interrupts {r.count}"))
        checks.append(Check(
            grp, "handler CPUs within the effective affinity",
            r.handler_cpus <= r.effective and
            (r.driver_cpus is None or r.driver_cpus <= r.effective),
            f"/proc/interrupts {cpulist.format(r.handler_cpus)}"
            + (f", driver {cpulist.format(r.driver_cpus)}"
               if r.driver_cpus is not None else "")
            + f", effective {eff}"))
        if driver:
            checks.append(Check(
                grp, "driver handler calls = /proc/interrupts",
                r.driver_count == r.count,
                f"driver {r.driver_count}, /proc/interrupts {r.count}"))
        if r.entry > 0:
            checks.append(Check(grp, "the workload interrupted on it",
                                r.count > 0, f"{r.count} interrupts"))
    return checks


def irte_checks(grp: str, r) -> list[Check]:
    """VT-d 9.10: the IRTE the handle names must be a live remapped entry."""
    t = r.irte
    if t is None:
        return [Check(grp, "IRTE read through the vIOMMU", False,
                      "no interrupt remapping table read")]
    out = [Check(grp, f"IRTE {t['index']:#x} present, remapped (not posted)",
                 t["present"] and not t["posted"],
                 f"IRTE @ {t['address']:#x} = {t['raw'][0]:#018x} "
                 f"{t['raw'][1]:#018x}")]
    if t["svt"]:
        # Source validation (9.10: SVT 01b, SQ 00b: the full requester ID).
        out.append(Check(grp, "IRTE source-id = the device's requester ID",
                         t["sid"] == DUT_RID,
                         f"SID {t['sid']:#06x} SVT {t['svt']} SQ {t['sq']}, "
                         f"requester 00:04.0 = {DUT_RID:#06x}"))
    return out


def unload_checks(h_loaded: HostView, query: list, log: dict,
                  g_unloaded: dict | None, irqs: list[int],
                  xen_irqs: bool = False) -> list[Check]:
    """
    After unbind: pci_free_irq_vectors() masked, then disabled MSI-X, and
    the guest let go of the device's irqs.

    free_irq() removes each handler before the unbind returns, so no line
    of /proc/interrupts may still name one.  The descriptors go with them
    natively (irq_domain_free_irqs() deletes them in pci_free_irq_vectors()),
    but an irq of Xen's event-channel layer (xen_irqs: --xen and --dom0)
    is freed later: xen_destroy_irq() -> xen_free_irq() queues
    delayed_free_irq() with queue_rcu_work() (Linux "xen/events: replace
    evtchn_rwlock with RCU"; Debian's 6.1 has it), and show_interrupts()
    lists a descriptor with no handler while its counts are non-zero.
    Whether that work has run when the guest reads the file is a race, so
    Xen rows check the handlers only.
    """
    g = "unload"
    msix = next((c for c in query if c["capability"] == "msix"), None)
    if msix is None:
        return [Check(g, "x-query-msix at unload", False, "no MSI-X")]
    events = h_loaded.events + [e for e in log["entries"]
                                if e["seq"] >= h_loaded.log["next-seq"]]
    bits = entry_mask_bits(events, msix["table-size"])
    unmasked = {i for i, b in bits.items() if not b}
    checks = [
        Check(g, "MSI-X disabled", not msix["enabled"],
              f"enabled={msix['enabled']} "
              f"function-masked={msix['function-masked']}"),
        Check(g, f"every entry's mask bit set ({msix['table-size']})",
              not unmasked,
              "unmasked: " + cpulist.format(unmasked)),
        Check(g, "no entry can deliver (x-query-msix masked)",
              all(v["masked"] for v in msix["vectors"]),
              f"{sum(v['masked'] for v in msix['vectors'])}/"
              f"{len(msix['vectors'])} masked"),
    ]
    if g_unloaded is not None:
        _, lines = parse_interrupts(g_unloaded.get("/proc/interrupts") or "")
        handled = [f"{i} {lines[i].actions}" for i in irqs
                   if i in lines and lines[i].actions]
        listed = [i for i in irqs if i in lines]
        detail = "still handled: " + (", ".join(handled) or "none")
        if xen_irqs:
            idle = [i for i in listed if not lines[i].actions]
            detail += (f"; descriptors awaiting delayed_free_irq(): "
                       f"{cpulist.format(idle) or 'none'}")
        checks.append(Check(g, "the device's irq handlers freed in the "
                            "guest (free_irq())", not handled, detail))
        if not xen_irqs:
            checks.append(Check(g, "the device's irqs freed in the guest "
                                "(pci_free_irq_vectors())", not listed,
                                f"still listed: {listed}"))
    return checks


def _ids(ids) -> str:
    return "?" if ids is None else \
        ",".join(f"{i:#x}" for i in sorted(ids)) or "none"


def _hex(v) -> str:
    return "-" if v is None else f"{v:#x}"
