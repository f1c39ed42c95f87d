# SPDX-License-Identifier: GPL-2.0-or-later
"""
A kernel's configuration, and what each of irqlab's checks needs of it
(`irqlab run --kernel PATH`; docs/guest.rst, "Bring your own kernel and
module").

Where the configuration comes from (find()), first found wins:

  1. the image itself, built with CONFIG_IKCONFIG: kernel/configs.c puts
     "IKCFG_ST", the gzipped .config, then "IKCFG_ED" into the kernel; a
     vmlinux carries it as it is, a bzImage inside its compressed payload
     (kimage.py).  This is what the kernel's scripts/extract-ikconfig
     finds by searching every compressed stream;
  2. a file in the image's folder (the folder of the path as given, a
     symlink not followed): ".config" (a build tree's, beside vmlinux),
     then "config-<release>" (as /boot and Debian's packages put it
     beside vmlinuz-<release>).

The image's own copy wins: it is the configuration the image was built
from, where a file beside it may be another build's.

A .config is KEY=VALUE lines and "# CONFIG_X is not set" comments
(scripts/kconfig/confdata.c writes them); Kconfiglib reads one only
together with the Kconfig tree that declares its symbols, which a
developer's image does not come with, so parse() reads the lines.

What the checks need (NEEDS): each Need is a key a check names
(verdict.Check.needs) or a whole kind of run needs, what it is in words,
and the options that must be set.  run_needs() says which Needs a run
has; unmet() which of them the configuration lacks, and why.
"""

import os
import zlib
from dataclasses import dataclass

from . import kimage

IKCFG_ST = b"IKCFG_ST"


class ConfigError(Exception):
    """No configuration found for an image, or an unreadable one."""


@dataclass(frozen=True)
class Config:
    options: dict       # "CONFIG_PCI_MSI" -> "y", "m", a string or number
    source: str         # where it was read: "IKCONFIG in PATH" or a file

    def value(self, symbol: str) -> str | None:
        """@symbol's value, "CONFIG_" optional; None when not set."""
        name = symbol if symbol.startswith("CONFIG_") else \
            f"CONFIG_{symbol}"
        return self.options.get(name)


def parse(text: str) -> dict:
    """A .config's text -> {"CONFIG_X": value}, the set options only
    (an option "is not set" is absent), quotes kept off strings."""
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("CONFIG_") or "=" not in line:
            continue
        name, value = line.split("=", 1)
        if value.startswith('"') and value.endswith('"') and len(value) > 1:
            value = value[1:-1]
        if value != "n":
            out[name] = value
    return out


def ikconfig(data: bytes) -> str | None:
    """The configuration CONFIG_IKCONFIG put into @data (a vmlinux, an
    uncompressed kernel, or anything holding kernel/configs.c's blob):
    the gzip stream after "IKCFG_ST"; None when there is none."""
    at = data.find(IKCFG_ST)
    while at >= 0:
        try:
            z = zlib.decompressobj(16 + zlib.MAX_WBITS)
            return z.decompress(data[at + len(IKCFG_ST):]).decode(
                errors="replace")
        except zlib.error:
            at = data.find(IKCFG_ST, at + 1)
    return None


def image_ikconfig(data: bytes) -> str | None:
    """IKCONFIG in a bzImage (in its compressed payload) or a vmlinux."""
    text = ikconfig(data)
    if text is None and kimage.is_bzimage(data):
        text = ikconfig(kimage.decompress(kimage.payload(data)))
    return text


def beside(image: str, release: str | None) -> list[str]:
    """The files find() looks for in @image's folder, in its order."""
    d = os.path.dirname(image) or "."
    return [os.path.join(d, ".config")] + \
        ([os.path.join(d, f"config-{release}")] if release else [])


def find(image: str) -> tuple[Config, str | None]:
    """
    (the configuration of the kernel image at @image, its release).
    ConfigError when there is none, saying where it was looked for;
    kimage.ImageError when the image cannot be read.
    """
    with open(image, "rb") as f:
        data = f.read()
    if not (kimage.is_bzimage(data) or kimage.is_elf(data)):
        raise kimage.ImageError(f"{image} is neither a bzImage nor an ELF "
                                "vmlinux")
    rel = kimage.release(data)
    # A payload the harness cannot open (LZ4, say) still leaves the files
    # beside the image.
    try:
        text, inside = image_ikconfig(data), ""
    except kimage.ImageError as e:
        text, inside = None, f" ({e})"
    if text is not None:
        return Config(parse(text), f"IKCONFIG in {image}"), rel
    for path in beside(image, rel):
        if os.path.isfile(path):
            with open(path, errors="replace") as f:
                return Config(parse(f.read()), path), rel
    raise ConfigError(
        f"no configuration for {image}: no IKCONFIG found in it "
        f"(CONFIG_IKCONFIG){inside}, and none of " +
        ", ".join(beside(image, rel)) + " exists")


