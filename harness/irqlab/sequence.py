# SPDX-License-Identifier: GPL-2.0-or-later
"""
Linux's msix_capability_init() as the device saw it, from the device's
event log (x-query-msix-log).

drivers/pci/msi/msi.c (6.1) does, in this order:
  1. set message control ENABLE and MASKALL in one write;
  2. map the table;
  3. msix_setup_interrupts(): affinity masks, descriptors, irqs allocated
     and, as x86's PCI-MSI domain activates early, each entry's message
     written (address low, high, data);
  4. msix_mask_all(): every entry's vector control written with the mask
     bit set;
  5. clear MASKALL.
Then request_irq() -> irq_startup() writes each vector's real message
(compat format: the vector and destination the vector domain picked) and
unmasks its entry.

The log is condensed into steps (runs of the same kind of event), each
with its sequence numbers, and the order above is checked on the last
allocation (nvme allocates twice: one vector for the admin queue first).
"""

from dataclasses import dataclass, field

from . import cpulist
from .host import (DWORD_VECTOR_CONTROL, ENTRY_MASKBIT, MSIX_ENABLE,
                   MSIX_MASKALL)
from .verdict import Check


@dataclass
class Step:
    first: int                  # sequence numbers
    last: int
    kind: str
    entries: list = field(default_factory=list)
    events: list = field(default_factory=list)
    note: str = ""              # which step of msix_capability_init() it is

    @property
    def seqs(self) -> str:
        return f"#{self.first}" if self.first == self.last \
            else f"#{self.first}-#{self.last}"

    def text(self) -> str:
        return _render(self)

    def as_json(self) -> dict:
        return {"first": self.first, "last": self.last, "kind": self.kind,
                "entries": sorted(set(self.entries)), "text": self.text(),
                "note": self.note}


def _cls(e: dict, prev: str | None) -> str:
    kind = e["kind"]
    if kind == "table-write":
        if e.get("dword") == DWORD_VECTOR_CONTROL:
            return "maskbit" if e["new"] & ENTRY_MASKBIT else "unmaskbit"
        return "write"
    if kind == "programmed":
        return "write"
    if kind in ("mask", "unmask"):
        # The effective state change a vector-control or control write caused.
        return prev if prev in ("control", "maskbit", "unmaskbit") else kind
    if kind in ("message", "held", "dropped", "pending-set",
                "pending-clear"):
        return "traffic"
    return kind                 # control, reset, pba-write


def condense(events: list[dict]) -> list[Step]:
    """Runs of the same kind of event, then one step per request_irq()."""
    steps: list[Step] = []
    prev = None
    for e in events:
        if e["capability"] != "msix":
            continue
        cls = _cls(e, prev)
        # A control write is a step by itself, with the masks it changed.
        if (steps and steps[-1].kind == cls
                and not (cls == "control" and e["kind"] == "control")):
            st = steps[-1]
        else:
            st = Step(e["seq"], e["seq"], cls)
            steps.append(st)
        st.last = e["seq"]
        st.events.append(e)
        if "vector" in e:
            st.entries.append(e["vector"])
        prev = cls
    return _merge_per_vector(steps)


def _merge_per_vector(steps: list[Step]) -> list[Step]:
    """
    One entry written then unmasked: request_irq() starting that vector.
    Masked, written, unmasked: a message changed under the entry's mask
    (__pci_write_msi_msg() on an unmasked entry, e.g. an affinity change).
    Masked then written (zeroed): free_irq() and the irq's deactivation
    (msi_domain_deactivate() writes an all-zero message).
    """
    out: list[Step] = []
    i = 0
    while i < len(steps):
        three, two = steps[i:i + 3], steps[i:i + 2]
        if _one_entry(three, ["maskbit", "write", "unmaskbit"]):
            out.append(_join(three, "rewrite"))
            i += 3
        elif _one_entry(two, ["write", "unmaskbit"]):
            out.append(_join(two, "startup"))
            i += 2
        elif _one_entry(two, ["maskbit", "write"]):
            out.append(_join(two, "shutdown"))
            i += 2
        else:
            out.append(steps[i])
            i += 1
    return out


