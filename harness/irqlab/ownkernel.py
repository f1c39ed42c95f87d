# SPDX-License-Identifier: GPL-2.0-or-later
"""
A developer's own kernel for one run (`irqlab run --kernel PATH
[--modules DIR] [--module FILE.ko]...`; docs/guest.rst, "Bring your own
kernel and module"): its configuration and what the run lacks of it
(kconfig.py), the modules the run loads, and the initramfs, made by
scripts/irqlab-guest pack and cached in build/guest/own/<hash>/.

The modules:

  - --modules DIR: the kernel's modules, a `make modules_install` tree
    (DIR/lib/modules/<release>, or that folder itself) or any folder of
    .ko files (a build tree, say), searched through; modules.builtin,
    where there is one, says what is built in, and without it a module
    not found is taken as built in.  Without --modules, a kernel whose
    release is one of Debian's guests' (scripts/irqlab-guest) gets that
    guest's modules; any other, none.
  - --module FILE.ko: a module of the developer's own, in place of ours
    of the same name: msix_testdev.ko (guest/driver), irqlab-irqchain.ko
    (guest/irqchain).  Ours are used only on the kernel they were built
    for, a Debian guest's of the same release.

Without msix_testdev.ko the msix-testdev scenario cannot run; without
irqlab-irqchain.ko the chain checks are skipped.
"""

import hashlib
import os
import subprocess
import sys
from dataclasses import dataclass, field

from . import kconfig, kimage
from .scenario import SCENARIOS

# guest/init's run_vfio loads these by name, in this order.
VFIO_MODULES = ("irqbypass", "vfio", "vfio_virqfd", "vfio_iommu_type1",
                "vfio_pci")
# Ours, by module name -> (the step of scripts/irqlab-guest that builds
# it, its file there).
OURS = {"msix_testdev": ("driver", "msix_testdev.ko"),
        "irqlab_irqchain": ("irqchain", "irqlab-irqchain.ko")}
KO_SUFFIXES = (".ko", ".ko.xz", ".ko.zst", ".ko.gz")


class OwnKernelError(Exception):
    """The run cannot go on this kernel; the message says why."""


@dataclass
class OwnKernel:
    image: str              # the path as given, made absolute
    release: str
    config: kconfig.Config
    series: str | None      # the Debian guest of the same release
    modules: str | None     # the folder of its modules
    extra: dict = field(default_factory=dict)  # module name -> .ko file
    unmet: dict = field(default_factory=dict)  # NEEDS key -> why
    initramfs: str = ""

    def record(self) -> dict:
        """The run record's "kernel-config" (analysis.py reads "unmet")."""
        return {"image": self.image, "release": self.release,
                "source": self.config.source, "modules": self.modules,
                "extra-modules": dict(self.extra), "unmet": dict(self.unmet)}


def module_name(path: str) -> str:
    """lib/modules/.../irqlab-irqchain.ko.xz -> irqlab_irqchain."""
    base = os.path.basename(path)
    for s in KO_SUFFIXES:
        if base.endswith(s):
            return base[:-len(s)].replace("-", "_")
    return ""


def modules_folder(given: str, release: str) -> str:
    """--modules DIR -> the folder to index: DIR/lib/modules/<release>
    when DIR is an install root, else DIR itself."""
    inside = os.path.join(given, "lib", "modules", release)
    return inside if os.path.isdir(inside) else given


def find_module(folder: str | None, name: str) -> str | None:
    """The file of module @name under @folder, None when there is none."""
    if not folder:
        return None
    for root, _, files in os.walk(folder):
        for f in files:
            if module_name(f) == name:
                return os.path.join(root, f)
    return None


def vermagic(ko: str) -> str | None:
    """The release a module was built for (modinfo's vermagic, its first
    word); None when modinfo cannot say."""
    try:
        out = subprocess.run(["modinfo", "-F", "vermagic", ko],
                             capture_output=True, text=True, timeout=30)
    except OSError:
        return None
    words = out.stdout.split()
    return words[0] if out.returncode == 0 and words else None


