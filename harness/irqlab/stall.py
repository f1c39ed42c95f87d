# SPDX-License-Identifier: GPL-2.0-or-later
"""
What stopped a run that stopped making progress, in words.

A CPU halted (HLT) with interrupts enabled (RFLAGS.IF) waits for an
interrupt.  If its local APIC still holds a vector in service (ISR), the
processor priority is at least that vector's priority class, its upper
four bits, and the APIC delivers no vector of that class or below (Intel
SDM vol. 3A, 11.8.3.1 "Task and Processor Priorities"; 11.8.4 "Interrupt
Acceptance for Fixed Interrupts").  Linux never halts inside an interrupt
handler, and every handler EOIs its vector, so that vector's EOI was lost:
the CPU now takes only higher-class vectors (IPIs), and everything else
sent to it waits in its IRR for ever.

The raw state comes from QEMU at the moment (`info registers -a`: HLT and
RFLAGS; `info lapic`: ISR, IRR, DFR, LDR; x-query-msix: the device's
vectors), so that `irqlab check` can say the same of a saved run.
"""

import re
from dataclasses import dataclass

from . import lapic

EFLAGS_IF = 1 << 9
# `info registers -a`: "CPU#n", then a line with RFL= (EFL= outside long
# mode) and HLT= (target/i386/cpu-dump.c).
_CPU = re.compile(r"^CPU#(\d+)", re.M)
_FLAGS = re.compile(r"\b[RE]FL=([0-9a-fA-F]+)\b.*\bHLT=(\d)")
# Linux's names of the vectors it reserves, from the guest kernel's own
# arch/x86/include/asm/irq_vectors.h: "#define NAME 0xNN".
_DEFINE = re.compile(r"^#define\s+(\w+_VECTOR)\s+(0x[0-9a-fA-F]+)\s*$", re.M)


def vectors(field: str) -> list[int]:
    """The vector numbers of an `info lapic` ISR/IRR field ("(none)",
    "33 34 236", "49(level) ")."""
    return [int(m) for m in re.findall(r"\d+", field or "")]


def cpu_run_state(text: str) -> dict[int, dict]:
    """{CPU index: {"halted", "if"}} from `info registers -a`."""
    out = {}
    starts = list(_CPU.finditer(text))
    for i, m in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(text)
        f = _FLAGS.search(text, m.end(), end)
        if f:
            out[int(m[1])] = {"halted": f[2] == "1",
                              "if": bool(int(f[1], 16) & EFLAGS_IF)}
    return out


def read_cpus(vm) -> dict:
    """{"cpus": {index: {"halted", "if", "isr", "irr"}}} from QEMU now."""
    cpus = cpu_run_state(vm.cmd("human-monitor-command",
                                command_line="info registers -a"))
    apics = lapic.pending(vm)
    for cpu, regs in apics.items():
        regs.update(cpus.get(cpu, {}))
    return {"cpus": {str(k): v for k, v in sorted(apics.items())}}


def read(vm, device: str | None) -> dict:
    """The raw state: CPUs and their local APICs, and the vectors of
    @device (a qdev id; None: QEMU without x-query-msix)."""
    out = read_cpus(vm)
    out["lapic"] = {str(k): v for k, v in lapic.read(vm).items()}
    if device:
        out["x-query-msix"] = vm.cmd("x-query-msix", device=device)
    return out


def linux_vector_names(header: str) -> dict[int, str]:
    """{vector: name} of Linux's reserved vectors, from @header's text
    (not the FIRST_* bounds of its ranges)."""
    names = {}
    for name, value in _DEFINE.findall(header):
        if not name.startswith("FIRST_"):
            names.setdefault(int(value, 16), name)
    return names


@dataclass
class LostEoi:
    cpu: int
    vector: int                 # the highest vector in service
    waiting: list[int]          # IRR vectors it blocks

    @property
    def klass(self) -> int:
        return self.vector >> 4


def lost_eois(state: dict) -> list[LostEoi]:
    """Every CPU that is halted with interrupts enabled and a vector in
    service, with the IRR vectors that vector blocks."""
    out = []
    for cpu, regs in sorted(state.get("cpus", {}).items(),
                            key=lambda kv: int(kv[0])):
        isr = vectors(regs.get("isr"))
        if not (regs.get("halted") and regs.get("if") and isr):
            continue
        top = max(isr)
        blocked = [v for v in vectors(regs.get("irr")) if v >> 4 <= top >> 4]
        out.append(LostEoi(int(cpu), top, blocked))
    return out


def _device_vectors(state: dict, cpu: int) -> dict[int, list[str]]:
    """{APIC vector: ["vector 4 (sent 1)", ...]}: the device's MSI-X and
    MSI vectors whose decoded message reaches @cpu's local APIC."""
    apics = {int(k): v for k, v in state.get("lapic", {}).items()}
    apic_id = next((a for a, s in apics.items() if s["cpu-index"] == cpu),
                   None)
    out: dict[int, list[str]] = {}
    for cap in state.get("x-query-msix", []):
        for v in cap["vectors"]:
            d = v.get("decoded", {})
            if d.get("format") != "compat" or apic_id is None:
                continue
            if apic_id in lapic.targets(d["dest-id"], d["dest-mode"], apics):
                out.setdefault(d["vector"], []).append(
                    f"device {cap['capability']} vector {v['index']} "
                    f"(sent {v['sent']})")
    return out


def describe(state: dict, names: dict[int, str] | None = None) -> list[str]:
    """The report's sentences: one per lost EOI, one per vector behind it."""
    names = names or {}
    lines = []
    for lost in lost_eois(state):
        name = f" ({names[lost.vector]})" if lost.vector in names else ""
        lines.append(
            f"CPU {lost.cpu} halted with vector {lost.vector:#04x}{name} in "
            f"service: an EOI was lost; vectors of class "
            f"{lost.klass:#x} and below (up to {lost.klass << 4 | 0xf:#04x})"
            " are blocked")
        dev = _device_vectors(state, lost.cpu)
        unknown = "not the device's vector" if "x-query-msix" in state \
            else "the device's vectors are unknown (no x-query-msix)"
        for v in lost.waiting:
            what = dev.get(v) or [names.get(v, unknown)]
            lines.append(f"  {v:#04x} waits in its IRR behind it: "
                         + "; ".join(what))
    return lines