# ------------------------------------------------------------ what is needed

@dataclass(frozen=True)
class Need:
    key: str            # what a check names in Check.needs, or the run's
    what: str           # what it is, in words
    options: tuple      # each must be set (y, or m where a module will do)
    modular: bool = False   # m is as good as y (the initramfs loads it)


NEEDS = {n.key: n for n in (
    # guest/init: an initramfs, devtmpfs, /proc, /sys, debugfs (the
    # driver's run file, irqlab_irqchain), its channel on ttyS1.
    Need("init", "guest/init (initramfs, devtmpfs, proc, sysfs, debugfs, "
         "the 8250 serial ports)",
         ("BLK_DEV_INITRD", "DEVTMPFS", "PROC_FS", "SYSFS", "DEBUG_FS",
          "SERIAL_8250", "SERIAL_8250_CONSOLE")),
    # drivers/pci/msi: without it the device's driver gets INTx only.
    Need("msi", "PCI MSI/MSI-X", ("PCI_MSI",)),
    # The irq_vectors trace events (arch/x86/include/asm/trace/
    # irq_vectors.h, under CONFIG_X86_LOCAL_APIC) in tracefs, which
    # CONFIG_TRACING's EVENT_TRACING makes: vector_config and
    # vector_activate give each irq's vector, CPU, destination, managed.
    Need("irq_vectors", "tracefs irq_vectors events",
         ("X86_LOCAL_APIC", "TRACING", "EVENT_TRACING")),
    Need("nvme", "the nvme driver", ("BLK_DEV_NVME",), modular=True),
    Need("virtio-blk", "the virtio-pci and virtio-blk drivers",
         ("VIRTIO_PCI", "VIRTIO_BLK"), modular=True),
    # intel-iommu's interrupt remapping (drivers/iommu/intel/irq_remapping.c).
    Need("irq_remap", "interrupt remapping (intel-iommu)",
         ("INTEL_IOMMU", "IRQ_REMAP")),
    Need("xen", "a Xen HVM guest", ("XEN", "XEN_PVHVM")),
    Need("dom0", "a Xen PV dom0", ("XEN_PV", "XEN_DOM0")),
    # --storm's hotplug worker takes CPUs offline and online again.
    Need("hotplug", "CPU hotplug", ("HOTPLUG_CPU",)),
    Need("vfio", "vfio-pci", ("VFIO", "VFIO_PCI", "VFIO_IOMMU_TYPE1"),
         modular=True),
    # Our guest/irqchain module, built for the kernel: no option, a
    # module the run has or lacks (cli.py says which).
    Need("irqchain", "irqlab-irqchain.ko built for this kernel "
         "(guest/irqchain)", ()),
)}


def run_needs(scenario: str, iommu: bool, xen: bool, dom0: bool,
              vfio: bool, storm: bool = False) -> list[str]:
    """The NEEDS keys a whole run has: without any of them it cannot
    run.  (A check's own needs are in its Check.needs.)"""
    keys = ["init", "msi"]
    if vfio:
        keys.append("vfio")
    elif scenario in ("nvme", "virtio-blk"):
        keys.append(scenario)
    if iommu:
        keys.append("irq_remap")
    if xen:
        keys.append("xen")
    if dom0:
        keys.append("dom0")
    if storm:
        keys.append("hotplug")
    return keys


def unmet(config: Config, keys) -> dict[str, str]:
    """Of the NEEDS @keys, those @config lacks -> what and why, in words:
    "tracefs irq_vectors events: CONFIG_TRACING, CONFIG_EVENT_TRACING not
    set"."""
    out = {}
    for key in keys:
        n = NEEDS[key]
        ok = ("y", "m") if n.modular else ("y",)
        lack = [f"CONFIG_{o}" for o in n.options if config.value(o) not in ok]
        if lack:
            out[key] = f"{n.what}: {', '.join(lack)} not set" + \
                (" (y or m)" if n.modular else "")
    return out

