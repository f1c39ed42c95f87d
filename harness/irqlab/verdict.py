# SPDX-License-Identifier: GPL-2.0-or-later
"""
One check's verdict: PASS or FAIL, with what was compared, and what of the
guest kernel it reads (kconfig.NEEDS keys): a kernel without it gets the
check SKIPPED (analysis.py), never passed.
"""

from dataclasses import dataclass


@dataclass
class Check:
    group: str          # "sequence", "vector 3", "affinity", "unload", ...
    name: str           # what is compared, in a few words
    ok: bool
    detail: str = ""    # the values compared
    needs: tuple = ()   # kconfig.NEEDS keys, or "irqchain" (our module)

    @property
    def verdict(self) -> str:
        return "PASS" if self.ok else "FAIL"

    def as_json(self) -> dict:
        return {"group": self.group, "name": self.name,
                "verdict": self.verdict, "detail": self.detail}
