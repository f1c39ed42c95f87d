# SPDX-License-Identifier: GPL-2.0-or-later
"""
The irq_domain hierarchy Linux built for each vector, as the guest's
irqlab_irqchain module shows it (guest/irqchain/irqlab-irqchain.c: Debian's
kernel has no GENERIC_IRQ_DEBUGFS), checked against the device's view.

One row per level, the irq's own level first, the root last:

    irq msi_index dev level domain hwirq chip vector dest_apicid effective
    26 1 0000:00:04.0 0 INTEL-IR-MSI-0-3 0x10001 IR-PCI-MSI - - -
    26 1 0000:00:04.0 1 INTEL-IR-0 0x110000 INTEL-IR - - -
    26 1 0000:00:04.0 2 VECTOR 0x1a APIC 0x22 0x1 0

What each level's hwirq means is the allocating domain's business, so
each is read after the function that sets it (Linux 6.1):

- the MSI level: pci_msi_domain_calc_hwirq(), msi_index | the requester
  ID << 11 | the PCI domain << 27, in 6.1's global PCI-MSI domain
  (``PCI-MSI-3 0x10001 PCI-MSI``); 6.12 gives each device its own MSI
  domain (pci_setup_msix_device_domain() -> msi_create_device_irq_domain(),
  its chip named "<template>-<device>": ``PCI-MSIX-0000:00:04.0-12 0x1
  PCI-MSIX-0000:00:04.0``, with remapping ``IR-PCI-MSIX-...``), whose
  hwirq is the msi_index alone (pci_device_domain_set_desc()): which of
  the two a chain has is read from its chip's name, not the kernel's
  version;
- Intel's remapping level: intel_irq_remapping_alloc(), (IRTE index << 16)
  + the sub-handle, and the message it composes names that IRTE as handle
  + sub-handle (VT-d 5.1.5.2, iommu.interrupt_index());
- the vector level (x86_vector_domain, always the root on x86): hwirq is
  the irq number itself (x86_vector_alloc_irqs()); its irq_cfg holds the
  vector and destination irq_msi_compose_msg() (or, remapped, the IRTE)
  carries, and the irq's effective affinity the CPU they reach.

The checks take any rows with the vectors.Row fields they read (entry,
irq, host_format, host_vector, host_dest, host_apics), whatever set the
vectors up.
"""

import re
from dataclasses import dataclass

from . import cpulist, iommu
from .checks import DUT_RID
from .guest import BDF, ReportError, parse_table
from .verdict import Check

PATH = "/sys/kernel/debug/irqlab_irqchain"
COLUMNS = ["irq", "msi_index", "dev", "level", "domain", "hwirq", "chip",
           "vector", "dest_apicid", "effective"]
# The root of every x86 hierarchy (arch/x86/kernel/apic/vector.c,
# arch_early_irq_init(): irq_domain_alloc_named_fwnode("VECTOR")).
VECTOR_DOMAIN = "VECTOR"
# intel_ir_chip's name (drivers/iommu/intel/irq_remapping.c)
INTEL_IR_CHIP = "INTEL-IR"
# pci_msi_domain_calc_hwirq() (drivers/pci/msi/irqdomain.c)
MSI_INDEX_BITS = 11
# A per-device MSI domain's chip: "<prefix><template>-<dev_name>"
# (kernel/irq/msi.c, msi_create_device_irq_domain()), a PCI device's name
# its domain:bus:device.function
PER_DEVICE_CHIP = re.compile(
    r"-([0-9a-f]{4,}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7])$")


@dataclass
class Level:
    domain: str
    hwirq: int
    chip: str
    # the vector level's irq_cfg and effective affinity; None elsewhere
    vector: int | None = None
    dest_apicid: int | None = None
    effective: frozenset | None = None

    def text(self) -> str:
        return f"{self.domain} {self.hwirq:#x} {self.chip}"


