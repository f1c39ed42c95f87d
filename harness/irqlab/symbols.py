# SPDX-License-Identifier: GPL-2.0-or-later
"""
Kernel symbols and structure layouts for gdb, without the 858 MB -dbg
package.

Debian's linux-image package ships a System.map that is a one-line stub
("The real System.map is in the linux-image-<version>-dbg package"), but
the kernel lists its own symbols in /proc/kallsyms (CONFIG_KALLSYMS_ALL,
so data too) and carries the BTF of every type (CONFIG_DEBUG_INFO_BTF):

  the guest's /proc/kallsyms --> System.map-<ver>        (text)
     + vmlinux's sections    --> vmlinux-<ver>.syms      (ELF for gdb)
  vmlinux's .BTF (bpftool)   --> layout-<ver>.json       (offsets)

gdb arms its breakpoints with QEMU stopped before the guest's first
instruction, so the symbols cannot come from the session's own guest:
they come from an earlier boot of the same kernel (guest/init's
irqlab.kallsyms=1 reports /proc/kallsyms over ttyS1 and powers off,
about 15 s once per kernel).  The harness boots Linux with nokaslr, so
the kernel runs at its link addresses and /proc/kallsyms is the same on
every boot, native or as Xen's PV dom0 (a PV kernel is not relocated).

The symbols ELF has the kernel's own sections (NOBITS, at their link
addresses, read from vmlinux with pyelftools) and one symbol per kallsyms
entry, made with binutils (ld for the sections, objcopy --add-symbol for
the symbols), so `break irq_startup`, `info symbol` and `x/i` work in
gdb.  The layout file holds the offsets of the few structure members the
gdb commands read (struct module, irq_desc, msi_desc, pci_dev, ...),
from bpftool's dump of the kernel's BTF, so they need no DWARF either.

--dbg instead takes the real vmlinux (with DWARF) out of
linux-image-<ver>-amd64-dbg: apt-get download, then only that one path of
the package's data through dpkg-deb --fsys-tarfile | tar.

Everything is cached in build/guest/debug/, keyed by the vmlinux's hash.
"""

import bisect
import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass

from .debian import debian_module

SH_FLAGS = debian_module("elftools.elf.constants", "python3-pyelftools").SH_FLAGS
ELFFile = debian_module("elftools.elf.elffile", "python3-pyelftools").ELFFile

# The upper canonical half of x86_64's 48-bit virtual addresses, where the
# kernel lives: bits 63:47 all set.
KERNEL_HALF = 0x1ffff


def kernel_address(addr: int) -> bool:
    return addr >> 47 == KERNEL_HALF


# ------------------------------------------------------------- kallsyms

@dataclass(frozen=True)
class Symbol:
    address: int
    type: str               # nm's letter: T t D d B b R r A ...
    name: str


def parse_kallsyms(text: str) -> list[Symbol]:
    """
    /proc/kallsyms ("ffffffff81000000 T _text", and "... [module]" for a
    module's) -> the kernel's own Symbols, in the file's order.  A
    module's symbols are left out: modules load at addresses of their
    own, which gdb learns from the module itself (guest/gdb/irqlab.py).
    """
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 3:
            continue
        addr, typ, name = parts
        out.append(Symbol(int(addr, 16), typ, name))
    return out


def system_map(syms: list[Symbol]) -> str:
    """System.map's form: by address, 16 hex digits, type, name."""
    return "".join(f"{s.address:016x} {s.type} {s.name}\n" for s in
                   sorted(syms, key=lambda s: s.address))


def percpu_offsets(text: str, names) -> dict[str, int]:
    """
    The offsets of per-CPU variables @names in a CPU's per-CPU area, from
    System.map @text: kallsyms lists them as absolute ('A') symbols
    (CONFIG_KALLSYMS_ABSOLUTE_PERCPU), which the symbols ELF leaves out
    (they are no addresses).
    """
    want = set(names)
    return {s.name: s.address for s in parse_kallsyms(text)
            if s.type in "Aa" and s.name in want}


def guest_kallsyms(cfg, log=print) -> str:
    """
    The guest kernel's /proc/kallsyms: a boot of @cfg's kernel (a native
    guest, one CPU) whose guest/init only reports it (irqlab.kallsyms=1).
    RuntimeError when the guest did not.
    """
    from . import machine
    boot = dataclasses.replace(cfg, smp=1, queues=None, iommu=False,
                               xen=None, dom0=False, expect=None,
                               append="irqlab.kallsyms=1", timeout=180.0,
                               verbose=False)
    record = machine.run(boot, log=log)
    text = (record["reports"].get("kallsyms") or {}).get("/proc/kallsyms")
    if record["outcome"]["status"] != "done" or not text:
        o = record["outcome"]
        raise RuntimeError("the guest did not report /proc/kallsyms: "
                           f"{o['status']} {o.get('detail', '')}".strip())
    return text


