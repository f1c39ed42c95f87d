# SPDX-License-Identifier: GPL-2.0-or-later
"""machine.py's record of a run, as `irqlab run` and `irqlab debug` both
start and finish it."""

import os
import tempfile
import unittest

from irqlab import machine


def config(build: str, **kw) -> machine.Config:
    args = dict(build=build, qemu="qemu-system-x86_64",
                scenario="msix-testdev", smp=2, queues=None, iommu=False,
                accel="tcg", timeout=60.0, commands=8)
    args.update(kw)
    return machine.Config(**args)


class Record(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        os.makedirs(os.path.join(self.tmp.name, "guest"))
        with open(os.path.join(self.tmp.name, "guest", "kernel-version"),
                  "w") as f:
            f.write("6.1.0-57-amd64\n")

    def tearDown(self):
        self.tmp.cleanup()

    def test_new_record(self):
        r = machine.new_record(config(self.tmp.name, queues=4, iommu=True))
        self.assertEqual(
            {k: r[k] for k in ("scenario", "smp", "queues", "io_queues",
                               "iommu", "kernel", "irqlab-qemu", "xen",
                               "dom0", "expect")},
            {"scenario": "msix-testdev", "smp": 2, "queues": 4,
             "io_queues": 4, "iommu": True, "kernel": "6.1.0-57-amd64",
             "irqlab-qemu": True, "xen": None, "dom0": False, "expect": []})
        self.assertIn("nokaslr", r["cmdline"].split())
        self.assertIn("intel_iommu=on", r["cmdline"].split())
        self.assertEqual((r["reports"], r["qmp"], r["times"]), ({}, {}, {}))
        # no kernel headers here: no vector names
        self.assertEqual(r["linux-vectors"], {})

    def test_debug_record_is_the_run_record_and_more(self):
        cfg = config(self.tmp.name)
        run, debug = machine.new_record(cfg), \
            machine.new_record(cfg, debug=True)
        self.assertEqual(debug.pop("debug"), True)
        self.assertEqual(run, debug)

    def test_finish_panic_wins(self):
        console = os.path.join(self.tmp.name, "console.log")
        with open(console, "w") as f:
            f.write("[ 1.0] booting\n[ 2.0] Kernel panic - not syncing: "
                    "Attempted to kill init!  \n")
        r = {}
        machine.finish_record(r, "exited", "QEMU exited", console)
        self.assertEqual(r["outcome"], {
            "status": "panic",
            "detail": "[ 2.0] Kernel panic - not syncing: Attempted to "
                      "kill init!"})
        self.assertEqual(len(r["console"]), 2)

    def test_finish_without_console(self):
        r = {}
        machine.finish_record(r, "done", "",
                              os.path.join(self.tmp.name, "absent"))
        self.assertEqual((r["console"], r["outcome"]),
                         ([], {"status": "done", "detail": ""}))

    def test_qemu_version(self):
        ver = {"qemu": {"major": 10, "minor": 0, "micro": 13}}
        self.assertEqual(machine.qemu_version({**ver, "package": ""}),
                         "10.0.13")
        self.assertEqual(machine.qemu_version(
            {**ver, "package": "Debian 1:10.0.13+ds-1"}),
            "10.0.13 Debian 1:10.0.13+ds-1")


if __name__ == "__main__":
    unittest.main()
