# SPDX-License-Identifier: GPL-2.0-or-later
"""
`irqlab run --storm`: msix-testdev raises every vector again as soon as
the guest's handler acknowledged the last message, while guest workers
mask and unmask entries, toggle the function mask, move vector 0 and
take CPUs offline and online (guest/init, run_storm); with --migrate N
the machine moves to a new QEMU N times in the middle of it.

Three observers count each vector's messages, and their counts must
close exactly (docs/guest.rst, "Interrupt storm"):

- the device (msix-testdev's STORM_RAISED, STORM_ACKED, through the
  driver's storm_counts): messages raised, and acknowledged by the
  handler;
- QEMU's MSI core (x-query-msix): messages sent, notifies dropped, and
  the pending bit at the end.  Its counters describe one QEMU process,
  so across migrations the storm's count is the sum, over the processes,
  of what each counted (the first from its count at "loaded");
- Linux: the handler's calls (storm_counts "interrupts"), and
  /proc/interrupts.

raised = sent + pending + dropped (the MSI core lost or doubled none);
sent = handler calls = /proc/interrupts (no message lost or doubled
between QEMU and the handler; one message in flight per vector, so no
two merge in the local APIC's IRR); acked = raised (nothing left in
flight: no message held with nobody to take it).
"""

from dataclasses import dataclass

from .guest import ReportError, parse_interrupts
from .verdict import Check

COUNTS = "storm_counts"
WORKERS = ("hotplug", "mask-a", "mask-b", "maskall", "affinity")
MOVED_VECTOR = 0        # the affinity worker's: the driver's admin vector


@dataclass
class StormVector:
    """One vector: the device's, the guest's and the MSI core's counts."""
    index: int
    irq: int
    raised: int         # msix-testdev STORM_RAISED
    acked: int          # msix-testdev STORM_ACKED
    interrupts: int     # the handler's calls since "start"
    spurious: int       # ...that took no message (STORM_TAKE read 0)
    replays: int        # ...that handle_edge_irq() made again, uncounted
    outside: int        # ...on a CPU outside the effective affinity
    outside_cpu: int    # the first such CPU, -1: none
    masks: int          # "mask V" commands done on it
    skipped: int        # ...skipped: Linux had shut it down (CPU offline)
    pauses: int         # STORM_PAUSE: the driver quiesced it, its CPUs
                        # going offline
    sent: int = 0       # MSI core, summed over the QEMU processes
    held: int = 0
    dropped: int = 0
    pending: bool = False   # the PBA bit at the end
    counted: int | None = None  # /proc/interrupts, storm minus loaded


@dataclass
class Storm:
    vectors: list[StormVector]
    maskalls: int
    workers: dict           # name -> (rounds, failures); absent: None
    seconds: float | None   # the storm's length, guest /proc/uptime
    migrations: list        # machine.run's record of each cut


def _file(report: dict, name: str) -> str | None:
    return next((v for k, v in report.items() if k.endswith("/" + name)),
                None)


def parse_counts(text: str) -> tuple[list[StormVector], int]:
    """The driver's storm_counts (guest/driver: storm_counts_show())."""
    rows, maskalls = [], None
    for line in text.splitlines()[1:]:
        f = line.split()
        if f and f[0] == "maskall":
            maskalls = int(f[1])
        elif len(f) == 12:
            rows.append(StormVector(*(int(x) for x in f)))
        elif f:
            raise ReportError(f"{COUNTS}: cannot read {line!r}")
    if maskalls is None:
        raise ReportError(f"{COUNTS}: no maskall line")
    return rows, maskalls


def _msix_vectors(answer) -> dict[int, dict]:
    cap = next((c for c in answer or [] if c["capability"] == "msix"), None)
    return {v["index"]: v for v in cap["vectors"]} if cap else {}


