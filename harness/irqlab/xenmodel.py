# SPDX-License-Identifier: GPL-2.0-or-later
"""
The model against the real thing: what `-device xen-physirq` writes into
the MSI-X table for the dom0 flow of a --dom0 run, beside what Debian's
Xen 4.17 wrote in that run, aspect by aspect.

The model's side is a replay under qtest (xen-pirq-test's
/xen/pirq/dom0-replay, tests/qtest/xen-pirq-test.c): Linux 6.1's PV dom0
calls for one MSI-X allocation -- PHYSDEVOP_map_pirq of each entry,
EVTCHNOP_bind_pirq, EVTCHNOP_bind_vcpu to the vCPU dom0 moved each irq
to, the device's messages, EVTCHNOP_close, PHYSDEVOP_unmap_pirq -- with
the run's own figures: the entries, each port's final vCPU, the messages
per entry.  Both sides are then device event logs (x-query-msix-log), cut
at the same two moments (the "loaded" and "unloaded" syncs) and read the
same way.

Each entry's history is written in steps: "mask" / "unmask" (a vector
control write with the mask bit set / clear, or the model setting it),
"write" (a message written, once its data dword completes it), and the
message's destination and vector where they matter.  The aspects:

  message-format  delivery mode, destination mode, redirection hint,
                  trigger and level of every message written
  enable          the MSI-X control transitions while mapping
  map-order       each entry's steps while mapping (PHYSDEVOP_map_pirq)
  map-cpu         the destination APIC ID each entry is first given
  first-vector    the vector the first entry is given
  map-vector      the vector each entry is first given, from the first
                  entry's (the allocator's steps, whatever vectors the
                  hypervisor handed out before)
  bind            each entry's steps up to its unmask (EVTCHNOP_bind_pirq)
  retarget        each entry's steps once bound, with each new message's
                  destination and vector, from the first entry's (Xen's
                  move_native_irq() -> set_msi_affinity())
  teardown        everything after the syncs' second moment, in order

docs/xen-model.rst lists the differences kept on purpose, each under its
aspect's name; an aspect that differs without being listed there fails.
"""

import os
import re
import subprocess
import tempfile
from dataclasses import dataclass

from .host import MSIX_ENABLE, MSIX_MASKALL
from .verdict import Check

GROUP = "model"
ASPECTS = ("message-format", "enable", "map-order", "map-cpu",
           "first-vector", "map-vector", "bind", "retarget", "teardown")
REPLAY_TEST = "/x86_64/xen/pirq/dom0-replay"
TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
DOC = os.path.join(TOP, "docs", "xen-model.rst")
DOC_SECTION = "Against Xen 4.17"


# ---------------------------------------------------------------- replay

def plan(rows, unloaded: list[dict], apic_cpus: dict) -> str:
    """The replay's plan (a GKeyFile) from a --dom0 run's rows
    (dom0.Dom0Row): entries 0..n-1, each port's vCPU, messages sent, and
    the order in which the driver closed them (each entry's first mask in
    @unloaded, the run's events after the "loaded" sync, that is not the
    start of a move); @apic_cpus: CPU index by APIC ID."""
    rows = sorted(rows, key=lambda r: r.entry)
    order = []
    st = steps(unloaded)
    for i, s in enumerate(st):
        if s.entry is None:
            break                       # dom0 clears ENABLE after closing
        moving = any(t.entry == s.entry and t.what == "write"
                     for t in st[i + 1:i + 2])  # a move: masked, rewritten
        if s.what == "mask" and not moving and s.entry not in order:
            order.append(s.entry)
    text = ("[dom0]\n"
            f"vcpus={';'.join(str(r.port_vcpu or 0) for r in rows)}\n"
            f"messages={';'.join(str(r.sent or 0) for r in rows)}\n")
    if sorted(order) == [r.entry for r in rows]:
        text += f"close={';'.join(str(e) for e in order)}\n"
    # While the driver unloads: messages before the ports close, and the
    # moves they trigger (a port moved earlier, its irq moved by Xen at
    # the next interrupt: masked, rewritten, unmasked)
    end = next((i for i, x in enumerate(unloaded) if x["kind"] == "control"),
               len(unloaded))
    late = {r.entry: 0 for r in rows}
    for e in unloaded[:end]:
        if e["kind"] == "message" and e.get("vector") in late:
            late[e["vector"]] += 1
    moved = {r.entry: -1 for r in rows}
    for i, x in enumerate(st[:-1]):
        if (x.what == "mask" and st[i + 1].what == "write" and
                x.entry == st[i + 1].entry and x.entry in moved):
            moved[x.entry] = apic_cpus.get(st[i + 1].dest, -1)
    text += (f"unload_vcpus={';'.join(str(moved[e]) for e in late)}\n"
             f"unload_messages={';'.join(str(late[e]) for e in late)}\n")
    return text


