# SPDX-License-Identifier: GPL-2.0-or-later
"""
QEMU for one run: the command line, the launch (QEMU's own
qemu.machine.QEMUMachine, QMP through its qemu.qmp), and the run itself,
synchronised with guest/init over ttyS1 without a single sleep:

  - QEMU starts stopped (-S); ttyS1 is a unix socket chardev QEMU serves,
    which the harness connects to before it lets the CPUs run (`cont`),
    so no byte the guest writes can be lost;
  - the guest writes its report and `@@irqlab sync <phase>`, then blocks
    reading ttyS1; the harness queries QMP (the device has no more work
    and the guest is waiting, so the two views are of the same moment)
    and answers `go`;
  - QEMU's exit (poweroff, or a panic with panic=-1 and -no-reboot) closes
    the socket; past the deadline QEMU is killed;
  - when neither ttyS1 nor the console has grown for STALL_S seconds, the
    harness looks at the vCPUs: a CPU halted with a vector in service
    (stall.py) on two looks a second apart ends the run as "stalled", with
    the words for it, instead of waiting for the deadline.

A QEMU built without irqlab's patches (`make bench` builds one in
build/qemu-base) runs the same guest: nothing is queried, only the
outcome counts (`irqlab soak --qemu`).

The run's record (new_record(), finish_record()) is the one `irqlab
debug` fills too, under gdb (debug.py).
"""

import os
import select
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass

from .channel import GuestChannel
from .scenario import BDF, DUT, SCENARIOS, log_size
from . import iommu, lapic, stall, xenkeys

TRACE_EVENTS = ("irq_vectors:vector_config,irq_vectors:vector_update,"
                "irq_vectors:vector_activate")
PANIC = "Kernel panic"
TAIL = 20
# Seconds without a byte on ttyS1 or the console before the harness looks
# for a stalled vCPU, well inside the 21 s after which Linux's RCU stall
# warning would end the silence.  Silence alone ends nothing: a slow run
# whose vCPUs look healthy goes on.
STALL_S = 5.0


# scripts/irqlab-guest's kernels: the two Debian bookworm ships
# (linux-image-amd64's 6.1 and linux-image-6.12-amd64's).
KERNELS = ("6.1", "6.12")
DEFAULT_KERNEL = "6.1"


def guest_dir(build: str, series: str = DEFAULT_KERNEL) -> str:
    """Where scripts/irqlab-guest --kernel @series puts its guest: the
    default kernel's in build/guest, as always, the others' below it."""
    base = os.path.join(build, "guest")
    return base if series == DEFAULT_KERNEL else os.path.join(base, series)


class LaunchError(Exception):
    """QEMU did not start (bad option, missing firmware, ...)."""


