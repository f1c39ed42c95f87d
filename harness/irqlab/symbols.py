# SPDX-License-Identifier: GPL-2.0-or-later
"""
Kernel symbols and structure layouts for gdb, without the 858 MB -dbg
package.

Debian's linux-image package ships a System.map that is a one-line stub
("The real System.map is in the linux-image-<version>-dbg package"), but
the kernel carries its own symbol table: kallsyms (CONFIG_KALLSYMS_ALL, so
data too) and the BTF of every type (CONFIG_DEBUG_INFO_BTF).  Both are in
the vmlinux that scripts/irqlab-guest took out of vmlinuz (the bzImage's
payload, the ELF kernel stripped of its symbols) and the harness boots:

  vmlinux --(kallsyms tables)-->     System.map-<ver>        (text)
                                     vmlinux-<ver>.syms      (ELF for gdb)
          --(.BTF)-->                layout-<ver>.json       (offsets)

The symbols ELF has the kernel's own sections (NOBITS, at their link
addresses: with nokaslr the kernel runs where it was linked) and one
symbol per kallsyms entry, made with binutils (ld for the sections,
objcopy --add-symbol for the symbols), so `break irq_startup`, `info
symbol` and `x/i` work in gdb.  The layout file holds the offsets of the
few structure members the gdb commands read (struct module, irq_desc,
msi_desc, pci_dev, ...), so they need no DWARF either.

--dbg instead takes the real vmlinux (with DWARF) out of
linux-image-<ver>-amd64-dbg: apt-get download, then only that one path of
the package's data through dpkg-deb --fsys-tarfile | tar.

Everything is cached in build/guest/debug/, keyed by the vmlinux's hash.
"""

import bisect
import hashlib
import json
import os
import struct
import subprocess
import tempfile
from dataclasses import dataclass

# ---------------------------------------------------------------- ELF

SHF_ALLOC = 0x2
SHF_EXECINSTR = 0x4
SHT_SYMTAB = 2
SHT_NOBITS = 8
STT_SECTION = 3


@dataclass
class Section:
    index: int
    name: str
    type: int
    flags: int
    addr: int
    offset: int
    size: int


class Elf:
    """An ELF64 little-endian file's sections and symbols (what gdb needs
    from it, no more)."""

    def __init__(self, data: bytes):
        if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
            raise ValueError("not a 64-bit little-endian ELF file")
        self.data = data
        (shoff,) = struct.unpack_from("<Q", data, 0x28)
        shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3a)
        raw = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize)
               for i in range(shnum)]
        strtab = raw[shstrndx][4] if raw else 0
        self.sections = [
            Section(i, _cstr(data, strtab + r[0]), r[1], r[2], r[3], r[4],
                    r[5]) for i, r in enumerate(raw)]

    @classmethod
    def read(cls, path: str) -> "Elf":
        with open(path, "rb") as f:
            return cls(f.read())

    def section(self, name: str) -> Section | None:
        return next((s for s in self.sections if s.name == name), None)

    def contents(self, s: Section) -> bytes:
        return self.data[s.offset:s.offset + s.size]

    def symbols(self) -> list[tuple[str, int, int, int]]:
        """The symtab: (name, value, info, shndx), in file order."""
        sym = next((s for s in self.sections if s.type == SHT_SYMTAB), None)
        if sym is None:
            return []
        strtab = self.sections[struct.unpack_from(
            "<I", self.data, self._shdr_link_offset(sym))[0]]
        out = []
        for off in range(sym.offset, sym.offset + sym.size, 24):
            name, info, _other, shndx, value, _size = struct.unpack_from(
                "<IBBHQQ", self.data, off)
            out.append((_cstr(self.data, strtab.offset + name), value, info,
                        shndx))
        return out

    def _shdr_link_offset(self, s: Section) -> int:
        (shoff,) = struct.unpack_from("<Q", self.data, 0x28)
        (shentsize,) = struct.unpack_from("<H", self.data, 0x3a)
        return shoff + s.index * shentsize + 40     # sh_link


def _cstr(data: bytes, off: int) -> str:
    return data[off:data.index(b"\0", off)].decode("ascii", "replace")


# ------------------------------------------------------------- kallsyms

KALLSYMS_TYPES = set(b"ABCDGNRSTUVWabcdgnrstuvw")


