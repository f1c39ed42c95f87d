# SPDX-License-Identifier: GPL-2.0-or-later
"""xenmodel.py: event logs read as steps, aspects, the documented list."""

import os
import tempfile
import unittest

from irqlab import xenmodel


def tw(entry, dword, old, new):
    return {"kind": "table-write", "capability": "msix", "vector": entry,
            "dword": dword, "old": old, "new": new}


def prog(entry, dest, vector):
    return {"kind": "programmed", "capability": "msix", "vector": entry,
            "decoded": {"format": "compat", "dest-id": dest,
                        "vector": vector, "delivery-mode": "fixed",
                        "dest-mode": "physical", "redirection-hint": False,
                        "trigger-mode": "edge", "level": True}}


def ev(kind, entry=None, **kw):
    e = {"kind": kind, "capability": "msix", **kw}
    if entry is not None:
        e["vector"] = entry
    return e


# Xen's map of one entry, its bind, a move to APIC ID 1, the teardown.
LOADED = [
    ev("control", old=0, new=0xc000),
    tw(0, 3, 1, 1), tw(0, 0, 0, 0xfee00000), tw(0, 2, 0, 0x40c0),
    prog(0, 0, 0xc0),
    ev("control", old=0xc000, new=0x8000),
    prog(0, 0, 0xc0), tw(0, 3, 1, 1), tw(0, 3, 1, 0), ev("unmask", 0),
    ev("message", 0),
    tw(0, 3, 0, 1), ev("mask", 0), prog(0, 1, 0xc8), tw(0, 3, 1, 0),
    ev("unmask", 0),
]
UNLOADED = [tw(0, 3, 0, 1), ev("mask", 0), tw(0, 3, 1, 1),
            ev("control", old=0x8000, new=0)]


class Steps(unittest.TestCase):
    def test_mask_event_folded_into_its_write(self):
        st = [s.text() for s in xenmodel.steps(UNLOADED)]
        self.assertEqual(st, ["mask", "mask", "control ENABLE->0"])

    def test_model_mask_event_alone_is_a_step(self):
        st = [s.text() for s in xenmodel.steps([ev("unmask", 2)])]
        self.assertEqual(st, ["unmask"])

    def test_aspects(self):
        a = xenmodel.aspects(LOADED, UNLOADED)
        self.assertEqual(a["enable"], "control 0->ENABLE+MASKALL, "
                         "control ENABLE+MASKALL->ENABLE")
        self.assertEqual(a["map-order"], "0: mask write")
        self.assertEqual(a["map-cpu"], "0: 0x0")
        self.assertEqual(a["first-vector"], "0xc0")
        self.assertEqual(a["bind"], "0: write mask unmask")
        self.assertEqual(a["retarget"],
                         "0: mask write(dest 0x1 vector v0+0x8) unmask")
        self.assertEqual(a["message-format"],
                         "fixed physical hint=0 edge assert")

    def test_same_log_no_difference(self):
        x = {"loaded": LOADED, "unloaded": UNLOADED}
        self.assertTrue(all(a.same for a in xenmodel.compare(x, x)))

    def test_plan_close_order_skips_moves(self):
        class Row:
            def __init__(self, entry):
                self.entry, self.port_vcpu, self.sent = entry, 0, 1
        unloaded = [tw(1, 3, 0, 1), prog(1, 1, 0x30), tw(1, 3, 1, 0),
                    tw(1, 3, 0, 1), tw(0, 3, 0, 1),
                    ev("control", old=0x8000, new=0)]
        plan = xenmodel.plan([Row(0), Row(1)], unloaded, {1: 1})
        self.assertIn("close=1;0\n", plan)
        self.assertIn("unload_vcpus=-1;1\n", plan)


class Documented(unittest.TestCase):
    def test_terms_of_the_section_only(self):
        with tempfile.TemporaryDirectory() as tmp:
            doc = os.path.join(tmp, "x.rst")
            with open(doc, "w") as f:
                f.write("Intro\n=====\n\n``not-this``\n   no\n\n"
                        f"{xenmodel.DOC_SECTION}: run\n-----------\n\n"
                        "``first-vector``\n   why\n``teardown``\n   why\n\n"
                        "Next\n----\n\n``nor-this``\n   no\n")
            self.assertEqual(xenmodel.documented_differences(doc),
                             {"first-vector", "teardown"})

    def test_the_real_list(self):
        self.assertEqual(xenmodel.documented_differences(),
                         {"first-vector"})


if __name__ == "__main__":
    unittest.main()
