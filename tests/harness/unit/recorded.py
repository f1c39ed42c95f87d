# SPDX-License-Identifier: GPL-2.0-or-later
"""The recorded real runs the unit tests analyse (tests/harness/*.json),
and the tests every such record must pass."""

import copy
import json
import os

from irqlab.analysis import analyze

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def record(name: str) -> dict:
    """The "run" of tests/harness/@name, as `irqlab run --json` saved it."""
    with open(os.path.join(HERE, name)) as f:
        return json.load(f)["run"]


class FaultHooks:
    """Mixed into a unittest.TestCase with @saved (a record), @FAULTS (the
    fault hooks that apply to it) and @COPY_FAULT (one of them)."""

    def test_each_fault_hook_fails(self):
        for fault in sorted(self.FAULTS):
            with self.subTest(fault=fault):
                a = analyze(self.saved, fault)
                self.assertTrue(a.hook.startswith("TEST HOOK: "))
                self.assertFalse(a.ok)

    def test_record_left_alone(self):
        before = copy.deepcopy(self.saved)
        analyze(self.saved, self.COPY_FAULT)
        self.assertEqual(self.saved, before)
