# SPDX-License-Identifier: GPL-2.0-or-later
"""
`irqlab run|check --plot FILE`: the run drawn (SVG or PNG, from FILE's
extension), one lane per vector over QEMU's virtual time (the device's
event log's time-ns), with what the text report takes a page to say:

- the function: spans where MSI-X is disabled or MASKALL is set (control
  writes, shaded across every lane, each write a vertical line);
- each vector: its table entry's mask bit (a grey bar while set), its
  message written, its vector control writes, messages sent, notifies
  held while masked (the Pending bit: an orange bar until cleared), the
  held message sent at unmask, a pending bit cleared unsent, drops;
- the phases (probe, request_irq, workload, unbind) from the log's own
  steps (msix_capability_init()'s control writes, request_irq()'s
  unmasks) and the harness's sync points (where each x-query-msix-log
  answer ended);
- on the right, where the handler ran: the irq's /proc/interrupts
  count on each CPU (the guest's report at 'loaded'), and messages sent
  against interrupts counted.

The longest pauses (up to MAX_CUTS, each over GAP_NS) with nothing in
the log (the guest reporting, the harness syncing) are cut to a fixed
width and their length written on them; each stretch between keeps a
linear scale.
"""

import os
from dataclasses import dataclass, field

from .debian import debian_module
from .host import (DWORD_VECTOR_CONTROL, ENTRY_MASKBIT, MSIX_ENABLE,
                   MSIX_MASKALL)

FORMATS = ("svg", "png")
GAP_NS = 20_000_000         # a pause longer than this is cut
MAX_CUTS = 6                # only the longest pauses are cut
CUT = 4.0                   # a cut's width, x units (the axis is ~100)
MIN_SHARE = 0.12            # every stretch at least this share of the time

# What each phase and mark looks like.
PHASE_COLORS = {"probe": "#9467bd", "request_irq": "#2ca02c",
                "workload": "#1f77b4", "unbind": "#ff7f0e"}
C_MESSAGE = "#1f77b4"
C_WRITE = "#7b3294"
C_HELD = "#ff7f0e"
C_DELIVERED = "#2ca02c"
C_LOST = "#d62728"
C_MASKBIT = "#c8c8c8"
C_MASKALL = "#f4c7c3"
C_DISABLED = "#e6e6e6"


class PlotError(Exception):
    """The plot cannot be drawn (no matplotlib, nothing to draw)."""


def plot_format(path: str) -> str:
    """"svg" or "png" from @path's extension; ValueError otherwise."""
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    if ext not in FORMATS:
        raise ValueError(f"{path}: --plot writes .svg or .png, not "
                         f"{'.' + ext if ext else 'a file without extension'}")
    return ext


def pyplot():
    """matplotlib.pyplot with the Agg backend (Debian's
    python3-matplotlib, debian.py)."""
    try:
        matplotlib = debian_module("matplotlib", "python3-matplotlib")
    except ImportError as e:
        raise PlotError(f"--plot needs matplotlib: {e}") from e
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


@dataclass
class Lane:
    entry: int                  # MSI-X table entry
    label: str                  # "vec N", or "entry N" (no vector)
    name: str = ""              # the irq's action, e.g. msix_testdev-q1
    irq: int | None = None
    counts: list | None = None  # /proc/interrupts, per CPU column
    sent: int | None = None     # messages the device sent (report's "sent")
    counted: int | None = None  # interrupts the guest counted
    vector: bool = True         # one of the report's vectors


@dataclass
class Phase:
    name: str
    start: int                  # time-ns
    end: int


@dataclass
class Drawing:
    """What plot() draws, from an Analysis: testable without matplotlib."""
    title: str
    summary: str
    events: list                # the whole device log, msix, by seq
    lanes: list
    phases: list = field(default_factory=list)
    syncs: list = field(default_factory=list)   # (phase, last seq before)
    ncpu: int = 0
    counts_from: str = ""