def build(run: dict) -> Storm:
    """The storm's counts from a run's record; ReportError if it lacks
    them."""
    report = run.get("reports", {}).get("storm")
    if report is None:
        raise ReportError("no report 'storm'")
    text = _file(report, COUNTS)
    if text is None:
        raise ReportError(f"no {COUNTS} in report 'storm'")
    vectors, maskalls = parse_counts(text)

    # The MSI core: each process's counts, the first from "loaded" on.
    qmp = run.get("qmp", {})
    phases = [f"storm-cut-{k}" for k in range(1, run.get("cuts", 0) + 1)]
    phases.append("storm")
    missing = [p for p in ["loaded"] + phases if p not in qmp]
    if missing:
        raise ReportError(f"no QMP answer at {', '.join(missing)}")
    base = _msix_vectors(qmp["loaded"]["x-query-msix"])
    for i, phase in enumerate(phases):
        now = _msix_vectors(qmp[phase]["x-query-msix"])
        for v in vectors:
            e, b = now.get(v.index, {}), base.get(v.index, {}) if i == 0 \
                else {}
            v.sent += e.get("sent", 0) - b.get("sent", 0)
            v.held += e.get("held", 0) - b.get("held", 0)
            v.dropped += sum(e.get(k, 0) - b.get(k, 0)
                             for k in ("dropped", "dropped-bus-master"))
            v.pending = bool(e.get("pending"))

    # Linux's /proc/interrupts, the storm's share.
    _, before = parse_interrupts(
        run["reports"].get("loaded", {}).get("/proc/interrupts") or "")
    _, after = parse_interrupts(report.get("/proc/interrupts") or "")
    for v in vectors:
        if v.irq in before and v.irq in after:
            v.counted = sum(after[v.irq].counts) - sum(before[v.irq].counts)

    workers = {}
    for name in WORKERS:
        f = (report.get(f"/tmp/storm-{name}") or "").split()
        workers[name] = (int(f[1]), int(f[2])) if len(f) == 3 else None
    up = [(report.get(p) or "").split() for p in
          ("/tmp/storm-uptime-start", "/proc/uptime")]
    seconds = float(up[1][0]) - float(up[0][0]) if all(up) else None
    return Storm(vectors, maskalls, workers, seconds,
                 run.get("migrations", []))


def _which(bad: list[str]) -> str:
    return "; ".join(bad[:8]) + (f"; and {len(bad) - 8} more"
                                 if len(bad) > 8 else "")


