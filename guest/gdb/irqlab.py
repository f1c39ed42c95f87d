# SPDX-License-Identifier: GPL-2.0-or-later
"""
irqlab's gdb commands: step through a Linux guest's MSI-X set-up in QEMU's
gdb stub while asking the device, at every stop, what its table holds
(`monitor info msix`).  docs/debugging.rst is the manual.

Loaded by `irqlab debug` (harness/irqlab/debug.py) as

    (gdb) source guest/gdb/irqlab.py
    (gdb) irqlab-config <session directory>/gdb.json

It needs no kernel debug info: function names come from the symbols ELF
that harness/irqlab/symbols.py makes out of the guest's /proc/kallsyms,
and the few structure members read here (struct module, pci_dev,
irq_desc, msi_desc, ...) are at the offsets the kernel's BTF gives
(bpftool), in the layout file next to it.  Arguments are read at
function entry from the x86_64 SysV argument registers (rdi, rsi, rdx,
rcx, r8, r9); the caller is the return address at (rsp).

Linux as a PV dom0 of Xen (`irqlab debug --dom0`, "dom0" in the
configuration): the stub's threads are then Xen's physical CPUs, and the
walk adds Xen's dom0 path: xen_initdom_setup_msi_irqs(),
xen_bind_pirq_msi_to_irq(), __startup_pirq(), where Xen, not Linux,
writes and unmasks the entries.

A VFIO user (`irqlab debug --vfio`, "vfio" in the configuration): the
walk adds vfio-pci-core's MSI-X path, VFIO_DEVICE_SET_IRQS ->
vfio_pci_set_irqs_ioctl() -> vfio_pci_set_msi_trigger() ->
(vfio_msi_enable(), inlined) pci_alloc_irq_vectors() -> ...; then
vfio_msi_set_block() -> vfio_msi_set_vector_signal() -> request_irq();
and vfio_msi_disable().  Those functions are in a module: they are
resolved and armed when vfio_pci_core loads (ModuleLoadBreakpoint).

Commands:
  irqlab-config FILE        the configuration debug.py writes (JSON)
  irqlab-functions          the functions the walk stops at, and where
                            each is in this kernel
  irqlab-walk [...]         run through them, print each stop
  irqlab-msix [--full]      monitor info msix <device>, condensed
  irqlab-table              the device's MSI-X table: virtual address
  irqlab-watch ENTRY [addr|upper|data|ctrl]
                            hardware watchpoint on one table dword
  irqlab-modules [--load]   the guest's modules, and their symbols
"""

import argparse
import json
import os
import re
import shlex
import struct
import sys

import gdb

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(_HERE, "..", "..", "harness"))
# pyelftools, as symbols.py finds Debian's python3-pyelftools
from irqlab.symbols import ELFFile, SH_FLAGS  # noqa: E402

MASK64 = (1 << 64) - 1
PCI_IRQ_AFFINITY = 1 << 3       # include/linux/pci.h


# ------------------------------------------------------------ the state

class State:
    def __init__(self):
        self.cfg = {}
        self.layout = {}
        self.device = "dut"
        self.bus, self.devfn = 0, 0x20
        self.pdev = None            # the device under test's struct pci_dev
        self.log = None             # JSON stop log (batch)
        self.stops = []
        self.loaded_modules = {}    # name -> {section: address}
        self.module_bp = None
        self.walking = False
        self.pending = None         # the Hit the last stop() accepted
        self.last_entry = None      # (function, rsp, args) of the last one
        self.walk_bps = []
        self.return_bps = []
        self.allocating = False     # inside the DUT's pci_alloc_irq_vectors
        self.nvec = None            # what the last allocation returned
        self.started = set()        # irqs started since then
        self.composing = set()      # CPUs inside a DUT compose
        self.irq_entry = {}         # irq -> MSI-X entry (hwirq bits 10:0)
        # A PV dom0 of Xen (debug.py --dom0): the functions of Xen's path
        self.dom0 = False
        self.percpu = {}            # per-CPU symbol -> offset (System.map)
        self.starting = {}          # irq -> irq_desc, DUT irq_startup()s
        self.pirq = {}              # irq -> Xen's pirq (dom0)
        # A VFIO user of the device (debug.py --vfio): vfio-pci-core's
        # functions
        self.vfio = False

    def off(self, name: str) -> int:
        try:
            return self.layout[name]["offset"]
        except KeyError:
            raise gdb.GdbError(f"irqlab: no layout for {name}: run "
                               "irqlab-config first") from None


S = State()


def _u(data, fmt):
    return struct.unpack("<" + fmt, bytes(data))[0]


def mem(addr: int, size: int) -> bytes:
    return bytes(gdb.selected_inferior().read_memory(addr, size))


def u64(addr):
    return _u(mem(addr, 8), "Q")


def u32(addr):
    return _u(mem(addr, 4), "I")


def u16(addr):
    return _u(mem(addr, 2), "H")


def u8(addr):
    return mem(addr, 1)[0]


def cstr(addr, limit=64) -> str:
    if not addr:
        return ""
    try:
        raw = mem(addr, limit)
    except gdb.MemoryError:         # a short string at the end of a page
        raw = bytearray()
        while len(raw) < limit and (not raw or raw[-1]):
            raw += mem(addr + len(raw), 1)
    return bytes(raw).split(b"\0", 1)[0].decode("ascii", "replace")


def reg(name: str) -> int:
    return int(gdb.parse_and_eval(f"${name}")) & MASK64


def cpu() -> int:
    """QEMU's stub shows each vCPU as a thread, in CPU order.  Under Xen
    these are the physical CPUs Xen runs on (its pCPUs), not dom0's."""
    return gdb.selected_thread().num - 1


def dom0_cpu() -> int | None:
    """
    Dom0's own CPU number (smp_processor_id()) for the code that stopped:
    its per-CPU cpu_number at the GS base.  A 64-bit PV kernel runs with
    its own GS base loaded (Xen's toggle_guest_mode() swaps it in on each
    entry to guest kernel mode), so %gs is dom0's per-CPU area here, as
    in a native kernel.  None when that cannot be read.
    """
    off = S.percpu.get("cpu_number")
    if off is None:
        return None
    try:
        return u32(reg("gs_base") + off)
    except (gdb.error, gdb.MemoryError):
        return None


def symbol_at(addr: int) -> str:
    """function+0xoff (and file:line where there is debug info)."""
    try:
        out = gdb.execute(f"info symbol {addr:#x}", to_string=True).strip()
    except gdb.error:
        out = ""
    m = re.match(r"(\S+)(?: \+ (\d+))? in section (\S+)(?: of (\S+))?", out)
    main = gdb.current_progspace().filename
    text = f"{addr:#x}" if not m else \
        m[1] + (f"+{int(m[2]):#x}" if m[2] else "") + \
        (f" [{os.path.basename(m[4])}]" if m[4] and m[4] != main else "")
    sal = gdb.find_pc_line(addr - 1)
    if sal.symtab is not None and sal.line:
        text += f" ({os.path.basename(sal.symtab.filename)}:{sal.line})"
    return text


def address_of(name: str) -> int | None:
    try:
        return int(gdb.parse_and_eval(f"(unsigned long)&'{name}'")) & MASK64
    except gdb.error:
        return None


# ------------------------------------------------------ kernel objects

def pci_name(pdev: int) -> str:
    bus = u64(pdev + S.off("pci_dev.bus"))
    devfn = u8(pdev + S.off("pci_dev.devfn"))
    return f"{u8(bus + S.off('pci_bus.number')):02x}:{devfn >> 3:02x}." \
        f"{devfn & 7}"


