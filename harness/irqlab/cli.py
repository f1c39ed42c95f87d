# SPDX-License-Identifier: GPL-2.0-or-later
"""
`irqlab run`: boot the guest against a device, report, check.
`irqlab check FILE`: the same report and checks from a saved --json.
Either draws the run with --plot FILE.svg|FILE.png (plot.py).
`irqlab soak N`: N runs, then N more with the host loaded (soak.py).

Exit status: 0 every check passed; 1 a check failed, the guest timed out,
panicked or reported an error; 2 the harness could not run (or could not
draw the --plot).
"""

import argparse
import json
import os
import subprocess
import sys

from . import faults, report
from .analysis import analyze
from .machine import DEFAULT_KERNEL, KERNELS
from .scenario import LOG_MAX, SCENARIOS

# Multi-threaded TCG (one host thread per vCPU) against thread=single (one
# thread running the vCPUs in turn), boot to poweroff at -smp 8 on the
# 2-core Debian 12 machine, msix-testdev with 8 pairs, runs alternated, no
# other QEMU running, booting the decompressed vmlinux (PVH entry):
#   tcg 6.3, 7.6, 7.0 s (mean 7.0); thread=single 6.7, 7.9, 6.2 s (6.9).
# Booting vmlinuz (its decompressor adds about 5 s on one vCPU): tcg mean
# 11.7 s against 12.1 s, and nvme with 4 pairs 11.3 s against 12.6 s.  The
# two are within noise; multi-threaded stays the default because it runs
# the guest's CPUs concurrently, as real hardware does.  With other QEMUs
# competing for the two cores thread=single did better (medians 12.5 s
# against 15.1 s with vmlinuz).
DEFAULT_ACCEL = "tcg"
# --storm's length: long enough for the hotplug worker to take each of 8
# CPUs offline and back at least once under TCG on 2 host cores.
STORM_SECONDS = 8.0
DEFAULT_ACCEL_FIGURES = "multi-threaded; as fast as thread=single at " \
    "-smp 8 on 2 host cores, 7.0 s against 6.9 s"