def vectors(a) -> list[tuple[int, object, object, str]]:
    """The report's vectors: (entry, row, GuestView, its phase) each, the
    row as the report prints it (vectors.Row, xen.XenRow, dom0.Dom0Row;
    --vfio: the last enable that has the entry)."""
    out = {}
    if a.vfio is not None:
        for e in a.vfio.enables:
            for r in e.rows:
                out[r.entry] = (r.entry, r, e.guest, e.phase)
    for r in a.rows or a.xen_rows or a.dom0_rows:
        out[r.entry] = (r.entry, r, a.guest, "loaded")
    return [out[k] for k in sorted(out)]


def log_events(run: dict) -> list[dict]:
    """Every MSI-X event the device logged, over all the x-query-msix-log
    answers of the run (each holds the ring as it was then), by seq."""
    by_seq = {}
    for answer in (run.get("qmp") or {}).values():
        for e in ((answer or {}).get("x-query-msix-log") or {}).get(
                "entries", []):
            if e.get("capability") == "msix":
                by_seq[e["seq"]] = e
    return [by_seq[s] for s in sorted(by_seq)]


def sync_points(run: dict) -> list[tuple[str, int]]:
    """(phase, its log's next-seq) per x-query-msix-log answer, in run
    order: the guest reported phase, then the harness queried."""
    out = []
    for phase, answer in (run.get("qmp") or {}).items():
        log = (answer or {}).get("x-query-msix-log")
        if log is not None:
            out.append((phase, log["next-seq"]))
    return sorted(out, key=lambda x: x[1])


def _is_unmaskbit(e) -> bool:
    return (e["kind"] == "table-write" and e.get("dword") ==
            DWORD_VECTOR_CONTROL and not e["new"] & ENTRY_MASKBIT)


def phases(events: list[dict], syncs: list[tuple[str, int]]) -> list[Phase]:
    """
    Per allocation (a control write that set ENABLE): probe, from it to
    the write that cleared MASKALL (msix_capability_init()); request_irq,
    to the last entry unmasked before the next sync point (irq_startup());
    workload, to that sync point's last event; unbind, from the first
    event after it to the write that cleared ENABLE (free_irq(),
    pci_free_irq_vectors()).  Derived from the log alone.
    """
    out = []
    enables = [i for i, e in enumerate(events) if e["kind"] == "control"
               and not e["old"] & MSIX_ENABLE and e["new"] & MSIX_ENABLE]
    bounds = [s for _, s in syncs]
    for n, i in enumerate(enables):
        suffix = f" {n + 1}" if len(enables) > 1 else ""
        stop = enables[n + 1] if n + 1 < len(enables) else len(events)
        alloc = events[i:stop]
        start = alloc[0]
        clear = next((e for e in alloc if e["kind"] == "control"
                      and e["old"] & MSIX_MASKALL
                      and not e["new"] & MSIX_MASKALL), None)
        if clear is None:
            out.append(Phase("probe" + suffix, start["time-ns"],
                             alloc[-1]["time-ns"]))
            continue
        out.append(Phase("probe" + suffix, start["time-ns"],
                         clear["time-ns"]))
        sync = next((b for b in bounds if b > clear["seq"]), None)
        held = [e for e in alloc if e["seq"] > clear["seq"]
                and (sync is None or e["seq"] < sync)]
        unmasks = [e for e in held if _is_unmaskbit(e)]
        req_end = unmasks[-1] if unmasks else clear
        if unmasks:
            out.append(Phase("request_irq" + suffix, clear["time-ns"],
                             req_end["time-ns"]))
        work = [e for e in held if e["seq"] > req_end["seq"]]
        if work:
            out.append(Phase("workload" + suffix, req_end["time-ns"],
                             work[-1]["time-ns"]))
        if sync is None:
            continue
        disable = next((e for e in alloc if e["seq"] >= sync
                        and e["kind"] == "control"
                        and e["old"] & MSIX_ENABLE
                        and not e["new"] & MSIX_ENABLE), None)
        after = [e for e in alloc if e["seq"] >= sync
                 and (disable is None or e["seq"] <= disable["seq"])]
        if after:
            out.append(Phase("unbind" + suffix, after[0]["time-ns"],
                             after[-1]["time-ns"]))
    return out