@dataclass
class Config:
    build: str
    qemu: str
    scenario: str
    smp: int
    queues: int | None
    iommu: bool
    accel: str
    timeout: float
    commands: int
    verbose: bool = False
    irqlab: bool = True         # QEMU has irqlab's patches (probe_qemu())
    xen: int | None = None      # a Xen HVM guest: the xen-version
    dom0: bool = False          # Linux as PV dom0 of Debian's Xen
    append: str = ""            # more kernel arguments
    expect: list | None = None  # /proc/interrupts regexes (analysis.py)
    # guest/vfio's program drives the device through vfio-pci (vfio.py):
    # (N1, N2), the vectors of its two enables
    vfio: tuple | None = None
    intremap: bool = True       # with vfio: intel-iommu,intremap=on|off
    # which of bookworm's kernels (scripts/irqlab-guest --kernel): 6.1 in
    # build/guest, another in build/guest/<series>
    series: str = DEFAULT_KERNEL
    # the interrupt storm after "loaded" (storm.py): its seconds, the
    # migrations in it, and the device's x-storm-drop fault (0: none)
    storm: float | None = None
    cuts: int = 0
    storm_drop: int = 0
    msi_log_size: int | None = None     # None: log_size() of the run
    # --kernel PATH: a developer's kernel (ownkernel.OwnKernel), booted
    # instead, the guest of the same release its series if any
    own: object = None

    @property
    def guest_dir(self) -> str:
        return guest_dir(self.build, self.series)

    def kernel(self) -> tuple[str, str, str]:
        """
        (version, kernel, initramfs) from scripts/irqlab-guest's output.
        The kernel is Debian's vmlinuz with its decompressor taken off
        (build/guest/vmlinux-<ver>), which QEMU starts at the PVH entry
        point: the same kernel, about 5 s of TCG sooner on every boot.
        """
        if self.own is not None:
            return self.own.release, self.own.image, self.own.initramfs
        with open(os.path.join(self.guest_dir, "kernel-version")) as f:
            ver = f.read().strip()
        if self.xen or self.dom0:
            # Through the PVH entry Linux on Xen makes itself a PVH guest
            # (xen_prepare_pvh()); an HVM guest boots from its bzImage, and
            # Xen loads dom0's.
            kernel = os.path.join(self.guest_dir, "kernel", "boot",
                                  f"vmlinuz-{ver}")
        else:
            kernel = os.path.join(self.guest_dir, f"vmlinux-{ver}")
        return (ver, kernel,
                os.path.join(self.guest_dir, "initramfs.cpio.gz"))

    def hypervisor(self) -> str:
        """Debian's Xen, unzipped by scripts/irqlab-guest fetch."""
        with open(os.path.join(self.guest_dir, "xen-version")) as f:
            return os.path.join(self.guest_dir, f.read().strip())

    def accel_arg(self) -> str:
        return f"{self.accel},xen-version={self.xen:#x}" if self.xen \
            else self.accel

    def firmware_dir(self) -> str | None:
        d = os.path.join(os.path.dirname(self.qemu), "qemu-bundle", "usr",
                         "local", "share", "qemu")
        return d if os.path.isdir(d) else None

    def io_queues(self) -> int:
        return self.queues or SCENARIOS[self.scenario].default_queues


def probe_qemu(cfg: Config) -> bool:
    """Whether @cfg's QEMU has irqlab's patches: its scenario device has
    the x-msi-log-size property every patched PCI device has."""
    dev = SCENARIOS[cfg.scenario].device_type
    try:
        out = subprocess.run([cfg.qemu, "-device", f"{dev},help"],
                             capture_output=True, text=True, timeout=30)
    except OSError:
        return False
    return "x-msi-log-size" in out.stdout


# Debian's Xen with Linux as PV dom0 under TCG (docs/xen-dom0.rst): Xen's
# console on COM1 (ttyS0, the console file), dom0's on Xen's console
# (hvc0), COM2 left to dom0 for the report/sync channel; no IOMMU under
# QEMU; 1 GiB for dom0 as for a native guest.
XEN_CMDLINE = ("console=com1 com1=115200,8n1 dom0_mem=1024M noreboot "
               "iommu=0")
# SMAP and SMEP on, as Xen uses them on hardware (QEMU before 9.1 failed
# dom0's first IRET under SMAP: docs/xen-dom0.rst).
DOM0_CPU = "max"


def kernel_cmdline(cfg: Config) -> str:
    """The command line the contract with guest/init fixes."""
    console = ["console=hvc0", "earlyprintk=xen"] if cfg.dom0 \
        else ["console=ttyS0"]
    args = console + ["panic=-1", "nokaslr",
            f"trace_event={TRACE_EVENTS}", "trace_buf_size=4M",
            f"irqlab.scenario={cfg.scenario}", f"irqlab.bdf={BDF}",
            f"irqlab.commands={cfg.commands}"]
    if cfg.iommu or cfg.vfio:
        args.append("intel_iommu=on")
    if cfg.vfio:
        args.append(f"irqlab.vfio={cfg.vfio[0]},{cfg.vfio[1]}")
        if not cfg.intremap:
            # vfio_iommu_type1.c: no group attach without remapping unless
            # the admin accepts it (guest/init hands it to insmod).
            args.append("vfio_iommu_type1.allow_unsafe_interrupts=1")
    if cfg.storm:
        args += [f"irqlab.storm={cfg.storm:g}", f"irqlab.cuts={cfg.cuts}"]
    if cfg.xen:
        # Keep the disks and NICs QEMU's xen-platform would unplug for
        # blkfront/netfront (virtio-blk among them).
        args.append("xen_emul_unplug=never")
    if cfg.append:
        args.append(cfg.append)
    return " ".join(args)