@dataclass
class Chain:
    irq: int
    msi_index: int
    dev: str
    levels: list

    @property
    def vector_level(self) -> Level | None:
        last = self.levels[-1]
        return last if last.domain == VECTOR_DOMAIN else None

    @property
    def remapping(self) -> list:
        """The levels between the MSI domain and the vector domain."""
        return self.levels[1:-1]

    def text(self) -> str:
        return " -> ".join(lv.text() for lv in self.levels)

    def as_json(self) -> dict:
        return {"irq": self.irq, "msi_index": self.msi_index,
                "dev": self.dev,
                "levels": [dict(lv.__dict__, effective=None
                                if lv.effective is None
                                else cpulist.format(lv.effective))
                           for lv in self.levels]}


def _opt(value: str, conv):
    return None if value == "-" else conv(value)


def parse(text: str | None) -> dict[int, Chain] | None:
    """The module's file -> {irq: Chain}; None when the guest reported no
    such file.  ReportError: a row that is not the module's."""
    if text is None:
        return None
    rows = parse_table(text)
    if text.strip() and text.split("\n", 1)[0].split() != COLUMNS:
        raise ReportError(f"{PATH}: header {text.splitlines()[0]!r}, not "
                          f"{' '.join(COLUMNS)!r}")
    out: dict[int, Chain] = {}
    try:
        for row in rows:
            irq = int(row["irq"])
            ch = out.setdefault(irq, Chain(irq, int(row["msi_index"]),
                                           row["dev"], []))
            if int(row["level"]) != len(ch.levels):
                raise ReportError(f"{PATH}: irq {irq}: level {row['level']}"
                                  f" after {len(ch.levels)} levels")
            ch.levels.append(Level(
                row["domain"], int(row["hwirq"], 0), row["chip"],
                _opt(row["vector"], lambda x: int(x, 0)),
                _opt(row["dest_apicid"], lambda x: int(x, 0)),
                _opt(row["effective"], cpulist.parse)))
    except ValueError as e:
        raise ReportError(f"{PATH}: {e}") from None
    return out


def remap_index(level: Level) -> tuple[int, int]:
    """intel_irq_remapping_alloc(): hwirq = (index << 16) + sub-handle."""
    return level.hwirq >> 16, level.hwirq & 0xFFFF


def checks(rows: list, chains: dict | None, host,
           apicid: dict) -> list[Check]:
    """
    Per vector: the chain is the entry's, it ends in the vector domain,
    through a remapping level exactly when the message is remappable,
    that level names the IRTE the message names, and the vector level
    holds the vector, destination and CPU the device's message (or its
    IRTE) reaches.  @host: host.HostView (the decoded entries); @apicid:
    the guest's CPU -> APIC ID.
    """
    out = []
    cpu_of_apic = {a: c for c, a in apicid.items()}
    for r in rows:
        grp = f"vector {r.entry}"
        ch = (chains or {}).get(r.irq)
        out.append(Check(
            grp, "irq_domain chain read (irqlab_irqchain), the entry's",
            ch is not None and ch.dev == BDF and ch.msi_index == r.entry,
            f"no {PATH}" if chains is None else
            f"no chain for irq {r.irq}" if ch is None else
            f"irq {ch.irq}: {ch.dev} msi_index {ch.msi_index}"))
        if ch is None:
            continue
        out.append(_msi_level_check(grp, ch.levels[0], r.entry))
        remappable = r.host_format == "remappable"
        vl = ch.vector_level
        out.append(Check(
            grp, "chain: ends in the vector domain (hwirq = the irq), "
            "through a remapping level iff the message is remappable",
            vl is not None and vl.hwirq == ch.irq
            and len(ch.levels) == (3 if remappable else 2),
            f"{ch.text()}; host message {r.host_format}"))
        if remappable:
            out.append(_remap_check(grp, ch, host.entries.get(r.entry, {})))
        if vl is None:
            continue
        out.append(Check(
            grp, "chain: the vector level's vector = the host's",
            vl.vector is not None and vl.vector == r.host_vector,
            f"irq_cfg vector {_hex(vl.vector)}; host {_hex(r.host_vector)}"
            + (" (IRTE)" if remappable else "")))
        host_cpus = None if r.host_apics is None else \
            frozenset(cpu_of_apic.get(a, -1) for a in r.host_apics)
        out.append(Check(
            grp, "chain: the vector level's destination and CPU = the "
            "host's",
            vl.dest_apicid == r.host_dest and vl.effective is not None
            and vl.effective == host_cpus,
            f"irq_cfg dest_apicid {_hex(vl.dest_apicid)}, effective CPU "
            f"{_cpus(vl.effective)}; host dest {_hex(r.host_dest)}"
            + (" (IRTE)" if remappable else "")
            + f" -> CPU {_cpus(host_cpus)}"))
    for c in out:
        c.needs = ("irqchain",)     # each reads what our module reported
    return out