def drawing(a) -> Drawing:
    """The plot's content from an analysis.Analysis; PlotError when the
    run has no device log to draw."""
    run = a.run
    events = [e for e in log_events(run)
              if not (e["kind"] == "reset" and e["time-ns"] == 0)]
    if not events:
        raise PlotError("nothing to draw: the run has no device event log "
                        "(x-query-msix-log)")
    lanes = []
    counts_from = ""
    at = set()
    for entry, r, g, phase in vectors(a):
        irq = getattr(r, "irq", None)
        line = g.interrupts.get(irq) if g is not None and irq is not None \
            else None
        counted = getattr(r, "count", getattr(r, "counted", None))
        lanes.append(Lane(entry, f"vec {entry}", getattr(r, "name", ""),
                          irq, list(line.counts) if line else None,
                          getattr(r, "sent", None), counted))
        if line:
            at.add(phase)
    if at:
        counts_from = "/proc/interrupts at " + ", ".join(
            f"'{p}'" for p in sorted(at))
    used = {ln.entry for ln in lanes}
    traffic = sorted({e["vector"] for e in events if "vector" in e
                      and e["vector"] not in used
                      and e["kind"] in ("message", "held", "pending-set",
                                        "dropped", "dropped-bus-master")})
    lanes += [Lane(n, f"entry {n}", "no vector", vector=False)
              for n in traffic]
    ncpu = max([len(ln.counts) for ln in lanes if ln.counts] or [0])
    syncs = sync_points(run)
    return Drawing(_title(a), _summary(a, events, lanes), events, lanes, phases(events, syncs), syncs,
                   ncpu, counts_from)


def _title(a) -> str:
    run = a.run
    how = [run.get("scenario", "?"), f"-smp {run.get('smp', '?')}"]
    if run.get("vfio"):
        how.append("vfio-pci" + ("" if run.get("iommu") else
                                 " (intremap off)"))
    elif run.get("iommu"):
        how.append("intel-iommu intremap")
    if run.get("xen"):
        how.append("Xen HVM")
    if run.get("dom0"):
        how.append("Xen dom0")
    verdict = "PASS" if a.ok else "FAIL"
    return (f"irqlab {', '.join(how)}: {verdict}  (kernel "
            f"{run.get('kernel', '?')}, QEMU {run.get('qemu-version', '?')}, "
            f"-accel {run.get('accel', '?')})")


def _summary(a, events, lanes) -> str:
    """One line: what the lanes hold, and the checks' outcome."""
    kinds = {}
    for e in events:
        kinds[e["kind"]] = kinds.get(e["kind"], 0) + 1
    nvec = sum(ln.vector for ln in lanes)
    table = (a.host.table_size if a.host is not None else None)
    parts = [f"{nvec} vectors" + (f" of {table} table entries" if table
                                  else ""),
             f"{len(events)} device log events",
             f"{kinds.get('message', 0)} messages sent"]
    for kind, noun in (("held", "held while masked"),
                       ("dropped", "dropped"),
                       ("dropped-bus-master", "dropped (bus master off)")):
        if kinds.get(kind):
            parts.append(f"{kinds[kind]} {noun}")
    extra = [ln.label for ln in lanes if not ln.vector]
    if extra:
        parts.append(f"{', '.join(extra)}: not a vector, drawn for its "
                     "traffic")
    nfail = sum(not c.ok for c in a.checks)
    parts.append(f"checks: {len(a.checks) - nfail} passed, {nfail} failed"
                 + (f", {len(a.skipped)} skipped" if a.skipped else ""))
    return "; ".join(parts)


