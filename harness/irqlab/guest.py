# SPDX-License-Identifier: GPL-2.0-or-later
"""
The guest's view, parsed from the files guest/init reports on ttyS1
(see channel.py): /proc/cpuinfo, /proc/interrupts, the device's msi_irqs,
each irq's smp_affinity_list and effective_affinity_list, tracefs's
irq_vectors events, and msix-testdev's debugfs files.
"""

import re
from dataclasses import dataclass, field

from . import cpulist

BDF = "0000:00:04.0"
DEV = f"/sys/bus/pci/devices/{BDF}"
DEBUGFS = f"/sys/kernel/debug/msix_testdev/{BDF}"
TRACE = "/sys/kernel/tracing/trace"


class ReportError(Exception):
    """The guest's report lacks something the harness cannot do without."""


@dataclass
class IrqLine:
    """One numbered line of /proc/interrupts."""
    irq: int
    counts: list[int]           # per CPU column
    chip: str                   # "PCI-MSI", "IR-PCI-MSI", "xen-pirq", ...
    hwirq: int | None           # None outside an irq domain (Xen's)
    flow: str                   # "edge", "msi-x" (Xen pirq), ...
    actions: str                # "nvme0q1", "virtio0-req.0", ...

    @property
    def total(self) -> int:
        return sum(self.counts)

    @property
    def cpus(self) -> frozenset[int]:
        """The CPUs whose column is non-zero: where the handler ran."""
        return frozenset(c for c, n in enumerate(self.counts) if n)

    @property
    def msi_index(self) -> int | None:
        """
        The MSI-X table entry.  6.1's global PCI-MSI domain prints
        pci_msi_domain_calc_hwirq(): msi_index | pci_dev_id << 11 |
        domain << 27; 6.2+'s per-device domains print msi_index itself.
        Either way the entry is hwirq bits 10:0.
        """
        return None if self.hwirq is None else self.hwirq & 0x7ff


@dataclass
class TraceEvent:
    ts: float
    cpu: int                    # the CPU that logged it, not the target
    name: str                   # vector_config, vector_update, vector_activate
    args: dict


@dataclass
class GuestView:
    files: dict                                     # path -> text or None
    apicid: dict = field(default_factory=dict)      # CPU -> APIC ID
    interrupts: dict = field(default_factory=dict)  # irq -> IrqLine
    ncpu_columns: int = 0
    msi_irqs: list = field(default_factory=list)
    affinity: dict = field(default_factory=dict)    # irq -> frozenset
    effective: dict = field(default_factory=dict)   # irq -> frozenset
    trace: dict = field(default_factory=dict)       # irq -> [TraceEvent]
    trace_lost: str = ""        # "in-buffer/written" when they differ
    queues: list | None = None      # msix-testdev debugfs "queues" rows
    vectors: list | None = None     # msix-testdev debugfs "vectors" rows
    cmdline: str = ""

    @property
    def online(self) -> frozenset[int]:
        return frozenset(self.apicid)

    def last_trace(self, irq: int, *names: str) -> TraceEvent | None:
        for ev in reversed(self.trace.get(irq, [])):
            if ev.name in names:
                return ev
        return None


def parse_loaded(files: dict) -> GuestView:
    """The report of phase "loaded": the driver bound, the workload done."""
    g = GuestView(files=files)
    g.apicid = parse_cpuinfo(_need(files, "/proc/cpuinfo"))
    g.ncpu_columns, g.interrupts = parse_interrupts(
        _need(files, "/proc/interrupts"))
    g.msi_irqs = sorted(int(x) for x in
                        _need(files, f"{DEV}/msi_irqs").split())
    for irq in g.msi_irqs:
        for name, into in (("smp_affinity_list", g.affinity),
                           ("effective_affinity_list", g.effective)):
            text = files.get(f"/proc/irq/{irq}/{name}")
            if text is not None:
                into[irq] = cpulist.parse(text)
    g.trace, g.trace_lost = parse_trace(files.get(TRACE) or "")
    if files.get(f"{DEBUGFS}/queues") is not None:
        g.queues = parse_table(files[f"{DEBUGFS}/queues"])
    if files.get(f"{DEBUGFS}/vectors") is not None:
        g.vectors = parse_table(files[f"{DEBUGFS}/vectors"])
    g.cmdline = (files.get("/proc/cmdline") or "").strip()
    return g


