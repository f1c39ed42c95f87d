# SPDX-License-Identifier: GPL-2.0-or-later
"""stall.py: a lost EOI found in the vCPUs' state (the real hang of
tests/harness/lost-eoi.json), and Linux's vector names."""

import json
import os
import unittest

from irqlab import stall

HERE = os.path.dirname(os.path.abspath(__file__))


class Stall(unittest.TestCase):
    def test_the_recorded_hang(self):
        with open(os.path.join(HERE, "..", "lost-eoi.json")) as f:
            record = json.load(f)
        lost = stall.lost_eois(record.get("run", record)["stuck"])
        self.assertEqual([(x.cpu, x.vector, x.waiting) for x in lost],
                         [(3, 0xec, [33, 34, 0xec])])

    def test_running_or_masked_cpus_are_not_stalls(self):
        state = {"cpus": {
            "0": {"isr": "236", "irr": "34", "halted": False, "if": True},
            "1": {"isr": "236", "irr": "34", "halted": True, "if": False},
            "2": {"isr": "(none)", "irr": "34", "halted": True, "if": True},
        }}
        self.assertEqual(stall.lost_eois(state), [])

    def test_vector_names(self):
        header = ("#define LOCAL_TIMER_VECTOR\t\t0xec\n"
                  "#define FIRST_SYSTEM_VECTOR\t\t0xec\n"
                  "#define HYPERVISOR_CALLBACK_VECTOR\t0xf3\n")
        self.assertEqual(stall.linux_vector_names(header),
                         {0xec: "LOCAL_TIMER_VECTOR",
                          0xf3: "HYPERVISOR_CALLBACK_VECTOR"})


if __name__ == "__main__":
    unittest.main()