class TimeAxis:
    """Virtual time to x, pauses longer than GAP_NS cut to CUT wide."""

    def __init__(self, times: list[int], width: float = 100.0):
        times = sorted(set(times))
        self.t0 = times[0]
        gaps = sorted((b - a for a, b in zip(times, times[1:])
                       if b - a > GAP_NS), reverse=True)[:MAX_CUTS]
        cut = gaps[-1] if gaps else None
        runs = [[times[0], times[0]]]
        for t in times[1:]:
            if cut is not None and t - runs[-1][1] >= cut:
                runs.append([t, t])
            else:
                runs[-1][1] = t
        total = sum(b - a for a, b in runs) or 1
        shares = [max(b - a, MIN_SHARE * total) for a, b in runs]
        room = width - CUT * (len(runs) - 1)
        scale = room / sum(shares)
        self.stretches = []         # (t_start, t_end, x_start, x_end)
        x = 0.0
        for (a, b), s in zip(runs, shares):
            w = s * scale
            pad = (w - (b - a) * w / s) / 2     # centre a short stretch
            self.stretches.append((a, b, x + pad, x + w - pad))
            x += w + CUT
        self.width = width
        self.cuts = [(self.stretches[i][1], self.stretches[i + 1][0],
                      self.stretches[i][3], self.stretches[i + 1][2])
                     for i in range(len(self.stretches) - 1)]

    def x(self, t: int) -> float:
        prev = None
        for a, b, xa, xb in self.stretches:
            if t < a:           # inside the cut before this stretch
                if prev is None:
                    return xa
                pb, pxb = prev
                return pxb + (t - pb) * (xa - pxb) / (a - pb)
            if t <= b:
                return xa if b == a else xa + (t - a) * (xb - xa) / (b - a)
            prev = (b, xb)
        return self.stretches[-1][3]


def _mask_spans(events, entry):
    """(t_start, t_end or None) while @entry's own mask bit is set; reset
    sets it (PCI 3.0, 6.8.2.9)."""
    spans, since = [], events[0]["time-ns"]
    for e in events:
        if e["kind"] == "reset":
            since = e["time-ns"] if since is None else since
        elif (e["kind"] == "table-write" and e.get("vector") == entry
              and e.get("dword") == DWORD_VECTOR_CONTROL):
            masked = bool(e["new"] & ENTRY_MASKBIT)
            if masked and since is None:
                since = e["time-ns"]
            elif not masked and since is not None:
                spans.append((since, e["time-ns"]))
                since = None
    if since is not None:
        spans.append((since, None))
    return spans


def _control_spans(events):
    """(t_start, t_end or None, what) while MSI-X is disabled or MASKALL
    set; the control word is 0 before the first write (reset)."""
    spans, since = [], {}
    since["disabled"] = events[0]["time-ns"]
    for e in events:
        if e["kind"] == "reset":
            new = 0
        elif e["kind"] == "control":
            new = e["new"]
        else:
            continue
        for what, on in (("disabled", not new & MSIX_ENABLE),
                         ("MASKALL", bool(new & MSIX_MASKALL))):
            if on and what not in since:
                since[what] = e["time-ns"]
            elif not on and what in since:
                spans.append((since.pop(what), e["time-ns"], what))
    spans += [(t, None, what) for what, t in since.items()]
    return spans


def _control_text(e) -> str:
    old, new = e["old"], e["new"]
    out = []
    for bit, name in ((MSIX_ENABLE, "ENABLE"), (MSIX_MASKALL, "MASKALL")):
        if not old & bit and new & bit:
            out.append(f"{name}+")
        elif old & bit and not new & bit:
            out.append(f"{name}-")
    return " ".join(out) or f"{new:#06x}"


