# SPDX-License-Identifier: GPL-2.0-or-later
"""symbols.py: /proc/kallsyms, bpftool's BTF dump, and the symbols ELF
for gdb."""

import os
import shutil
import tempfile
import unittest

from irqlab import symbols
from irqlab.symbols import ELFFile, Section, Symbol

# /proc/kallsyms as Debian's 6.1 lists it: per-CPU variables as absolute
# offsets first, then text and data, then a module's symbols.
KALLSYMS = """\
0000000000000000 A fixed_percpu_data
00000000000199e0 A cpu_number
ffffffff81000000 T _text
ffffffff81001000 T irq_startup
ffffffff81001040 t irq_startup_managed
ffffffff82000000 D modules
ffffffff82000010 d static_data
ffffffffc0201000 t msix_testdev_probe\t[msix_testdev]
"""

TEXT = Section(".text", 0xffffffff81000000, 0x2000, True)
DATA = Section(".data", 0xffffffff82000000, 0x100, False)


class Kallsyms(unittest.TestCase):
    def test_parse_leaves_modules_out(self):
        syms = symbols.parse_kallsyms(KALLSYMS)
        self.assertEqual(len(syms), 7)
        self.assertEqual(syms[3], Symbol(0xffffffff81001000, "T",
                                         "irq_startup"))
        self.assertNotIn("msix_testdev_probe", [s.name for s in syms])

    def test_system_map_by_address(self):
        syms = symbols.parse_kallsyms(KALLSYMS)
        text = symbols.system_map(list(reversed(syms)))
        lines = text.splitlines()
        self.assertEqual(lines[0], "0000000000000000 A fixed_percpu_data")
        self.assertEqual(lines[-1], "ffffffff82000010 d static_data")
        # System.map reads back as what it was made of.
        self.assertEqual(sorted(symbols.parse_kallsyms(text),
                                key=lambda s: s.address),
                         sorted(syms, key=lambda s: s.address))

    def test_percpu_offsets(self):
        self.assertEqual(symbols.percpu_offsets(
            KALLSYMS, ("cpu_number", "irq_startup", "absent")),
            {"cpu_number": 0x199e0})


class SymbolElf(unittest.TestCase):
    def test_add_symbol_args(self):
        syms = symbols.parse_kallsyms(KALLSYMS)
        self.assertEqual(symbols.add_symbol_args(syms, [TEXT, DATA]), [
            "--add-symbol", "_text=.text:0x0,global,function",
            "--add-symbol", "irq_startup=.text:0x1000,global,function",
            "--add-symbol",
            "irq_startup_managed=.text:0x1040,local,function",
            "--add-symbol", "modules=.data:0x0,global,object",
            "--add-symbol", "static_data=.data:0x10,local,object"])

    def test_linker_script(self):
        self.assertEqual(symbols.linker_script([TEXT]), (
            "SECTIONS {\n"
            "  .text 0xffffffff81000000 (NOLOAD) : { . = . + 0x2000; }\n"
            "  /DISCARD/ : { *(*) }\n"
            "}\n"))

    @unittest.skipUnless(all(shutil.which(t) for t in ("as", "ld",
                                                       "objcopy")),
                         "binutils")
    def test_elf_round_trip(self):
        """The ELF binutils make reads back through pyelftools as the
        kernel's sections and symbols."""
        syms = symbols.parse_kallsyms(KALLSYMS)
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "vmlinux.syms")
            self.assertEqual(symbols.write_symbol_elf(
                syms, [TEXT, DATA], out, tmp), 5)
            self.assertEqual(symbols.kernel_sections(out), [TEXT, DATA])
            with open(out, "rb") as f:
                table = ELFFile(f).get_section_by_name(".symtab")
                got = {s.name: (s["st_value"], s["st_info"]["bind"],
                                s["st_info"]["type"])
                       for s in table.iter_symbols() if s.name}
        self.assertEqual(got["irq_startup"], (0xffffffff81001000,
                                              "STB_GLOBAL", "STT_FUNC"))
        self.assertEqual(got["static_data"], (0xffffffff82000010,
                                              "STB_LOCAL", "STT_OBJECT"))
        self.assertNotIn("cpu_number", got)