def is_dut_pdev(pdev: int) -> bool:
    if S.pdev is not None:
        return pdev == S.pdev
    bus = u64(pdev + S.off("pci_dev.bus"))
    return (u8(bus + S.off("pci_bus.number")) == S.bus
            and u8(pdev + S.off("pci_dev.devfn")) == S.devfn)


def dut_dev() -> int | None:
    return None if S.pdev is None else S.pdev + S.off("pci_dev.dev")


def find_dut() -> int | None:
    """The DUT's pci_dev from pci_root_buses (root bus devices only:
    the DUT sits on pcie.0)."""
    if S.pdev is not None:
        return S.pdev
    head = address_of("pci_root_buses")
    if head is None:
        return None
    node = u64(head)
    while node != head:
        bus = node - S.off("pci_bus.node")
        if u8(bus + S.off("pci_bus.number")) == S.bus:
            dhead = bus + S.off("pci_bus.devices")
            d = u64(dhead)
            while d != dhead:
                pdev = d - S.off("pci_dev.bus_list")
                if u8(pdev + S.off("pci_dev.devfn")) == S.devfn:
                    S.pdev = pdev
                    return pdev
                d = u64(d)
        node = u64(node)
    return None


def msi_desc_of_irq_data(irqd: int) -> int:
    common = u64(irqd + S.off("irq_data.common"))
    return u64(common + S.off("irq_common_data.msi_desc")) if common else 0


def msi_desc_of_desc(desc: int) -> int:
    return u64(desc + S.off("irq_desc.irq_common_data")
               + S.off("irq_common_data.msi_desc"))


def desc_irq(desc: int) -> tuple[int, int]:
    """(irq, hwirq) of an irq_desc's top-level irq_data."""
    d = desc + S.off("irq_desc.irq_data")
    return u32(d + S.off("irq_data.irq")), u64(d + S.off("irq_data.hwirq"))


def is_dut_msi(msi_desc: int) -> bool:
    return bool(msi_desc) and S.pdev is not None and \
        u64(msi_desc + S.off("msi_desc.dev")) == dut_dev()


def msi_entry(msi_desc: int) -> int:
    return u16(msi_desc + S.off("msi_desc.msi_index"))


# ------------------------------------------------ the walk's functions

class Hit:
    def __init__(self, fn, text, **info):
        self.function = fn
        self.text = text
        self.info = info
        self.pc = reg("pc")
        self.rsp = reg("rsp")
        self.cpu = cpu()
        self.vcpu = dom0_cpu() if S.dom0 else None
        self.ret = u64(self.rsp)

    def where(self) -> str:
        """The CPU: the vCPU QEMU runs; under Xen that is a pCPU, and
        dom0's vCPU on it is another number."""
        if not S.dom0:
            return f"cpu {self.cpu}"
        return f"pcpu {self.cpu}, dom0 cpu " + \
            ("?" if self.vcpu is None else str(self.vcpu))


class WalkFunction:
    """
    One function of the set-up.  @names: the candidates, first found wins
    (kernel versions rename them); @inlined: functions inlined into it
    whose name the user may look for; @inspect(fn) -> Hit, or None when
    the call is not about the device under test (the breakpoint then
    does not stop).  @path: "dom0" for a function of a PV dom0's path
    only (Xen maps the vectors), "native" for one a PV dom0 never calls
    for the device (its MSI domain is Xen's, with no x86 vector domain
    below it), None for both; @dom0_what: what it does in a dom0, where
    that differs.
    """

    def __init__(self, names, what, inspect, inlined=(), path=None,
                 dom0_what=None, module=None, inlined_callers=None):
        self.names, self._what, self.inspect = names, what, inspect
        self.inlined = inlined
        self.path, self.dom0_what = path, dom0_what
        # @module: the module the function is in (its name as the kernel
        # has it): resolved once gdb has the module's symbols.
        # @inlined_callers: caller -> the function inlined into that
        # caller which makes this call (a stop whose return address is in
        # the caller says so).
        self.module = module
        self.inlined_callers = inlined_callers or {}
        self.name = self.addr = None

    @property
    def what(self) -> str:
        return self.dom0_what if S.dom0 and self.dom0_what else self._what

    def resolve(self):
        for n in self.names:
            a = address_of(n)
            if a is not None:
                self.name, self.addr = n, a
                return True
        return False


def _pci_alloc(fn):
    pdev = reg("rdi")
    if not is_dut_pdev(pdev):
        return None
    S.pdev = pdev
    S.allocating = True
    flags, affd = reg("rcx"), reg("r8")
    aff = ""
    if affd:
        aff = f" affd {{pre {u32(affd + S.off('irq_affinity.pre_vectors'))}" \
            f", post {u32(affd + S.off('irq_affinity.post_vectors'))}}}"
    h = Hit(fn, f"dev {pci_name(pdev)} min_vecs {reg('rsi')} max_vecs "
            f"{reg('rdx')} flags {flags:#x}"
            f"{' (PCI_IRQ_AFFINITY)' if flags & PCI_IRQ_AFFINITY else ''}"
            + aff, dev=pci_name(pdev), min=reg("rsi"), max=reg("rdx"),
            flags=flags)
    ReturnBreakpoint(h, _pci_alloc_returned)
    return h


def _pci_alloc_returned(call):
    rax = reg("rax")
    ret = rax - (1 << 64) if rax >> 63 else rax
    S.allocating = False
    if ret > 0:
        S.nvec, S.started = ret, set()
    return Hit(call.function, f"returned {ret} vectors", returned=ret,
               phase="return")


def _pdev_arg(argreg, text):
    def inspect(fn):
        pdev = reg(argreg)
        if S.pdev is None or pdev != S.pdev:
            return None
        return Hit(fn, text(pdev))
    return inspect


# Where the struct device * and the count are: 6.1's (domain, dev, nvec)
# functions, 6.2+'s (dev, domid, nirqs) and (dev, ctrl), and
# msi_create_device_irq_domain()'s (dev, domid, template, hwsize, ...).
_DEV_ARGS = {"msi_domain_alloc_irqs_descs_locked": ("rsi", "rdx"),
             "__msi_domain_alloc_irqs": ("rsi", "rdx"),
             "msi_domain_alloc_irqs_all_locked": ("rdi", "rdx"),
             "__msi_domain_alloc_locked": ("rdi", None),
             "msi_create_device_irq_domain": ("rdi", "rcx", "hwsize")}


def _dev_arg(fn):
    dev, count, *label = _DEV_ARGS[fn.name]
    if S.pdev is None or reg(dev) != dut_dev():
        return None
    return Hit(fn, f"{label[0] if label else 'nvec'} {reg(count)}"
               if count else "")


def _affinity_masks(fn):
    if not S.allocating:
        return None
    affd = reg("rsi")
    return Hit(fn, f"nvecs {reg('rdi')} pre_vectors "
               f"{u32(affd + S.off('irq_affinity.pre_vectors'))} "
               f"post_vectors {u32(affd + S.off('irq_affinity.post_vectors'))}"
               " (the managed spread)")


def _irq_data_arg(extra):
    def inspect(fn):
        irqd = reg("rdi")
        md = msi_desc_of_irq_data(irqd)
        if not is_dut_msi(md):
            return None
        irq = u32(irqd + S.off("irq_data.irq"))
        entry = msi_entry(md)
        S.irq_entry[irq] = entry
        return Hit(fn, f"irq {irq} entry {entry}" + extra(irqd), irq=irq,
                   entry=entry)
    return inspect


