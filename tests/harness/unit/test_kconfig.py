# SPDX-License-Identifier: GPL-2.0-or-later
"""kconfig.py and kimage.py: a kernel's configuration found in its image
(IKCONFIG, in a vmlinux or a bzImage's compressed payload) or beside it,
what a run and its checks need of it, and the checks skipped on the
record of a real run whose kernel lacks tracefs irq_vectors events."""

import gzip
import lzma
import os
import struct
import tempfile
import unittest

from irqlab import kconfig, kimage, report
from irqlab.analysis import analyze

from .recorded import record

CONFIG = """\
#
# Automatically generated file; DO NOT EDIT.
#
CONFIG_CC_VERSION_TEXT="gcc (Debian 12.2.0-14) 12.2.0"
CONFIG_PCI_MSI=y
CONFIG_BLK_DEV_NVME=m
# CONFIG_IKCONFIG is not set
CONFIG_NR_CPUS=64
"""


def ikcfg_blob(text: str) -> bytes:
    """kernel/configs.c's data: the markers around the gzipped .config."""
    return b"IKCFG_ST" + gzip.compress(text.encode()) + b"IKCFG_ED"


def vmlinux(release: str, body: bytes = b"") -> bytes:
    """Enough of an ELF vmlinux: its magic, linux_banner, @body."""
    return (b"\x7fELF" + b"\0" * 60 + b"Linux version " + release.encode()
            + b" (builder@host) #1 SMP\n\0" + body)


def bzimage(release: str, kernel: bytes, sects: int = 2) -> bytes:
    """A bzImage as the boot protocol lays it out: @sects setup sectors
    after the boot sector, "HdrS", the version string kernel_version
    points at, and @kernel XZ-compressed at payload_offset of the
    protected-mode code."""
    setup = bytearray((sects + 1) * 512)
    setup[0x1f1] = sects
    setup[0x202:0x206] = b"HdrS"
    ver = 0x300
    setup[ver:ver + len(release) + 1] = release.encode() + b"\0"
    struct.pack_into("<H", setup, 0x20e, ver - 0x200)
    payload = lzma.compress(kernel, format=lzma.FORMAT_XZ)
    off = 0x40      # the decompressor's code comes first
    struct.pack_into("<II", setup, 0x248, off, len(payload))
    return bytes(setup) + b"\x90" * off + payload + b"\0" * 16


class Parse(unittest.TestCase):

    def test_set_options_only(self):
        opts = kconfig.parse(CONFIG)
        self.assertEqual(opts["CONFIG_PCI_MSI"], "y")
        self.assertEqual(opts["CONFIG_BLK_DEV_NVME"], "m")
        self.assertEqual(opts["CONFIG_NR_CPUS"], "64")
        self.assertEqual(opts["CONFIG_CC_VERSION_TEXT"],
                         "gcc (Debian 12.2.0-14) 12.2.0")
        self.assertNotIn("CONFIG_IKCONFIG", opts)

    def test_value_with_or_without_prefix(self):
        c = kconfig.Config(kconfig.parse(CONFIG), "test")
        self.assertEqual(c.value("PCI_MSI"), "y")
        self.assertEqual(c.value("CONFIG_PCI_MSI"), "y")
        self.assertIsNone(c.value("IKCONFIG"))


class Ikconfig(unittest.TestCase):

    def test_blob_in_uncompressed_kernel(self):
        data = b"\0junk" * 10 + ikcfg_blob(CONFIG) + b"more"
        self.assertEqual(kconfig.ikconfig(data), CONFIG)

    def test_marker_without_gzip_is_passed_over(self):
        # The marker string also sits in configs.c's code references.
        data = b"IKCFG_ST not gzip" + ikcfg_blob(CONFIG)
        self.assertEqual(kconfig.ikconfig(data), CONFIG)

    def test_none(self):
        self.assertIsNone(kconfig.ikconfig(b"\0" * 100))

    def test_in_bzimage_payload(self):
        img = bzimage("6.99.0-test", vmlinux("6.99.0-test",
                                              ikcfg_blob(CONFIG)))
        self.assertTrue(kimage.is_bzimage(img))
        self.assertEqual(kimage.release(img), "6.99.0-test")
        # Not in the image as it is: only inside the payload.
        self.assertIsNone(kconfig.ikconfig(img))
        self.assertEqual(kconfig.image_ikconfig(img), CONFIG)

    def test_release_of_vmlinux(self):
        self.assertEqual(kimage.release(vmlinux("6.12.1-dev+")),
                         "6.12.1-dev+")

    def test_unknown_compression(self):
        with self.assertRaises(kimage.ImageError):
            kimage.decompress(b"\x89LZO\0\0")