def _marks(events, lane_of):
    """Per kind of mark, [(time-ns, lane index)]."""
    marks = {k: [] for k in ("message", "written", "zeroed", "maskbit",
                             "unmaskbit", "held", "delivered", "lost",
                             "dropped")}
    pend = {}                   # entry -> pending-clear time, not yet sent
    pending = []                # (entry, t_set, t_clear or None)
    opened = {}
    for e in events:
        entry = e.get("vector")
        if entry not in lane_of:
            continue
        y, t, kind = lane_of[entry], e["time-ns"], e["kind"]
        if kind == "message":
            if entry in pend:
                marks["delivered"].append((t, y))
                del pend[entry]
            else:
                marks["message"].append((t, y))
            continue
        if entry in pend:       # a pending bit cleared, no message after
            marks["lost"].append((pend.pop(entry), y))
        if kind == "programmed":
            zero = e.get("address") == 0 and e.get("data") == 0
            marks["zeroed" if zero else "written"].append((t, y))
        elif kind == "table-write" and e.get("dword") == \
                DWORD_VECTOR_CONTROL:
            marks["maskbit" if e["new"] & ENTRY_MASKBIT
                  else "unmaskbit"].append((t, y))
        elif kind == "held":
            marks["held"].append((t, y))
        elif kind == "pending-set":
            opened[entry] = t
        elif kind == "pending-clear":
            pending.append((y, opened.pop(entry, t), t))
            pend[entry] = t
        elif kind.startswith("dropped"):
            marks["dropped"].append((t, y))
    for entry, t in pend.items():
        marks["lost"].append((t, lane_of[entry]))
    pending += [(lane_of[en], t, None) for en, t in opened.items()]
    return marks, pending


def plot(a, path: str) -> None:
    """Draw @a (analysis.Analysis) into @path (.svg or .png)."""
    fmt = plot_format(path)
    d = drawing(a)
    plt = pyplot()
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    with plt.rc_context({"svg.fonttype": "none", "font.size": 8,
                         "font.family": "DejaVu Sans"}):
        fig = _figure(plt, d, Line2D, Patch)
        fig.savefig(path, format=fmt, dpi=110)
        plt.close(fig)