def checks(s: Storm) -> list[Check]:
    out = []

    def per_vector(name, ok, what):
        bad = [f"vector {v.index}: {what(v)}" for v in s.vectors
               if not ok(v)]
        out.append(Check("storm", name, not bad, _which(bad) if bad else
                         f"{len(s.vectors)} vectors"))

    per_vector("every raise was sent, is pending, or was dropped "
               "(raised = sent + pending + dropped)",
               lambda v: v.raised == v.sent + v.pending + v.dropped,
               lambda v: f"raised {v.raised}, sent {v.sent}, pending "
               f"{int(v.pending)}, dropped {v.dropped}")
    per_vector("every message sent was taken by its handler once "
               "(sent = handler calls - spurious)",
               lambda v: v.sent == v.interrupts - v.spurious,
               lambda v: f"sent {v.sent}, handler {v.interrupts}, "
               f"spurious {v.spurious}")
    per_vector("/proc/interrupts counted each handler call but "
               "handle_edge_irq()'s replays",
               lambda v: v.counted == v.interrupts - v.replays,
               lambda v: f"/proc/interrupts {v.counted}, handler "
               f"{v.interrupts}, replays {v.replays}")
    per_vector("nothing left in flight or pending at the end "
               "(acked = raised, PBA clear)",
               lambda v: v.acked == v.raised and not v.pending,
               lambda v: f"raised {v.raised}, acked {v.acked}, pending "
               f"{int(v.pending)}")
    per_vector("every handler ran on a CPU of the vector's effective "
               "affinity",
               lambda v: v.outside == 0,
               lambda v: f"{v.outside} outside, first on CPU "
               f"{v.outside_cpu}")

    # Spurious calls have one cause here: msi_set_affinity() retriggers a
    # vector it moves when the vector number it takes is in the old CPU's
    # IRR, which another irq's message may have set.  A retrigger landing
    # on the new CPU while the old one still runs the handler is replayed
    # there by handle_edge_irq(), uncounted.  Only the vector the affinity
    # worker moves (the unmanaged one) moves that way.
    moves = (s.workers.get("affinity") or (0, 0))[0]
    per_vector("spurious handler calls and replays only on the vector "
               "moved through smp_affinity (msi_set_affinity()'s "
               "retrigger), at most one each a move",
               lambda v: (v.spurious == 0 and v.replays == 0) or (
                   v.index == MOVED_VECTOR and v.spurious <= moves and
                   v.replays <= moves),
               lambda v: f"{v.spurious} spurious, {v.replays} replays, "
               f"{moves} moves of vector {MOVED_VECTOR}")

    # The storm must have been one: else the checks above prove nothing.
    stormy = [v for v in s.vectors if v.raised > 1]
    out.append(Check("storm", "every vector stormed (raised more than "
                     "once)", len(stormy) == len(s.vectors) > 0,
                     f"{len(stormy)} of {len(s.vectors)}"))
    held = sum(v.held for v in s.vectors)
    out.append(Check("storm", "masks held messages that were sent later",
                     held > 0, f"{held} held"))
    done = {k: w for k, w in s.workers.items() if w}
    failed = [f"{k} {w[1]} of {w[0]}" for k, w in done.items() if w[1]]
    out.append(Check("storm", "every worker ran and none failed",
                     len(done) == len(WORKERS) and
                     all(w[0] > 0 for w in done.values()) and not failed,
                     ", ".join(f"{k} {w[0]} rounds" if w else f"{k} none"
                               for k, w in s.workers.items()) +
                     (f"; failed: {', '.join(failed)}" if failed else "")))
    for m in s.migrations:
        out.append(Check("storm", f"migration at {m['phase']} completed",
                         m.get("status") == "completed",
                         f"{m.get('status')}, {m.get('seconds', 0):.2f} s"))
    return out


def figures(s: Storm) -> str:
    raised = sum(v.raised for v in s.vectors)
    rate = f", {raised / s.seconds:.0f} messages/s" if s.seconds else ""
    return (f"{raised} messages on {len(s.vectors)} vectors in "
            f"{s.seconds or 0:.1f} s of guest time{rate}; "
            f"{sum(v.held for v in s.vectors)} held by masks, "
            f"{sum(v.spurious for v in s.vectors)} spurious handler calls "
            f"({sum(v.replays for v in s.vectors)} replayed), "
            f"{sum(v.masks for v in s.vectors)} entry masks "
            f"({sum(v.skipped for v in s.vectors)} skipped: vector shut "
            f"down), {s.maskalls} function masks, "
            f"{sum(v.pauses for v in s.vectors)} pauses for CPU offline, "
            f"{len(s.migrations)} migration(s)")


def render(w, s: Storm):
    """The storm's table: one row per vector."""
    w("")
    w("Interrupt storm (device: STORM_RAISED/ACKED; MSI core: x-query-msix "
      "summed over the QEMU processes; guest: handler, /proc/interrupts)")
    head = ("vec", "irq", "raised", "sent", "held", "pend", "dropped",
            "acked", "handler", "spur", "replay", "/proc", "outside",
            "masks", "pauses")
    rows = [head] + [
        (str(v.index), str(v.irq), str(v.raised), str(v.sent), str(v.held),
         str(int(v.pending)), str(v.dropped), str(v.acked),
         str(v.interrupts), str(v.spurious), str(v.replays),
         "-" if v.counted is None else str(v.counted),
         str(v.outside), f"{v.masks}/{v.skipped}", str(v.pauses))
        for v in s.vectors]
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    for r in rows:
        w("  " + "  ".join(x.rjust(n) for x, n in zip(r, widths)))
    w("  " + figures(s))
    for m in s.migrations:
        w(f"  migration at {m['phase']}: {m.get('status')}, "
          f"{m.get('seconds', 0):.2f} s, {m.get('bytes', 0) >> 20} MiB")