def main(argv=None, build: str | None = None) -> int:
    top = os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    build = build or os.environ.get("IRQLAB_BUILD") or \
        os.path.join(top, "build")
    p = argparse.ArgumentParser(
        prog="irqlab",
        description="Boot a stock Debian guest under QEMU TCG against a "
        "PCI device with MSI-X and cross-check the guest's view of every "
        "vector with the device's.")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="boot, report, check")
    _scenario_options(r, build)
    r.add_argument("--timeout", type=float, default=120.0,
                   help="seconds from start to poweroff (120)")
    r.add_argument("--json", metavar="FILE",
                   help="write the whole report, raw data included")
    _common(r)

    c = sub.add_parser("check", help="report and check a saved --json")
    c.add_argument("file")
    c.add_argument("--json", metavar="FILE", help="write the re-analysis")
    _common(c)

    from . import debug
    d = sub.add_parser("debug", help="the scenario under gdb, through "
                       "QEMU's gdb stub (docs/debugging.rst)")
    _scenario_options(d, build)
    d.add_argument("-v", "--verbose", action="store_true", help="progress")
    debug.add_arguments(d)

    s = sub.add_parser("soak", help="N runs, then N more with two busy "
                       "host processes: failures by kind, boot times")
    s.add_argument("runs", type=int, metavar="N")
    _scenario_options(s, build)
    s.add_argument("--timeout", type=float, default=120.0,
                   help="seconds from start to poweroff, each run (120)")
    s.add_argument("--keep", default=os.path.join(build, "soak"),
                   help="where failed runs' JSON records go (build/soak)")
    arm = s.add_mutually_exclusive_group()
    arm.add_argument("--idle-only", action="store_true",
                     help="only the N runs without host load")
    arm.add_argument("--loaded-only", action="store_true",
                     help="only the N runs with host load")

    f = sub.add_parser("faults", help="list the --inject-fault test hooks, "
                       "one per line")
    which = f.add_mutually_exclusive_group()
    which.add_argument("--xen", action="store_true",
                       help="those of a --xen run")
    which.add_argument("--dom0", action="store_true",
                       help="those of a --dom0 run")
    which.add_argument("--vfio", action="store_true",
                       help="those of a --vfio run")
    which.add_argument("--storm", action="store_true",
                       help="those of a --storm run")

    args = p.parse_args(argv)
    if getattr(args, "plot", None):
        from . import plot
        try:
            plot.pyplot()       # before a run: matplotlib is there
        except plot.PlotError as e:
            print(f"irqlab: error: {e}", file=sys.stderr)
            return 2
    if args.command == "faults":
        if args.storm:
            print("\n".join(sorted(faults.STORM_FAULTS)))
            return 0
        print("\n".join(sorted({**(faults.XEN_FAULTS if args.xen else
                                   faults.DOM0_FAULTS if args.dom0 else
                                   faults.VFIO_FAULTS if args.vfio else
                                   faults.FAULTS),
                                **faults.UNLOAD_FAULTS})))
        return 0
    if args.command == "debug":
        return debug.main(args, build)
    if args.command == "soak":
        from . import soak
        cfg = config(args, build)
        if cfg is None:
            return 2
        if args.runs < 1:
            print("irqlab: error: soak needs at least 1 run", file=sys.stderr)
            return 2
        return soak.main(args, cfg)
    if args.command == "check":
        with open(args.file) as f:
            doc = json.load(f)
        record = doc.get("run", doc)
    else:
        record = _run(args, build)
        if record is None:
            return 2
    try:
        a = analyze(record, args.inject_fault)
    except ValueError as e:
        print(f"irqlab: error: {e}", file=sys.stderr)
        return 2
    print(report.text(a, args.verbose))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report.as_json(a), f, indent=1)
            f.write("\n")
    if args.plot:
        from . import plot
        try:
            plot.plot(a, args.plot)
        except (plot.PlotError, OSError) as e:
            print(f"irqlab: error: --plot: {e}", file=sys.stderr)
            return 2
    return 0 if a.ok else 1


