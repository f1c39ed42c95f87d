# SPDX-License-Identifier: GPL-2.0-or-later
"""ownkernel.py: what `irqlab run --kernel PATH` refuses before booting
(the kernel lacks what the whole run needs, no driver for msix-testdev),
and how it names and finds modules.  Synthetic images (test_kconfig.py);
nothing here makes an initramfs."""

import os
import tempfile
import unittest

from irqlab import ownkernel
from irqlab.ownkernel import OwnKernelError, prepare

from .test_kconfig import vmlinux

ENOUGH = "\n".join(f"CONFIG_{o}=y" for o in (
    "BLK_DEV_INITRD", "DEVTMPFS", "PROC_FS", "SYSFS", "DEBUG_FS",
    "SERIAL_8250", "SERIAL_8250_CONSOLE", "PCI_MSI", "X86_LOCAL_APIC",
    "TRACING", "EVENT_TRACING")) + "\n"


class Prepare(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name
        self.image = os.path.join(self.dir, "vmlinux")
        with open(self.image, "wb") as f:
            f.write(vmlinux("6.99.0-dev"))

    def tearDown(self):
        self.tmp.cleanup()

    def config(self, text):
        with open(os.path.join(self.dir, ".config"), "w") as f:
            f.write(text)

    def prepare(self, scenario="msix-testdev", iommu=False, own=()):
        return prepare(self.dir, self.dir, self.image, None, list(own),
                       scenario, iommu, False, False, False, {},
                       log=lambda m: None)

    def test_no_msi_no_run(self):
        self.config(ENOUGH.replace("CONFIG_PCI_MSI=y\n", ""))
        with self.assertRaises(OwnKernelError) as e:
            self.prepare()
        self.assertIn("missing PCI MSI/MSI-X: CONFIG_PCI_MSI not set",
                      str(e.exception))

    def test_iommu_needs_remapping(self):
        self.config(ENOUGH)
        with self.assertRaises(OwnKernelError) as e:
            self.prepare(iommu=True)
        self.assertIn("missing interrupt remapping (intel-iommu): "
                      "CONFIG_INTEL_IOMMU, CONFIG_IRQ_REMAP not set",
                      str(e.exception))

    def test_scenario_driver_not_configured(self):
        self.config(ENOUGH)
        with self.assertRaises(OwnKernelError) as e:
            self.prepare(scenario="nvme")
        self.assertIn("missing the nvme driver: CONFIG_BLK_DEV_NVME not set "
                      "(y or m)", str(e.exception))

    def test_msix_testdev_needs_its_driver(self):
        self.config(ENOUGH)
        with self.assertRaises(OwnKernelError) as e:
            self.prepare()
        self.assertIn("msix-testdev needs msix_testdev.ko built for "
                      "6.99.0-dev: give it with --module", str(e.exception))

    def test_module_not_a_ko(self):
        self.config(ENOUGH)
        with self.assertRaises(OwnKernelError) as e:
            self.prepare(own=[os.path.join(self.dir, ".config")])
        self.assertIn("not a .ko file", str(e.exception))


class Modules(unittest.TestCase):

    def test_module_name(self):
        self.assertEqual(ownkernel.module_name("a/b/irqlab-irqchain.ko.xz"),
                         "irqlab_irqchain")
        self.assertEqual(ownkernel.module_name("nvme.ko"), "nvme")
        self.assertEqual(ownkernel.module_name("README"), "")

    def test_install_root_or_folder(self):
        with tempfile.TemporaryDirectory() as d:
            inside = os.path.join(d, "lib", "modules", "6.99.0")
            os.makedirs(os.path.join(inside, "kernel", "drivers"))
            ko = os.path.join(inside, "kernel", "drivers", "nvme.ko.zst")
            open(ko, "w").close()
            self.assertEqual(ownkernel.modules_folder(d, "6.99.0"), inside)
            self.assertEqual(ownkernel.modules_folder(inside, "6.99.0"),
                             inside)
            self.assertEqual(ownkernel.find_module(d, "nvme"), ko)
            self.assertIsNone(ownkernel.find_module(d, "virtio_blk"))


if __name__ == "__main__":
    unittest.main()