def _vector_compose(fn):
    h = _irq_data_arg(lambda irqd: "")(fn)
    if h is not None:
        S.composing.add(cpu())
    return h


def _compose(fn):
    if cpu() not in S.composing:
        return None
    S.composing.discard(cpu())
    c = reg("rdi")
    vec = u32(c + S.off("irq_cfg.vector"))
    dest = u32(c + S.off("irq_cfg.dest_apicid"))
    return Hit(fn, f"cfg vector {vec:#x} dest_apicid {dest:#x} dmar "
               f"{reg('rdx') & 1}", vector=vec, dest=dest)


def _setup_irq(fn):
    irq, desc, action = reg("rdi") & 0xffffffff, reg("rsi"), reg("rdx")
    md = msi_desc_of_desc(desc)
    if not is_dut_msi(md):
        return None
    entry = msi_entry(md)
    S.irq_entry[irq] = entry
    name = cstr(u64(action + S.off("irqaction.name"))) if action else ""
    return Hit(fn, f"irq {irq} entry {entry} action \"{name}\"", irq=irq,
               entry=entry)


def _irq_startup(fn):
    desc = reg("rdi")
    md = msi_desc_of_desc(desc)
    if not is_dut_msi(md):
        return None
    irq, hwirq = desc_irq(desc)
    entry = msi_entry(md)
    S.irq_entry[irq] = entry
    S.starting[irq] = desc
    h = Hit(fn, f"irq {irq} entry {entry} hwirq {hwirq:#x} resend "
            f"{reg('rsi') & 1} force {reg('rdx') & 1}", irq=irq, entry=entry)
    ReturnBreakpoint(h, _irq_startup_returned)
    return h


def _irq_startup_returned(call):
    irq = call.info["irq"]
    S.started.add(irq)
    S.starting.pop(irq, None)
    return Hit(call.function, f"irq {irq} entry {call.info['entry']} started",
               irq=irq, entry=call.info["entry"], phase="return")


# ------------------------------------------- a PV dom0's walk functions
#
# dom0: in a PV dom0 the MSI domain is Xen's ("XEN-MSI", 6.1's
# xen_create_pci_msi_domain()), whose domain_alloc_irqs,
# xen_msi_domain_alloc_irqs(), tail-calls xen_initdom_setup_msi_irqs():
# for each vector PHYSDEVOP_map_pirq (Xen allocates an irq and a vector
# and writes the entry, masked), then xen_bind_pirq_msi_to_irq() (a Linux
# irq on the xen-pirq chip).  request_irq()'s irq_startup() calls the
# chip's startup_pirq(), a tail call of __startup_pirq(): EVTCHNOP_bind_pirq
# (Xen's pirq_guest_bind() starts the irq: unmasks the entry).

MSI_TYPE = {0x05: "MSI", 0x11: "MSI-X"}     # PCI_CAP_ID_MSI, _MSIX


def _s32(v: int) -> int:
    v &= 0xffffffff
    return v - (1 << 32) if v >> 31 else v


def _xen_initdom_setup(fn):
    """xen_initdom_setup_msi_irqs(dev, nvec, type), arch/x86/pci/xen.c."""
    pdev = reg("rdi")
    if S.pdev is None or pdev != S.pdev:
        return None
    typ = reg("rdx") & 0xffffffff
    return Hit(fn, f"dev {pci_name(pdev)} nvec {_s32(reg('rsi'))} type "
               f"{MSI_TYPE.get(typ, hex(typ))}")


def _xen_bind_pirq_msi(fn):
    """xen_bind_pirq_msi_to_irq(dev, msidesc, pirq, nvec, name, domid),
    drivers/xen/events/events_base.c: @pirq is what PHYSDEVOP_map_pirq
    returned."""
    pdev, md = reg("rdi"), reg("rsi")
    if S.pdev is None or pdev != S.pdev or not md:
        return None
    entry, pirq = msi_entry(md), _s32(reg("rdx"))
    domid = reg("r9") & 0xffff
    h = Hit(fn, f"entry {entry} pirq {pirq} nvec {_s32(reg('rcx'))} "
            f"name \"{cstr(reg('r8'))}\" domid "
            + ("DOMID_SELF" if domid == 0x7ff0 else str(domid)),
            entry=entry, pirq=pirq)
    ReturnBreakpoint(h, _xen_bind_pirq_msi_returned)
    return h


def _xen_bind_pirq_msi_returned(call):
    irq, entry, pirq = _s32(reg("rax")), call.info["entry"], \
        call.info["pirq"]
    if irq >= 0:
        S.irq_entry[irq], S.pirq[irq] = entry, pirq
    return Hit(call.function, f"entry {entry} pirq {pirq} -> irq {irq} "
               "(xen-pirq)", irq=irq, entry=entry, pirq=pirq,
               phase="return")


def irq_info(irq: int) -> int | None:
    """Xen's struct irq_info of a DUT irq being started: the chip_data
    of its irq_desc (drivers/xen/events/events_base.c, info_for_irq())."""
    desc = S.starting.get(irq)
    if desc is None or "irq_info.evtchn" not in S.layout:
        return None
    return u64(desc + S.off("irq_desc.irq_data")
               + S.off("irq_data.chip_data")) or None


def _startup_pirq(fn):
    """__startup_pirq(irq): only inside the device's irq_startup()."""
    irq = reg("rdi") & 0xffffffff
    if irq not in S.starting:
        return None
    entry = S.irq_entry.get(irq)
    info = irq_info(irq)
    pirq = u16(info + S.off("irq_info.u.pirq.pirq")) if info \
        else S.pirq.get(irq)
    port = u32(info + S.off("irq_info.evtchn")) if info else None
    h = Hit(fn, f"irq {irq} entry {entry} pirq {pirq} port "
            + ("none yet" if not port else str(port)), irq=irq,
            entry=entry, pirq=pirq)
    ReturnBreakpoint(h, _startup_pirq_returned)
    return h


def _startup_pirq_returned(call):
    irq, entry, pirq = (call.info[k] for k in ("irq", "entry", "pirq"))
    info = irq_info(irq)
    port = u32(info + S.off("irq_info.evtchn")) if info else None
    return Hit(call.function, f"irq {irq} entry {entry} pirq {pirq} bound to "
               f"port {port if port else '?'} (EVTCHNOP_bind_pirq)",
               irq=irq, entry=entry, pirq=pirq, port=port, phase="return")


# ------------------------------------------------ a VFIO user's path
#
# vfio: a user program's VFIO_DEVICE_SET_IRQS (drivers/vfio/pci/, Linux
# 6.1): vfio_pci_core_ioctl() -> vfio_pci_ioctl_set_irqs() (inlined into
# it in Debian's build) -> vfio_pci_set_irqs_ioctl(vdev, flags, index,
# start, count, data) -> vfio_pci_set_msi_trigger(vdev, index, start,
# count, flags, data), which (count 0, DATA_NONE) calls
# vfio_msi_disable(vdev, msix); or, not enabled yet, vfio_msi_enable(vdev,
# nvec, msix) (inlined into it): pci_alloc_irq_vectors(pdev, 1, nvec,
# PCI_IRQ_MSIX), no PCI_IRQ_AFFINITY; then vfio_msi_set_block(vdev,
# start, count, fds, msix) -> vfio_msi_set_vector_signal(vdev, vector,
# fd, msix) per vector: free_irq() of the old trigger, the entry
# rewritten with its cached message (get_cached_msi_msg(),
# pci_write_msi_msg()), request_irq(vfio_msihandler).  Each is matched to
# the device through vdev->pdev (vfio_pci_core_device's offset from the
# module's BTF, symbols.MODULE_LAYOUT).