def _scenario_options(p, build):
    """What boots: the options `run` and `debug` share."""
    p.add_argument("--scenario", choices=sorted(SCENARIOS),
                   default="msix-testdev")
    p.add_argument("--kernel", default=DEFAULT_KERNEL, metavar="6.1|6.12|PATH",
                   help="which kernel boots: one of Debian bookworm's, "
                   f"{DEFAULT_KERNEL} (linux-image-amd64's, build/guest) or "
                   "6.12 (linux-image-6.12-amd64's, build/guest/6.12; "
                   "built on demand), or the PATH of your own bzImage or "
                   "vmlinux (docs/guest.rst, 'Bring your own kernel and "
                   "module'; irqlab run and soak)")
    p.add_argument("--modules", metavar="DIR",
                   help="with --kernel PATH: its modules, a `make "
                   "modules_install` tree (DIR/lib/modules/<release> or "
                   "that folder) or any folder of .ko files")
    p.add_argument("--module", action="append", default=[],
                   metavar="FILE.ko",
                   help="with --kernel PATH: a module of your own, loaded "
                   "in place of ours of its name (msix_testdev.ko, "
                   "irqlab-irqchain.ko; repeatable)")
    p.add_argument("--smp", type=int, default=8, help="guest CPUs (8)")
    p.add_argument("--queues", type=int,
                   help="I/O queues the device offers (msix-testdev "
                   "queues=, nvme max_ioqpairs=, virtio-blk num-queues=)")
    p.add_argument("--iommu", action="store_true",
                   help="intel-iommu with interrupt remapping, guest "
                   "intel_iommu=on")
    p.add_argument("--vfio", action="store_true",
                   help="bind msix-testdev to vfio-pci behind intel-iommu "
                   "and drive it with guest/vfio's program (docs/guest.rst, "
                   "VFIO)")
    p.add_argument("--iommu-intremap", choices=("on", "off"), default="on",
                   help="with --vfio: the vIOMMU's interrupt remapping (on; "
                   "off: compatibility-format messages, "
                   "allow_unsafe_interrupts=1)")
    p.add_argument("--accel", default=DEFAULT_ACCEL,
                   help=f"QEMU -accel ({DEFAULT_ACCEL}; "
                   f"{DEFAULT_ACCEL_FIGURES})")
    p.add_argument("--xen", action="store_true",
                   help="boot the guest as a Xen HVM guest of QEMU's Xen "
                   "emulation (docs/xen-model.rst)")
    p.add_argument("--dom0", action="store_true",
                   help="boot Debian's Xen hypervisor with the guest kernel "
                   "as its PV dom0 (docs/xen-dom0.rst)")
    p.add_argument("--append", action="append", default=[], metavar="ARG",
                   help="one more kernel argument (pci=nomsi, noapic, ...;"
                   " repeatable)")
    p.add_argument("--expect", action="append", default=[],
                   metavar="REGEX",
                   help="check only that a line of the guest's "
                   "/proc/interrupts matches REGEX (repeatable), as QEMU's "
                   "own Xen functional test does, instead of following "
                   "each MSI-X vector")
    p.add_argument("--xen-version", type=lambda v: int(v, 0),
                   default=0x4000a, metavar="V",
                   help="with --xen: the xen-version (0x4000a, Xen 4.10, "
                   "as QEMU's own Xen test)")
    p.add_argument("--commands", type=int, default=8, metavar="K",
                   help="commands (I/Os) per queue, per CPU for block "
                   "devices (8)")
    p.add_argument("--storm", type=float, nargs="?", const=STORM_SECONDS,
                   metavar="S",
                   help="after the workload, an interrupt storm of S "
                   f"seconds ({STORM_SECONDS:g}) on every vector while the "
                   "guest masks, moves and hot-unplugs under it; then "
                   "every message accounted for (msix-testdev; "
                   "docs/guest.rst, Interrupt storm)")
    p.add_argument("--migrate", type=int, default=0, metavar="N",
                   help="with --storm: migrate the machine to a new QEMU N "
                   "times in the middle of the storm (0)")
    p.add_argument("--msi-log-size", type=int, metavar="N",
                   help="the device's MSI event log (x-msi-log-size; by "
                   "default what the workload needs); 0 keeps counters "
                   "only, as `make bench` runs the storm to show what the "
                   "log costs (the checks that read the log then fail)")
    p.add_argument("--storm-drop", type=int, default=0, metavar="K",
                   help="TEST HOOK: the device loses storm message K "
                   "(msix-testdev's x-storm-drop), to prove the storm's "
                   "accounting can fail")
    p.add_argument("--qemu", default=os.path.join(
        build, "qemu", "qemu-system-x86_64"), help="the QEMU binary")


def _common(p):
    every = {**faults.FAULTS, **faults.XEN_FAULTS, **faults.DOM0_FAULTS,
             **faults.VFIO_FAULTS, **faults.STORM_FAULTS,
             **faults.UNLOAD_FAULTS}
    p.add_argument("--inject-fault", choices=sorted(every), metavar="KIND",
                   help="TEST HOOK: break one parsed value before the "
                   "checks, to prove they can fail: " + "; ".join(
                       f"{k}: {v}" for k, v in every.items()))
    p.add_argument("-v", "--verbose", action="store_true",
                   help="every check with its values; progress")
    p.add_argument("--plot", metavar="FILE", type=_plot_file,
                   help="draw the run: one lane per vector over virtual "
                   "time, into FILE.svg or FILE.png (needs "
                   "python3-matplotlib)")


def _plot_file(path: str) -> str:
    from .plot import plot_format
    try:
        plot_format(path)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e))
    return path