def replay(qemu: str, smp: int, rows, unloaded: list[dict],
           apic_cpus: dict) -> dict:
    """Run the replay; {"loaded": log, "unloaded": log}, or {"error"}."""
    test = os.path.join(os.path.dirname(qemu), "tests", "qtest",
                        "xen-pirq-test")
    with tempfile.TemporaryDirectory(prefix="irqlab-replay-") as tmp:
        plan_file = os.path.join(tmp, "plan.ini")
        log_file = os.path.join(tmp, "log.json")
        with open(plan_file, "w") as f:
            f.write(plan(rows, unloaded, apic_cpus).replace("[dom0]\n",
                                                 f"[dom0]\nsmp={smp}\n"))
        env = dict(os.environ, QTEST_QEMU_BINARY=qemu,
                   XEN_PIRQ_REPLAY_PLAN=plan_file,
                   XEN_PIRQ_REPLAY_LOG=log_file)
        try:
            p = subprocess.run([test, "-p", REPLAY_TEST], env=env,
                               capture_output=True, text=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as e:
            return {"error": f"{test}: {e}"}
        if p.returncode != 0 or not os.path.exists(log_file):
            tail = (p.stdout + p.stderr).strip().splitlines()[-3:]
            return {"error": f"{REPLAY_TEST} failed: " + " / ".join(tail)}
        import json
        with open(log_file) as f:
            return json.load(f)


# --------------------------------------------------------------- reading

@dataclass
class Step:
    entry: int | None           # None: a control write
    what: str                   # mask, unmask, write, or the control change
    dest: int | None = None
    vector: int | None = None

    def text(self, base: int | None = None) -> str:
        """In words; with @base, a write's destination and vector, the
        vector from @base."""
        if self.entry is None:
            return self.what
        if self.what == "write" and base is not None:
            return (f"write(dest {self.dest:#x} vector "
                    f"{_from(self.vector, base)})")
        return self.what


def _from(vector: int, base: int) -> str:
    d = vector - base
    return "v0" if d == 0 else f"v0{'+' if d > 0 else '-'}{abs(d):#x}"


def _control(old: int, new: int) -> str:
    def flags(v):
        return "+".join(n for b, n in ((MSIX_ENABLE, "ENABLE"),
                                       (MSIX_MASKALL, "MASKALL"))
                        if v & b) or "0"
    return f"control {flags(old)}->{flags(new)}"


def steps(events: list[dict]) -> list[Step]:
    """The log's MSI-X events as steps.  A mask or unmask event right
    after a vector control write of the same entry is that write."""
    out: list[Step] = []
    last_vc = None                  # the entry of the last vector control
    for e in events:
        if e.get("capability") != "msix":
            continue
        kind = e["kind"]
        if kind == "control":
            out.append(Step(None, _control(e["old"], e["new"])))
        elif kind == "table-write" and e["dword"] == 3:
            out.append(Step(e["vector"], "mask" if e["new"] & 1
                            else "unmask"))
            last_vc = e["vector"]
            continue
        elif kind in ("mask", "unmask"):
            if last_vc != e["vector"]:
                out.append(Step(e["vector"], kind))
        elif kind == "programmed":
            d = e.get("decoded", {}).get("compat") or e.get("decoded", {})
            out.append(Step(e["vector"], "write", d.get("dest-id"),
                            d.get("vector")))
        last_vc = None
    return out


def formats(events: list[dict]) -> set[str]:
    out = set()
    for e in events:
        if e["kind"] == "programmed" and e.get("capability") == "msix":
            d = e.get("decoded", {})
            d = d.get("compat", d)
            out.add(f"{d.get('delivery-mode')} {d.get('dest-mode')} "
                    f"hint={int(bool(d.get('redirection-hint')))} "
                    f"{d.get('trigger-mode')} "
                    f"{'assert' if d.get('level') else 'deassert'}")
    return out


def aspects(loaded: list[dict], unloaded: list[dict]) -> dict[str, str]:
    """Each aspect of one side, in words: @loaded is the allocation's log
    up to the "loaded" sync, @unloaded the events after it."""
    st = steps(loaded)
    first_unmask = next((i for i, s in enumerate(st)
                         if s.what == "unmask"), len(st))
    entries = sorted({s.entry for s in st if s.entry is not None})
    out = {"message-format": ", ".join(sorted(formats(loaded + unloaded)))}
    out["enable"] = ", ".join(s.what for s in st[:first_unmask]
                              if s.entry is None)
    # Each entry's steps: mapped up to its first message write, bound up
    # to its first unmask after that, then what happens to it bound.
    mapped, bind, bound = {}, {}, {}
    for n in entries:
        mine = [s for s in st if s.entry == n]
        w = next((i for i, s in enumerate(mine) if s.what == "write"),
                 len(mine) - 1)
        u = next((i for i, s in enumerate(mine) if i > w and
                  s.what == "unmask"), len(mine) - 1)
        mapped[n], bind[n], bound[n] = mine[:w + 1], mine[w + 1:u + 1], \
            mine[u + 1:]
    out["map-order"] = "; ".join(
        f"{n}: " + " ".join(s.text() for s in mapped[n]) for n in entries)
    out["map-cpu"] = ", ".join(f"{n}: {mapped[n][-1].dest:#x}"
                               for n in entries if mapped[n] and
                               mapped[n][-1].what == "write")
    firsts = [mapped[n][-1].vector for n in entries
              if mapped[n] and mapped[n][-1].what == "write"]
    v0 = firsts[0] if firsts else 0
    out["first-vector"] = f"{v0:#04x}"
    out["map-vector"] = ", ".join(f"{n}: {_from(mapped[n][-1].vector, v0)}"
                                  for n in entries if mapped[n] and
                                  mapped[n][-1].what == "write")
    out["bind"] = "; ".join(
        f"{n}: " + " ".join(s.text() for s in bind[n]) for n in entries)
    out["retarget"] = "; ".join(
        f"{n}: " + (" ".join(s.text(v0) for s in bound[n])
                    or "none") for n in entries)
    out["teardown"] = ", ".join(
        (s.what if s.entry is None else f"{s.text()} {s.entry}")
        for s in steps(unloaded))
    return out


# ------------------------------------------------------------- comparing

@dataclass
class Aspect:
    name: str
    xen: str
    model: str
    documented: bool

    @property
    def same(self) -> bool:
        return self.xen == self.model


def documented_differences(doc: str = DOC) -> set[str]:
    """The aspects docs/xen-model.rst keeps as deliberate differences:
    the ``name`` terms of its "Against Xen 4.17" section."""
    try:
        with open(doc) as f:
            text = f.read()
    except OSError:
        return set()
    lines = text.splitlines()
    at = next((i for i, x in enumerate(lines) if x.startswith(DOC_SECTION)),
              None)
    if at is None:
        return set()
    out = set()
    for i in range(at + 2, len(lines)):
        if i + 1 < len(lines) and re.fullmatch(r"[=-]{3,}", lines[i + 1]):
            break                       # the next section
        m = re.fullmatch(r"``([a-z-]+)``", lines[i])
        if m:
            out.add(m[1])
    return out


def compare(real: dict, model: dict) -> list[Aspect]:
    """@real and @model: {"loaded": events, "unloaded": events}."""
    xen = aspects(real["loaded"], real["unloaded"])
    mod = aspects(model["loaded"], model["unloaded"])
    kept = documented_differences()
    return [Aspect(a, xen[a], mod[a], a in kept) for a in ASPECTS]


def real_events(host, unloaded_log: dict | None) -> dict:
    """The real run's allocation, cut as the replay's: the "loaded" log
    from the last ENABLE on, and the events after it."""
    since = host.last_enable_seq() or 0
    loaded = [e for e in host.events if e["seq"] >= since]
    after = [e for e in (unloaded_log or {}).get("entries", [])
             if e["seq"] >= host.log["next-seq"]]
    return {"loaded": loaded, "unloaded": after}


def checks(compared: list[Aspect] | None, error: str | None) -> list[Check]:
    if compared is None:
        return [Check(GROUP, "the model replayed the dom0 flow", False,
                      error or "no replay")]
    undocumented = [a.name for a in compared
                    if not a.same and not a.documented]
    # A listed aspect may match in one run: whether Xen moves an irq, or
    # rewrites an entry at bind, depends on what dom0 did in that run.
    same_listed = [a.name for a in compared if a.same and a.documented]
    differ = sum(not a.same for a in compared)
    return [Check(
        GROUP, "every difference from Xen 4.17 is listed in "
        "docs/xen-model.rst", not undocumented,
        f"{differ} of {len(compared)} aspects differ"
        + (f"; not listed: {', '.join(undocumented)}" if undocumented
           else "")
        + (f"; listed, the same in this run: {', '.join(same_listed)}"
           if same_listed else ""))]