def kallsyms(elf: Elf) -> list[tuple[int, str, str]]:
    """
    The kernel's symbol table as scripts/kallsyms emitted it into .rodata
    (kernel/kallsyms.c reads it back): kallsyms_token_table (256
    NUL-terminated strings) and kallsyms_token_index (256 u16 offsets) are
    found first (the digits are single-character tokens, in order), then
    kallsyms_num_syms followed by kallsyms_names, the only 8-aligned count
    whose names decode.  6.1 emits offsets, relative_base, num_syms, names,
    markers, [seqs_of_names,] token_table, token_index; 6.4 moved offsets
    and relative_base after token_index.  Both are read.
    Returns [(address, type, name)] in kallsyms order (by address).
    """
    ro = elf.section(".rodata")
    if ro is None:
        raise ValueError("vmlinux has no .rodata")
    data = elf.data
    lo, hi = ro.offset, ro.offset + ro.size
    digits = b"".join(bytes([c]) + b"\0" for c in b"0123456789")
    pos = data.find(digits, lo, hi)
    while pos >= 0:
        found = _token_table_at(data, pos)
        if found:
            break
        pos = data.find(digits, pos + 1, hi)
    else:
        raise ValueError("no kallsyms_token_table in .rodata "
                         "(CONFIG_KALLSYMS off?)")
    table, index_at, tokens = found
    num_at, names = _kallsyms_names(data, lo, hi, tokens)
    n = len(names)
    # Old order: offsets, pad, relative_base (8), num_syms.  New: after
    # token_index (256 u16 = 512 bytes), 8-aligned: offsets, relative_base.
    candidates = [num_at - 8 - _align8(4 * n),
                  _align8(index_at + 512)]
    for offsets_at in candidates:
        base_at = offsets_at + _align8(4 * n)
        (base,) = struct.unpack_from("<Q", data, base_at)
        if base >> 47 != 0x1ffff:       # a kernel address
            continue
        offs = struct.unpack_from(f"<{n}i", data, offsets_at)
        # CONFIG_KALLSYMS_ABSOLUTE_PERCPU: positive offsets are absolute
        # values, negative ones relative to relative_base - 1 (x86_64).
        addrs = [o if o >= 0 else base - 1 - o for o in offs]
        syms = [(a, s[0], s[1:]) for a, s in zip(addrs, names)]
        text = [a for a, t, name in syms if name == "_text"]
        if text and text[0] == base:
            return syms
    raise ValueError("kallsyms_offsets / kallsyms_relative_base not found")


def _align8(x: int) -> int:
    return (x + 7) & ~7


def _token_table_at(data: bytes, digit0: int):
    """(table offset, token_index offset, tokens) if the token "0" at
    @digit0 is entry 0x30 of a consistent kallsyms_token_table."""
    p = digit0
    for _ in range(0x30, 256):
        p = data.index(b"\0", p) + 1
    index_at = _align8(p)
    index = struct.unpack_from("<256H", data, index_at)
    table = digit0 - index[0x30]
    if index[0] != 0 or table < 0:
        return None
    tokens = []
    for i in range(256):
        end = data.index(b"\0", table + index[i])
        tok = data[table + index[i]:end]
        if not tok or (i < 255 and index[i + 1] != index[i] + len(tok) + 1):
            return None
        tokens.append(tok)
    return table, index_at, tokens


def _kallsyms_names(data: bytes, lo: int, hi: int, tokens: list[bytes]):
    for at in range(_align8(lo), hi - 8, 8):
        n, pad = struct.unpack_from("<II", data, at)
        if pad or not 1000 <= n <= 4_000_000:
            continue
        names = _decode_names(data, at + 8, n, tokens, check=64)
        if names is None:
            continue
        return at, _decode_names(data, at + 8, n, tokens)
    raise ValueError("no kallsyms_num_syms / kallsyms_names in .rodata")


def _decode_names(data, p, n, tokens, check=0):
    out = []
    for i in range(check or n):
        ln = data[p]
        p += 1
        if ln & 0x80:           # 6.1+: big symbols, two-byte length
            ln = (ln & 0x7f) | (data[p] << 7)
            p += 1
        if not ln:
            return None
        s = b"".join(tokens[b] for b in data[p:p + ln])
        p += ln
        if check and (s[0] not in KALLSYMS_TYPES or len(s) < 2
                      or not all(32 < c < 127 for c in s)):
            return None
        out.append(s.decode("ascii"))
    return out


def system_map(syms) -> str:
    return "".join(f"{a:016x} {t} {name}\n" for a, t, name in
                   sorted(syms, key=lambda x: x[0]))


def percpu_offsets(system_map: str, names) -> dict[str, int]:
    """
    The offsets of per-CPU variables @names in a CPU's per-CPU area:
    kallsyms lists them as absolute ('A') symbols, which the symbols ELF
    leaves out (they are no addresses), so from the System.map made here.
    """
    want, out = set(names), {}
    with open(system_map) as f:
        for line in f:
            addr, typ, name = line.split()[:3]
            if typ in "Aa" and name in want:
                out[name] = int(addr, 16)
    return out


# ------------------------------------------------------------------ BTF