def _figure(plt, d: Drawing, Line2D, Patch):
    n = len(d.lanes)
    pitch = max(0.13, min(0.38, 8.0 / max(n, 1)))     # inches per lane
    lane_pt = pitch * 72
    font = max(3.0, min(8.0, lane_pt * 0.62))
    height = 2.75 + n * pitch
    fig = plt.figure(figsize=(15, height))
    top = 1 - 1.15 / height
    bottom = 1.2 / height
    heat = d.ncpu > 0
    right = 0.755 if heat else 0.95
    left = 0.075
    ax = fig.add_axes([left, bottom, right - left, top - bottom])
    ctl = fig.add_axes([left, top, right - left, 0.3 / height], sharex=ax)
    bar = fig.add_axes([left, top + 0.3 / height, right - left,
                        0.22 / height], sharex=ax)
    fig.text(left, 1 - 0.08 / height, d.title, ha="left", va="top",
             fontsize=11, fontweight="bold")
    fig.text(left, 1 - 0.32 / height, d.summary, ha="left", va="top",
             fontsize=8, color="#333333")

    times = [e["time-ns"] for e in d.events]
    tx = TimeAxis(times)
    lane_of = {ln.entry: i for i, ln in enumerate(d.lanes)}
    ax.set_xlim(-0.5, tx.width + 0.5)
    ax.set_ylim(n - 0.5, -0.5)
    bar.set_ylim(0, 1)
    ctl.set_ylim(0, 1)

    def xs(t):
        return tx.x(t if t is not None else times[-1])

    # The function: disabled / MASKALL spans, every lane.
    for t0, t1, what in _control_spans(d.events):
        ax.axvspan(xs(t0), xs(t1), color=C_DISABLED if what == "disabled"
                   else C_MASKALL, alpha=0.9 if what == "disabled" else 0.7,
                   lw=0, zorder=0)
    # Each lane's mask bit.
    for ln in d.lanes:
        y = lane_of[ln.entry]
        for t0, t1 in _mask_spans(d.events, ln.entry):
            ax.fill_between([xs(t0), xs(t1)], y - 0.32, y + 0.32,
                            color=C_MASKBIT, lw=0, zorder=1)
        if not ln.vector:
            ax.axhspan(y - 0.5, y + 0.5, color="#fff3d6", zorder=0.5, lw=0)
    # Lane separators for dense plots.
    for y in range(n - 1):
        ax.axhline(y + 0.5, color="#eeeeee", lw=0.4, zorder=0.6)

    marks, pending = _marks(d.events, lane_of)
    for y, t0, t1 in pending:
        ax.fill_between([xs(t0), xs(t1)], y - 0.16, y + 0.16,
                        color=C_HELD, alpha=0.8, lw=0, zorder=2)
    ms = max(2.5, min(8.0, lane_pt * 0.55))
    style = {
        "message": dict(marker="|", color=C_MESSAGE, ms=ms * 1.1, mew=1.0,
                        label="message sent"),
        "written": dict(marker="D", color=C_WRITE, ms=ms * 0.5, mew=0,
                        label="message written (table entry)"),
        "zeroed": dict(marker="D", mfc="white", mec=C_WRITE,
                       ms=ms * 0.5, mew=0.8,
                       label="message zeroed (deactivated)"),
        "maskbit": dict(marker="v", color="#555555", ms=ms * 0.55, mew=0,
                        label="vector control: mask bit set"),
        "unmaskbit": dict(marker="^", color="#111111", ms=ms * 0.7,
                          mew=0, label="vector control: mask bit cleared"),
        "held": dict(marker="o", mfc="none", mec=C_HELD, ms=ms * 0.8,
                     mew=1.2, label="notify held (entry masked)"),
        "delivered": dict(marker="*", color=C_DELIVERED, ms=ms * 1.3,
                          mew=0, label="held message sent at unmask"),
        "lost": dict(marker="x", color=C_LOST, ms=ms * 0.9, mew=1.4,
                     label="pending cleared, never sent"),
        "dropped": dict(marker="X", color=C_LOST, ms=ms, mew=0,
                        label="notify dropped"),
    }
    handles = []
    for kind, st in style.items():
        pts = marks[kind]
        label = st.pop("label")
        h = Line2D([], [], ls="none", **st)
        if pts or kind in ("message", "written", "maskbit", "unmaskbit"):
            handles.append((h, label))
        if pts:
            ax.plot([xs(t) for t, _ in pts], [y for _, y in pts],
                    ls="none", zorder=4 if kind != "message" else 3, **st)

    # Control writes and resets: a line through every lane, named in the
    # function's strip above, which shows its state too.
    for t0, t1, what in _control_spans(d.events):
        ctl.axvspan(xs(t0), xs(t1), ymin=0 if what == "disabled" else 0.0,
                    color=C_DISABLED if what == "disabled" else C_MASKALL,
                    lw=0, zorder=0)
    row, last_x = 0, None
    for e in d.events:
        if e["kind"] not in ("control", "reset"):
            continue
        x = xs(e["time-ns"])
        for axis in (ax, ctl):
            axis.axvline(x, color="#444444" if e["kind"] == "control"
                         else "#000000", lw=0.7,
                         ls="-" if e["kind"] == "control" else ":",
                         zorder=2.5)
        row = 1 - row if last_x is not None and x - last_x < 9 else 0
        last_x = x
        text = _control_text(e) if e["kind"] == "control" else "reset"
        ctl.text(x + 0.25, 0.72 - 0.46 * row, text, ha="left", va="center",
                 fontsize=6.5, color="#222222", zorder=6,
                 bbox=dict(fc="white", ec="none", alpha=0.6, pad=0.2))
    ctl.text(-0.004, 0.5, "function", transform=ctl.transAxes, ha="right",
             va="center", fontsize=7, style="italic")
    ctl.set_yticks([])
    ctl.tick_params(axis="x", labelbottom=False, bottom=False)

    # Phases, in the band above; syncs, dashed through both.
    for p in d.phases:
        kind = p.name.split()[0]
        x0, x1 = xs(p.start), xs(p.end)
        bar.axvspan(x0, max(x1, x0 + 0.25), color=PHASE_COLORS.get(kind),
                    alpha=0.85, lw=0)
        ax.axvspan(x0, max(x1, x0 + 0.25), ymin=0.995, ymax=1,
                   color=PHASE_COLORS.get(kind), lw=0)
    _phase_labels(bar, d.phases, xs)
    last_sync, up = None, 0
    for name, seq in d.syncs:
        before = [e["time-ns"] for e in d.events if e["seq"] < seq]
        after = [e["time-ns"] for e in d.events if e["seq"] >= seq]
        if not before:
            continue
        x = (xs(before[-1]) + xs(after[0])) / 2 if after \
            else min(xs(before[-1]) + 0.8, tx.width)
        for axis in (ax, bar):
            axis.axvline(x, color="black", lw=1.0, ls="--", zorder=5)
        ctl.axvline(x, color="black", lw=1.0, ls="--", zorder=5)
        up = 1 - up if last_sync is not None and x - last_sync < 10 else 0
        last_sync = x
        bar.text(x, 1.08 + 1.1 * up, f"sync {name}", ha="center", va="bottom",
                 fontsize=7, fontweight="bold", clip_on=False)

    # Cut pauses: hatched, their length written.
    for t0, t1, x0, x1 in tx.cuts:
        ax.axvspan(x0 + 0.4, x1 - 0.4, fc="white", ec="#999999",
                   hatch="////", lw=0, zorder=2.8)
        ax.text((x0 + x1) / 2, 0.5, f"{(t1 - t0) / 1e6:.0f} ms",
                transform=ax.get_xaxis_transform(), rotation=90,
                ha="center", va="center", fontsize=6.5, color="#333333",
                zorder=7, bbox=dict(fc="white", ec="none", pad=0.5))

    # Lanes: their labels are text, one group each (gid lane-N, or
    # entry-N for an entry that is none of the report's vectors).
    ax.set_yticks([])
    for ln in d.lanes:
        y = lane_of[ln.entry]
        ax.text(-0.004, y, ln.label, transform=ax.get_yaxis_transform(),
                ha="right", va="center", fontsize=font,
                color="black" if ln.vector else "#a05a00",
                gid=f"lane-{ln.entry}" if ln.vector else
                f"entry-{ln.entry}")
    ax.set_ylabel("MSI-X table entry (vector)", labelpad=28)

    _time_ticks(ax, tx)
    bar.set_yticks([])
    bar.tick_params(axis="x", labelbottom=False, bottom=False)
    for s in ("top", "right", "left"):
        bar.spines[s].set_visible(False)

    if heat:
        _heat(fig, d, right, bottom, top, font, n)

    # Legend: marks, then the shading and the phases.
    shade = [(Patch(color=C_DISABLED), "MSI-X disabled"),
             (Patch(color=C_MASKALL, alpha=0.7), "MASKALL set"),
             (Patch(color=C_MASKBIT), "entry's mask bit set"),
             (Line2D([], [], color="#444444", lw=0.8),
              "control write (+ set, - cleared)"),
             (Line2D([], [], color="black", lw=1, ls="--"),
              "sync: guest reported, harness queried"),
             (Patch(fc="white", ec="#999999", hatch="////"),
              "quiet stretch cut")]
    if pending:
        shade.insert(3, (Patch(color=C_HELD, alpha=0.8),
                         "Pending bit set (held)"))
    shade += [(Patch(color=c), k) for k, c in PHASE_COLORS.items()
              if any(p.name.split()[0] == k for p in d.phases)]
    allh = handles + shade
    fig.legend([h for h, _ in allh], [t for _, t in allh],
               loc="lower left", bbox_to_anchor=(0.075, 0.005),
               ncol=5, fontsize=7, frameon=False, handlelength=1.6,
               columnspacing=1.2)
    return fig