def config(args, build, own_kernel: bool = True):
    """The run's Config from the options (`irqlab run`'s and `irqlab
    debug`'s), or None (said why).  @own_kernel: whether --kernel PATH
    may be given (not to `irqlab debug`, which reads Debian's kernels'
    symbols and headers)."""
    from .machine import Config
    vfio = getattr(args, "vfio", False)
    kernel = getattr(args, "kernel", DEFAULT_KERNEL)
    own = kernel not in KERNELS
    if own and not own_kernel:
        print(f"irqlab: error: --kernel {kernel}: irqlab debug boots "
              f"{' or '.join(KERNELS)} only", file=sys.stderr)
        return None
    if not own and (args.modules or args.module):
        print("irqlab: error: --modules and --module go with --kernel PATH",
              file=sys.stderr)
        return None
    cfg = Config(build=build, qemu=args.qemu, scenario=args.scenario,
                 smp=args.smp, queues=args.queues,
                 iommu=args.iommu or (vfio and args.iommu_intremap == "on"),
                 accel=args.accel, timeout=args.timeout,
                 commands=args.commands,
                 verbose=getattr(args, "verbose", False),
                 xen=args.xen_version if args.xen else None,
                 dom0=args.dom0,
                 append=" ".join(args.append), expect=args.expect,
                 vfio=vfio_vectors(args.smp) if vfio else None,
                 intremap=args.iommu_intremap == "on",
                 series=DEFAULT_KERNEL if own else kernel,
                 storm=args.storm, cuts=args.migrate,
                 storm_drop=args.storm_drop, msi_log_size=args.msi_log_size)
    if own:
        if not _own_kernel(cfg, args, vfio):
            return None
    elif cfg.series != DEFAULT_KERNEL and not _guest_ready(cfg) and \
            not build_guest(cfg):
        return None
    guest = () if own else (
        os.path.join(cfg.guest_dir, "kernel-version"),
        os.path.join(cfg.guest_dir, "initramfs.cpio.gz"))
    missing = [x for x in (cfg.qemu,) + guest
               + ((os.path.join(cfg.guest_dir, "xen-version"),)
                  if cfg.dom0 else ())
               if not os.path.exists(x)]
    if missing:
        print(f"irqlab: error: missing {', '.join(missing)}", file=sys.stderr)
        guest = "scripts/irqlab-guest" + (
            f" --kernel {cfg.series}" if cfg.series != DEFAULT_KERNEL
            else "")
        print(f"irqlab: hint: make setup builds QEMU; {guest} all builds "
              "the guest", file=sys.stderr)
        return None
    if vfio and (args.scenario != "msix-testdev" or args.xen or args.dom0
                 or args.iommu or args.expect):
        print("irqlab: error: --vfio drives msix-testdev natively, with "
              "its own vIOMMU: no --scenario, --xen, --dom0, --iommu or "
              "--expect", file=sys.stderr)
        return None
    if args.iommu_intremap != "on" and not vfio:
        print("irqlab: error: --iommu-intremap goes with --vfio",
              file=sys.stderr)
        return None
    if args.storm is not None and (
            args.scenario != "msix-testdev" or vfio or args.dom0 or
            args.expect or args.storm <= 0):
        print("irqlab: error: --storm S (S > 0) drives msix-testdev's "
              "storm through its driver: no other --scenario, --vfio, "
              "--dom0 or --expect", file=sys.stderr)
        return None
    if (args.migrate or args.storm_drop) and args.storm is None:
        print("irqlab: error: --migrate and --storm-drop go with --storm",
              file=sys.stderr)
        return None
    if args.msi_log_size is not None and not \
            0 <= args.msi_log_size <= LOG_MAX:
        print(f"irqlab: error: --msi-log-size must be 0 to {LOG_MAX}",
              file=sys.stderr)
        return None
    if args.migrate < 0 or args.storm_drop < 0:
        print("irqlab: error: --migrate and --storm-drop take a count, "
              "not a negative number", file=sys.stderr)
        return None
    if args.queues is not None and args.queues < 1:
        print("irqlab: error: --queues must be at least 1", file=sys.stderr)
        return None
    return cfg