def qemu_args(cfg: Config, tmp: str, console: str, sync: str,
              keys: str | None = None) -> list[str]:
    _, vmlinux, initrd = cfg.kernel()
    if cfg.dom0:
        # Multiboot modules: "file arguments", comma-separated, a comma
        # inside written twice.
        module = f"{vmlinux} {kernel_cmdline(cfg)}".replace(",", ",,")
        boot = ["-m", "2G", "-cpu", DOM0_CPU, "-kernel", cfg.hypervisor(),
                "-append", XEN_CMDLINE, "-initrd", f"{module},{initrd}"]
    else:
        boot = ["-m", "1G", "-kernel", vmlinux, "-initrd", initrd,
                "-append", kernel_cmdline(cfg)]
    args = ["-M", "q35", "-nodefaults", "-no-reboot", "-S",
            "-smp", str(cfg.smp), "-accel", cfg.accel_arg()] + boot + [
            # ttyS0: the console, to a file (under --dom0 Xen's, its input
            # from @keys: xenkeys.py); ttyS1: the report/sync channel.
            # append: a migration's destination writes on after the source
            "-chardev", f"file,id=con,path={console},append=on"
            + (f",input-path={keys}" if keys else ""),
            "-serial", "chardev:con",
            "-chardev", f"socket,id=sync,path={sync},server=on,wait=off",
            "-serial", "chardev:sync"]
    fw = cfg.firmware_dir()
    if fw:
        args += ["-L", fw]
    if cfg.iommu or cfg.vfio:
        # Interrupt remapping under TCG needs nothing more: QEMU refuses
        # intremap only with KVM's in-kernel irqchip (kernel-irqchip=split is
        # the KVM answer).  It must precede the devices it translates.
        # VFIO needs the vIOMMU either way: without an IOMMU group
        # vfio-pci does not probe (CONFIG_VFIO_NOIOMMU is off).
        args += ["-device", "intel-iommu,intremap="
                 + ("on" if cfg.iommu else "off")]
    log = cfg.msi_log_size if cfg.msi_log_size is not None else \
        log_size(cfg.commands, cfg.smp, min(cfg.io_queues(), cfg.smp))
    args += SCENARIOS[cfg.scenario].device_args(
        cfg.queues, tmp, log if cfg.irqlab else None,
        f"x-storm-drop={cfg.storm_drop}" if cfg.storm_drop else "")
    return args


def run(cfg: Config, log=print) -> dict:
    """Boot, collect, query; returns the run's raw record (JSON-able)."""
    # Imported here so that `irqlab check` works without QEMU's tree.
    from qemu.machine import QEMUMachine

    cfg.irqlab = probe_qemu(cfg)
    record = new_record(cfg)
    with tempfile.TemporaryDirectory(prefix="irqlab-run-") as tmp:
        console = os.path.join(tmp, "console.log")
        sync_path = os.path.join(tmp, "sync.sock")
        xen_console = xenkeys.XenConsole(os.path.join(tmp, "xen-keys"),
                                         console) if cfg.dom0 else None
        args = qemu_args(cfg, tmp, console, sync_path,
                         xen_console.fifo if xen_console else None)
        record["qemu-args"] = [cfg.qemu] + args
        machines = []

        def make_vm(extra=()):
            machines.append(QEMUMachine(
                cfg.qemu, args=args + list(extra), base_temp_dir=tmp,
                name=f"irqlab-{len(machines)}" if machines else "irqlab"))
            return machines[-1]

        vm = make_vm()
        if cfg.verbose:
            log("irqlab: " + " ".join([cfg.qemu] + args))
        with vm:
            try:
                vm.launch()
            except Exception as e:      # noqa: BLE001  (VMLaunchFailure)
                raise LaunchError(getattr(e, "output", None) or str(e)) \
                    from e
            record["qemu-version"] = qemu_version(vm.cmd("query-version"))
            link = Link(vm, socket.socket(socket.AF_UNIX, socket.SOCK_STREAM))
            try:
                link.sock.connect(sync_path)
                t0 = time.monotonic()
                vm.cmd("cont")
                status, detail = converse(
                    cfg, link, record, t0, log, console, xen_console,
                    cutter=lambda v, phase: _cut(cfg, v, make_vm, tmp,
                                                 sync_path, phase, record))
            finally:
                link.sock.close()
                for m in machines[1:]:
                    if m is not link.vm:
                        m.shutdown()
            vm = link.vm
            if status in ("timeout", "stalled"):
                record["stuck"] = stuck_state(vm, cfg)
            if status in ("timeout", "stalled", "harness"):
                vm.kill()
            else:
                left = max(1.0, t0 + cfg.timeout - time.monotonic())
                try:
                    vm.wait(timeout=left)
                except Exception:       # noqa: BLE001  (AbnormalShutdown)
                    status, detail = "timeout", \
                        f"QEMU still running {cfg.timeout:.0f} s after start"
                    vm.kill()
            wall = time.monotonic() - t0
            record["times"]["wall-s"] = wall
            if status not in ("timeout", "stalled"):
                record["times"]["boot-to-poweroff-s"] = wall
            record["qemu-exit"] = vm.exitcode()
            if status == "exited":
                detail += f" (exit status {vm.exitcode()})"
        if xen_console:
            xen_console.close()
        record["qemu-log"] = "".join(m.get_log() or "" for m in machines)
        finish_record(record, status, detail, console)
    return record