VFIO_MODULE = "vfio_pci_core"
VFIO_INDEX = {0: "INTX", 1: "MSI", 2: "MSI-X", 3: "ERR", 4: "REQ",
              5: "none"}      # VFIO_PCI_NUM_IRQS: vdev->irq_type's none
VFIO_SET_FLAGS = ((1 << 0, "DATA_NONE"), (1 << 1, "DATA_BOOL"),
                  (1 << 2, "DATA_EVENTFD"), (1 << 3, "ACTION_MASK"),
                  (1 << 4, "ACTION_UNMASK"), (1 << 5, "ACTION_TRIGGER"))
VFIO_DATA_NONE, VFIO_DATA_EVENTFD = 1 << 0, 1 << 2
VFIO_PCI_MSIX_IRQ_INDEX = 2


def vfio_pdev(vdev: int) -> int | None:
    """vdev->pdev of a struct vfio_pci_core_device *, None when this is
    not the device under test."""
    if not vdev:
        return None
    pdev = u64(vdev + S.off("vfio_pci_core_device.pdev"))
    if not pdev or not is_dut_pdev(pdev):
        return None
    S.pdev = pdev
    return pdev


def vfio_irq_type(vdev: int) -> str:
    """vdev->irq_type: VFIO_PCI_{INTX,MSI,MSIX}_IRQ_INDEX, or none
    (is_irq_none(): VFIO_PCI_NUM_IRQS)."""
    t = u32(vdev + S.off("vfio_pci_core_device.irq_type"))
    return VFIO_INDEX.get(t, "none") if t <= 2 else "none"


def vfio_flags(flags: int) -> str:
    return "|".join(n for b, n in VFIO_SET_FLAGS if flags & b) or "0"


def vfio_fds(data: int, count: int, limit=8) -> list[int]:
    """The int32 eventfds of a DATA_EVENTFD SET_IRQS (a kernel copy of
    the user's array), the first @limit."""
    if not data or not count:
        return []
    n = min(count, limit)
    return [_s32(v) for v in struct.unpack(f"<{n}I", mem(data, 4 * n))]


def _fds_text(fds, count) -> str:
    return "[" + " ".join(map(str, fds)) +         (" ...]" if count > len(fds) else "]")


def _vfio_arg(inspect):
    """The inspect of a vfio-pci-core function whose first argument is
    struct vfio_pci_core_device *vdev: @inspect(fn, vdev, pdev) -> Hit,
    called only when vdev->pdev is the device under test."""
    def first_arg(fn):
        vdev = reg("rdi")
        pdev = vfio_pdev(vdev)
        return None if pdev is None else inspect(fn, vdev, pdev)
    return first_arg


@_vfio_arg
def _vfio_set_irqs_ioctl(fn, vdev, pdev):
    """vfio_pci_set_irqs_ioctl(vdev, flags, index, start, count, data)."""
    flags, index = reg("rsi") & 0xffffffff, reg("rdx") & 0xffffffff
    start, count = reg("rcx") & 0xffffffff, reg("r8") & 0xffffffff
    fds = vfio_fds(reg("r9"), count) if flags & VFIO_DATA_EVENTFD else []
    return Hit(fn, f"dev {pci_name(pdev)} index "
               f"{VFIO_INDEX.get(index, index)} start {start} count {count} "
               f"flags {flags:#x} ({vfio_flags(flags)})"
               + (f" fds {_fds_text(fds, count)}" if fds else "")
               + f"; irq_type {vfio_irq_type(vdev)}",
               index=index, start=start, count=count, flags=flags,
               irq_type=vfio_irq_type(vdev))


@_vfio_arg
def _vfio_set_msi_trigger(fn, vdev, pdev):
    """vfio_pci_set_msi_trigger(vdev, index, start, count, flags, data):
    what it is about to do, from its arguments and vdev's state."""
    index, start = reg("rsi") & 0xffffffff, reg("rdx") & 0xffffffff
    count, flags = reg("rcx") & 0xffffffff, reg("r8") & 0xffffffff
    irq_type = vfio_irq_type(vdev)
    num_ctx = _s32(u32(vdev + S.off("vfio_pci_core_device.num_ctx")))
    same = irq_type == VFIO_INDEX.get(index)
    if same and not count and flags & VFIO_DATA_NONE:
        then = "vfio_msi_disable()"
    elif flags & VFIO_DATA_EVENTFD and same:
        then = "vfio_msi_set_block() (already enabled)"
    elif flags & VFIO_DATA_EVENTFD:
        then = f"vfio_msi_enable(nvec {start + count}) (inlined here: "             "pci_alloc_irq_vectors()), then vfio_msi_set_block()"
    elif flags & VFIO_DATA_NONE and same:
        then = "eventfd_signal() of each trigger (loopback)"
    else:
        then = "-"
    return Hit(fn, f"dev {pci_name(pdev)} index "
               f"{VFIO_INDEX.get(index, index)} start {start} count {count} "
               f"flags {flags:#x} ({vfio_flags(flags)}); irq_type "
               f"{irq_type} num_ctx {num_ctx} -> {then}",
               index=index, start=start, count=count, flags=flags,
               irq_type=irq_type, num_ctx=num_ctx,
               enable=start + count if then.startswith("vfio_msi_enable")
               else None)


@_vfio_arg
def _vfio_set_block(fn, vdev, pdev):
    """vfio_msi_set_block(vdev, start, count, fds, msix)."""
    start, count = reg("rsi") & 0xffffffff, reg("rdx") & 0xffffffff
    fds = vfio_fds(reg("rcx"), count)
    return Hit(fn, f"dev {pci_name(pdev)} start {start} count {count} fds "
               + (_fds_text(fds, count) if reg("rcx") else "none (-1)")
               + f" msix {reg('r8') & 1}",
               start=start, count=count, msix=reg("r8") & 1)


@_vfio_arg
def _vfio_vector_signal(fn, vdev, pdev):
    """vfio_msi_set_vector_signal(vdev, vector, fd, msix)."""
    vector, fd = _s32(reg("rsi")), _s32(reg("rdx"))
    return Hit(fn, f"dev {pci_name(pdev)} vector {vector} fd {fd}"
               + (" (free only)" if fd < 0 else "")
               + f" msix {reg('rcx') & 1}",
               entry=vector, fd=fd, msix=reg("rcx") & 1)


@_vfio_arg
def _vfio_msi_disable(fn, vdev, pdev):
    """vfio_msi_disable(vdev, msix)."""
    num_ctx = _s32(u32(vdev + S.off("vfio_pci_core_device.num_ctx")))
    return Hit(fn, f"dev {pci_name(pdev)} msix {reg('rsi') & 1} num_ctx "
               f"{num_ctx}", num_ctx=num_ctx)