# ------------------------------------------------------------------ BTF

# Kinds that name another type without a size of their own
# (Documentation/bpf/btf.rst, as bpftool prints them).
_BTF_QUALIFIERS = ("TYPEDEF", "VOLATILE", "CONST", "RESTRICT", "TYPE_TAG")


class Btf:
    """
    The kernel's types as `bpftool -j btf dump file vmlinux` prints them
    ({"types": [{"id", "kind", "name", "size", "type_id", "members":
    [{"name", "type_id", "bits_offset"}], ...}]}), enough to say where a
    structure member is and how big it is.
    """

    def __init__(self, types: list[dict]):
        self.types = {t["id"]: t for t in types}
        self.by_name: dict[str, list[int]] = {}
        for t in types:
            self.by_name.setdefault(t.get("name", ""), []).append(t["id"])

    def struct(self, name: str, members=()) -> int:
        """
        The type id of struct (or union) @name.  Static types of
        different files may share a name (Debian's 6.1 has three struct
        irq_info: the 8250 serial driver's, x86's PIRQ routing slot, and
        Xen's per-irq state in drivers/xen/events/events_base.c): then
        the one that has the first component of every path in @members.
        """
        for tid in self.by_name.get(name, []):
            t = self.types[tid]
            if t["kind"] not in ("STRUCT", "UNION") or not t["vlen"]:
                continue
            if all(self._has(tid, p.split(".")[0]) for p in members):
                return tid
        raise KeyError(f"no struct {name} in the kernel's BTF" +
                       (f" with {', '.join(members)}" if members else ""))

    def _has(self, tid: int, name: str) -> bool:
        try:
            self.member(tid, name)
            return True
        except KeyError:
            return False

    def resolve(self, tid: int) -> dict:
        t = self.types[tid]
        while t["kind"] in _BTF_QUALIFIERS:
            t = self.types[t["type_id"]]
        return t

    def sizeof(self, tid: int) -> int:
        t = self.resolve(tid)
        if t["kind"] == "PTR":
            return 8
        if t["kind"] == "ARRAY":
            return self.sizeof(t["type_id"]) * t["nr_elems"]
        return t["size"]

    def member(self, tid: int, name: str) -> tuple[int, int]:
        """(byte offset, type id) of @name, looking into anonymous
        structs and unions as C does."""
        t = self.resolve(tid)
        if t["kind"] not in ("STRUCT", "UNION"):
            raise KeyError(name)
        for m in t["members"]:
            if m["name"] == name:
                return m["bits_offset"] // 8, m["type_id"]
            if m["name"] == "(anon)":
                try:
                    off, mtype = self.member(m["type_id"], name)
                    return m["bits_offset"] // 8 + off, mtype
                except KeyError:
                    pass
        raise KeyError(name)

    def offsetof(self, struct_name: str, path: str,
                 members=()) -> tuple[int, int]:
        """(offset, size) of struct_name.path, e.g. ("irq_desc",
        "irq_data.irq"); @members picks among same-named structs."""
        tid, off = self.struct(struct_name, members or (path,)), 0
        for part in path.split("."):
            try:
                moff, tid = self.member(tid, part)
            except KeyError:
                raise KeyError(f"struct {struct_name} has no {path}") \
                    from None
            off += moff
        return off, self.sizeof(tid)


def bpftool() -> str:
    """Debian's bpftool is in /usr/sbin, which a user's PATH may lack."""
    return shutil.which("bpftool") or "/usr/sbin/bpftool"


def read_btf(vmlinux: str) -> Btf:
    """The kernel's BTF, through bpftool (Debian's bpftool package)."""
    try:
        r = subprocess.run([bpftool(), "-j", "btf", "dump", "file", vmlinux],
                           capture_output=True, text=True)
    except OSError as e:
        raise RuntimeError(f"bpftool: {e} (apt-get install bpftool; "
                           "scripts/irqlab-build deps installs it)") from e
    if r.returncode:
        raise RuntimeError(f"bpftool btf dump file {vmlinux} failed: "
                           f"{r.stderr.strip()[-500:]} "
                           "(CONFIG_DEBUG_INFO_BTF off?)")
    return Btf(json.loads(r.stdout)["types"])