SHORT = {"probe": "probe", "request_irq": "req", "workload": "work",
         "unbind": "unbind"}


def _phase_labels(bar, phases, xs):
    """Each phase's name in its band, shortened when the band is narrow
    (the legend names the colors), left out when even that does not fit.
    An x unit is about 0.11 in; a character of 7 pt about 0.06 in."""
    for p in phases:
        x0, x1 = xs(p.start), xs(p.end)
        kind, _, num = p.name.partition(" ")
        for text in (p.name, SHORT.get(kind, kind) + (f" {num}" if num
                                                      else ""),
                     SHORT.get(kind, kind), ""):
            if x1 - x0 > len(text) * 0.55 + 0.6:
                break
        if text:
            bar.text((x0 + x1) / 2, 0.5, text, ha="center", va="center",
                     fontsize=7, color="white", fontweight="bold",
                     clip_on=True)


def _time_ticks(ax, tx: TimeAxis):
    """Ticks in ms since the first event, chosen per stretch."""
    from matplotlib.ticker import MaxNLocator
    pos, labels = [], []
    for a, b, xa, xb in tx.stretches:
        bins = max(1, int((xb - xa) / 12))
        lo, hi = (a - tx.t0) / 1e6, (b - tx.t0) / 1e6
        if b == a:
            vals = [lo]
        else:
            vals = [v for v in MaxNLocator(bins + 1).tick_values(lo, hi)
                    if lo - 1e-9 <= v <= hi + 1e-9] or [lo]
        for v in vals:
            x = tx.x(int(tx.t0 + v * 1e6))
            if pos and x - pos[-1] < 4.5:
                continue        # no two labels on each other
            pos.append(x)
            labels.append(f"{v:.3g}" if abs(v) < 100 else f"{v:.0f}")
    ax.set_xticks(pos)
    ax.set_xticklabels(labels, fontsize=7)
    ax.set_xlabel("QEMU virtual time (the device log's time-ns), ms after "
                  f"the first event; the {MAX_CUTS} longest quiet stretches "
                  f"over {GAP_NS // 1_000_000} ms cut", fontsize=8)