class Find(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def write(self, name, data):
        path = os.path.join(self.dir, name)
        with open(path, "wb" if isinstance(data, bytes) else "w") as f:
            f.write(data)
        return path

    def test_ikconfig_wins_over_a_file_beside(self):
        img = self.write("bzImage", bzimage("6.99.0", vmlinux(
            "6.99.0", ikcfg_blob(CONFIG))))
        self.write(".config", "CONFIG_PCI_MSI=m\n")
        cfg, rel = kconfig.find(img)
        self.assertEqual(rel, "6.99.0")
        self.assertEqual(cfg.source, f"IKCONFIG in {img}")
        self.assertEqual(cfg.value("PCI_MSI"), "y")

    def test_dot_config_then_config_release(self):
        img = self.write("vmlinuz-6.99.0", bzimage("6.99.0", vmlinux(
            "6.99.0")))
        other = self.write("config-6.99.0", "CONFIG_PCI_MSI=y\n")
        self.assertEqual(kconfig.find(img)[0].source, other)
        dot = self.write(".config", "# CONFIG_PCI_MSI is not set\n")
        cfg, _ = kconfig.find(img)
        self.assertEqual(cfg.source, dot)
        self.assertIsNone(cfg.value("PCI_MSI"))

    def test_beside_a_symlink_not_its_target(self):
        target = os.path.join(self.dir, "real")
        os.mkdir(target)
        img = os.path.join(target, "vmlinux")
        with open(img, "wb") as f:
            f.write(vmlinux("6.99.0"))
        with open(os.path.join(target, ".config"), "w") as f:
            f.write("CONFIG_PCI_MSI=y\n")
        link = os.path.join(self.dir, "vmlinux")
        os.symlink(img, link)
        doctored = self.write(".config", "# CONFIG_PCI_MSI is not set\n")
        self.assertEqual(kconfig.find(link)[0].source, doctored)

    def test_no_configuration_says_where_it_looked(self):
        img = self.write("vmlinux", vmlinux("6.99.0"))
        with self.assertRaises(kconfig.ConfigError) as e:
            kconfig.find(img)
        self.assertIn("CONFIG_IKCONFIG", str(e.exception))
        self.assertIn(os.path.join(self.dir, "config-6.99.0"),
                      str(e.exception))

    def test_unreadable_payload_leaves_the_file_beside(self):
        img = bytearray(bzimage("6.99.0", vmlinux("6.99.0")))
        start = 3 * 512 + 0x40          # the payload (bzimage(): 2 sects)
        img[start:start + 6] = b"\x02\x21\x4c\x18\0\0"     # LZ4
        path = self.write("vmlinuz-6.99.0", bytes(img))
        with self.assertRaises(kconfig.ConfigError) as e:
            kconfig.find(path)
        self.assertIn("magic 02214c18", str(e.exception))
        cfg = self.write("config-6.99.0", "CONFIG_PCI_MSI=y\n")
        self.assertEqual(kconfig.find(path)[0].source, cfg)

    def test_not_an_image(self):
        path = self.write("notes.txt", "hello\n")
        with self.assertRaises(kimage.ImageError):
            kconfig.find(path)


class Needs(unittest.TestCase):

    def config(self, text):
        return kconfig.Config(kconfig.parse(text), "test")

    def test_run_needs(self):
        self.assertEqual(kconfig.run_needs("msix-testdev", False, False,
                                           False, False), ["init", "msi"])
        self.assertEqual(kconfig.run_needs("nvme", True, False, False,
                                           False),
                         ["init", "msi", "nvme", "irq_remap"])
        self.assertIn("vfio", kconfig.run_needs("msix-testdev", True, False,
                                                False, True))
        self.assertIn("xen", kconfig.run_needs("nvme", False, True, False,
                                               False))

    def test_module_will_do_where_modular(self):
        c = self.config("CONFIG_VIRTIO_PCI=y\nCONFIG_VIRTIO_BLK=m\n"
                        "CONFIG_INTEL_IOMMU=y\nCONFIG_IRQ_REMAP=m\n")
        self.assertEqual(kconfig.unmet(c, ["virtio-blk"]), {})
        self.assertEqual(kconfig.unmet(c, ["irq_remap"]),
                         {"irq_remap": "interrupt remapping (intel-iommu): "
                          "CONFIG_IRQ_REMAP not set"})

    def test_every_missing_option_named(self):
        c = self.config("CONFIG_X86_LOCAL_APIC=y\n# CONFIG_FTRACE is not "
                        "set\n")
        self.assertEqual(kconfig.unmet(c, ["irq_vectors"]),
                         {"irq_vectors": "tracefs irq_vectors events: "
                          "CONFIG_TRACING, CONFIG_EVENT_TRACING not set"})

    def test_debian_like_config_meets_all(self):
        c = self.config("\n".join(
            f"CONFIG_{o}=y" for n in kconfig.NEEDS.values()
            for o in n.options))
        self.assertEqual(kconfig.unmet(c, list(kconfig.NEEDS)), {})


class Skipped(unittest.TestCase):
    """The recorded -smp 2 run, its record saying the kernel lacks the
    irq_vectors events: each check reading them is skipped, not passed."""

    WHY = ("tracefs irq_vectors events: CONFIG_TRACING, CONFIG_EVENT_TRACING "
           "not set")

    @classmethod
    def setUpClass(cls):
        cls.saved = record("msix-testdev-smp2.json")
        cls.saved["kernel-config"] = {"source": "/tmp/k/.config",
                                      "unmet": {"irq_vectors": cls.WHY}}

    def test_skipped_not_passed(self):
        a = analyze(self.saved)
        self.assertTrue(a.ok)
        self.assertTrue(a.skipped)
        self.assertFalse([c for c in a.checks if "irq_vectors" in c.needs])
        self.assertEqual({why for _, why in a.skipped}, {self.WHY})
        names = {c.name for c, _ in a.skipped}
        self.assertIn("host vector = guest vector (tracefs vector_config)",
                      names)
        self.assertIn("I/O vectors managed", names)
        whole = analyze({k: v for k, v in self.saved.items()
                         if k != "kernel-config"})
        self.assertEqual(len(whole.checks), len(a.checks) + len(a.skipped))

    def test_report_says_why(self):
        text = report.text(analyze(self.saved)).splitlines()
        self.assertIn("kernel configuration: /tmp/k/.config", text)
        self.assertIn(f"  SKIP  vectors 0-2: host vector = guest vector "
                      f"(tracefs vector_config)  (needs {self.WHY})", text)
        missing = [x for x in text if x.startswith(f"  missing {self.WHY}; "
                                                   "skipped: ")]
        self.assertEqual(len(missing), 1)
        self.assertIn("tracefs kept every irq_vectors event", missing[0])
        self.assertFalse([x for x in text if x.startswith("  PASS")
                          and "tracefs" in x])
        self.assertRegex(text[-1], r"^irqlab: PASS: \d+ passed, 0 failed, "
                         r"\d+ skipped")

    def test_json_verdict_skip(self):
        doc = report.as_json(analyze(self.saved))
        skips = [c for c in doc["checks"] if c["verdict"] == "SKIP"]
        self.assertTrue(skips)
        self.assertTrue(all(c["why"] == self.WHY for c in skips))


if __name__ == "__main__":
    unittest.main()