def read_module_btf(ko: str, vmlinux: str, base: Btf) -> Btf:
    """A module's BTF: split BTF on the kernel's (its type ids go on
    from the vmlinux's, and refer to them), so the module's types with
    @base's (the vmlinux's, read_btf())."""
    try:
        r = subprocess.run([bpftool(), "-j", "-B", vmlinux, "btf", "dump",
                            "file", ko], capture_output=True, text=True)
    except OSError as e:
        raise RuntimeError(f"bpftool: {e}") from e
    if r.returncode:
        raise RuntimeError(f"bpftool -B {vmlinux} btf dump file {ko} "
                           f"failed: {r.stderr.strip()[-500:]}")
    return Btf(list(base.types.values()) + json.loads(r.stdout)["types"])


# What the gdb commands read, as struct -> members.  Each becomes
# "struct.member": {"offset": ..., "size": ...} in the layout file.
LAYOUT = {
    "module": ["list", "name", "kallsyms"],
    "mod_kallsyms": ["symtab", "num_symtab", "strtab"],
    "pci_dev": ["bus_list", "bus", "devfn", "dev", "msix_cap", "msix_base",
                "irq"],
    "pci_bus": ["node", "devices", "number"],
    "irq_desc": ["irq_common_data", "irq_data", "action"],
    "irq_common_data": ["msi_desc"],
    "irq_data": ["irq", "hwirq", "common", "domain", "chip_data"],
    "irq_domain": ["name"],
    "irq_cfg": ["dest_apicid", "vector"],
    "irqaction": ["name"],
    "msi_desc": ["dev", "msg", "msi_index"],
    "msi_msg": ["address_lo", "address_hi", "data"],
    "irq_affinity": ["pre_vectors", "post_vectors"],
    # Xen's per-irq state in a dom0 (drivers/xen/events/events_base.c,
    # the xen-pirq chip's chip_data): the event channel port and pirq.
    "irq_info": ["evtchn", "u.pirq.pirq"],
}
# Structures a kernel may lack (one built without CONFIG_XEN); their
# members are then left out of the layout.
LAYOUT_OPTIONAL = {"irq_info"}

# Structures of a module, from the module's BTF (split BTF on the
# vmlinux's: `bpftool -B vmlinux btf dump file X.ko`): the module's .ko
# under the kernel's lib/modules/<ver>/kernel/ -> struct -> members.
# The VFIO walk (guest/gdb/irqlab.py) matches a call to the device
# through vdev->pdev, and shows vdev's MSI state.  A kernel without the
# module gets no such members in its layout.
MODULE_LAYOUT = {
    "drivers/vfio/pci/vfio-pci-core.ko": {
        "vfio_pci_core_device": ["pdev", "num_ctx", "irq_type"],
    },
}


def layout(btf: Btf, wanted: dict = LAYOUT) -> dict:
    """{"struct": {"sizeof": n}, "struct.member": {"offset", "size"}}
    for each of @wanted's members."""
    out = {}
    for st, members in wanted.items():
        try:
            tid = btf.struct(st, members)
        except KeyError:
            if st in LAYOUT_OPTIONAL:
                continue
            raise
        out[st] = {"sizeof": btf.sizeof(tid)}
        for m in members:
            off, size = btf.offsetof(st, m, members)
            out[f"{st}.{m}"] = {"offset": off, "size": size}
    return out


def module_layout(guest_dir: str, ver: str, vmlinux: str, base: Btf,
                  wanted: dict = MODULE_LAYOUT) -> dict:
    """layout() of MODULE_LAYOUT's structures, each from its module's
    BTF; a module this kernel's package lacks is left out."""
    out = {}
    for rel, structs in wanted.items():
        ko = os.path.join(guest_dir, "kernel", "lib", "modules", ver,
                          "kernel", rel)
        if not os.path.exists(ko):
            continue
        out.update(layout(read_module_btf(ko, vmlinux, base), structs))
    return out


# ------------------------------------------------------- the symbol ELF

@dataclass(frozen=True)
class Section:
    name: str
    addr: int
    size: int
    code: bool              # SHF_EXECINSTR


def kernel_sections(vmlinux: str) -> list[Section]:
    """vmlinux's loaded sections in the kernel half, by address."""
    with open(vmlinux, "rb") as f:
        elf = ELFFile(f)
        secs = [Section(s.name, s["sh_addr"], s["sh_size"],
                        bool(s["sh_flags"] & SH_FLAGS.SHF_EXECINSTR))
                for s in elf.iter_sections()
                if s["sh_flags"] & SH_FLAGS.SHF_ALLOC
                and kernel_address(s["sh_addr"]) and s["sh_size"]]
    return sorted(secs, key=lambda s: s.addr)