def _own_kernel(cfg, args, vfio: bool) -> bool:
    """--kernel PATH: its configuration checked, its modules chosen, its
    initramfs made (ownkernel.py) into @cfg; False (said why) when it
    cannot run."""
    from .machine import guest_dir
    from .ownkernel import OwnKernelError, prepare
    top = os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    try:
        cfg.own = prepare(
            cfg.build, top, args.kernel, args.modules, args.module,
            cfg.scenario, cfg.iommu, bool(cfg.xen), cfg.dom0, vfio,
            {s: guest_dir(cfg.build, s) for s in KERNELS},
            log=lambda m: print(m, file=sys.stderr),
            storm=cfg.storm is not None)
    except OwnKernelError as e:
        print(f"irqlab: error: {e}", file=sys.stderr)
        return False
    # The Debian guest of the same release, if any, lends its headers
    # (Linux's vector names) and Xen.
    cfg.series = cfg.own.series or DEFAULT_KERNEL
    return True


def _guest_ready(cfg) -> bool:
    return all(os.path.exists(os.path.join(cfg.guest_dir, x))
               for x in ("kernel-version", "initramfs.cpio.gz"))


def build_guest(cfg) -> bool:
    """A kernel other than the default one is built on demand, the first
    time it is asked for: scripts/irqlab-guest --kernel SERIES all (a
    download of about 130 MB and a minute or so; it skips what is done).
    False (said why) when that fails."""
    top = os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    cmd = [os.path.join(top, "scripts", "irqlab-guest"), "--kernel",
           cfg.series, "all"]
    print(f"irqlab: no {cfg.series} guest in {cfg.guest_dir}: building it "
          f"({' '.join(['scripts/irqlab-guest'] + cmd[1:])})",
          file=sys.stderr)
    env = dict(os.environ, IRQLAB_BUILD=cfg.build)
    # Its progress goes to stderr, so that stdout stays the report.
    st = subprocess.run(cmd, env=env, stdout=sys.stderr).returncode
    if st != 0:
        print(f"irqlab: error: scripts/irqlab-guest --kernel {cfg.series} "
              f"all failed (exit status {st})", file=sys.stderr)
    return st == 0


def vfio_vectors(smp: int) -> tuple[int, int]:
    """--vfio's two enables: one vector per CPU, then two more (MSI-X is
    NORESIZE: a new N is a disable and a whole new enable)."""
    return smp, smp + 2


def _run(args, build) -> dict | None:
    from .machine import LaunchError, run
    cfg = config(args, build)
    if cfg is None:
        return None
    try:
        record = run(cfg, log=lambda m: print(m, file=sys.stderr))
    except LaunchError as e:
        print(f"irqlab: error: QEMU did not start: {str(e).strip()}",
              file=sys.stderr)
        return None
    if cfg.dom0 and cfg.irqlab:
        replay_model(cfg, record)
    if cfg.own:
        _never_booted(cfg, record)
    return record


def _never_booted(cfg, record: dict):
    """--kernel PATH: a kernel that never started guest/init (no
    "irqlab-init:" line on its console) is said to be the one at fault;
    the report shows its console's last lines."""
    o = record["outcome"]
    if o["status"] != "done" and not any(
            "irqlab-init:" in x for x in record.get("console", [])):
        o["detail"] = (o["detail"] + "; " if o["detail"] else "") + \
            f"kernel {cfg.own.image} never started guest/init: its " \
            "console's last lines are below"


def replay_model(cfg, record: dict):
    """--dom0: the same flow through xen-physirq (xenmodel.py), into the
    record, for `irqlab check` to compare."""
    from .analysis import analyze
    from . import xenmodel
    a = analyze(record)
    unloaded = record.get("qmp", {}).get("unloaded", {}).get(
        "x-query-msix-log")
    if not a.dom0_rows or unloaded is None:
        record["model-replay"] = {"error": "the run has nothing to replay"}
        return
    apic_cpus = {int(k): v["cpu-index"]
                 for k, v in (record.get("lapic") or {}).items()}
    record["model-replay"] = xenmodel.replay(
        cfg.qemu, cfg.smp, a.dom0_rows,
        xenmodel.real_events(a.host, unloaded)["unloaded"], apic_cpus)