BTF_KIND_INT, BTF_KIND_PTR, BTF_KIND_ARRAY = 1, 2, 3
BTF_KIND_STRUCT, BTF_KIND_UNION, BTF_KIND_ENUM = 4, 5, 6
BTF_KIND_TYPEDEF, BTF_KIND_VOLATILE, BTF_KIND_CONST = 8, 9, 10
BTF_KIND_RESTRICT, BTF_KIND_FUNC_PROTO, BTF_KIND_VAR = 11, 13, 14
BTF_KIND_DATASEC, BTF_KIND_FLOAT, BTF_KIND_DECL_TAG = 15, 16, 17
BTF_KIND_TYPE_TAG, BTF_KIND_ENUM64 = 18, 19
_BTF_EXTRA = {BTF_KIND_INT: lambda v: 4, BTF_KIND_ARRAY: lambda v: 12,
              BTF_KIND_STRUCT: lambda v: 12 * v,
              BTF_KIND_UNION: lambda v: 12 * v,
              BTF_KIND_ENUM: lambda v: 8 * v,
              BTF_KIND_FUNC_PROTO: lambda v: 8 * v,
              BTF_KIND_VAR: lambda v: 4,
              BTF_KIND_DATASEC: lambda v: 12 * v,
              BTF_KIND_DECL_TAG: lambda v: 4,
              BTF_KIND_ENUM64: lambda v: 12 * v}
_BTF_QUALIFIERS = (BTF_KIND_TYPEDEF, BTF_KIND_VOLATILE, BTF_KIND_CONST,
                   BTF_KIND_RESTRICT, BTF_KIND_TYPE_TAG)


class Btf:
    """The kernel's BTF (Documentation/bpf/btf.rst), enough to say where a
    structure member is and how big it is."""

    def __init__(self, data: bytes):
        magic, _ver, _flags, hdr_len, type_off, type_len, str_off, \
            _str_len = struct.unpack_from("<HBBIIIII", data, 0)
        if magic != 0xeb9f:
            raise ValueError("not BTF")
        self._str = hdr_len + str_off
        self.data = data
        self.types = [None]             # id 0 is void
        p, end = hdr_len + type_off, hdr_len + type_off + type_len
        self.by_name: dict[str, list[int]] = {}
        while p < end:
            name_off, info, size_type = struct.unpack_from("<III", data, p)
            kind, vlen = (info >> 24) & 0x1f, info & 0xffff
            extra = _BTF_EXTRA.get(kind, lambda v: 0)(vlen)
            self.types.append((kind, name_off, info, size_type, p + 12,
                               vlen))
            if name_off:
                self.by_name.setdefault(self.name(name_off), []).append(
                    len(self.types) - 1)
            p += 12 + extra

    def name(self, off: int) -> str:
        return _cstr(self.data, self._str + off)

    def struct(self, name: str, members=()) -> int:
        """
        The type id of struct (or union) @name.  Static types of
        different files may share a name (Debian's 6.1 has three struct
        irq_info: the 8250 serial driver's, x86's PIRQ routing slot, and
        Xen's per-irq state in drivers/xen/events/events_base.c): then
        the one that has the first component of every path in @members.
        """
        for tid in self.by_name.get(name, []):
            kind, _, _, _, _, vlen = self.types[tid]
            if kind not in (BTF_KIND_STRUCT, BTF_KIND_UNION) or not vlen:
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

    def resolve(self, tid: int) -> int:
        while self.types[tid] and self.types[tid][0] in _BTF_QUALIFIERS:
            tid = self.types[tid][3]
        return tid

    def sizeof(self, tid: int) -> int:
        tid = self.resolve(tid)
        kind, _, _, size_type, extra, _ = self.types[tid]
        if kind == BTF_KIND_PTR:
            return 8
        if kind == BTF_KIND_ARRAY:
            elem, _idx, nelems = struct.unpack_from("<III", self.data, extra)
            return self.sizeof(elem) * nelems
        return size_type

    def members(self, tid: int):
        kind, _, info, _, extra, vlen = self.types[self.resolve(tid)]
        if kind not in (BTF_KIND_STRUCT, BTF_KIND_UNION):
            raise KeyError("not a struct or union")
        bitfields = bool(info >> 31)
        for i in range(vlen):
            name_off, mtype, off = struct.unpack_from(
                "<III", self.data, extra + 12 * i)
            bit = off & 0xffffff if bitfields else off
            yield self.name(name_off), mtype, bit

    def member(self, tid: int, name: str):
        """(byte offset, type id) of @name, looking into anonymous
        structs and unions as C does."""
        for mname, mtype, bit in self.members(tid):
            if mname == name:
                return bit // 8, mtype
            if not mname:
                try:
                    off, t = self.member(mtype, name)
                    return bit // 8 + off, t
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