# `bpftool -j btf dump file` of a few types: struct irq_info twice (the
# one with evtchn is Xen's), an anonymous union, a typedef, a pointer, an
# array, a const.
BTF = [
    {"id": 1, "kind": "INT", "name": "unsigned int", "size": 4,
     "bits_offset": 0, "nr_bits": 32, "encoding": "(none)"},
    {"id": 2, "kind": "TYPEDEF", "name": "evtchn_port_t", "type_id": 1},
    {"id": 3, "kind": "STRUCT", "name": "irq_info", "size": 16, "vlen": 2,
     "members": [{"name": "bus", "type_id": 1, "bits_offset": 0},
                 {"name": "irq", "type_id": 1, "bits_offset": 32}]},
    {"id": 4, "kind": "STRUCT", "name": "(anon)", "size": 8, "vlen": 2,
     "members": [{"name": "pirq", "type_id": 1, "bits_offset": 0},
                 {"name": "gsi", "type_id": 1, "bits_offset": 32}]},
    {"id": 5, "kind": "UNION", "name": "(anon)", "size": 8, "vlen": 2,
     "members": [{"name": "virq", "type_id": 1, "bits_offset": 0},
                 {"name": "pirq", "type_id": 4, "bits_offset": 0}]},
    {"id": 6, "kind": "STRUCT", "name": "irq_info", "size": 48, "vlen": 4,
     "members": [{"name": "irq", "type_id": 1, "bits_offset": 0},
                 {"name": "evtchn", "type_id": 2, "bits_offset": 32},
                 {"name": "u", "type_id": 5, "bits_offset": 64},
                 {"name": "(anon)", "type_id": 9, "bits_offset": 128}]},
    {"id": 7, "kind": "PTR", "name": "(anon)", "type_id": 6},
    {"id": 8, "kind": "ARRAY", "name": "(anon)", "type_id": 7,
     "index_type_id": 1, "nr_elems": 3},
    {"id": 9, "kind": "STRUCT", "name": "(anon)", "size": 32, "vlen": 2,
     "members": [{"name": "next", "type_id": 10, "bits_offset": 0},
                 {"name": "table", "type_id": 8, "bits_offset": 64}]},
    {"id": 10, "kind": "CONST", "name": "(anon)", "type_id": 7},
]


class Btf(unittest.TestCase):
    def setUp(self):
        self.btf = symbols.Btf(BTF)

    def test_same_name_picked_by_member(self):
        self.assertEqual(self.btf.struct("irq_info", ["evtchn"]), 6)
        self.assertEqual(self.btf.struct("irq_info", ["bus"]), 3)
        with self.assertRaises(KeyError):
            self.btf.struct("irq_info", ["nothing"])

    def test_offsets_and_sizes(self):
        members = ["evtchn", "u.pirq.pirq"]
        self.assertEqual(self.btf.offsetof("irq_info", "evtchn", members),
                         (4, 4))
        self.assertEqual(self.btf.offsetof("irq_info", "u.pirq.gsi",
                                           members), (12, 4))
        self.assertEqual(self.btf.offsetof("irq_info", "u", members), (8, 8))

    def test_anonymous_struct_pointer_array(self):
        # table sits in an anonymous struct at byte 16: 16 + 8
        self.assertEqual(self.btf.offsetof("irq_info", "table", ["table"]),
                         (24, 24))
        self.assertEqual(self.btf.offsetof("irq_info", "next", ["next"]),
                         (16, 8))

    def test_layout(self):
        lay = symbols.layout(self.btf, {"irq_info": ["evtchn",
                                                     "u.pirq.pirq"]})
        self.assertEqual(lay, {"irq_info": {"sizeof": 48},
                               "irq_info.evtchn": {"offset": 4, "size": 4},
                               "irq_info.u.pirq.pirq": {"offset": 8,
                                                        "size": 4}})

    def test_optional_struct_left_out(self):
        self.assertEqual(symbols.layout(symbols.Btf(BTF[:2]),
                                        {"irq_info": ["evtchn"]}), {})
        with self.assertRaises(KeyError):
            symbols.layout(symbols.Btf(BTF[:2]), {"irq_desc": ["irq"]})


if __name__ == "__main__":
    unittest.main()