def _one_entry(steps: list[Step], kinds: list[str]) -> bool:
    return ([s.kind for s in steps] == kinds
            and len({e for s in steps for e in s.entries}) == 1)


def _join(parts: list[Step], kind: str) -> Step:
    st = Step(parts[0].first, parts[-1].last, kind)
    for p in parts:
        st.entries += p.entries
        st.events += p.events
    return st


def _messages(st: Step) -> list[str]:
    """Each message the step programmed, as the monitor decodes it (its
    'summary'); a record from a QEMU older than that field gets the raw
    address and data."""
    return ["zeroed" if e["address"] == 0 and e["data"] == 0
            else e.get("decoded", {}).get("summary")
            or f"address 0x{e['address']:x} data 0x{e['data']:x}"
            for e in st.events if e["kind"] == "programmed"]


def _render(st: Step) -> str:
    ents = cpulist.format(set(st.entries))
    if st.kind == "reset":
        return "device reset"
    if st.kind == "control":
        c = st.events[0]
        text = f"control {c['old']:#06x} -> {c['new']:#06x}: " \
            + _control_change(c["old"], c["new"])
        masks = [e for e in st.events[1:]]
        if masks:
            text += f" ({len(masks)} entries {masks[0]['kind']}ed)"
        return text
    if st.kind == "write":
        msgs = _messages(st)
        n = len(set(st.entries))
        what = f"table entr{'y' if n == 1 else 'ies'} {ents} written"
        if len(set(msgs)) == 1:
            return f"{what}: {msgs[0]}" + \
                (f" (all {len(msgs)})" if len(msgs) > 1 else "")
        decs = [e["decoded"] for e in st.events if e["kind"] == "programmed"]
        if decs and all(d["format"] == "remappable" for d in decs):
            idx = sorted(d["irte-index"] for d in decs)
            return f"{what}: remappable, IRTE handles {idx[0]:#x}-" \
                f"{idx[-1]:#x}"
        return f"{what}: {len(msgs)} messages"
    if st.kind == "maskbit":
        return f"{_entries(st)} masked (vector control bit 0 set)"
    if st.kind == "unmaskbit":
        return f"{_entries(st)} unmasked (vector control bit 0 cleared)"
    if st.kind in ("startup", "rewrite", "shutdown"):
        msgs = _messages(st)
        msg = msgs[-1] if msgs else "no message"
        verb = {"startup": "written, unmasked",
                "rewrite": "masked, rewritten, unmasked",
                "shutdown": "masked, then message"}[st.kind]
        return f"entry {ents} {verb}: {msg}"
    if st.kind == "traffic":
        counts: dict[str, dict[int, int]] = {}
        for e in st.events:
            c = counts.setdefault(e["kind"], {})
            c[e["vector"]] = c.get(e["vector"], 0) + 1
        parts = []
        for kind, per in counts.items():
            total = sum(per.values())
            noun = {"message": "messages", "held": "notifies held",
                    "dropped": "notifies dropped"}.get(kind, kind)
            parts.append(f"{total} {noun} on entr"
                         f"{'y' if len(per) == 1 else 'ies'} "
                         f"{cpulist.format(per)}")
        return ", ".join(parts)
    if st.kind in ("mask", "unmask"):
        return f"{_entries(st)} {st.kind}ed"
    return f"{st.kind} {ents}"


def _entries(st: Step) -> str:
    n = len(set(st.entries))
    return f"entr{'y' if n == 1 else 'ies'} {cpulist.format(set(st.entries))}"


def _control_change(old: int, new: int) -> str:
    out = []
    for bit, name in ((MSIX_ENABLE, "ENABLE"), (MSIX_MASKALL, "MASKALL")):
        if not old & bit and new & bit:
            out.append(f"{name} set")
        elif old & bit and not new & bit:
            out.append(f"{name} cleared")
    return ", ".join(out) or "no change"


