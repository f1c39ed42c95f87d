# SPDX-License-Identifier: GPL-2.0-or-later
"""
Which local APICs a message's destination selects, from QEMU's own
LAPIC state (not the guest's word for it).

Debian's 6.1 kernel drives up to 8 CPUs in xAPIC flat logical mode
(arch/x86/kernel/apic/apic_flat_64.c: each CPU's LDR is 1 << its number,
and a message's destination is a bit mask of them), so a destination is
not an APIC ID.  Intel SDM vol. 3A, "Logical Destination Mode" (10.6.2.2
up to the 2023 editions, 11.6.2.2 since): the DFR selects the model, flat
(1111b: the destination's bits AND the LDR's 8-bit logical ID) or cluster
(0000b: bits 7:4 name the cluster, bits 3:0 the APICs in it); physical
mode compares the destination with the APIC ID, 0xFF broadcasts.

QEMU tells each CPU's APIC ID (the CPU object's "apic-id" property) and,
in `info lapic APIC-ID`, its "DFR" (the model, 4 bits) and "LDR" (the
8-bit logical ID).
"""

import re

DFR_FLAT = 0xF
DFR_CLUSTER = 0x0
XAPIC_BROADCAST = 0xFF

_CPU = re.compile(r"dumping local APIC state for CPU\s+(\d+)")
_DFR_LDR = re.compile(r"DFR 0x([0-9a-fA-F]+) LDR 0x([0-9a-fA-F]+)")


def read(vm) -> dict[int, dict]:
    """{APIC ID: {"cpu-index", "dfr", "ldr"}} for every CPU of the machine."""
    out = {}
    for cpu in vm.cmd("query-cpus-fast"):
        apic_id = vm.cmd("qom-get", path=cpu["qom-path"], property="apic-id")
        text = vm.cmd("human-monitor-command",
                      command_line=f"info lapic {apic_id}")
        m, c = _DFR_LDR.search(text), _CPU.search(text)
        if not m or not c:
            raise IOError(f"info lapic {apic_id}: unexpected {text!r}")
        out[apic_id] = {"cpu-index": int(c[1]), "dfr": int(m[1], 16),
                        "ldr": int(m[2], 16)}
    return out


def pending(vm) -> dict[int, dict]:
    """{CPU index: {"isr", "irr"}}: each local APIC's in-service and
    requested vectors as `info lapic` lists them ("(none)" when empty)."""
    out = {}
    for cpu in vm.cmd("query-cpus-fast"):
        apic_id = vm.cmd("qom-get", path=cpu["qom-path"], property="apic-id")
        text = vm.cmd("human-monitor-command",
                      command_line=f"info lapic {apic_id}")
        regs = {}
        for line in text.splitlines():
            name, _, rest = line.partition("\t")
            if name in ("ISR", "IRR"):
                regs[name.lower()] = rest.strip()
        out[cpu["cpu-index"]] = regs
    return out


def targets(dest: int, mode: str, lapics: dict) -> set[int]:
    """The APIC IDs a fixed-delivery @dest in @mode reaches."""
    if mode == "physical":
        if dest == XAPIC_BROADCAST:
            return set(lapics)
        return {dest} & set(lapics)
    out = set()
    for apic_id, s in lapics.items():
        if s["dfr"] == DFR_FLAT and dest & s["ldr"]:
            out.add(apic_id)
        elif (s["dfr"] == DFR_CLUSTER and dest >> 4 == s["ldr"] >> 4
              and dest & s["ldr"] & 0xF):
            out.add(apic_id)
    return out