WALK_FUNCTIONS = [
    WalkFunction(
        ["vfio_pci_set_irqs_ioctl"], "vfio: VFIO_DEVICE_SET_IRQS "
        "(vfio_pci_ioctl_set_irqs(), inlined into vfio_pci_core_ioctl(), "
        "copied the header and data): by index and action",
        _vfio_set_irqs_ioctl, path="vfio", module=VFIO_MODULE,
        inlined_callers={"vfio_pci_core_ioctl": "vfio_pci_ioctl_set_irqs"}),
    WalkFunction(
        ["vfio_pci_set_msi_trigger"], "vfio: MSI/MSI-X trigger (a tail "
        "call of vfio_pci_set_irqs_ioctl(): its caller shows): enable "
        "(vfio_msi_enable(), inlined here: pci_alloc_irq_vectors() without "
        "PCI_IRQ_AFFINITY), attach eventfds, or disable",
        _vfio_set_msi_trigger, inlined=("vfio_msi_enable",), path="vfio",
        module=VFIO_MODULE),
    WalkFunction(
        ["pci_alloc_irq_vectors_affinity"], "the driver asks for vectors",
        _pci_alloc,
        inlined_callers={"vfio_pci_set_msi_trigger": "vfio_msi_enable"}),
    WalkFunction(
        ["__pci_enable_msix_range"],
        "MSI-X range; msix_capability_init() (inlined here) enables "
        "MSI-X with MASKALL, maps the table",
        _pdev_arg("rdi", lambda p: f"dev {pci_name(p)} minvec "
                  f"{reg('rdx')} maxvec {reg('rcx')}"),
        inlined=("msix_capability_init", "msix_setup_interrupts",
                 "msix_map_region", "msix_setup_msi_descs")),
    WalkFunction(
        ["pci_setup_msix_device_domain"], "6.2+: the device's own MSI-X "
        "domain, before msix_capability_init() touches the device",
        _pdev_arg("rdi", lambda p: f"dev {pci_name(p)} hwsize "
                  f"{reg('rsi')}")),
    WalkFunction(
        ["msi_create_device_irq_domain"], "6.2+: create it from the "
        "PCI-MSIX template (a domain per device, hwirq = the entry)",
        _dev_arg),
    WalkFunction(
        ["pci_msi_setup_msi_irqs"], "PCI/MSI -> the MSI irq domain",
        _pdev_arg("rdi", lambda p: f"dev {pci_name(p)} nvec {reg('rsi')}"
                  f" type {'MSI-X' if reg('rdx') == 0x11 else 'MSI'}"),
        dom0_what="PCI/MSI -> the MSI irq domain (Xen's XEN-MSI)"),
    WalkFunction(
        ["msi_domain_alloc_irqs_descs_locked",
         "msi_domain_alloc_irqs_all_locked"],
        "the MSI domain allocation", _dev_arg,
        dom0_what="the MSI domain allocation: xen_msi_domain_alloc_irqs()"
        " (a tail call, no stop of its own)"),
    WalkFunction(
        ["xen_initdom_setup_msi_irqs"], "dom0: for each vector, "
        "PHYSDEVOP_map_pirq (Xen allocates an irq and a vector and writes "
        "the entry, masked)", _xen_initdom_setup, path="dom0"),
    WalkFunction(
        ["xen_bind_pirq_msi_to_irq"], "dom0: the pirq Xen mapped -> a "
        "Linux irq on the xen-pirq chip", _xen_bind_pirq_msi, path="dom0"),
    WalkFunction(
        ["__msi_domain_alloc_irqs", "__msi_domain_alloc_locked"],
        "allocate + activate each irq (MSI_FLAG_ACTIVATE_EARLY)",
        _dev_arg, path="native"),
    WalkFunction(
        ["irq_msi_compose_msg", "x86_vector_msi_compose_msg"],
        "compose the message from the vector domain's choice",
        _vector_compose, path="native"),
    WalkFunction(
        ["__irq_msi_compose_msg"], "destination APIC ID and vector into "
        "address/data", _compose, path="native"),
    WalkFunction(
        ["msi_domain_set_affinity"], "affinity change: re-compose, "
        "rewrite the entry", _irq_data_arg(lambda irqd: ""),
        path="native"),
    WalkFunction(
        ["vfio_msi_set_block"], "vfio: one vfio_msi_set_vector_signal() "
        "per vector of [start, start + count)", _vfio_set_block,
        path="vfio", module=VFIO_MODULE),
    WalkFunction(
        ["vfio_msi_set_vector_signal"], "vfio: free the vector's old "
        "trigger; with an eventfd, rewrite the entry with its cached "
        "message (masked), then request_irq(vfio_msihandler)",
        _vfio_vector_signal, path="vfio", module=VFIO_MODULE),
    WalkFunction(
        ["__setup_irq"], "request_irq(): install the handler",
        _setup_irq),
    WalkFunction(
        ["irq_startup"], "start the irq: activate (managed: assign the "
        "vector, write the message), unmask", _irq_startup,
        dom0_what="start the irq: the xen-pirq chip's startup_pirq()"),
    WalkFunction(
        ["__startup_pirq"], "dom0: EVTCHNOP_bind_pirq binds the pirq to "
        "an event channel; Xen starts its irq: unmasks the entry",
        _startup_pirq, path="dom0"),
    WalkFunction(
        ["vfio_msi_disable"], "vfio: free every vector's irq, "
        "pci_free_irq_vectors() (MSI-X disabled)", _vfio_msi_disable,
        path="vfio", module=VFIO_MODULE),
]


def walk_functions_here() -> list:
    """The walk's functions in this kind of guest: native, or a PV dom0
    (all of them: the native-only ones stay armed to show that dom0
    never reaches them for the device); a VFIO user's with --vfio, or
    once vfio_pci_core is loaded."""
    return [s for s in WALK_FUNCTIONS
            if (S.dom0 or s.path != "dom0")
            and (s.path != "vfio" or S.vfio
                 or s.module in S.loaded_modules)]


def inlined_note(name: str) -> str:
    """How irqlab-functions shows a function said to be inlined: checked
    against the symbols gdb has now."""
    a = address_of(name)
    if a is None:
        return f"({name}: inlined, not in kallsyms)"
    return f"({name}: has a symbol here, {a:#x}: not inlined in this " \
        "kernel)"


def inlined_at(fn, caller: str | None) -> str | None:
    """The function inlined into @caller ("function+0xoff ...") that made
    this call, when @fn knows one and it has no symbol of its own."""
    if not caller:
        return None
    name = re.split(r"[+ ]", caller, 1)[0]
    inner = fn.inlined_callers.get(name)
    if inner is None or address_of(inner) is not None:
        return None
    return inner


class WalkBreakpoint(gdb.Breakpoint):
    def __init__(self, fn):
        super().__init__(f"*{fn.addr:#x}", internal=True)
        self.silent = True
        self.function = fn

    def stop(self):
        try:
            hit = self.function.inspect(self.function)
        except gdb.MemoryError:
            return False
        if hit is None:
            return False
        # Now and then the stub reports one breakpoint hit twice (seen
        # with several vCPUs): the same call, same stack, nothing between.
        key = (self.function.name, hit.rsp, hit.text)
        if key == S.last_entry:
            return False
        S.last_entry = key
        S.pending = hit
        return True


class ReturnBreakpoint(gdb.Breakpoint):
    """Where @call returns: the caller's stack pointer identifies the
    call (the task may have moved to another CPU meanwhile)."""

    def __init__(self, call, done):
        super().__init__(f"*{call.ret:#x}", internal=True)
        self.silent = True
        self.call, self.done = call, done
        self.rsp = call.rsp + 8
        self.finished = False
        S.return_bps.append(self)

    def stop(self):
        if self.finished or reg("rsp") != self.rsp:
            return False
        self.finished = True
        hit = self.done(self.call)
        if hit is not None and S.walking:
            S.pending = hit
            S.last_entry = None
            return True
        return False