def check_order(events: list[dict], steps: list[Step], vectors: int,
                table_size: int, remappable: bool,
                xen: bool = False) -> list[Check]:
    """
    msix_capability_init()'s order on the last allocation: @vectors
    entries in use (the guest's msi_irqs), @table_size entries in the
    table.  Notes each step it recognises.  A Xen HVM guest (@xen) skips
    step 4: Xen's MSI domain sets pci_msi_ignore_mask
    (arch/x86/pci/xen.c), so msix_capability_init() leaves the entries'
    mask bits alone; and it does not unmask them at request_irq(): Xen
    does (xen.py checks it).
    """
    g = "sequence"
    ev = [e for e in events if e["capability"] == "msix"]
    enable = [e for e in ev if e["kind"] == "control"
              and not e["old"] & MSIX_ENABLE and e["new"] & MSIX_ENABLE]
    if not enable:
        return [Check(g, "MSI-X enabled in the log", False,
                      "no control write turned ENABLE on")]
    s = enable[-1]
    checks = [Check(g, "1. ENABLE and MASKALL set in one control write",
                    bool(s["new"] & MSIX_MASKALL),
                    f"#{s['seq']} control {s['old']:#06x} -> {s['new']:#06x}")]
    after = [e for e in ev if e["seq"] > s["seq"]]
    clear = next((e for e in after if e["kind"] == "control"
                  and e["old"] & MSIX_MASKALL
                  and not e["new"] & MSIX_MASKALL), None)
    if clear is None:
        return checks + [Check(g, "5. MASKALL cleared", False,
                               "no control write cleared MASKALL")]
    m = clear["seq"]
    inside = [e for e in after if e["seq"] < m]
    used = set(range(vectors))
    programmed = {e["vector"]: e for e in inside if e["kind"] == "programmed"}
    vc = [e for e in inside if e["kind"] == "table-write"
          and e.get("dword") == DWORD_VECTOR_CONTROL]
    masked_all = {e["vector"] for e in vc if e["new"] & ENTRY_MASKBIT}
    first_vc = min((e["seq"] for e in vc), default=m)
    last_write = max((e["seq"] for e in inside if e["kind"] in
                      ("table-write", "programmed")
                      and e.get("dword") != DWORD_VECTOR_CONTROL),
                     default=s["seq"])
    checks.append(Check(
        g, f"3. messages of entries {cpulist.format(used)} written "
        "under MASKALL", used <= set(programmed),
        f"programmed: {cpulist.format(set(programmed))}"))
    if xen:
        checks.append(Check(
            g, "4. no msix_mask_all(): Xen's pci_msi_ignore_mask",
            not vc, f"{len(vc)} vector control writes under MASKALL"))
    else:
        checks.append(Check(
            g, f"4. all {table_size} entries masked after the messages",
            masked_all >= set(range(table_size)) and first_vc > last_write,
            f"mask bit set on {cpulist.format(masked_all)}; last message "
            f"write #{last_write}, first vector control write #{first_vc}"))
    checks.append(Check(
        g, "5. MASKALL cleared, ENABLE kept",
        bool(clear["new"] & MSIX_ENABLE),
        f"#{m} control {clear['old']:#06x} -> {clear['new']:#06x}"))
    sent_early = [e for e in inside if e["kind"] == "message"]
    checks.append(Check(g, "no message before MASKALL cleared",
                        not sent_early,
                        f"{len(sent_early)} messages in #{s['seq']}-#{m}"))
    # request_irq(): each used entry unmasked after step 5, its message
    # written first (compat format; with interrupt remapping the entry keeps
    # its IRTE handle and only the IRTE changes).
    if xen:
        for i, en in enumerate(enable):
            clr = next((e for e in ev if e["kind"] == "control"
                        and e["seq"] > en["seq"] and e["old"] & MSIX_MASKALL
                        and not e["new"] & MSIX_MASKALL), None)
            stop = enable[i + 1]["seq"] if i + 1 < len(enable) else None
            _annotate(steps, en["seq"], clr["seq"] if clr else None, stop,
                      "" if en is s else "earlier allocation: ", xen=True)
        return checks
    late = [e for e in ev if e["seq"] > m]
    unmask = {}
    for e in late:
        if (e["kind"] == "table-write" and e.get("dword") ==
                DWORD_VECTOR_CONTROL and not e["new"] & ENTRY_MASKBIT):
            unmask.setdefault(e["vector"], e["seq"])
    checks.append(Check(
        g, f"request_irq: entries {cpulist.format(used)} unmasked after "
        "MASKALL cleared", used <= set(unmask),
        f"unmasked: {cpulist.format(set(unmask))}"))
    if not remappable:
        rewritten = {e["vector"] for e in late if e["kind"] == "programmed"
                     and e["vector"] in unmask
                     and e["seq"] < unmask[e["vector"]]}
        checks.append(Check(
            g, "request_irq: each message written before its unmask",
            used <= rewritten,
            f"written then unmasked: {cpulist.format(rewritten)}"))

    # Name the steps of every allocation, the checked one and any before.
    for i, en in enumerate(enable):
        stop = enable[i + 1]["seq"] if i + 1 < len(enable) else None
        clr = next((e for e in ev if e["kind"] == "control"
                    and e["seq"] > en["seq"] and e["old"] & MSIX_MASKALL
                    and not e["new"] & MSIX_MASKALL), None)
        _annotate(steps, en["seq"], clr["seq"] if clr else None, stop,
                  "" if en is s else "earlier allocation: ")
    return checks


