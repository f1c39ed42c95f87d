# SPDX-License-Identifier: GPL-2.0-or-later
"""
Xen's own view of a --dom0 run, through its serial console's debug keys.

Xen's console is COM1, whose output goes to the run's console file; its
input is a FIFO the harness holds open (QEMU's file chardev, input-path=).
Typing Ctrl-A three times switches the console's input from dom0 to Xen
(xen/drivers/char/console.c, switch_serial_input(): "*** Serial input to
Xen"), after which each key is a debug key (xen/common/keyhandler.c).  A
key's handler runs in a tasklet unless it is an "irq" key, so the output
of one key is whole before the next key's begins, provided the next key is
typed only once the first one's handler has started (one key is pending
at a time: keypress_key).  So each key is typed once the previous one has
printed its heading, and a last key whose output is one known line, 'e'
again being too long, ends the dump: when its line shows, everything
before it is complete.

Which keys: 'M' (dump_msi(), xen/arch/x86/msi.c: each MSI/MSI-X irq's
message as Xen wrote it), 'i' (dump_irqs(), xen/arch/x86/irq.c: each irq's
vector, affinity and guest binding, "d0:pirq"), 'e'
(dump_evtchn_info(), xen/common/event_channel.c: dom0's ports and what
they are bound to).  The parsers below turn each dump into records, one
per line, named after the Xen structures they print.
"""

import os
import re
import time
import weakref
from dataclasses import dataclass

CTRL_A = b"\x01"
# switch_serial_input()'s message once input goes to Xen.
TO_XEN = "*** Serial input to Xen"
# Each key's heading, printed as its handler starts.
HEADINGS = {
    "M": re.compile(r"MSI information:|PCI-MSI interrupt information:"),
    "i": re.compile(r"IRQ information:"),
    "e": re.compile(r"'e' pressed -> dumping event-channel info"),
}
# The terminator: read_clocks(), one "Synced stime skew" line.
END_KEY = "t"
END = re.compile(r"Synced cycles skew|Synced stime skew")
KEYS = ("M", "i", "e")
# How long a key may take to show its heading under TCG; a dump that does
# not come is reported, not waited for.
KEY_TIMEOUT_S = 20.0
POLL_S = 0.02


class XenKeyError(Exception):
    """Xen did not answer a debug key."""


class XenConsole:
    """The input side of Xen's serial console, and the dumps read back
    from the console file."""

    def __init__(self, fifo: str, console: str):
        self.fifo = fifo
        self.console = console
        os.mkfifo(fifo)
        # Opened read-write so that QEMU's read-only open does not wait
        # for a writer, and no EOF is ever seen.
        self.fd = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
        # Closed by close(), or when the object goes, whichever is first.
        self.close = weakref.finalize(self, os.close, self.fd)

    def _text(self) -> str:
        with open(self.console, errors="replace") as f:
            return f.read()

    def _wait(self, start: int, pattern) -> int:
        """The offset just past @pattern in the console after @start."""
        deadline = time.monotonic() + KEY_TIMEOUT_S
        while True:
            text = self._text()
            m = pattern.search(text, start)
            if m:
                return m.end()
            if time.monotonic() > deadline:
                raise XenKeyError(f"no {pattern.pattern!r} on Xen's console "
                                  f"within {KEY_TIMEOUT_S:.0f} s")
            time.sleep(POLL_S)

    def dump(self, keys=KEYS) -> dict[str, str]:
        """Switch the input to Xen, type @keys one by one, switch back;
        {key: its output, "(XEN) " prefixes taken off}."""
        start = len(self._text())
        os.write(self.fd, CTRL_A * 3)
        at = self._wait(start, re.compile(re.escape(TO_XEN)))
        heads = []
        for key in tuple(keys) + (END_KEY,):
            os.write(self.fd, key.encode())
            pattern = END if key == END_KEY else HEADINGS[key]
            m_at = self._wait(at, pattern)
            text = self._text()
            heads.append((key, text.rfind("\n", 0, m_at - 1) + 1))
            at = m_at
        # Back to dom0: three more Ctrl-A go Xen -> dom0.
        os.write(self.fd, CTRL_A * 3)
        text = self._text()
        out = {}
        for (key, begin), (_, end) in zip(heads, heads[1:]):
            out[key] = "\n".join(_strip(x) for x in
                                 text[begin:end].splitlines())
        return out


_PREFIX = re.compile(r"^\(XEN\) (\[[^\]]*\] )?")


def _strip(line: str) -> str:
    return _PREFIX.sub("", line)


# -------------------------------------------------------------- parsers