def _need(files: dict, path: str) -> str:
    text = files.get(path)
    if text is None:
        raise ReportError(f"the guest's report has no {path}")
    return text


def parse_cpuinfo(text: str) -> dict[int, int]:
    """/proc/cpuinfo -> {processor: apicid}."""
    out, cpu = {}, None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "processor":
            cpu = int(value)
        elif key == "apicid" and cpu is not None:
            out[cpu] = int(value)
    return out


# show_interrupts() (kernel/irq/proc.c): the chip's name; the hwirq, or
# blanks for a descriptor outside an irq domain (Xen's pirqs and event
# channels); "-" and the flow name irq_set_chip_and_handler_name() gave,
# when there is one; then the handlers' names.
#   "PCI-MSI 65536-edge      nvme0q0", "xen-pirq    -msi-x     nvme0q1"
_IRQ_TAIL = re.compile(r"^(?P<chip>\S+)\s+(?P<hwirq>\d+)?(?:-(?P<flow>\S+))?"
                       r"\s*(?P<actions>.*)$")


def parse_interrupts(text: str) -> tuple[int, dict[int, IrqLine]]:
    """/proc/interrupts -> (number of CPU columns, {irq: IrqLine})."""
    lines = text.splitlines()
    if not lines:
        return 0, {}
    ncpu = len(lines[0].split())
    out = {}
    for line in lines[1:]:
        label, _, rest = line.partition(":")
        if not label.strip().isdigit():
            continue                    # NMI, LOC, ... : per-CPU, no irq
        fields = rest.split(None, ncpu)
        counts = [int(x) for x in fields[:ncpu]]
        m = _IRQ_TAIL.match(fields[ncpu].strip() if len(fields) > ncpu else "")
        if not m:
            continue
        irq = int(label)
        out[irq] = IrqLine(irq, counts, m["chip"],
                           int(m["hwirq"]) if m["hwirq"] else None,
                           m["flow"] or "", m["actions"].strip())
    return ncpu, out


_TRACE_LINE = re.compile(r"\[(?P<cpu>\d+)\]\s+\S+\s+(?P<ts>\d+\.\d+):\s+"
                         r"(?P<name>\w+):\s+(?P<args>.*)$")


def parse_trace(text: str) -> tuple[dict[int, list[TraceEvent]], str]:
    """
    tracefs's "trace" file, the irq_vectors events the kernel command line
    enabled -> {irq: [events, oldest first]}, and whether the ring lost
    any (the header says "entries-in-buffer/entries-written: X/Y").
    """
    out: dict[int, list[TraceEvent]] = {}
    lost = ""
    for line in text.splitlines():
        if line.startswith("#"):
            m = re.search(r"entries-in-buffer/entries-written: (\d+)/(\d+)",
                          line)
            if m and m[1] != m[2]:
                lost = f"{m[1]}/{m[2]}"
            continue
        m = _TRACE_LINE.search(line)
        if not m:
            continue
        args = dict(kv.split("=", 1) for kv in m["args"].split()
                    if "=" in kv)
        if "irq" not in args:
            continue
        ev = TraceEvent(float(m["ts"]), int(m["cpu"]), m["name"], args)
        out.setdefault(int(args["irq"]), []).append(ev)
    return out, lost


def parse_table(text: str) -> list[dict]:
    """A debugfs table: a header line of names, then rows of values."""
    lines = [x for x in text.splitlines() if x.strip()]
    if not lines:
        return []
    header = lines[0].split()
    rows = [row.split() for row in lines[1:]]
    for row in rows:
        if len(row) != len(header):
            raise ReportError(f"a debugfs row {' '.join(row)!r} has "
                              f"{len(row)} fields, its header "
                              f"{len(header)}")
    return [dict(zip(header, row)) for row in rows]


def trace_bool(value: str | None) -> bool | None:
    """vector_activate prints is_managed=%s as true/false (older: 1/0)."""
    if value is None:
        return None
    return value.strip().lower() in ("true", "1", "yes")


def trace_int(value: str | None) -> int | None:
    return None if value is None else int(value, 0)