def _annotate(steps: list[Step], enable: int, clear: int | None,
              stop: int | None, prefix: str, xen: bool = False):
    for st in steps:
        if st.first < enable or (stop is not None and st.first >= stop):
            continue
        if st.first == enable:
            note = "msix_capability_init 1: ENABLE|MASKALL"
        elif clear is not None and st.last < clear and st.kind == "write":
            note = "3: xen_hvm_setup_msi_irqs: a pirq each, written" if xen \
                else "3: msix_setup_interrupts, early activation"
        elif xen and clear is not None and st.first > clear and \
                st.kind == "unmask":
            note = "request_irq: EVTCHNOP_bind_pirq, Xen unmasks"
        elif clear is not None and st.last < clear and st.kind == "maskbit":
            note = "4: msix_mask_all"
        elif st.first == clear:
            note = "5: MASKALL cleared"
        elif clear is not None and st.first > clear and \
                st.kind in ("startup", "unmaskbit"):
            note = "request_irq: irq_startup"
        else:
            note = _teardown_note(st, clear)
            if not note:
                continue
        st.note = prefix + note


def note_device_domain(steps: list[Step], domain: str):
    """6.2 and later: before msix_capability_init(), __pci_enable_msix_range()
    made the device its own MSI domain (pci_setup_msix_device_domain() ->
    msi_create_device_irq_domain()), @domain as the guest's chains name
    it.  It writes nothing to the device, so the note goes on the first
    step it precedes: the last allocation's ENABLE|MASKALL."""
    first = [st for st in steps
             if st.note.endswith("msix_capability_init 1: ENABLE|MASKALL")]
    if first:
        first[-1].note = (f"pci_setup_msix_device_domain: {domain}; "
                          + first[-1].note)


def annotate_teardown(steps: list[Step]):
    """The steps after the driver let go (unbind)."""
    for st in steps:
        st.note = _teardown_note(st, -1) or st.note


def _teardown_note(st: Step, clear: int | None) -> str:
    if st.kind == "shutdown" and _messages(st)[-1:] == ["zeroed"]:
        return "free_irq: irq_shutdown_and_deactivate"
    if st.kind == "maskbit" and clear is not None and st.first > clear:
        return "pci_free_irq_vectors: pci_msix_shutdown masks"
    if (st.kind == "control" and st.events[0]["old"] & MSIX_ENABLE
            and not st.events[0]["new"] & MSIX_ENABLE):
        return "pci_msix_shutdown: MSI-X disabled"
    return ""
