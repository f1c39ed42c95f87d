# SPDX-License-Identifier: GPL-2.0-or-later
"""
The device's view: QMP x-query-msix (every MSI-X table entry, decoded, with
its counters) and x-query-msix-log (the device's event log), as
docs/msix-instrumentation.rst describes them.
"""

from dataclasses import dataclass, field

# Message control, as the log reports it (old/new are the 16-bit word):
# PCI Local Bus 3.0, 6.8.2.3.
MSIX_ENABLE = 0x8000
MSIX_MASKALL = 0x4000
# Vector control, table entry dword 3 bit 0 (PCI 3.0, 6.8.2.9).
ENTRY_MASKBIT = 0x1
DWORD_VECTOR_CONTROL = 3


@dataclass
class HostView:
    msix: dict                  # the x-query-msix element for MSI-X
    log: dict                   # x-query-msix-log
    entries: dict = field(default_factory=dict)     # index -> vector info

    @classmethod
    def from_qmp(cls, query: list, log: dict) -> "HostView":
        msix = next((c for c in query if c["capability"] == "msix"), None)
        if msix is None:
            raise ValueError("x-query-msix lists no MSI-X capability for dut")
        return cls(msix, log, {v["index"]: v for v in msix["vectors"]})

    @property
    def enabled(self) -> bool:
        return self.msix["enabled"]

    @property
    def table_size(self) -> int:
        return self.msix["table-size"]

    @property
    def events(self) -> list[dict]:
        return self.log["entries"]

    def last_enable_seq(self) -> int | None:
        """
        Where the guest's current allocation began: the last control write
        that turned ENABLE on.  nvme allocates twice (one vector for the
        admin queue, then all of them), and the counters run from reset.
        """
        seq = None
        for e in self.events:
            if (e["kind"] == "control" and e["capability"] == "msix"
                    and not e["old"] & MSIX_ENABLE and e["new"] & MSIX_ENABLE):
                seq = e["seq"]
        return seq

    def messages_since(self, seq: int | None) -> dict[int, int]:
        """Messages per entry logged from @seq on (None: the whole log)."""
        out: dict[int, int] = {}
        for e in self.events:
            if (e["kind"] == "message" and e["capability"] == "msix"
                    and (seq is None or e["seq"] >= seq)):
                out[e["vector"]] = out.get(e["vector"], 0) + 1
        return out

    def complete_since(self, seq: int | None) -> bool:
        """The ring still holds every event from @seq on."""
        first = self.events[0]["seq"] if self.events else self.log["next-seq"]
        return seq is not None and first <= seq


def entry_mask_bits(events: list[dict], table_size: int) -> dict[int, bool]:
    """
    Each entry's own mask bit (vector control bit 0), replayed from the log's
    table writes.  x-query-msix's "masked" is the effective state, which
    MSI-X disable alone makes true for every entry; this is the bit the
    driver wrote.  Reset sets every mask bit (PCI 3.0, 6.8.2.9); the log
    starts with the device's reset.
    """
    bits = {i: True for i in range(table_size)}
    for e in events:
        if e["capability"] != "msix":
            continue
        if e["kind"] == "reset":
            bits = {i: True for i in range(table_size)}
        elif (e["kind"] == "table-write"
              and e.get("dword") == DWORD_VECTOR_CONTROL):
            bits[e["vector"]] = bool(e["new"] & ENTRY_MASKBIT)
    return bits