def _cut(cfg: Config, vm, make_vm, tmp: str, sync_path: str, phase: str,
         record: dict):
    """At sync @phase of a --migrate run: @vm to a new QEMU
    (migrate.cut()), what the source counted as record["qmp"][@phase].
    The new (vm, sock), the destination running."""
    from . import migrate
    new, sock, rec = migrate.cut(
        vm, make_vm, sync_path, os.path.join(tmp, f"{phase}.migration"),
        phase, final=lambda v: query(v, cfg, phase, record))
    record["qmp"][phase] = rec.pop("source")
    record.setdefault("migrations", []).append(rec)
    new.cmd("cont")
    return new, sock


# ------------------------------------------------------- the run's record

def new_record(cfg: Config, **more) -> dict:
    """
    The record of one run, as `irqlab run` (run()) and `irqlab debug`
    (debug.Session) both start it: what the run is (the options, the
    kernel and its command line) and the empty places the run fills (the
    guest's reports and the QMP answers by phase, the times).  The same
    JSON-able dict goes to analysis.analyze(), --json and `irqlab check`.
    @more adds keys (debug=True).
    """
    return {"scenario": cfg.scenario, "smp": cfg.smp,
            "queues": cfg.queues, "io_queues": cfg.io_queues(),
            "iommu": cfg.iommu, "accel": cfg.accel,
            "commands": cfg.commands, "kernel": cfg.kernel()[0],
            "cmdline": kernel_cmdline(cfg), "irqlab-qemu": cfg.irqlab,
            "xen": cfg.xen, "dom0": cfg.dom0, "expect": cfg.expect or [],
            "vfio": list(cfg.vfio) if cfg.vfio else None,
            "storm": cfg.storm, "cuts": cfg.cuts,
            "storm-drop": cfg.storm_drop,
            "linux-vectors": linux_vector_names(cfg),
            "kernel-config": cfg.own.record() if cfg.own else None,
            "reports": {}, "qmp": {}, "times": {}, "sync-host-s": {},
            **more}


def qemu_version(answer: dict) -> str:
    """query-version's answer -> "10.0.13", and the build's package
    string after it when it has one."""
    return "{major}.{minor}.{micro}".format(**answer["qemu"]) + \
        (f" {answer['package']}" if answer.get("package") else "")


def finish_record(record: dict, status: str, detail: str, console: str):
    """Once QEMU has gone: the guest's console (the file @console) into
    @record, and the outcome, @status and @detail unless the console
    shows a kernel panic."""
    try:
        with open(console, errors="replace") as f:
            record["console"] = f.read().splitlines()
    except OSError:
        record["console"] = []
    panic = next((x for x in record["console"] if PANIC in x), None)
    if panic is not None:
        status, detail = "panic", panic.strip()
    record["outcome"] = {"status": status, "detail": detail}


