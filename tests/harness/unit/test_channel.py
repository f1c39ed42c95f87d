# SPDX-License-Identifier: GPL-2.0-or-later
"""channel.py: guest/init's report/sync protocol on ttyS1."""

import base64
import gzip
import unittest

from irqlab.channel import GuestChannel


class Channel(unittest.TestCase):
    def test_report_and_sync(self):
        ch = GuestChannel()
        evs = ch.feed(b"@@irqlab report begin loaded\n@@file /proc/a\n"
                      b"one\ntwo\n@@missing /proc/b\n"
                      b"@@irqlab report end loaded\n@@irqlab sync loaded\n")
        self.assertEqual([e.kind for e in evs], ["report", "sync"])
        self.assertEqual(evs[0].arg, "loaded")
        self.assertEqual(evs[0].files, {"/proc/a": "one\ntwo\n",
                                        "/proc/b": None})
        self.assertEqual(evs[1].arg, "loaded")

    def test_bytes_split_anywhere(self):
        ch = GuestChannel()
        data = b"@@irqlab error no driver\n@@irqlab done\n"
        evs = []
        for i in range(len(data)):
            evs += ch.feed(data[i:i + 1])
        self.assertEqual([(e.kind, e.arg) for e in evs],
                         [("error", "no driver"), ("done", "")])

    def test_marker_mid_line(self):
        # A file whose last line has no newline runs into the next marker.
        ch = GuestChannel()
        evs = ch.feed(b"@@irqlab report begin x\n@@file /f\nlast"
                      b"@@irqlab report end x\n")
        self.assertEqual(evs[0].files, {"/f": "last\n"})

    def test_mismatched_end(self):
        ch = GuestChannel()
        evs = ch.feed(b"@@irqlab report begin a\n@@irqlab report end b\n")
        self.assertEqual(evs[0].kind, "error")

    def test_gzip_file(self):
        # guest/init's emit_gzip: busybox gzip -1 | base64, 76 a line.
        text = "".join(f"ffffffff8100{i:04x} T f{i}\n" for i in range(500))
        b64 = base64.encodebytes(gzip.compress(text.encode(), 1))
        self.assertGreater(b64.count(b"\n"), 10)
        ch = GuestChannel()
        evs = ch.feed(b"@@irqlab report begin kallsyms\n"
                      b"@@gzip /proc/kallsyms\n" + b64 +
                      b"@@irqlab report end kallsyms\n")
        self.assertEqual([e.kind for e in evs], ["report"])
        self.assertEqual(evs[0].files, {"/proc/kallsyms": text})

    def test_gzip_corrupt(self):
        ch = GuestChannel()
        evs = ch.feed(b"@@irqlab report begin x\n@@gzip /f\nH4sIAAAA\n"
                      b"@@irqlab report end x\n")
        self.assertEqual([e.kind for e in evs], ["error", "report"])
        self.assertTrue(evs[0].arg.startswith("@@gzip /f: "), evs[0].arg)
        self.assertEqual(evs[1].files, {"/f": None})

    def test_unknown_line(self):
        evs = GuestChannel().feed(b"@@irqlab bogus\n")
        self.assertEqual(evs[0].kind, "error")


if __name__ == "__main__":
    unittest.main()