@dataclass
class XenMsi:
    """A line of 'M' (dump_msi()): Xen's copy of the message it wrote
    (msi_desc->msg), decoded as Xen prints it, and the entry's mask."""
    kind: str                   # "MSI-X", "MSI", "HPET", ...
    irq: int
    vector: int
    delivery: str               # "fixed" or "lowest"
    trigger: str                # "edge" or "level"
    dest_mode: str              # "phys" or "log"
    redirection: str            # "cpu" or "lowest" (redirection hint)
    dest: int                   # destination APIC ID
    host_masked: bool           # Xen's own mask (H)
    guest_masked: bool          # the guest's (G)
    masked: str                 # the mask bit read back: "0", "1", "?"


# " MSI-X   24 vec=c0  fixed  edge   assert phys    cpu dest=00000000
#   mask=1/  /0"
_MSI = re.compile(
    r"^\s*(?P<kind>\S+)\s+(?P<irq>\d+) vec=(?P<vector>[0-9a-f]+)\s+"
    r"(?P<delivery>fixed|lowest)\s+(?P<trigger>edge|level)\s+(?:de)?assert"
    r"\s+(?P<dest_mode>phys|log)\s+(?P<redirection>cpu|lowest)\s+"
    r"dest=(?P<dest>[0-9a-f]+) mask=\S/(?P<h>.)(?P<g>.)/(?P<masked>\S)")


def parse_msi(text: str) -> dict[int, XenMsi]:
    """'M' output: Xen's MSI and MSI-X irqs, by Xen irq."""
    out = {}
    for line in text.splitlines():
        m = _MSI.match(line)
        if m:
            out[int(m["irq"])] = XenMsi(
                m["kind"], int(m["irq"]), int(m["vector"], 16), m["delivery"],
                m["trigger"], m["dest_mode"], m["redirection"],
                int(m["dest"], 16), m["h"] == "H", m["g"] == "G", m["masked"])
    return out


@dataclass
class XenIrq:
    """A line of 'i' (dump_irqs()): an irq_desc with its vector
    (irq_cfg), its affinity and effective affinity (the CPUs it may go to,
    those its vector is set on), and the domains' pirqs bound to it."""
    irq: int
    vector: int
    chip: str                   # "PCI-MSI/-X", "IO-APIC-edge", ...
    affinity: str               # Xen's cpulist, "0-1"
    effective: str
    pirqs: dict                 # domain -> pirq


_IRQ = re.compile(r"^\s*IRQ:\s+(?P<irq>\d+) vec:(?P<vector>[0-9a-f]+) "
                  r"(?P<chip>\S+)\s+status=\S+ aff:\{(?P<aff>[^}]*)\}/"
                  r"\{(?P<eff>[^}]*)\}(?P<rest>.*)$")
_GUEST = re.compile(r"d(\d+):\s*(\d+)\(")


def parse_irqs(text: str) -> dict[int, XenIrq]:
    """'i' output: Xen's irqs, by Xen irq."""
    out = {}
    for line in text.splitlines():
        m = _IRQ.match(line)
        if m:
            out[int(m["irq"])] = XenIrq(
                int(m["irq"]), int(m["vector"], 16), m["chip"], m["aff"],
                m["eff"], {int(d): int(p) for d, p in
                           _GUEST.findall(m["rest"])})
    return out


# evtchn->state (xen/include/xen/sched.h)
ECS_PIRQ = 4


@dataclass
class XenPort:
    """A line of 'e' (dump_evtchn_info()): one of dom0's event channels."""
    port: int
    pending: bool
    masked: bool
    state: int                  # ECS_*: 4 = bound to a pirq
    vcpu: int                   # notify_vcpu_id
    pirq: int | None            # p=, for ECS_PIRQ
    irq: int | None             # i=, Xen's irq of that pirq


_PORT = re.compile(r"^\s*(?P<port>\d+) \[(?P<p>\d)/(?P<m>\d)/[^\]]*\]: "
                   r"s=(?P<s>\d+) n=(?P<n>\d+)(?P<rest>.*)$")


def parse_evtchn(text: str) -> dict[int, XenPort]:
    """'e' output: dom0's event channels, by port (the first domain's
    listing only: dom0 is the only domain here)."""
    out = {}
    for line in text.splitlines():
        if line.startswith("Event channel information for domain") and out:
            break
        m = _PORT.match(line)
        if m:
            kv = dict(re.findall(r"(\w)=(\d+)", m["rest"]))
            out[int(m["port"])] = XenPort(
                int(m["port"]), m["p"] == "1", m["m"] == "1", int(m["s"]),
                int(m["n"]), int(kv["p"]) if "p" in kv else None,
                int(kv["i"]) if "i" in kv else None)
    return out
