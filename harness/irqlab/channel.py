# SPDX-License-Identifier: GPL-2.0-or-later
"""
The report/sync channel: what guest/init writes on ttyS1.

    @@irqlab report begin <phase>
    @@file <path>
    <the file's contents, verbatim>
    @@missing <path>
    @@gzip <path>
    <the file gzip'd, in base64>
    @@irqlab report end <phase>
    @@irqlab sync <phase>        (then blocks until the host writes "go")
    @@irqlab error <message>
    @@irqlab done

ttyS1 is not a console, so printk never interleaves with it; init puts the
line discipline in raw mode.  A file whose last line has no newline would
run into the next marker, so markers are also recognised mid-line.  A
@@gzip file arrives as the text of <path>, as a @@file would.
"""

import base64
import binascii
import gzip
import re
import zlib
from dataclasses import dataclass, field

_MARKER = re.compile(r"@@(?:irqlab |file |missing |gzip )")


@dataclass
class Event:
    kind: str                   # "report", "sync", "error", "done"
    arg: str = ""               # the phase or the error message
    files: dict = field(default_factory=dict)   # report: path -> text or None


class GuestChannel:
    """Turns the bytes read from ttyS1 into Events, one line at a time."""

    def __init__(self):
        self._pending = b""
        self._phase = None          # inside "report begin <phase>"
        self._files = {}
        self._path = None           # the file being collected
        self._gzip = False          # ... as @@gzip
        self._lines: list[str] = []
        self._events: list[Event] = []
        self.transcript: list[str] = []     # every line, for --json

    def feed(self, data: bytes) -> list[Event]:
        self._pending += data
        *lines, self._pending = self._pending.split(b"\n")
        for raw in lines:
            text = raw.decode("utf-8", errors="replace").rstrip("\r")
            for line in _split_markers(text):
                self.transcript.append(line)
                ev = self._line(line)
                if ev:
                    self._events.append(ev)
        events, self._events = self._events, []
        return events

    def _close_file(self):
        if self._path is not None and self._gzip:
            try:
                self._files[self._path] = gzip.decompress(base64.b64decode(
                    "".join(self._lines), validate=True)).decode(
                        "utf-8", errors="replace")
            except (binascii.Error, OSError, EOFError, zlib.error) as e:
                self._files[self._path] = None
                self._events.append(Event("error", f"@@gzip {self._path}: "
                                          f"{type(e).__name__}: {e}"))
        elif self._path is not None:
            self._files[self._path] = "".join(f"{x}\n" for x in self._lines)
        self._path, self._gzip, self._lines = None, False, []

    def _line(self, line: str):
        for marker in ("@@file ", "@@gzip "):
            if line.startswith(marker):
                self._close_file()
                self._path = line[len(marker):].strip()
                self._gzip = marker == "@@gzip "
                return None
        if line.startswith("@@missing "):
            self._close_file()
            self._files[line[len("@@missing "):].strip()] = None
            return None
        if line.startswith("@@irqlab "):
            self._close_file()
            verb, _, arg = line[len("@@irqlab "):].partition(" ")
            if verb == "report":
                what, _, phase = arg.partition(" ")
                if what == "begin":
                    self._phase, self._files = phase, {}
                    return None
                if what == "end":
                    if phase != self._phase:
                        return Event("error", f"report end {phase!r} "
                                     f"inside report {self._phase!r}")
                    ev = Event("report", phase, self._files)
                    self._phase, self._files = None, {}
                    return ev
            if verb in ("sync", "error", "done"):
                return Event(verb, arg.strip())
            return Event("error", f"unknown channel line: {line!r}")
        if self._path is not None:
            self._lines.append(line)
        return None


def _split_markers(text: str) -> list[str]:
    out = []
    while True:
        m = _MARKER.search(text, 1)
        if not m:
            out.append(text)
            return out
        out.append(text[:m.start()])
        text = text[m.start():]