def _heat(fig, d: Drawing, right, bottom, top, font, n):
    """Per vector, the irq's count on each CPU, and sent/counted."""
    import numpy as np
    grid = np.full((n, d.ncpu), np.nan)
    for i, ln in enumerate(d.lanes):
        if ln.counts:
            grid[i, :len(ln.counts)] = ln.counts
    hx = fig.add_axes([right + 0.015, bottom, 0.09, top - bottom])
    masked = np.ma.masked_where(~(grid > 0), grid)
    hx.set_facecolor("white")
    from matplotlib.colors import LogNorm
    top_count = max(2.0, float(np.nanmax(grid)) if np.isfinite(grid).any()
                    else 2.0)
    hx.imshow(masked, aspect="auto", cmap="Blues", interpolation="nearest",
              norm=LogNorm(vmin=0.5, vmax=top_count),
              extent=(-0.5, d.ncpu - 0.5, n - 0.5, -0.5))
    if d.ncpu <= 16 and n <= 40:
        for i, ln in enumerate(d.lanes):
            for c, v in enumerate(ln.counts or []):
                if v:
                    hx.text(c, i, str(v), ha="center", va="center",
                            fontsize=max(3.0, font - 1.5),
                            color="white" if v > top_count ** 0.75
                            else "black")
    step = max(1, d.ncpu // 8)
    hx.set_xticks(range(0, d.ncpu, step))
    hx.set_xticklabels([str(c) for c in range(0, d.ncpu, step)],
                       fontsize=6.5)
    hx.set_xlim(-0.5, d.ncpu - 0.5)
    hx.set_ylim(n - 0.5, -0.5)
    hx.set_yticks([])
    hx.set_xlabel(f"CPU\n({d.counts_from or 'no per-CPU data'})",
                  fontsize=7)
    hx.set_title("handler ran on", fontsize=7.5, loc="left")
    for y in range(n - 1):
        hx.axhline(y + 0.5, color="#eeeeee", lw=0.4)
    # sent -> counted, beside
    for i, ln in enumerate(d.lanes):
        s = "-" if ln.sent is None else str(ln.sent)
        c = "-" if ln.counted is None else str(ln.counted)
        ok = ln.sent is None or ln.counted is None or ln.sent == ln.counted
        name = f"  {ln.name}" if n <= 40 and ln.name else ""
        hx.text(1.05, i, f"{s}/{c}{name}",
                transform=hx.get_yaxis_transform(),
                ha="left", va="center", fontsize=max(3.0, font - 1),
                color="black" if ok else C_LOST,
                fontweight="normal" if ok else "bold")
    hx.text(1.05, 1.0, "sent/counted" + ("  irq name" if n <= 40 else ""),
            transform=hx.transAxes, ha="left", va="bottom", fontsize=6.5)
