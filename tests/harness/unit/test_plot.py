# SPDX-License-Identifier: GPL-2.0-or-later
"""plot.py: `irqlab run|check --plot`, drawn from the recorded runs; each
lane a vector of the report, each label text in the SVG."""

import os
import tempfile
import unittest
import xml.etree.ElementTree as ET

from irqlab import plot, report
from irqlab.analysis import analyze

from .recorded import record

SVG = "{http://www.w3.org/2000/svg}"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

try:
    plot.pyplot()
    MATPLOTLIB = None
except plot.PlotError as e:
    MATPLOTLIB = str(e)


def svg_lanes(path: str, prefix: str = "lane-") -> dict[int, str]:
    """The SVG's lane labels: {entry: text} of each <g id="lane-N">."""
    out = {}
    for g in ET.parse(path).iter(f"{SVG}g"):
        gid = g.get("id", "")
        if gid.startswith(prefix) and gid[len(prefix):].isdigit():
            out[int(gid[len(prefix):])] = "".join(
                t.text or "" for t in g.iter(f"{SVG}text"))
    return out


def report_vectors(a) -> list[int]:
    """The vectors the report lists (its JSON document's)."""
    doc = report.as_json(a)
    if doc["vfio"] is not None:
        return sorted({v["entry"] for e in doc["vfio"]["enables"]
                       for v in e["vectors"]})
    return sorted(v["entry"] for v in doc["vectors"])


class Format(unittest.TestCase):
    def test_extension(self):
        self.assertEqual(plot.plot_format("/tmp/x.svg"), "svg")
        self.assertEqual(plot.plot_format("run.PNG"), "png")
        for bad in ("run.pdf", "run", "run.svg.gz"):
            with self.subTest(path=bad):
                with self.assertRaises(ValueError):
                    plot.plot_format(bad)

    def test_cli_rejects_other_formats(self):
        from irqlab import cli
        with self.assertRaises(SystemExit) as cm, \
                open(os.devnull, "w") as null:
            import contextlib
            with contextlib.redirect_stderr(null):
                cli.main(["check", "x.json", "--plot", "x.pdf"])
        self.assertEqual(cm.exception.code, 2)


class Content(unittest.TestCase):
    """drawing(): what the plot holds, without matplotlib."""

    @classmethod
    def setUpClass(cls):
        cls.a = analyze(record("msix-testdev-smp2.json"))
        cls.d = plot.drawing(cls.a)

    def test_lanes_are_the_vectors(self):
        self.assertEqual([ln.entry for ln in self.d.lanes],
                         report_vectors(self.a))
        self.assertTrue(all(ln.vector for ln in self.d.lanes))

    def test_handler_counts_per_cpu(self):
        # /proc/interrupts at 'loaded': 24 admin, 25 q1, 26 q2 (2 CPUs).
        self.assertEqual(self.d.ncpu, 2)
        self.assertEqual([ln.counts for ln in self.d.lanes],
                         [[0, 12], [8, 0], [0, 8]])
        self.assertEqual([(ln.sent, ln.counted) for ln in self.d.lanes],
                         [(12, 12), (8, 8), (8, 8)])

    def test_phases_from_the_log(self):
        names = [p.name for p in self.d.phases]
        self.assertEqual(names, ["probe", "request_irq", "workload",
                                 "unbind"])
        for p in self.d.phases:
            self.assertLessEqual(p.start, p.end)
        for p, q in zip(self.d.phases, self.d.phases[1:]):
            self.assertLessEqual(p.end, q.start)
        self.assertEqual([s for s, _ in self.d.syncs],
                         ["loaded", "unloaded"])

    def test_title(self):
        for word in ("msix-testdev", "-smp 2", "6.1.0-57-amd64",
                     "QEMU 10.0.13", "PASS"):
            self.assertIn(word, self.d.title)

    def test_held_then_lost(self):
        # vfio: entry 6, no vector, notified while masked; the FLR at
        # close clears its Pending bit: held, never sent.
        a = analyze(record("vfio-intremap-smp4.json"))
        d = plot.drawing(a)
        extra = [ln for ln in d.lanes if not ln.vector]
        self.assertEqual([ln.entry for ln in extra], [6])
        marks, pending = plot._marks(
            d.events, {ln.entry: i for i, ln in enumerate(d.lanes)})
        self.assertEqual(len(marks["held"]), 1)
        self.assertEqual(len(marks["lost"]), 1)
        self.assertEqual(marks["delivered"], [])
        self.assertEqual(len(pending), 1)

    def test_time_axis_cuts_pauses(self):
        ms = 1_000_000
        tx = plot.TimeAxis([0, 5 * ms, 10 * ms, 500 * ms, 501 * ms])
        self.assertEqual(len(tx.stretches), 2)
        self.assertEqual(len(tx.cuts), 1)
        xs = [tx.x(t) for t in (0, 5 * ms, 10 * ms, 300 * ms, 500 * ms,
                                501 * ms)]
        self.assertEqual(xs, sorted(xs))
        self.assertLessEqual(xs[-1], tx.width)
        self.assertGreater(tx.x(0), -1e-9)


@unittest.skipIf(MATPLOTLIB, MATPLOTLIB)
class Drawn(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.tmp.cleanup()

    def draw(self, name: str, ext: str):
        a = analyze(record(name))
        path = os.path.join(self.tmp.name, f"{name}.{ext}")
        plot.plot(a, path)
        return a, path

    def test_svg_lanes_are_the_report_vectors(self):
        for name in ("msix-testdev-smp2.json", "vfio-intremap-smp4.json"):
            with self.subTest(record=name):
                a, path = self.draw(name, "svg")
                self.assertGreater(os.path.getsize(path), 0)
                lanes = svg_lanes(path)
                vecs = report_vectors(a)
                self.assertTrue(vecs)
                self.assertEqual(sorted(lanes), vecs)
                self.assertEqual(lanes, {n: f"vec {n}" for n in vecs})

    def test_svg_keeps_text(self):
        _, path = self.draw("msix-testdev-smp2.json", "svg")
        texts = {t.text for t in ET.parse(path).iter(f"{SVG}text")}
        for word in ("probe", "request_irq", "workload", "unbind",
                     "sync loaded", "message sent"):
            self.assertIn(word, texts)

    def test_a_missing_lane_is_seen(self):
        # The check above fails when a lane is not drawn.
        a = analyze(record("msix-testdev-smp2.json"))
        d = plot.drawing(a)
        d.lanes = d.lanes[:-1]
        path = os.path.join(self.tmp.name, "missing.svg")
        plt = plot.pyplot()
        from matplotlib.lines import Line2D
        from matplotlib.patches import Patch
        with plt.rc_context({"svg.fonttype": "none"}):
            fig = plot._figure(plt, d, Line2D, Patch)
            fig.savefig(path, format="svg")
            plt.close(fig)
        self.assertNotEqual(sorted(svg_lanes(path)), report_vectors(a))

    def test_png(self):
        _, path = self.draw("msix-testdev-smp2.json", "png")
        with open(path, "rb") as f:
            head = f.read(8)
        self.assertGreater(os.path.getsize(path), 1000)
        self.assertEqual(head, PNG_SIGNATURE)


if __name__ == "__main__":
    unittest.main()
