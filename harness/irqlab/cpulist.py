# SPDX-License-Identifier: GPL-2.0-or-later
"""Linux cpulists, as /proc/irq/N/*_list and msix_testdev's debugfs."""


def parse(text: str) -> frozenset[int]:
    """'0-3,6' -> {0, 1, 2, 3, 6}; '' and '-' (the driver's "none") -> {}."""
    cpus: set[int] = set()
    text = text.strip()
    if text in ("", "-"):
        return frozenset()
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        cpus.update(range(int(lo), int(hi or lo) + 1))
    return frozenset(cpus)


def format(cpus) -> str:        # noqa: A001  (the kernel's name for it)
    """{0, 1, 2, 3, 6} -> '0-3,6'; the empty set -> '-'."""
    out, run = [], []
    for c in sorted(cpus):
        if run and c == run[-1] + 1:
            run.append(c)
            continue
        if run:
            out.append(_run(run))
        run = [c]
    if run:
        out.append(_run(run))
    return ",".join(out) or "-"


def _run(run: list[int]) -> str:
    return str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}"
