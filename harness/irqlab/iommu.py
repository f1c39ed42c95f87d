# SPDX-License-Identifier: GPL-2.0-or-later
"""
Interrupt remapping through QEMU's intel-iommu, read from outside the guest.

A remappable-format MSI (Intel VT-d specification, 5.1.5.2, "Interrupt
Requests in Remappable Format") names no CPU: it carries a handle, and the
interrupt index is handle + subhandle when SHV is set, else the handle.
That index selects a 16-byte Interrupt Remapping Table Entry (IRTE) in
guest memory, at the base the guest programmed into the remapping unit's
Interrupt Remapping Table Address register.  The harness reads both with
the monitor's `xp` (physical memory, as the device would see it) through
QMP human-monitor-command.
"""

import re

# q35's remapping unit (QEMU's Q35_HOST_BRIDGE_IOMMU_ADDR).
DMAR_BASE = 0xFED90000
# VT-d 10.4.5, Global Status Register: bit 25 IRES (interrupt remapping
# enabled), bit 24 IRTPS (table pointer latched).
DMAR_GSTS_REG = 0x1C
GSTS_IRES = 1 << 25
GSTS_IRTPS = 1 << 24
# VT-d 10.4.29, Interrupt Remapping Table Address Register: bits 63:12 the
# table's base (4 KiB aligned), bit 11 EIME (extended interrupt mode:
# 32-bit x2APIC destination IDs), bits 3:0 S (2^(S+1) entries).
DMAR_IRTA_REG = 0xB8
IRTA_ADDR_MASK = ~0xFFF & (1 << 64) - 1
IRTA_EIME = 1 << 11
IRTA_SIZE_MASK = 0xF
IRTE_SIZE = 16

_XP_LINE = re.compile(r"^\s*([0-9a-fA-F]+):((?:\s+0x[0-9a-fA-F]+)+)\s*$")


def xp(hmp, addr: int, count: int, size: str = "g") -> list[int]:
    """
    Read @count units (g: 8 bytes, w: 4) of guest-physical memory.  QEMU's
    memory_dump() prints "ADDR: 0xVALUE 0xVALUE" lines, 16 bytes a line,
    or " Cannot access memory".
    """
    out = hmp(f"xp /{count}{size}x {addr:#x}")
    values = []
    for line in out.splitlines():
        m = _XP_LINE.match(line)
        if not m:
            raise IOError(f"xp {addr:#x}: unexpected monitor output {out!r}")
        values += [int(v, 16) for v in m[2].split()]
    if len(values) != count:
        raise IOError(f"xp {addr:#x}: {len(values)} values, wanted {count}")
    return values


def read_remapping_unit(hmp) -> dict:
    """The remapping unit's status and table address."""
    gsts = xp(hmp, DMAR_BASE + DMAR_GSTS_REG, 1, "w")[0]
    irta = xp(hmp, DMAR_BASE + DMAR_IRTA_REG, 1, "g")[0]
    return {"gsts": gsts,
            "ir-enabled": bool(gsts & GSTS_IRES),
            "irta": irta,
            "table": irta & IRTA_ADDR_MASK,
            "eime": bool(irta & IRTA_EIME),
            "entries": 1 << ((irta & IRTA_SIZE_MASK) + 1)}


def interrupt_index(decoded: dict) -> int:
    """VT-d 5.1.5.2: handle, plus subhandle if SHV."""
    index = decoded["irte-index"]
    if decoded["shv"]:
        index += decoded["subhandle"]
    return index


def decode_irte(lo: int, hi: int, eime: bool) -> dict:
    """
    VT-d 9.10, "Interrupt Remapping Table Entry (IRTE) for Remapped
    Interrupts" (IM = 0): bit 0 P, 1 FPD, 2 DM, 3 RH, 4 TM, 7:5 DLM,
    15 IM, 23:16 V (vector), 63:32 DST; in xAPIC mode (EIME clear) the
    8-bit APIC ID is DST bits 15:8, i.e. IRTE bits 47:40.  Upper half:
    79:64 SID, 81:80 SQ, 83:82 SVT (source validation).
    """
    dst = lo >> 32
    return {"raw": [lo, hi],
            "present": bool(lo & 1),
            "fpd": bool(lo >> 1 & 1),
            "dest-mode": "logical" if lo >> 2 & 1 else "physical",
            "redirection-hint": bool(lo >> 3 & 1),
            "trigger-mode": "level" if lo >> 4 & 1 else "edge",
            "delivery-mode": lo >> 5 & 7,
            "posted": bool(lo >> 15 & 1),
            "vector": lo >> 16 & 0xFF,
            "dest-id": dst if eime else dst >> 8 & 0xFF,
            "sid": hi & 0xFFFF,
            "sq": hi >> 16 & 3,
            "svt": hi >> 18 & 3}


def read_irte(hmp, unit: dict, index: int) -> dict:
    lo, hi = xp(hmp, unit["table"] + index * IRTE_SIZE, 2, "g")
    irte = decode_irte(lo, hi, unit["eime"])
    irte["index"] = index
    irte["address"] = unit["table"] + index * IRTE_SIZE
    return irte