def linker_script(sections: list[Section]) -> str:
    """An ld script that lays out @sections empty (NOLOAD) at their
    addresses."""
    lines = ["SECTIONS {"]
    for s in sections:
        lines.append(f"  {s.name} {s.addr:#x} (NOLOAD) : "
                     f"{{ . = . + {s.size:#x}; }}")
    lines += ["  /DISCARD/ : { *(*) }", "}"]
    return "\n".join(lines) + "\n"


def add_symbol_args(syms: list[Symbol], sections: list[Section]) -> list:
    """
    objcopy's --add-symbol for each of @syms inside one of @sections
    (NAME=SECTION:OFFSET,BINDING,KIND); the others (per-CPU offsets,
    absolute values) have no place in the ELF.  Local names repeat
    (static functions of the same name in different files), which a
    symbol table allows and `break NAME` then sets at every one.
    """
    starts = [s.addr for s in sections]
    args = []
    for sym in syms:
        i = bisect.bisect_right(starts, sym.address) - 1
        if i < 0 or sym.address > sections[i].addr + sections[i].size:
            continue
        s = sections[i]
        kind = "function" if s.code and sym.type in "TtWw" else "object"
        bind = "global" if sym.type.isupper() else "local"
        args += ["--add-symbol", f"{sym.name}={s.name}:"
                 f"{sym.address - s.addr:#x},{bind},{kind}"]
    return args


def write_symbol_elf(syms: list[Symbol], sections: list[Section], out: str,
                     tmp: str) -> int:
    """
    An ELF with @sections (NOBITS: gdb reads memory from the target) and
    @syms as symbols, each in the section that holds it.  Returns the
    number of symbols written.
    """
    empty_s = os.path.join(tmp, "empty.s")
    with open(empty_s, "w"):
        pass
    script = os.path.join(tmp, "sections.ld")
    with open(script, "w") as f:
        f.write(linker_script(sections))
    _tool(["as", "--64", "-o", os.path.join(tmp, "empty.o"), empty_s])
    base = os.path.join(tmp, "base.elf")
    _tool(["ld", "-m", "elf_x86_64", "-T", script, "-o", base,
           os.path.join(tmp, "empty.o")])
    args = add_symbol_args(syms, sections)
    argfile = os.path.join(tmp, "objcopy.args")
    with open(argfile, "w") as f:
        # objcopy reads @file arguments whitespace-separated, one a line
        f.write("\n".join(args) + "\n")
    _tool(["objcopy", f"@{argfile}", base, out])
    return len(args) // 2


