# SPDX-License-Identifier: GPL-2.0-or-later
"""
`irqlab soak N`: the same run N times in a row, then N times more while
two busy processes compete for the host's CPUs; prints each run, the
failures by kind and the boot-to-poweroff times.  A benchmark of the
harness's own reliability (a lost interrupt that happens once in fifty
runs shows here, not in one `make check`), not a test.

Failure kinds are the run's outcome (stall.py's "stalled", "timeout",
"panic", "error", "exited", "harness") or, for a run that finished,
"checks" with the names of the checks that failed.  The record of every
failed run is kept as JSON in --keep, for `irqlab check`.
"""

import json
import os
import subprocess
import time
from collections import Counter

from . import report
from .analysis import analyze
from .machine import Config, LaunchError, run

# A busy process: a shell loop that never sleeps, one per host core the
# 2-core CI machine has.
BUSY = ["sh", "-c", "while :; do :; done"]
BUSY_PROCESSES = 2


def percentile(values: list[float], p: float) -> float:
    """The @p-th percentile, nearest rank."""
    s = sorted(values)
    return s[max(0, min(len(s) - 1, round(p / 100 * len(s) + 0.5) - 1))]


class Arm:
    """One series of runs: its outcomes and times."""

    def __init__(self, name: str):
        self.name = name
        self.runs = 0
        self.failures: Counter = Counter()
        self.times: list[float] = []
        self.wall = 0.0

    def add(self, a) -> str:
        """Count one analysed run; returns its one-line verdict."""
        self.runs += 1
        o = a.run.get("outcome", {})
        t = a.run.get("times", {}).get("boot-to-poweroff-s")
        if o.get("status") == "done" and t is not None:
            self.times.append(t)
        if a.ok:
            return f"PASS {t:.1f} s"
        if o.get("status") != "done":
            kind = o.get("status", "?")
            why = o.get("detail", "")
        else:
            failed = [c for c in a.checks if not c.ok]
            kind = "checks: " + ", ".join(sorted({c.group for c in failed}))
            why = f"{failed[0].name}: {failed[0].detail}"
        self.failures[kind] += 1
        return f"FAIL {kind}: {why}"

    def summary(self) -> list[str]:
        nfail = sum(self.failures.values())
        out = [f"{self.name}: {self.runs} runs, {nfail} failed"
               f" ({self.wall / 60:.1f} min)"]
        for kind, n in self.failures.most_common():
            out.append(f"  {n:4d}  {kind}")
        if self.times:
            out.append("  boot to poweroff: p50 "
                       f"{percentile(self.times, 50):.1f} s, p95 "
                       f"{percentile(self.times, 95):.1f} s, max "
                       f"{max(self.times):.1f} s")
        return out


def soak(cfg: Config, n: int, loaded: bool, keep: str, log) -> Arm:
    arm = Arm(f"with {BUSY_PROCESSES} busy host processes" if loaded
              else "host idle")
    busy = [subprocess.Popen(BUSY) for _ in range(BUSY_PROCESSES)] \
        if loaded else []
    t0 = time.monotonic()
    try:
        for i in range(1, n + 1):
            try:
                record = run(cfg, log=lambda m: None)
            except LaunchError as e:
                raise SystemExit(f"irqlab: error: QEMU did not start: {e}")
            a = analyze(record)
            verdict = arm.add(a)
            log(f"{'loaded' if loaded else 'idle'} {i}/{n}: {verdict}")
            if not a.ok:
                os.makedirs(keep, exist_ok=True)
                path = os.path.join(
                    keep, f"{'loaded' if loaded else 'idle'}-{i}.json")
                with open(path, "w") as f:
                    json.dump(report.as_json(a), f, indent=1)
                log(f"  kept {path}")
    finally:
        for p in busy:
            p.kill()
            p.wait()
        arm.wall = time.monotonic() - t0
    return arm


def main(args, cfg: Config) -> int:
    arms = []
    if not args.loaded_only:
        arms.append(soak(cfg, args.runs, False, args.keep, print))
    if not args.idle_only:
        arms.append(soak(cfg, args.runs, True, args.keep, print))
    print()
    print(f"irqlab soak: {cfg.scenario}, -smp {cfg.smp}, -accel "
          f"{cfg.accel}, {cfg.qemu}"
          + ("" if cfg.irqlab else " (without irqlab: outcomes only)"))
    for arm in arms:
        print("\n".join(arm.summary()))
    return 0 if all(not a.failures for a in arms) else 1