def prepare(build: str, top: str, path: str, modules: str | None,
            own: list, scenario: str, iommu: bool, xen: bool, dom0: bool,
            vfio: bool, guests: dict, log=print,
            storm: bool = False) -> OwnKernel:
    """
    The kernel at @path ready to boot: its configuration checked against
    what the run needs, its modules chosen, its initramfs made (or found
    in the cache).  @guests: Debian series -> that guest's folder (for a
    kernel of the same release); @log: progress and notes, to stderr.
    OwnKernelError when it cannot run, saying why.
    """
    image = os.path.abspath(path)
    if not os.path.isfile(image):
        raise OwnKernelError(f"--kernel {path}: no such file (6.1, 6.12 or "
                             "the path of a bzImage or vmlinux)")
    try:
        config, release = kconfig.find(image)
    except (kconfig.ConfigError, kimage.ImageError, OSError) as e:
        raise OwnKernelError(str(e))
    if not release:
        raise OwnKernelError(f"{path} names no kernel release (no version "
                             "string in its setup header or linux_banner)")
    series = next((s for s, d in guests.items()
                   if _read(os.path.join(d, "kernel-version")) == release),
                  None)
    if modules:
        if not os.path.isdir(modules):
            raise OwnKernelError(f"--modules {modules}: not a folder")
        folder = modules_folder(os.path.abspath(modules), release)
    elif series:
        folder = os.path.join(guests[series], "kernel", "lib", "modules",
                              release)
    else:
        folder = None
    k = OwnKernel(image, release, config, series, folder)

    unmet = kconfig.unmet(config, kconfig.run_needs(scenario, iommu, xen,
                                                    dom0, vfio, storm))
    if unmet:
        raise OwnKernelError(
            f"kernel {path} ({config.source}) cannot run this: " +
            "; ".join(f"missing {why}" for why in unmet.values()))
    k.unmet = kconfig.unmet(config, ["irq_vectors"])

    for ko in own:
        name = module_name(ko)
        if not name or not os.path.isfile(ko):
            raise OwnKernelError(f"--module {ko}: not a .ko file")
        k.extra[name] = os.path.abspath(ko)
        built = vermagic(ko)
        if built and built != release:
            log(f"irqlab: warning: {ko} was built for {built}, the kernel "
                f"is {release}: the guest's insmod will say whether it "
                "loads")
    for name, (step, file) in OURS.items():
        if name in k.extra or find_module(folder, name):
            continue
        ours = os.path.join(guests[series], step, file) if series else None
        if ours and os.path.isfile(ours):
            k.extra[name] = ours
    tops = list(VFIO_MODULES if vfio else SCENARIOS[scenario].modules)
    if "msix_testdev" in tops and "msix_testdev" not in k.extra and \
            not find_module(folder, "msix_testdev"):
        raise OwnKernelError(
            f"msix-testdev needs msix_testdev.ko built for {release}: give "
            "it with --module (build guest/driver against the kernel's "
            f"tree: make -C KDIR M={top}/guest/driver "
            f"IRQLAB_INCLUDE={top}/include modules)")
    if "irqlab_irqchain" in k.extra or find_module(folder,
                                                   "irqlab_irqchain"):
        tops.append("irqlab_irqchain")
    else:
        k.unmet["irqchain"] = (
            f"{kconfig.NEEDS['irqchain'].what}: none for {release} (give it "
            f"with --module; make -C KDIR M={top}/guest/irqchain modules)")
    for why in k.unmet.values():
        log(f"irqlab: kernel {release}: missing {why}; the checks that "
            "need it are skipped")
    k.initramfs = _initramfs(build, top, k, tops, log)
    return k


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def _initramfs(build: str, top: str, k: OwnKernel, tops: list,
               log) -> str:
    """build/guest/own/<hash>/initramfs.cpio.gz, made by scripts/
    irqlab-guest pack unless that of the same inputs is there: the
    release, the configuration, the modules' files (names, sizes, times),
    the extra modules, the module names, guest/init and the script (not
    the image: it is not in the initramfs)."""
    h = hashlib.sha256()

    def add(*parts):
        for p in parts:
            h.update(str(p).encode() + b"\0")

    def add_file(path):
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)

    add(k.release, k.config.source, sorted(k.config.options.items()),
        tops, sorted(k.extra.items()))
    for f in [*k.extra.values(), os.path.join(top, "guest", "init"),
              os.path.join(top, "scripts", "irqlab-guest")]:
        add_file(f)
    if k.modules:
        for root, _, files in sorted(os.walk(k.modules)):
            for f in sorted(files):
                st = os.stat(os.path.join(root, f))
                add(os.path.relpath(os.path.join(root, f), k.modules),
                    st.st_size, st.st_mtime_ns)
    folder = os.path.join(build, "guest", "own", h.hexdigest()[:16])
    out = os.path.join(folder, "initramfs.cpio.gz")
    if os.path.isfile(out):
        return out
    os.makedirs(folder, exist_ok=True)
    config = k.config.source
    if not os.path.isfile(config):     # IKCONFIG: written out for pack
        config = os.path.join(folder, "config")
        with open(config, "w") as f:
            f.write("".join(f"{n}={v}\n" for n, v in
                            sorted(k.config.options.items())))
    cmd = [os.path.join(top, "scripts", "irqlab-guest"), "pack", out,
           k.release, k.modules or "", config, *k.extra.values(), "--",
           *tops]
    env = dict(os.environ, IRQLAB_BUILD=build)
    # Its progress goes to stderr, so that stdout stays the report.
    st = subprocess.run(cmd, env=env, stdout=sys.stderr).returncode
    if st != 0:
        raise OwnKernelError(f"scripts/irqlab-guest pack failed (exit "
                             f"status {st}) making {out}")
    return out