def linux_vector_names(cfg: Config) -> dict[str, str]:
    """Linux's names of its reserved vectors, from the guest kernel's
    headers (scripts/irqlab-guest unpacks them), by vector in hex."""
    ver = cfg.kernel()[0]
    common = ver.rsplit("-", 1)[0] + "-common"
    path = os.path.join(cfg.guest_dir, "headers", "usr", "src",
                        f"linux-headers-{common}", "arch", "x86", "include",
                        "asm", "irq_vectors.h")
    try:
        with open(path) as f:
            names = stall.linux_vector_names(f.read())
    except OSError:
        return {}
    return {f"{v:#04x}": n for v, n in sorted(names.items())}


def stuck_state(vm, cfg: Config) -> dict:
    """What QEMU holds when the guest did not finish: every vCPU's run
    state and local APIC (ISR, IRR), and the device's vectors (masked,
    pending, sent, held), so that a lost or stuck interrupt shows where it
    stopped.  The vCPUs are stopped first: one moment, and the last.
    Kept raw beside them, for what the report does not read yet: the
    monitor's own text of every vCPU's registers (RIP) and local APIC
    (the timer's LVT and counts), and with --xen the event channels and
    each vCPU's upcall state (x-query-xen-irqs, xen-event-list)."""
    try:
        vm.cmd("stop")
        out = stall.read(vm, DUT if cfg.irqlab else None)

        def hmp(line):
            return vm.cmd("human-monitor-command", command_line=line)
        out["hmp"] = {"info registers -a": hmp("info registers -a")}
        for cpu in vm.cmd("query-cpus-fast"):
            apic_id = vm.cmd("qom-get", path=cpu["qom-path"],
                             property="apic-id")
            out["hmp"][f"info lapic {apic_id}"] = hmp(f"info lapic {apic_id}")
        if cfg.xen:
            out["x-query-xen-irqs"] = vm.cmd("x-query-xen-irqs")
            out["xen-event-list"] = vm.cmd("xen-event-list")
        return out
    except Exception as e:      # noqa: BLE001  (QMP, monitor)
        return {"error": f"{type(e).__name__}: {e}"}


class Progress:
    """When the guest last wrote anything: ttyS1 or the console file."""

    def __init__(self, console: str):
        self.console = console
        self.size = 0
        self.at = time.monotonic()

    def poll(self, got_data: bool) -> float:
        """Seconds since the last progress."""
        try:
            size = os.path.getsize(self.console)
        except OSError:
            size = self.size
        if got_data or size != self.size:
            self.size, self.at = size, time.monotonic()
        return time.monotonic() - self.at


@dataclass
class Link:
    """The QEMU a run talks to (QMP) and the guest's channel (ttyS1) in
    it; a migration (--migrate) replaces both."""
    vm: object
    sock: socket.socket