def reap(_event=None):
    """Delete the return breakpoints that have done their job.  Only
    with the target stopped: gdb cannot remove a breakpoint from a
    running target (nor from inside a breakpoint's stop())."""
    for b in [b for b in S.return_bps if b.finished]:
        S.return_bps.remove(b)
        if b.is_valid():
            b.delete()


gdb.events.stop.connect(reap)


# -------------------------------------------------------- the monitor

_ROW = re.compile(r"^\s+(\d+) (0x[0-9a-f]+) (0x[0-9a-f]+) (\S+)\s+(\S+)\s+"
                  r"(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(.*)$")


def monitor_msix() -> str:
    return gdb.execute(f"monitor info msix {S.device}", to_string=True)


def parse_msix(text: str) -> dict:
    """`info msix` (hw/pci/msi-monitor.c) -> {"msix": {...}, "entries":
    {index: {...}}} for the MSI-X capability."""
    out, cap = {}, None
    for line in text.splitlines():
        m = re.match(r"^\S+ \S+: (MSI-X|MSI) (enabled|disabled)"
                     r"(, function masked)?, (\d+) ", line)
        if m:
            cap = m[1]
            out[cap] = {"enabled": m[2] == "enabled",
                        "function-masked": bool(m[3]),
                        "size": int(m[4]), "entries": {}}
            continue
        m = _ROW.match(line)
        if m and cap:
            out[cap]["entries"][int(m[1])] = {
                "address": int(m[2], 16), "data": int(m[3], 16),
                "masked": m[4] == "yes", "pending": m[5] == "yes",
                "sent": int(m[7]), "decoded": m[10].strip()}
    return out


def changes(before: dict | None, after: dict | None) -> list[str]:
    """What changed in the MSI-X capability between two parse_msix()
    states: ENABLE, MASKALL, and per entry its message and mask bit."""
    if not before or not after:
        return []
    out = []
    for key, what in (("enabled", "MSI-X"), ("function-masked", "MASKALL")):
        if before[key] != after[key]:
            out.append(f"{what} {'set' if after[key] else 'cleared'}")
    old = {int(k): v for k, v in before["entries"].items()}
    for i, e in sorted(after["entries"].items()):
        o = old.get(int(i))
        if o is None:
            continue
        if (o["address"], o["data"]) != (e["address"], e["data"]):
            out.append(f"entry {i} written: {e['decoded'] or 'zero'}")
        if o["masked"] != e["masked"]:
            out.append(f"entry {i} {'masked' if e['masked'] else 'unmasked'}")
    return out


def condense(text: str, full=False) -> list[str]:
    """
    The header lines, and the rows of entries something happened to:
    an MSI-X entry at its reset state (address 0, data 0, masked, nothing
    sent) is folded into a count, and so is a disabled MSI capability
    whose vectors are all zero (msix-testdev has both).
    """
    if full:
        return text.splitlines()
    lines, quiet, cap = [], 0, None

    def flush():
        nonlocal quiet
        if quiet:
            lines.append(f"  ({quiet} entries untouched: address 0, "
                         "data 0, masked)" if cap == "MSI-X" else
                         f"  ({quiet} vectors, all zero)")
        quiet = 0

    for line in text.splitlines():
        m = _ROW.match(line)
        if m:
            if int(m[2], 16) == 0 and int(m[3], 16) == 0 \
                    and int(m[7]) == 0 and (m[4] == "yes" or cap == "MSI"):
                quiet += 1
                continue
            flush()
            lines.append(line)
            continue
        flush()
        h = re.match(r"^\S+ \S+: (MSI-X|MSI) ", line)
        if h:
            cap = h[1]
        if line.lstrip().startswith("vec ") and cap == "MSI" and \
                "MSI disabled" in lines[-1]:
            continue
        lines.append(line)
    flush()
    return lines


# ------------------------------------------------------------- modules

def module_list():
    """[(struct module *, name)] from the kernel's `modules` list."""
    head = address_of("modules")
    if head is None:
        return []
    out, node = [], u64(head)
    while node and node != head and len(out) < 4096:
        mod = node - S.off("module.list")
        out.append((mod, cstr(mod + S.off("module.name"), 56)))
        node = u64(node)
    return out


def module_file(name: str) -> str | None:
    for path in S.cfg.get("module-files", []):
        if os.path.basename(path)[:-3].replace("-", "_") == name:
            return path
    return None


def module_sections(mod: int, path: str) -> dict[str, int]:
    """
    Where each of the .ko's sections went, from the module's own symbol
    table in guest memory (mod->kallsyms): each symbol's runtime value
    less its value in the file is its section's address.  Before init
    ends that is the whole symtab, section symbols included, in file
    order; afterwards only the named core symbols, matched by name.
    """
    with open(path, "rb") as f:
        elf = ELFFile(f)
        sections = [(sec.name, sec["sh_flags"]) for sec in
                    elf.iter_sections()]
        symtab = elf.get_section_by_name(".symtab")
        fsyms = [(sym.name, sym["st_value"], sym["st_shndx"])
                 for sym in symtab.iter_symbols()] if symtab else []
        # The module's Elf64_Sym array in guest memory is read as the
        # file's own (pyelftools' structs for its class and byte order).
        elf_sym = elf.structs.Elf_Sym
    ks = u64(mod + S.off("module.kallsyms"))
    symtab_at = u64(ks + S.off("mod_kallsyms.symtab"))
    num = u32(ks + S.off("mod_kallsyms.num_symtab"))
    strtab = u64(ks + S.off("mod_kallsyms.strtab"))
    size = elf_sym.sizeof()
    raw = mem(symtab_at, num * size)
    rsyms = [elf_sym.parse(raw[i * size:(i + 1) * size]) for i in range(num)]

    def section(shndx) -> bool:
        # SHN_UNDEF, SHN_ABS, ... come as their names
        return isinstance(shndx, int) and 0 < shndx < len(sections)
    base = {}
    if num == len(fsyms):
        for (_, fval, fshndx), r in zip(fsyms, rsyms):
            if fshndx == r["st_shndx"] and section(fshndx):
                base.setdefault(fshndx, r["st_value"] - fval)
    else:
        by_name = {(n, sh): v for n, v, sh in fsyms if n}
        for r in rsyms:
            key = (cstr(strtab + r["st_name"], 128), r["st_shndx"])
            if key in by_name and section(r["st_shndx"]):
                base.setdefault(r["st_shndx"], r["st_value"] - by_name[key])
    return {sections[i][0]: a for i, a in base.items()
            if sections[i][1] & SH_FLAGS.SHF_ALLOC
            and not sections[i][0].startswith(".data..percpu")}


def load_module_symbols(mod: int, name: str, quiet=False) -> bool:
    path = module_file(name)
    if path is None:
        return False
    secs = module_sections(mod, path)
    if ".text" not in secs:
        return False
    old = S.loaded_modules.get(name)
    if old is not None:
        if old[".text"] == secs[".text"]:
            return False
        # loaded again (rmmod, insmod) somewhere else
        gdb.execute(f"remove-symbol-file -a {old['.text']:#x}",
                    to_string=True)
    cmd = ["add-symbol-file", shlex.quote(path), f"{secs['.text']:#x}"]
    for sec, addr in sorted(secs.items()):
        if sec != ".text":
            cmd += ["-s", sec, f"{addr:#x}"]
    gdb.execute(" ".join(cmd), to_string=True)
    S.loaded_modules[name] = secs
    if not quiet:
        print(f"irqlab: symbols of {name} at .text {secs['.text']:#x} "
              f"({os.path.relpath(path)})")
    return True