def per_device_domain(level: Level) -> str | None:
    """The device a per-device MSI domain's level belongs to (its chip's
    name ends in "-<device>", msi_create_device_irq_domain()), or None
    for a level of a global MSI domain (6.1's PCI-MSI)."""
    m = PER_DEVICE_CHIP.search(level.chip)
    return m.group(1) if m else None


def device_domain(chains: dict | None) -> str | None:
    """The per-device MSI domain the device's irqs live in (its name, as
    msi_create_device_irq_domain() made it: "PCI-MSIX-0000:00:04.0-12"
    is that domain's irq 12), or None: 6.1's global PCI-MSI, or no
    chains."""
    for c in (chains or {}).values():
        if c.dev == BDF and c.levels and per_device_domain(c.levels[0]):
            return c.levels[0].domain
    return None


def _msi_level_check(grp: str, top: Level, entry: int) -> Check:
    """The MSI level's hwirq names this entry of 00:04.0: in a global
    domain through pci_msi_domain_calc_hwirq(), in the device's own
    domain as the entry itself."""
    dev = per_device_domain(top)
    if dev is not None:
        return Check(
            grp, "chain: the MSI level is 00:04.0's own domain, its hwirq "
            "this entry (pci_device_domain_set_desc())",
            dev == BDF and top.hwirq == entry,
            f"{top.text()}: device {dev}, msi_index {top.hwirq} "
            f"(entry {entry} of {BDF})")
    index, rid = (top.hwirq & (1 << MSI_INDEX_BITS) - 1,
                  top.hwirq >> MSI_INDEX_BITS & 0xFFFF)
    return Check(
        grp, "chain: the MSI level's hwirq is this entry of 00:04.0 "
        "(pci_msi_domain_calc_hwirq())",
        index == entry and rid == DUT_RID,
        f"{top.text()}: msi_index {index}, requester ID {rid:#06x} "
        f"(00:04.0 = {DUT_RID:#06x})")


def _remap_check(grp: str, ch: Chain, entry: dict) -> Check:
    name = "chain: the remapping level's IRTE = the one the message names"
    dec = entry.get("decoded") or {}
    lv = ch.remapping[0] if len(ch.remapping) == 1 else None
    if lv is None or lv.chip != INTEL_IR_CHIP:
        return Check(grp, name, False,
                     f"{ch.text()}: no single {INTEL_IR_CHIP} level")
    if dec.get("format") != "remappable":
        return Check(grp, name, False, f"host message {dec.get('format')}")
    index, sub = remap_index(lv)
    want = iommu.interrupt_index(dec)
    return Check(grp, name, index + sub == want,
                 f"{lv.text()}: IRTE {index:#x} + sub-handle {sub}; "
                 f"message handle {dec['irte-index']:#x}, SHV "
                 f"{int(dec['shv'])}, subhandle {dec['subhandle']}: IRTE "
                 f"{want:#x}")


def describe(r, ch: Chain | None) -> tuple:
    """One report row: vec, irq, the chain, its irq_cfg, the host's."""
    if ch is None:
        return (str(r.entry), str(r.irq), "(not reported)", "-", "-", "-",
                "-")
    vl = ch.vector_level or Level("", 0, "")
    host = f"{_hex(r.host_vector)} {_hex(r.host_dest)}"
    if r.irte is not None:
        host += f" (IRTE {r.irte['index']:#x})"
    return (str(r.entry), str(r.irq), ch.text(), _hex(vl.vector),
            _hex(vl.dest_apicid), _cpus(vl.effective), host)


def _cpus(cpus) -> str:
    return "?" if cpus is None else cpulist.format(cpus) or "none"


def _hex(v) -> str:
    return "-" if v is None else f"{v:#x}"