def converse(cfg, link: Link, record, t0, log, console: str | None = None,
             xen_console=None, cutter=None) -> tuple[str, str]:
    """Read ttyS1 until `done`, QEMU's exit or the deadline, and, given
    the @console file to watch, a stalled vCPU (not under gdb, which
    stops the vCPUs itself).  Under --dom0, @xen_console reads Xen's debug
    keys at the "loaded" sync.  At a sync "storm-cut-K", @cutter(vm,
    phase) moves the machine to a new QEMU and returns its (vm, sock),
    which then replace @link's."""
    chan = GuestChannel()
    progress = Progress(console) if console else None
    suspect = None          # the lost EOIs of the previous look
    deadline = t0 + cfg.timeout
    status, detail = "exited", "QEMU exited before @@irqlab done"
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return ("timeout",
                        f"no @@irqlab done within {cfg.timeout:.0f} s")
            ready = select.select([link.sock], [], [], min(left, 1.0))[0]
            if progress and progress.poll(bool(ready)) >= STALL_S:
                lost = lost_eois(link.vm)
                if lost and lost == suspect:
                    cpu, vector = lost[0]
                    return ("stalled",
                            f"no guest output for {STALL_S:.0f} s; CPU "
                            f"{cpu} halted with vector {vector:#04x} in "
                            "service")
                suspect = lost
            else:
                suspect = None
            if not ready:
                continue
            data = link.sock.recv(1 << 16)
            if not data:
                return status, detail
            for ev in chan.feed(data):
                now = time.monotonic() - t0
                if ev.kind == "report":
                    record["reports"][ev.arg] = ev.files
                elif ev.kind == "sync":
                    record["times"][f"sync-{ev.arg}-s"] = now
                    t = time.monotonic()
                    try:
                        if cutter and ev.arg.startswith("storm-cut-"):
                            old = link.sock
                            link.vm, link.sock = cutter(link.vm, ev.arg)
                            old.close()
                        else:
                            record["qmp"][ev.arg] = query(link.vm, cfg,
                                                          ev.arg, record)
                        if xen_console and ev.arg == "loaded":
                            record["xen-keys"] = xen_keys(xen_console)
                    except Exception as e:  # noqa: BLE001  (QMP, monitor)
                        return "harness", f"querying QEMU at sync " \
                            f"{ev.arg}: {type(e).__name__}: {e}"
                    record["sync-host-s"][ev.arg] = time.monotonic() - t
                    if cfg.verbose:
                        log(f"irqlab: {now:6.2f} s sync {ev.arg}: queried "
                            "QMP, go")
                    link.sock.sendall(b"go\n")
                elif ev.kind == "error":
                    status, detail = "error", f"guest: {ev.arg}"
                    log(f"irqlab: guest error: {ev.arg}")
                elif ev.kind == "done":
                    record["times"]["done-s"] = now
                    if status != "error":
                        status, detail = "done", ""
                    return status, detail
    finally:
        record["channel"] = chan.transcript


def xen_keys(xen_console) -> dict:
    """Xen's debug-key dumps (xenkeys.py), or why there are none."""
    try:
        return xen_console.dump()
    except xenkeys.XenKeyError as e:
        return {"error": str(e)}


def lost_eois(vm) -> list[tuple[int, int]]:
    """(CPU, vector) of each lost EOI QEMU shows now (stall.lost_eois());
    none when QEMU cannot be asked.  The vCPUs are stopped for the look,
    so that a CPU's run state and its APIC are read at one moment (a CPU
    halted, then woken into a handler, would look like one).  Not when
    something else has stopped them."""
    try:
        if vm.cmd("query-status")["status"] != "running":
            return []
        vm.cmd("stop")
        try:
            state = stall.read_cpus(vm)
        finally:
            vm.cmd("cont")
    except Exception:           # noqa: BLE001  (QMP, monitor)
        return []
    return [(x.cpu, x.vector) for x in stall.lost_eois(state)]


def query(vm, cfg: Config, phase: str, record: dict) -> dict:
    """At a sync point: the device's table and log, LAPICs, the IRTEs."""
    if not cfg.irqlab:
        return {}
    out = {"x-query-msix": vm.cmd("x-query-msix", device=DUT)}
    # The storm's log is its messages by the million: the counts will do.
    if not phase.startswith("storm"):
        out["x-query-msix-log"] = vm.cmd("x-query-msix-log", device=DUT)
    if cfg.xen:
        out["x-query-xen-irqs"] = vm.cmd("x-query-xen-irqs")
        out["xen-event-list"] = vm.cmd("xen-event-list")
    if phase == "loaded":
        record["lapic"] = lapic.read(vm)
    # --vfio holds the device at "loaded" and "reenabled" (vfio.py).
    if cfg.iommu and phase in ("loaded", "reenabled"):
        def hmp(line):
            return vm.cmd("human-monitor-command", command_line=line)
        unit = iommu.read_remapping_unit(hmp)
        record["iommu-unit"] = unit
        irte = {}
        for cap in out["x-query-msix"]:
            if cap["capability"] != "msix":
                continue
            for v in cap["vectors"]:
                if v["decoded"]["format"] == "remappable":
                    irte[v["index"]] = iommu.read_irte(
                        hmp, unit, iommu.interrupt_index(v["decoded"]))
        record["irte" if phase == "loaded" else f"irte-{phase}"] = irte
    return out