class ModuleLoadBreakpoint(gdb.Breakpoint):
    """do_init_module(mod): the module is in place, its init not run yet
    (the driver's probe runs from it): load its symbols, go on."""

    def __init__(self, addr):
        super().__init__(f"*{addr:#x}", internal=True)
        self.silent = True

    def stop(self):
        try:
            mod = reg("rdi")
            name = cstr(mod + S.off("module.name"), 56)
            loaded = load_module_symbols(mod, name)
        except (gdb.error, gdb.MemoryError, OSError, ValueError) as e:
            print(f"irqlab: cannot load a module's symbols: {e}")
            return False
        # Walk functions in this module are armed from the walk's loop,
        # with the target stopped (gdb does not let a stop() method add
        # breakpoints); outside a walk irqlab-walk arms them when it
        # starts.
        if loaded and S.walking and any(
                s.module == name and s.addr is None
                for s in walk_functions_here()):
            S.pending = ModuleLoaded(name)
            return True
        return False


class ModuleLoaded:
    """S.pending when a module with walk functions was loaded: the walk
    arms them and goes on."""

    def __init__(self, name):
        self.name = name


# ------------------------------------------------------------ commands

class Config(gdb.Command):
    """irqlab-config FILE: the JSON debug.py writes: layout, device,
    bdf, module-files, log."""

    def __init__(self):
        super().__init__("irqlab-config", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        with open(arg.strip()) as f:
            S.cfg = json.load(f)
        with open(S.cfg["layout"]) as f:
            S.layout = json.load(f)
        S.device = S.cfg.get("device", "dut")
        _dom, bus, devfn = re.match(r"(?:([0-9a-f]+):)?([0-9a-f]+):"
                                    r"([0-9a-f.]+)$", S.cfg["bdf"]).groups()
        dev, fn = devfn.split(".")
        S.bus, S.devfn = int(bus, 16), int(dev, 16) << 3 | int(fn)
        S.log = S.cfg.get("log")
        S.dom0 = bool(S.cfg.get("dom0"))
        S.vfio = bool(S.cfg.get("vfio"))
        S.percpu = S.cfg.get("percpu", {})
        addr = address_of("do_init_module")
        if S.cfg.get("module-files") and addr is not None \
                and S.module_bp is None:
            S.module_bp = ModuleLoadBreakpoint(addr)


class Functions(gdb.Command):
    """irqlab-functions: the functions the walk stops at, in call order,
    and what this kernel has of them (in a PV dom0 also Xen's dom0
    path)."""

    def __init__(self):
        super().__init__("irqlab-functions", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        for s in walk_functions_here():
            if s.resolve():
                print(f"  {s.name:36} {s.addr:#x}  {s.what}")
                for n in s.inlined:
                    print(f"  {'':36} {'':18}  {inlined_note(n)}")
                for caller, n in s.inlined_callers.items():
                    if address_of(caller) is None:
                        continue
                    a = address_of(n)
                    print(f"  {'':36} {'':18}  " + (
                        f"({n}: inlined into {caller}, not in kallsyms; "
                        "it makes this call)" if a is None else
                        f"({n}: has a symbol here, {a:#x}: not inlined "
                        "in this kernel)"))
                if S.dom0 and s.path == "native":
                    print(f"  {'':36} {'':18}  (native only: not reached "
                          "in a PV dom0; armed all the same)")
            elif s.module and s.module not in S.loaded_modules:
                print(f"  {'/'.join(s.names):36} -  in {s.module}, not "
                      "loaded yet (armed when it loads)")
            else:
                print(f"  {'/'.join(s.names):36} -  not in this kernel")


class Walk(gdb.Command):
    """irqlab-walk [--all] [--full] [--to FUNC] [--max N]: continue
    through the set-up's functions (irqlab-functions), printing at each
    stop the function, its caller, its arguments and the device's table
    (monitor info msix).
    Ends when every vector of the device's allocation has started (--all:
    when the guest powers off), at FUNC, after N stops, or at any other
    stop (your breakpoints, a watchpoint, Ctrl-C)."""

    def __init__(self):
        super().__init__("irqlab-walk", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        p = argparse.ArgumentParser(prog="irqlab-walk", add_help=False)
        p.add_argument("--all", action="store_true")
        p.add_argument("--full", action="store_true")
        p.add_argument("--to")
        p.add_argument("--max", type=int)
        try:
            o = p.parse_args(gdb.string_to_argv(arg))
        except SystemExit:
            raise gdb.GdbError("usage: irqlab-walk [--all] [--full] "
                               "[--to FUNC] [--max N]") from None
        if not S.layout:
            raise gdb.GdbError("irqlab: run irqlab-config first")
        arm()
        n = 0
        try:
            for b in S.walk_bps:
                b.enabled = True
            S.walking = True
            while True:
                S.pending = None
                try:
                    out = gdb.execute("continue", to_string=True)
                except gdb.error as e:
                    print(f"irqlab-walk: the target is gone ({e})")
                    break
                except KeyboardInterrupt:
                    print("irqlab-walk: interrupted")
                    break
                hit = S.pending
                said = [x for x in out.splitlines()
                        if x.strip() and x != "Continuing."
                        and not x.startswith("[Switching to")]
                if said:
                    print("\n".join(said))
                if isinstance(hit, ModuleLoaded):
                    new = arm()
                    for b in S.walk_bps:
                        b.enabled = True
                    if new:
                        print(f"irqlab: {hit.name} loaded: armed "
                              + ", ".join(new))
                    continue
                if hit is None:
                    if not gdb.selected_inferior().threads():
                        print("irqlab-walk: the guest is gone")
                    else:
                        print("irqlab-walk: stopped, not at a walk function: "
                              "the walk ends here")
                    break
                n += 1
                report(hit, len(S.stops) + 1, o.full)
                if o.to and hit.function.name == o.to \
                        and hit.info.get("phase") != "return":
                    break
                if o.max and n >= o.max:
                    break
                if not o.all and S.nvec and len(S.started) >= S.nvec \
                        and hit.function.name == "irq_startup":
                    print(f"irqlab-walk: all {S.nvec} vectors of the "
                          "allocation started (irqlab-walk again follows "
                          "the next one)")
                    break
        finally:
            # Between walks their breakpoints do not stop: `continue` is
            # yours.
            S.walking = False
            for b in S.walk_bps:
                if b.is_valid():
                    b.enabled = False
            save_log()


def arm() -> list[str]:
    """A breakpoint on each walk function this kernel has (once); a
    module's once gdb has its symbols.  The names newly armed."""
    S.walk_bps = [b for b in S.walk_bps if b.is_valid()]
    armed = {b.function for b in S.walk_bps}
    new = []
    for s in walk_functions_here():
        if s in armed:
            continue
        if s.path == "vfio" and \
                "vfio_pci_core_device.pdev" not in S.layout:
            continue        # no BTF layout: cannot match the device
        if s.resolve():
            S.walk_bps.append(WalkBreakpoint(s))
            new.append(s.name)
    return new


def report(hit, n, full=False):
    text = monitor_msix()
    state = parse_msix(text).get("MSI-X")
    ret = hit.info.get("phase") == "return"
    if ret:
        print(f"#{n} {hit.function.name} returned  ({hit.where()})")
    inner = None
    if not ret:
        caller = symbol_at(hit.ret)
        inner = inlined_at(hit.function, caller)
        print(f"#{n} {hit.function.name}  ({hit.where()})  "
              f"{hit.function.what}")
        print(f"   caller  {caller}"
              + (f"  (in {inner}(), inlined there: not in kallsyms)"
                 if inner else ""))
    print(f"   args    {hit.text}")
    if S.dom0 and S.stops:
        # In a dom0 the table changes inside Xen's hypercalls, where no
        # walk function stops: say what changed since the last stop.
        prev = S.stops[-1]
        print(f"   since #{prev['n']}: "
              + "; ".join(changes(prev["msix"], state) or ["no change"]))
    print(f"   monitor info msix {S.device}:")
    for line in condense(text, full):
        print(f"   | {line}")
    S.stops.append({"n": n, "function": hit.function.name,
                    "phase": hit.info.get("phase", "entry"),
                    "cpu": hit.cpu, "dom0-cpu": hit.vcpu,
                    "pc": hit.pc, "rsp": hit.rsp,
                    "caller": None if ret else symbol_at(hit.ret),
                    "inlined-caller": inner,
                    "args": hit.text, "info": hit.info,
                    "msix": state, "monitor": text})
    save_log()


def save_log():
    if S.log:
        with open(S.log + ".new", "w") as f:
            json.dump({"stops": S.stops,
                       "modules": S.loaded_modules,
                       "inlined": inlined_state(),
                       "armed": {b.function.name: b.function.path
                                 for b in S.walk_bps if b.is_valid()}},
                      f, indent=1)
        os.replace(S.log + ".new", S.log)


def inlined_state() -> dict:
    """Each function the walk says is inlined -> whether gdb has a
    symbol for it now (a module's once its symbols are loaded), for the
    batch checks."""
    out = {}
    for s in walk_functions_here():
        for n in list(s.inlined) + list(s.inlined_callers.values()):
            out.setdefault(n, {"symbol": address_of(n) is not None,
                               "module": s.module,
                               "module-loaded": s.module is None
                               or s.module in S.loaded_modules})
    return out


class Msix(gdb.Command):
    """irqlab-msix [--full]: monitor info msix <device>, the untouched
    entries folded unless --full."""

    def __init__(self):
        super().__init__("irqlab-msix", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        for line in condense(monitor_msix(), "--full" in arg):
            print(line)


def table_base() -> int:
    pdev = find_dut()
    if pdev is None:
        raise gdb.GdbError("irqlab: the device is not enumerated yet")
    base = u64(pdev + S.off("pci_dev.msix_base"))
    if not base:
        raise gdb.GdbError(
            f"irqlab: {pci_name(pdev)}'s MSI-X table is not mapped yet "
            "(msix_capability_init() maps it: irqlab-walk --to "
            "pci_msi_setup_msi_irqs)")
    return base


class Table(gdb.Command):
    """irqlab-table: the device's struct pci_dev and the virtual address
    the kernel mapped its MSI-X table at (pdev->msix_base), with each
    entry as the CPU reads it."""

    def __init__(self):
        super().__init__("irqlab-table", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        base = table_base()
        print(f"(struct pci_dev *){S.pdev:#x} {pci_name(S.pdev)}: "
              f"MSI-X table at {base:#x} (pdev->msix_base)")
        n = int(arg) if arg.strip() else 4
        for i in range(n):
            lo, hi, data, ctrl = struct.unpack("<4I", mem(base + 16 * i, 16))
            print(f"  entry {i:3} @ {base + 16 * i:#x}: address "
                  f"{hi:#010x}{lo:08x} data {data:#010x} vector control "
                  f"{ctrl:#x}")


DWORDS = {"addr": 0, "upper": 4, "data": 8, "ctrl": 12}


# Xen's own part of the address space, in every PV guest's page tables
# too: below its text at 0xffff82d0..., its fixmap, where Xen maps a
# device's MSI-X table to write it (msix_get_fixmap(), xen/arch/x86/msi.c).
XEN_VA = (0xffff800000000000, 0xffff880000000000)
# `info tlb` (QEMU's target/i386/monitor.c): "virtual: physical flags",
# the flags of the last level, U for a user-accessible page.
_TLB = re.compile(r"^([0-9a-f]+): ([0-9a-f]+) (\S+)$")


def xen_table_address(base: int) -> tuple[int, int]:
    """
    (Xen's virtual address, the physical address) of dom0's @base in the
    MSI-X table: the physical address from dom0's mapping (`gva2gpa`),
    then the supervisor mapping of that page in Xen's part of the same
    page tables (`info tlb`), both through the monitor with the CPU that
    stopped in dom0 selected (a pCPU idle in Xen has none of dom0's).
    """
    was = re.search(r"^\* CPU #(\d+)", gdb.execute(
        "monitor info cpus", to_string=True), re.M)
    gdb.execute(f"monitor cpu {cpu()}", to_string=True)
    try:
        out = gdb.execute(f"monitor gva2gpa {base:#x}", to_string=True)
        m = re.search(r"gpa: (0x[0-9a-f]+)", out)
        if not m:
            raise gdb.GdbError(f"irqlab: gva2gpa {base:#x}: {out.strip()}")
        phys = int(m[1], 16)
        tlb = gdb.execute("monitor info tlb", to_string=True)
    finally:
        if was:
            gdb.execute(f"monitor cpu {was[1]}", to_string=True)
    for line in tlb.splitlines():
        t = _TLB.match(line)
        if t and int(t[2], 16) == phys & ~0xfff and "U" not in t[3] \
                and XEN_VA[0] <= int(t[1], 16) < XEN_VA[1]:
            return int(t[1], 16) + (phys & 0xfff), phys
    raise gdb.GdbError(
        f"irqlab: Xen has no mapping of the table at {phys:#x} (yet): its "
        "msix_capability_init() maps it at the first PHYSDEVOP_map_pirq "
        "(irqlab-walk --to xen_bind_pirq_msi_to_irq)")


class Watch(gdb.Command):
    """irqlab-watch ENTRY [addr|upper|data|ctrl]: a hardware watchpoint
    on one dword of the device's MSI-X table entry (default data: the
    dword that completes a message).  In a PV dom0 on Xen's own mapping
    of the table: Xen writes it there, dom0 never does, and TCG's
    watchpoints go by virtual address."""

    def __init__(self):
        super().__init__("irqlab-watch", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        argv = gdb.string_to_argv(arg)
        if not argv:
            raise gdb.GdbError("usage: irqlab-watch ENTRY "
                               "[addr|upper|data|ctrl]")
        what = argv[1] if len(argv) > 1 else "data"
        addr = table_base() + 16 * int(argv[0], 0) + DWORDS[what]
        if S.dom0:
            xen, phys = xen_table_address(addr)
            print(f"irqlab: {phys:#x} is at {addr:#x} for dom0 and at "
                  f"{xen:#x} for Xen, who writes it: watching Xen's")
            addr = xen
        gdb.execute(f"watch *(unsigned int *){addr:#x}")


class Modules(gdb.Command):
    """irqlab-modules [--load]: the guest's modules (the kernel's
    `modules` list); --load adds the symbols of those irqlab has a .ko
    for, at their runtime section addresses."""

    def __init__(self):
        super().__init__("irqlab-modules", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        for mod, name in module_list():
            state = "symbols loaded" if name in S.loaded_modules else \
                ("have .ko" if module_file(name) else "")
            print(f"  {mod:#x} {name:24} {state}")
            if "--load" in arg:
                load_module_symbols(mod, name)


for _cmd in (Config, Functions, Walk, Msix, Table, Watch, Modules):
    _cmd()