def layout(btf: Btf) -> dict:
    out = {}
    for st, members in LAYOUT.items():
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


# ------------------------------------------------------- the symbol ELF

def _linker_script(sections: list[Section]) -> str:
    lines = ["SECTIONS {"]
    for s in sections:
        lines.append(f"  {s.name} {s.addr:#x} (NOLOAD) : "
                     f"{{ . = . + {s.size:#x}; }}")
    lines += ["  /DISCARD/ : { *(*) }", "}"]
    return "\n".join(lines) + "\n"


def write_symbol_elf(syms, elf: Elf, out: str, tmp: str) -> int:
    """
    An ELF with @elf's loaded kernel sections (NOBITS: gdb reads memory
    from the target) and @syms as symbols, each in the section that holds
    it.  Returns the number of symbols written.  Local names repeat
    (static functions of the same name in different files), which a
    symbol table allows and `break NAME` then sets at every one.
    """
    secs = sorted((s for s in elf.sections
                   if s.flags & SHF_ALLOC and s.addr >> 47 == 0x1ffff
                   and s.size), key=lambda s: s.addr)
    starts = [s.addr for s in secs]
    empty_s = os.path.join(tmp, "empty.s")
    with open(empty_s, "w"):
        pass
    script = os.path.join(tmp, "sections.ld")
    with open(script, "w") as f:
        f.write(_linker_script(secs))
    _tool(["as", "--64", "-o", os.path.join(tmp, "empty.o"), empty_s])
    base = os.path.join(tmp, "base.elf")
    _tool(["ld", "-m", "elf_x86_64", "-T", script, "-o", base,
           os.path.join(tmp, "empty.o")])
    args = []
    for addr, typ, name in syms:
        i = bisect.bisect_right(starts, addr) - 1
        if i < 0 or addr > secs[i].addr + secs[i].size:
            continue            # per-CPU offsets and absolute values
        s = secs[i]
        kind = "function" if s.flags & SHF_EXECINSTR and typ in "TtWw" \
            else "object"
        bind = "global" if typ.isupper() else "local"
        args += ["--add-symbol",
                 f"{name}={s.name}:{addr - s.addr:#x},{bind},{kind}"]
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
FORMAT = "1"


def debug_dir(build: str) -> str:
    return os.path.join(build, "guest", "debug")


def ensure(build: str, log=print) -> KernelSymbols:
    """build/guest/debug/{vmlinux-<ver>.syms, System.map-<ver>,
    layout-<ver>.json}, made once per kernel."""
    guest = os.path.join(build, "guest")
    with open(os.path.join(guest, "kernel-version")) as f:
        ver = f.read().strip()
    vmlinux = os.path.join(guest, f"vmlinux-{ver}")
    d = debug_dir(build)
    ks = KernelSymbols(ver, os.path.join(d, f"vmlinux-{ver}.syms"),
                       os.path.join(d, f"System.map-{ver}"),
                       os.path.join(d, f"layout-{ver}.json"))
    stamp = os.path.join(d, f"symbols-{ver}.stamp")
    with open(vmlinux, "rb") as f:
        image = f.read()
    # The image, and what is read out of it (a new LAYOUT member or a
    # change in how it is read invalidates the cache).
    key = hashlib.sha256(image).hexdigest() + " " + hashlib.sha256(
        (json.dumps(LAYOUT, sort_keys=True) + FORMAT).encode()).hexdigest()
    fresh = False
    if all(os.path.exists(p) for p in (ks.symbols, ks.system_map, ks.layout,
                                       stamp)):
        with open(stamp) as f:
            fresh = f.read().strip() == key
        if fresh:
            with open(ks.layout) as f:
                ks.count = int(json.load(f)["symbols"])
            return ks
    log(f"irqlab: kernel symbols from vmlinux-{ver} "
        "(kallsyms and BTF; once)")
    os.makedirs(d, exist_ok=True)
    elf = Elf(image)
    syms = kallsyms(elf)
    btf_sec = elf.section(".BTF")
    if btf_sec is None:
        raise ValueError("vmlinux has no .BTF (CONFIG_DEBUG_INFO_BTF off)")
    lay = layout(Btf(elf.contents(btf_sec)))
    with tempfile.TemporaryDirectory(prefix="irqlab-syms-") as tmp:
        ks.count = write_symbol_elf(syms, elf, ks.symbols + ".new", tmp)
    os.replace(ks.symbols + ".new", ks.symbols)
    with open(ks.system_map, "w") as f:
        f.write(system_map(syms))
    lay["symbols"] = ks.count
    lay["kernel"] = ver
    with open(ks.layout, "w") as f:
        json.dump(lay, f, indent=1, sort_keys=True)
    with open(stamp, "w") as f:
        f.write(key + "\n")
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