def _tool(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError(f"{' '.join(cmd[:3])}... failed: "
                           f"{r.stderr.strip()[-500:]}")


# ----------------------------------------------------------- the cache

@dataclass
class KernelSymbols:
    version: str
    symbols: str            # the ELF gdb loads
    system_map: str
    layout: str             # layout-<ver>.json
    dbg_vmlinux: str | None = None      # --dbg: the -dbg package's vmlinux
    count: int = 0


# Bumped when the files made change form.
FORMAT = "2"


def debug_dir(build: str) -> str:
    return os.path.join(build, "guest", "debug")


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _stamped(stamp: str, key: str, *paths) -> bool:
    if not all(os.path.exists(p) for p in (stamp,) + paths):
        return False
    with open(stamp) as f:
        return f.read().strip() == key


def _stamp(stamp: str, key: str):
    with open(stamp, "w") as f:
        f.write(key + "\n")


def ensure(cfg, log=print) -> KernelSymbols:
    """build/guest/debug/{vmlinux-<ver>.syms, System.map-<ver>,
    layout-<ver>.json}, made once per kernel (the System.map by a boot
    of @cfg's kernel: guest_kallsyms())."""
    ver = cfg.kernel()[0]
    vmlinux = os.path.join(cfg.guest_dir, f"vmlinux-{ver}")
    d = debug_dir(cfg.build)
    ks = KernelSymbols(ver, os.path.join(d, f"vmlinux-{ver}.syms"),
                       os.path.join(d, f"System.map-{ver}"),
                       os.path.join(d, f"layout-{ver}.json"))
    # The image, and what is read out of it (a new LAYOUT member or a
    # change in how it is read invalidates the ELF and the layout; the
    # System.map depends on the image alone).
    image = _sha256(vmlinux)
    key = image + " " + hashlib.sha256(
        (json.dumps([LAYOUT, MODULE_LAYOUT], sort_keys=True)
         + FORMAT).encode()).hexdigest()
    stamp = os.path.join(d, f"symbols-{ver}.stamp")
    if _stamped(stamp, key, ks.symbols, ks.system_map, ks.layout):
        with open(ks.layout) as f:
            ks.count = int(json.load(f)["symbols"])
        return ks
    os.makedirs(d, exist_ok=True)
    map_stamp = ks.system_map + ".stamp"
    if not _stamped(map_stamp, image, ks.system_map):
        log(f"irqlab: kernel symbols: booting {ver} once for its "
            "/proc/kallsyms (about 15 s)")
        text = system_map(parse_kallsyms(guest_kallsyms(cfg, log=log)))
        with open(ks.system_map + ".new", "w") as f:
            f.write(text)
        os.replace(ks.system_map + ".new", ks.system_map)
        _stamp(map_stamp, image)
    log(f"irqlab: kernel symbols: the symbols ELF and the BTF layout of "
        f"vmlinux-{ver} (once)")
    with open(ks.system_map) as f:
        syms = parse_kallsyms(f.read())
    btf = read_btf(vmlinux)
    lay = layout(btf)
    lay.update(module_layout(cfg.guest_dir, ver, vmlinux, btf))
    with tempfile.TemporaryDirectory(prefix="irqlab-syms-") as tmp:
        ks.count = write_symbol_elf(syms, kernel_sections(vmlinux),
                                    ks.symbols + ".new", tmp)
    os.replace(ks.symbols + ".new", ks.symbols)
    lay["symbols"] = ks.count
    lay["kernel"] = ver
    with open(ks.layout, "w") as f:
        json.dump(lay, f, indent=1, sort_keys=True)
    _stamp(stamp, key)
    return ks


def dbg_package(ver: str) -> str:
    return f"linux-image-{ver}-dbg"


def ensure_dbg(build: str, ver: str, log=print) -> str:
    """
    The vmlinux with DWARF from Debian's linux-image-<ver>-dbg: apt-get
    download (about 860 MB), then only ./usr/lib/debug/boot/vmlinux-<ver>
    out of the package's data, and the .deb deleted (its 5 GB of module
    debug info are not needed).  Cached as build/guest/debug/vmlinux-<ver>.
    """
    d = debug_dir(build)
    out = os.path.join(d, f"vmlinux-{ver}")
    if os.path.exists(out):
        return out
    dl = os.path.join(d, "dl")
    os.makedirs(dl, exist_ok=True)
    pkg = dbg_package(ver)
    debs = [f for f in os.listdir(dl)
            if f.startswith(pkg + "_") and f.endswith(".deb")]
    if not debs:
        log(f"irqlab: apt-get download {pkg} (about 860 MB, once)")
        cmd = ["apt-get", "download", pkg]
        if os.geteuid() == 0:
            # as root apt drops to _apt for downloads, who may not write here
            cmd[1:1] = ["-o", "APT::Sandbox::User=root"]
        r = subprocess.run(cmd, cwd=dl)
        if r.returncode:
            raise RuntimeError(f"apt-get download {pkg} failed (is the "
                               "kernel still apt's current one? run "
                               "'apt-get update')")
        debs = [f for f in os.listdir(dl)
                if f.startswith(pkg + "_") and f.endswith(".deb")]
    deb = os.path.join(dl, sorted(debs)[-1])
    member = f"./usr/lib/debug/boot/vmlinux-{ver}"
    log(f"irqlab: extracting {member[2:]} from {os.path.basename(deb)}")
    with tempfile.TemporaryDirectory(prefix="irqlab-dbg-", dir=d) as tmp:
        # tar stops at the member (--occurrence), which ends dpkg-deb
        # with SIGPIPE: only tar's status and the file tell.
        deb_tar = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", deb],
                                   stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE)
        r = subprocess.run(["tar", "-x", "--occurrence=1", "-C", tmp,
                            member], stdin=deb_tar.stdout)
        deb_tar.stdout.close()
        err = deb_tar.stderr.read().decode(errors="replace")
        deb_tar.wait()
        if r.returncode or not os.path.exists(os.path.join(tmp, member)):
            raise RuntimeError(f"cannot extract {member} from {deb}: "
                               f"{err.strip()}")
        os.replace(os.path.join(tmp, member), out)
    os.unlink(deb)
    return out
