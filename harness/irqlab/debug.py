# SPDX-License-Identifier: GPL-2.0-or-later
"""
`irqlab debug`: a harness scenario with Debian's gdb attached to QEMU's
gdb stub (docs/debugging.rst).

QEMU starts stopped (-S) with `-gdb tcp:127.0.0.1:PORT`, the guest with
nokaslr (the harness's command line already has it), and gdb connects
with the kernel's symbols (symbols.py: from the guest's /proc/kallsyms,
or the -dbg package's vmlinux with --dbg), guest/gdb/irqlab.py's
commands, and the guest modules' files, whose symbols it adds when the
guest loads them.
gdb starts the CPUs (`continue`).  Meanwhile a thread of this process
answers guest/init on ttyS1 exactly as `irqlab run` does (the guest
blocks at each sync until the host has queried QMP), so the run ends with
the same record and the same cross-checks.

Processes: QEMU runs in a session of its own, so the Ctrl-C typed at gdb
reaches gdb alone (QEMU would quit on SIGINT), and dies with this process
(PR_SET_PDEATHSIG); quitting gdb, or gdb crashing, stops QEMU in the
`finally` below.

--batch runs `irqlab-walk --all` and asserts what the walk must show:
at the first pci_alloc_irq_vectors_affinity() of the device MSI-X is
disabled and its table untouched; when the first I/O vector's irq has
started (irq_startup() returned) ENABLE is set, MASKALL clear, and the
entry holds the message the guest later reports for that irq (tracefs
vector_config: vector and APIC destination).

--dom0 runs Debian's Xen with the guest kernel as its PV dom0
(machine.qemu_args(), docs/xen-dom0.rst) under the same gdb: the stub's
threads are then the physical CPUs Xen runs on, and the breakpoints,
which TCG matches by virtual address, stop dom0's kernel at its link
addresses (a PV kernel is not relocated; nokaslr as everywhere) while Xen
runs at 0xffff82d0...  The walk adds the functions of Xen's dom0 path
(guest/gdb/irqlab.py), and the checks follow it (dom0_stop_checks()):
xen_initdom_setup_msi_irqs() finds the table untouched; at each
xen_bind_pirq_msi_to_irq() the entry PHYSDEVOP_map_pirq just mapped holds
Xen's message, masked; across each __startup_pirq() (EVTCHNOP_bind_pirq)
the entry goes from masked to unmasked, a compatibility-format message
with a vector; and Linux composes no message for the device.

--vfio (msix-testdev driven by guest/vfio's program through vfio-pci):
the walk adds vfio-pci-core's functions, armed when that module loads,
and vfio_stop_checks() follows both enables through them.
"""

import ctypes
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from . import machine, symbols, xenkeys
from .scenario import BDF, DUT
from .verdict import Check

GDB = "gdb"
TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
GDB_SCRIPT = os.path.join(TOP, "guest", "gdb", "irqlab.py")
PR_SET_PDEATHSIG = 1
# Interactive sessions have no deadline; the guest waits at its syncs.
FOREVER = 7 * 24 * 3600.0
# Per-CPU variables the gdb commands read (dom0's own CPU number).
PERCPU = ("cpu_number",)


def add_arguments(p):
    """The options of `irqlab debug` besides the scenario's (those are
    `irqlab run`'s: --scenario --smp --queues --iommu --accel --commands
    --qemu -v)."""
    p.add_argument("--port", type=int, default=0,
                   help="gdb stub TCP port on 127.0.0.1 (default: a free "
                   "one)")
    p.add_argument("--dbg", action="store_true",
                   help="full kernel debug info: the vmlinux of Debian's "
                   "linux-image-<ver>-dbg (about 860 MB download, once)")
    p.add_argument("--batch", action="store_true",
                   help="no prompt: walk through the MSI-X set-up to "
                   "poweroff, check the stops and the run (make check)")
    p.add_argument("--gdb", default=GDB, help="the gdb to run (gdb)")
    p.add_argument("--ex", action="append", default=[], metavar="CMD",
                   help="a gdb command to run once attached (repeatable)")
    p.add_argument("--timeout", type=float, default=None,
                   help="--batch: seconds for the whole session (600)")
    p.add_argument("--keep", action="store_true",
                   help="keep the session directory (console log, gdb "
                   "script, stop log)")


def main(args, build: str) -> int:
    """`irqlab debug`, with the parsed options of add_arguments() and of
    the scenario.  Returns the exit status (0 passed / 1 failed / 2 could
    not run)."""
    log = _log
    if args.xen:
        log("irqlab: error: irqlab debug --xen does not exist yet (the walk"
            " knows a native guest's path and a PV dom0's: --dom0)")
        return 2
    from .cli import config
    cfg = config(args, build, own_kernel=False)
    if cfg is None:
        return 2
    cfg.timeout = args.timeout or (600.0 if args.batch else FOREVER)
    import shutil
    if shutil.which(args.gdb) is None:
        log(f"irqlab: error: no {args.gdb}")
        log("irqlab: hint: apt-get install gdb (scripts/irqlab-build deps "
            "installs it)")
        return 2
    t_start = time.monotonic()
    try:
        ks = symbols.ensure(cfg, log=log)
        if args.dbg:
            ks.dbg_vmlinux = symbols.ensure_dbg(build, ks.version, log=log)
    except (OSError, ValueError, RuntimeError) as e:
        log(f"irqlab: error: kernel symbols: {e}")
        return 2
    t_symbols = time.monotonic() - t_start

    tmp = tempfile.mkdtemp(prefix="irqlab-debug-")
    session = Session(cfg, args, ks, tmp)
    try:
        status = session.run()
    finally:
        if not args.keep:
            _rmtree(tmp)
        else:
            log(f"irqlab: session files kept in {tmp}")
    if status is None:
        return 2
    record = session.record
    record["times"]["symbols-s"] = t_symbols
    if cfg.dom0 and record["outcome"]["status"] == "done":
        from .cli import replay_model
        replay_model(cfg, record)
    if not args.batch:
        o = record["outcome"]
        log(f"irqlab: guest {o['status']}"
            + (f" ({o['detail']})" if o.get("detail") else ""))
        if o["status"] != "done":
            return 0 if session.gdb_status == 0 else 1
    from . import report
    from .analysis import analyze
    a = analyze(record)
    print(report.text(a, cfg.verbose))
    if not args.batch:
        return 0 if a.ok else 1
    checks = stop_checks(session.stops, a.guest, record)
    print()
    print("gdb walk (irqlab-walk --all): "
          f"{len(session.stops)} stops; symbols "
          f"{'-dbg vmlinux' if args.dbg else 'kallsyms'} "
          f"{t_symbols:.1f} s, gdb session {session.gdb_seconds:.1f} s")
    for c in checks:
        print(f"  {c.verdict}  {c.group}: {c.name}"
              + (f"  ({c.detail})" if c.detail else ""))
    ok = a.ok and checks and all(c.ok for c in checks) \
        and session.gdb_status == 0
    nfail = sum(not c.ok for c in checks) + sum(not c.ok for c in a.checks)
    npass = len(checks) + len(a.checks) - nfail
    print(f"irqlab debug --batch: {'PASS' if ok else 'FAIL'}: {npass} "
          f"passed, {nfail} failed"
          + ("" if session.gdb_status == 0 else
             f"; gdb exited with {session.gdb_status}"))
    return 0 if ok else 1


def _log(msg):
    print(msg, file=sys.stderr, flush=True)


def _rmtree(path):
    import shutil
    shutil.rmtree(path, ignore_errors=True)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent(sig):
    """
    preexec_fn: the child gets @sig when this process dies, however.  libc
    is looked up here, in the parent: between fork and exec, with the
    talker thread running, the child may only make the prctl() call.
    """
    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def preexec():
        prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)
    return preexec


class _QmpShim:
    """QEMUMachine.cmd()'s calling convention (keyword arguments with _
    for -) over qemu.qmp.legacy, which machine.query() and the modules it
    calls use."""

    def __init__(self, qmp):
        self.qmp = qmp

    def cmd(self, name, **args):
        return self.qmp.cmd(name, **{k.replace("_", "-"): v
                                     for k, v in args.items()})


class Session:
    def __init__(self, cfg, args, ks, tmp):
        self.cfg, self.args, self.ks, self.tmp = cfg, args, ks, tmp
        self.record = machine.new_record(cfg, debug=True)
        self.stops = []
        self.gdb_status = None
        self.stopped_qemu = False
        self.gdb_seconds = 0.0
        self._status = ("exited", "QEMU exited before @@irqlab done")
        self.console = os.path.join(tmp, "console.log")
        self.sync_path = os.path.join(tmp, "sync.sock")
        self.qmp_path = os.path.join(tmp, "qmp.sock")
        self.stop_log = os.path.join(tmp, "stops.json")
        # --dom0: Xen's debug keys at the "loaded" sync, as irqlab run
        # (xenkeys.py); a vCPU held at a breakpoint then holds the dump
        # to its timeout, which the report says.
        self.xen_console = xenkeys.XenConsole(
            os.path.join(tmp, "xen-keys"), self.console) \
            if cfg.dom0 else None

    # ------------------------------------------------------------ files

    def module_files(self) -> list[str]:
        """Every module the initramfs holds (the very files the guest
        loads) and our driver's build, which has DWARF."""
        out = []
        ver = self.ks.version
        root = os.path.join(self.cfg.guest_dir, "initramfs.d", "lib",
                            "modules", ver)
        for d, _, files in os.walk(root):
            out += [os.path.join(d, f) for f in files if f.endswith(".ko")]
        drv = os.path.join(self.cfg.guest_dir, "driver", "msix_testdev.ko")
        if os.path.exists(drv):
            out = [x for x in out if os.path.basename(x) !=
                   "msix_testdev.ko"] + [drv]
        return sorted(out)

    def gdb_files(self, port: int) -> str:
        conf = os.path.join(self.tmp, "gdb.json")
        with open(self.ks.system_map) as f:
            percpu = symbols.percpu_offsets(f.read(), PERCPU)
        with open(conf, "w") as f:
            json.dump({"layout": self.ks.layout, "device": DUT, "bdf": BDF,
                       "module-files": self.module_files(),
                       "log": self.stop_log, "dom0": self.cfg.dom0,
                       "vfio": bool(self.cfg.vfio),
                       "percpu": percpu}, f, indent=1)
        kernel = self.ks.dbg_vmlinux or self.ks.symbols
        lines = ["set pagination off", "set confirm off", "set width 0",
                 "set print thread-events off",
                 f"file {kernel}",
                 f"source {GDB_SCRIPT}",
                 f"irqlab-config {conf}",
                 f"target remote 127.0.0.1:{port}"]
        lines += self.args.ex
        if self.args.batch:
            lines += ["irqlab-walk --all"]
        else:
            lines += [
                "echo \\n",
                f"echo irqlab: QEMU is stopped before the first instruction."
                f" The guest console goes to {self.console}\\n",
                "echo irqlab: irqlab-walk runs through the MSI-X set-up; "
                "irqlab-functions lists the stops; help user-defined lists "
                "the commands; quit ends QEMU\\n"]
        script = os.path.join(self.tmp, "irqlab.gdb")
        with open(script, "w") as f:
            f.write("\n".join(lines) + "\n")
        return script

    # -------------------------------------------------------------- run

    def run(self):
        cfg, args = self.cfg, self.args
        port = args.port or _free_port()
        qemu_args = machine.qemu_args(
            cfg, self.tmp, self.console, self.sync_path,
            self.xen_console.fifo if self.xen_console else None)
        qemu_args += ["-display", "none",
                      "-gdb", f"tcp:127.0.0.1:{port}",
                      "-chardev", f"socket,id=qmp,path={self.qmp_path},"
                      "server=on,wait=off",
                      "-mon", "chardev=qmp,mode=control"]
        self.record["qemu-args"] = [cfg.qemu] + qemu_args
        script = self.gdb_files(port)
        qemu_log = open(os.path.join(self.tmp, "qemu.log"), "w")
        qemu = subprocess.Popen([cfg.qemu] + qemu_args,
                                stdin=subprocess.DEVNULL, stdout=qemu_log,
                                stderr=subprocess.STDOUT,
                                start_new_session=True,
                                preexec_fn=_die_with_parent(signal.SIGKILL))
        t0 = time.monotonic()
        talker = threading.Thread(target=self._converse, args=(t0,),
                                  daemon=True)
        old_sigint = signal.getsignal(signal.SIGINT)
        gdb = None
        timed_out = False
        try:
            if not _wait_for(self.qmp_path, qemu):
                _log("irqlab: QEMU did not start: "
                     + _tail(os.path.join(self.tmp, "qemu.log")))
                return None
            talker.start()
            cmd = [args.gdb, "-q", "-x", script]
            if args.batch:
                cmd[1:1] = ["-batch", "-nx"]
            _log(f"irqlab: QEMU pid {qemu.pid}, gdb stub on 127.0.0.1:"
                 f"{port}; gdb " + ("walks the set-up (batch)" if args.batch
                                    else "attaches"))
            # gdb owns the terminal, and Ctrl-C (it interrupts the guest).
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            tg = time.monotonic()
            gdb = subprocess.Popen(
                cmd, preexec_fn=_die_with_parent(signal.SIGTERM),
                stdin=subprocess.DEVNULL if args.batch else None)
            try:
                self.gdb_status = gdb.wait(timeout=cfg.timeout)
            except subprocess.TimeoutExpired:
                _log(f"irqlab: gdb still running after {cfg.timeout:.0f} s:"
                     " killed")
                gdb.kill()
                self.gdb_status = gdb.wait()
                timed_out = True
            self.gdb_seconds = time.monotonic() - tg
        finally:
            signal.signal(signal.SIGINT, old_sigint)
            if gdb is not None and gdb.poll() is None:
                gdb.kill()
                gdb.wait()
            if qemu.poll() is None:
                # gdb quit or died with the guest still there.
                self.stopped_qemu = True
                qemu.terminate()
                try:
                    qemu.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    qemu.kill()
                    qemu.wait()
            qemu_log.close()
            talker.join(timeout=10)
        if timed_out:
            # After the join: stopping QEMU made the talker see it exit.
            self._status = ("timeout", f"gdb session over "
                            f"{cfg.timeout:.0f} s")
        self.record["times"]["boot-to-poweroff-s"] = time.monotonic() - t0
        self.record["qemu-exit"] = qemu.returncode
        with open(os.path.join(self.tmp, "qemu.log"), errors="replace") as f:
            self.record["qemu-log"] = f.read()
        status, detail = self._status
        if self.stopped_qemu and status == "exited":
            how = "quit" if self.gdb_status == 0 else \
                f"died ({_exit_text(self.gdb_status)})"
            status, detail = "stopped", f"gdb {how} before the guest " \
                "finished: QEMU stopped"
        machine.finish_record(self.record, status, detail, self.console)
        try:
            with open(self.stop_log) as f:
                doc = json.load(f)
            self.stops = doc["stops"]
            self.record["gdb-modules"] = doc.get("modules", {})
            self.record["gdb-armed"] = doc.get("armed", {})
            self.record["gdb-inlined"] = doc.get("inlined", {})
        except (OSError, ValueError):
            self.stops = []
        self.record["gdb-stops"] = [
            {k: v for k, v in s.items() if k != "monitor"}
            for s in self.stops]
        return status

    def _converse(self, t0):
        """ttyS1, as `irqlab run` answers it (machine.converse), with
        QMP from this thread."""
        from qemu.qmp.legacy import QEMUMonitorProtocol
        import asyncio
        asyncio.set_event_loop(asyncio.new_event_loop())
        qmp = QEMUMonitorProtocol(self.qmp_path)
        try:
            qmp.connect()
            vm = _QmpShim(qmp)
            self.record["qemu-version"] = machine.qemu_version(
                vm.cmd("query-version"))
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.connect(self.sync_path)
                self._status = machine.converse(
                    self.cfg, machine.Link(vm, sock), self.record, t0,
                    lambda m: _log(m), xen_console=self.xen_console)
        except Exception as e:      # noqa: BLE001  (QEMU went away)
            if self._status[0] == "exited":
                self._status = ("exited", f"QEMU went away: {e}")
        finally:
            try:
                qmp.close()
            except Exception:       # noqa: BLE001
                pass


def _exit_text(status) -> str:
    if status is None:
        return "?"
    return f"signal {-status}" if status < 0 else f"status {status}"


def _wait_for(path, proc, seconds=30.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if os.path.exists(path):
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.02)
    return False


def _tail(path, n=10) -> str:
    try:
        with open(path, errors="replace") as f:
            return " | ".join(f.read().splitlines()[-n:])
    except OSError:
        return ""


# ------------------------------------------------------------- checks

def stop_checks(stops: list, guest, record: dict) -> list[Check]:
    """The checks on the walk's stops (see the module's doc); a PV
    dom0's own in dom0_stop_checks()."""
    g = "gdb"
    out = []
    first = next((s for s in stops if s["function"] ==
                  "pci_alloc_irq_vectors_affinity"
                  and s["phase"] == "entry"), None)
    if first is None or not first.get("msix"):
        return [Check(g, "stopped at the device's first "
                      "pci_alloc_irq_vectors_affinity()", False,
                      "no such stop")]
    m = first["msix"]
    touched = _touched(m)
    out.append(Check(g, "first pci_alloc_irq_vectors_affinity(): MSI-X "
                     "disabled", not m["enabled"],
                     f"stop #{first['n']}: enabled={m['enabled']}"))
    out.append(Check(g, "first pci_alloc_irq_vectors_affinity(): table "
                     f"untouched ({m['size']} entries: address 0, data 0, "
                     "masked)", len(m["entries"]) == m["size"]
                     and not touched,
                     f"stop #{first['n']}: touched {touched[:8]}"))
    io = next((s for s in stops if s["function"] == "irq_startup"
               and s["phase"] == "return"
               and s["info"].get("entry", 0) >= 1), None)
    if io is None or not io.get("msix"):
        out.append(Check(g, "the first I/O vector started", False,
                         "no irq_startup() return for an entry >= 1"))
        return out + (dom0_stop_checks(stops, guest, record)
                      if record.get("dom0") else [])
    m, irq, entry = io["msix"], io["info"]["irq"], io["info"]["entry"]
    where = f"stop #{io['n']}: irq {irq} entry {entry}"
    out.append(Check(g, "first I/O vector started: ENABLE set, MASKALL "
                     "clear", m["enabled"] and not m["function-masked"],
                     f"{where}: enabled={m['enabled']} "
                     f"function-masked={m['function-masked']}"))
    if record.get("dom0"):
        return out + dom0_stop_checks(stops, guest, record)
    e = _entry(m, entry)
    want = None
    if guest is not None:
        ev = guest.last_trace(irq, "vector_config")
        if ev is not None:
            want = (int(ev.args["apicdest"], 0), int(ev.args["vector"], 0))
    got, how = _delivered(e, entry, record)
    out.append(Check(
        g, "first I/O vector started: its entry's message = what the "
        "guest reports (vector_config)", got is not None and got == want,
        f"{where}: device {_fmt(got)} ({how}), guest {_fmt(want)}"))
    if guest is not None and irq in guest.interrupts:
        out.append(Check(g, "the walk's irq/entry = /proc/interrupts'",
                         guest.interrupts[irq].msi_index == entry,
                         f"irq {irq}: walk entry {entry}, /proc/interrupts "
                         f"hwirq entry {guest.interrupts[irq].msi_index}"))
    if record.get("vfio"):
        out += vfio_stop_checks(stops, record)
    return out


def dom0_stop_checks(stops: list, guest, record: dict) -> list[Check]:
    """
    Xen's dom0 path as the walk saw it in a PV dom0, each claim from the
    device's table at the stops (`info msix`):

    - xen_initdom_setup_msi_irqs() (arch/x86/pci/xen.c), the device's
      first: dom0's msix_capability_init() has enabled MSI-X under
      MASKALL, and no entry is written yet;
    - each xen_bind_pirq_msi_to_irq() (drivers/xen/events/events_base.c),
      right after PHYSDEVOP_map_pirq for that entry: the entry holds a
      compatibility-format message with a vector (Xen's msi_compose_msg(),
      not the pirq-format message an HVM guest writes), masked; and every
      vector each allocation returned was mapped so;
    - each __startup_pirq() (EVTCHNOP_bind_pirq): the entry masked on
      entry, unmasked on return (Xen's pirq_guest_bind() starts its irq),
      still Xen's message, the pirq bound to an event channel; one for
      every irq irq_startup() started;
    - Linux composed no message for the device: none of the native-only
      functions (guest/gdb/irqlab.py's WalkFunction.path "native": a PV
      dom0's MSI domain is Xen's, with no x86 vector domain below it)
      stopped, though armed;
    - the irq -> entry the walk saw is the one the report uses (the
      driver's debugfs for msix-testdev, otherwise /proc's order).
    """
    g = "gdb"
    out = []
    setup = next((s for s in stops if s["function"] ==
                  "xen_initdom_setup_msi_irqs" and s.get("msix")), None)
    if setup is None:
        out.append(Check(g, "stopped at the device's "
                         "xen_initdom_setup_msi_irqs()", False,
                         "no such stop"))
    else:
        m = setup["msix"]
        touched = _touched(m)
        out.append(Check(
            g, "first xen_initdom_setup_msi_irqs(): MSI-X enabled under "
            "MASKALL (dom0's msix_capability_init()), no entry written yet",
            m["enabled"] and m["function-masked"]
            and len(m["entries"]) == m["size"] and not touched,
            f"stop #{setup['n']}: enabled={m['enabled']} function-masked="
            f"{m['function-masked']}, touched {touched[:8]}"))

    binds = [s for s in stops if s["function"] == "xen_bind_pirq_msi_to_irq"
             and s["phase"] == "entry" and s.get("msix")]
    bad, seen = [], []
    for s in binds:
        i = s["info"]["entry"]
        e = _entry(s["msix"], i)
        text = f"#{s['n']} entry {i} pirq {s['info']['pirq']}: " + \
            (_state(e) if e else "no such entry")
        (seen if e and _xen_message(e) and e["masked"] else bad).append(text)
    out.append(Check(
        g, "each xen_bind_pirq_msi_to_irq(): the entry PHYSDEVOP_map_pirq "
        "just mapped holds Xen's message (compat, a vector), masked",
        bool(binds) and not bad, "; ".join(bad or seen[:3])
        if binds else "no such stop"))
    missing = []
    for (first, last), want in _allocations(stops):
        got = {s["info"]["entry"] for s in binds if first < s["n"] < last}
        if got != set(range(want)):
            missing.append(f"stops #{first}-#{last}: returned {want}, "
                           f"mapped entries {sorted(got)}")
    out.append(Check(g, "every vector an allocation returned was mapped "
                     "(a xen_bind_pirq_msi_to_irq() per entry)",
                     bool(binds) and not missing, "; ".join(missing)))

    bad, seen, bound = [], [], set()
    for s in stops:
        if s["function"] != "__startup_pirq" or s["phase"] != "return" \
                or not s.get("msix"):
            continue
        i, irq = s["info"]["entry"], s["info"]["irq"]
        call = next((c for c in reversed(stops) if c["n"] < s["n"]
                     and c["function"] == "__startup_pirq"
                     and c["phase"] == "entry"
                     and c["info"].get("irq") == irq), None)
        before = _entry(call["msix"], i) if call and call.get("msix") \
            else None
        after = _entry(s["msix"], i)
        text = f"irq {irq} entry {i}: " + \
            (f"#{call['n']} {_state(before)}" if before else "no entry stop") \
            + f" -> #{s['n']} " + (_state(after) if after else "no entry")
        ok = before is not None and before["masked"] and after is not None \
            and not after["masked"] and _xen_message(after) \
            and bool(s["info"].get("port"))
        (seen if ok else bad).append(
            text + ("" if s["info"].get("port") else ", no port"))
        bound.add(irq)
    out.append(Check(
        g, "across each __startup_pirq() (EVTCHNOP_bind_pirq) the entry "
        "goes masked -> unmasked, Xen's message, the pirq on a port",
        bool(bound) and not bad, "; ".join(bad or seen[:3])
        if bound else "no __startup_pirq() return stop"))
    started = {s["info"]["irq"] for s in stops if s["function"] ==
               "irq_startup" and s["phase"] == "return"}
    out.append(Check(g, "every irq irq_startup() started went through "
                     "__startup_pirq()", bool(started) and started == bound,
                     f"started {sorted(started)}, __startup_pirq "
                     f"{sorted(bound)}"))

    armed = sorted(f for f, path in record.get("gdb-armed", {}).items()
                   if path == "native")
    native = [f"#{s['n']} {s['function']}" for s in stops
              if s["function"] in armed]
    out.append(Check(g, "Linux composed no message for the device (no "
                     "stop at the native-only functions, armed)",
                     bool(armed) and not native,
                     "; ".join(native) if native else
                     f"armed: {', '.join(armed) or 'none'}"))

    walk = {}
    for s in stops:
        if s["function"] == "xen_bind_pirq_msi_to_irq" and \
                s["phase"] == "return" and s["info"]["irq"] >= 0:
            walk[s["info"]["irq"]] = s["info"]["entry"]
    if guest is not None:
        from .vectors import entry_of_irqs
        report = entry_of_irqs(guest)
        diff = [f"irq {irq}: walk entry {walk.get(irq)}, report entry "
                f"{entry}" for irq, entry in sorted(report.items())
                if walk.get(irq) != entry]
        out.append(Check(g, "the walk's irq/entry (xen_bind_pirq_msi_to_irq"
                         "()) = the report's", bool(report) and not diff,
                         "; ".join(diff) or ", ".join(
                             f"irq {i} entry {e}"
                             for i, e in sorted(report.items()))))
    return out


# vfio-pci-core's functions the walk arms (guest/gdb/irqlab.py, path
# "vfio"), and the ones Debian's build inlines, with where.
VFIO_FUNCTIONS = ("vfio_pci_set_irqs_ioctl", "vfio_pci_set_msi_trigger",
                  "vfio_msi_set_block", "vfio_msi_set_vector_signal",
                  "vfio_msi_disable")
VFIO_INLINED = {"vfio_pci_ioctl_set_irqs": "vfio_pci_core_ioctl",
                "vfio_msi_enable": "vfio_pci_set_msi_trigger"}
VFIO_MSIX, EVENTFD_TRIGGER, NONE_TRIGGER = 2, 0x24, 0x21
PCI_IRQ_AFFINITY = 1 << 3


def vfio_stop_checks(stops: list, record: dict) -> list[Check]:
    """
    A VFIO user's MSI-X set-up as the walk saw it (guest/vfio's program:
    SET_IRQS(DATA_EVENTFD) with N1 eventfds, loopback, disable, again
    with N2, disable), each claim from the stops and the device's table
    at them:

    - vfio_pci_core's functions were armed once it loaded, and the two
      Debian's build inlines have no symbol even with its symbols loaded:
      vfio_pci_ioctl_set_irqs() (into vfio_pci_core_ioctl()) and
      vfio_msi_enable() (into vfio_pci_set_msi_trigger());
    - for each enable, in order: vfio_pci_set_irqs_ioctl(MSI-X,
      DATA_EVENTFD|ACTION_TRIGGER, 0, N) called from vfio_pci_core_ioctl()
      (vfio_pci_ioctl_set_irqs() inlined there), vfio_pci_set_msi_trigger()
      with nothing enabled yet (so vfio_msi_enable()), then
      pci_alloc_irq_vectors_affinity(max N) called from vfio_msi_enable()
      (inlined into vfio_pci_set_msi_trigger()) without PCI_IRQ_AFFINITY,
      __pci_enable_msix_range(maxvec N) with MSI-X disabled, N returned
      with ENABLE set and MASKALL clear (msix_capability_init(), inlined);
    - then vfio_msi_set_block(0, N) and one vfio_msi_set_vector_signal()
      per vector 0..N-1 with an eventfd: the entry masked there (VFIO
      rewrites it with its cached message, masked), unmasked when that
      irq's irq_startup() returned (request_irq());
    - each disable: vfio_pci_set_msi_trigger(count 0, DATA_NONE) ->
      vfio_msi_disable() with N1, then N2, vectors, MSI-X still enabled,
      each vector's trigger freed (vfio_msi_set_vector_signal(fd -1));
    - the loopback SET_IRQS(DATA_NONE|ACTION_TRIGGER, N1) allocates
      nothing and attaches nothing.
    """
    g = "gdb"
    out = []
    armed = {f for f, path in record.get("gdb-armed", {}).items()
             if path == "vfio"}
    missing = [f for f in VFIO_FUNCTIONS if f not in armed]
    out.append(Check(g, "vfio: vfio_pci_core's walk functions armed when it"
                     " loaded", "vfio_pci_core" in record.get(
                         "gdb-modules", {}) and not missing,
                     f"not armed: {', '.join(missing)}" if missing
                     else ", ".join(VFIO_FUNCTIONS)))
    inl = record.get("gdb-inlined", {})
    bad = [f"{n}: " + ("not listed" if n not in inl else "has a symbol"
                       if inl[n]["symbol"] else "module not loaded")
           for n in VFIO_INLINED if n not in inl or inl[n]["symbol"]
           or not inl[n]["module-loaded"]]
    out.append(Check(g, "vfio: vfio_pci_ioctl_set_irqs(), vfio_msi_enable()"
                     " inlined (no symbol with vfio_pci_core's loaded)",
                     not bad, "; ".join(bad) or ", ".join(
                         f"{n} into {c}" for n, c in VFIO_INLINED.items())))

    enables = [s for s in stops if s["function"] == "vfio_pci_set_irqs_ioctl"
               and s["info"].get("index") == VFIO_MSIX
               and s["info"].get("flags") == EVENTFD_TRIGGER
               and s["info"].get("irq_type") == "none"]
    want = list(record.get("vfio") or [])
    out.append(Check(g, "vfio: an enabling SET_IRQS(MSI-X, DATA_EVENTFD|"
                     f"ACTION_TRIGGER) stop per enable ({want})",
                     [s["info"]["count"] for s in enables] == want,
                     ", ".join(f"#{s['n']} count {s['info']['count']}"
                               for s in enables) or "no such stop"))
    for k, (call, n) in enumerate(zip(enables, want), 1):
        nxt = next((s["n"] for s in stops if s["n"] > call["n"] and
                    s["function"] == "vfio_pci_set_irqs_ioctl"), 1 << 30)
        span = [s for s in stops if call["n"] <= s["n"] < nxt]
        out += _vfio_enable_checks(g, k, n, call, span)
    out += _vfio_disable_checks(g, stops, want)
    return out


def _first(span, function, phase="entry", **info):
    return next((s for s in span if s["function"] == function
                 and s["phase"] == phase
                 and all(s["info"].get(k) == v for k, v in info.items())),
                None)


def _vfio_enable_checks(g, k, n, call, span) -> list[Check]:
    what = f"vfio: enable {k} ({n} vectors)"
    trig = _first(span, "vfio_pci_set_msi_trigger")
    alloc = _first(span, "pci_alloc_irq_vectors_affinity")
    rng = _first(span, "__pci_enable_msix_range")
    ret = _first(span, "pci_alloc_irq_vectors_affinity", "return")
    chain = [("vfio_pci_set_irqs_ioctl from vfio_pci_core_ioctl "
              "(vfio_pci_ioctl_set_irqs inlined)",
              call["info"].get("start") == 0
              and call.get("inlined-caller") == "vfio_pci_ioctl_set_irqs",
              call),
             ("vfio_pci_set_msi_trigger, nothing enabled",
              trig is not None and trig["info"].get("enable") == n, trig),
             ("pci_alloc_irq_vectors_affinity from vfio_msi_enable (inlined)"
              f", max {n}, no PCI_IRQ_AFFINITY",
              alloc is not None and alloc.get("inlined-caller") ==
              "vfio_msi_enable" and alloc["info"].get("max") == n
              and not alloc["info"].get("flags", 0) & PCI_IRQ_AFFINITY,
              alloc),
             (f"__pci_enable_msix_range maxvec {n}, MSI-X disabled",
              rng is not None and f"maxvec {n}" in rng["args"]
              and rng.get("msix") and not rng["msix"]["enabled"], rng),
             (f"{n} returned, ENABLE set, MASKALL clear",
              ret is not None and ret["info"].get("returned") == n
              and ret.get("msix") and ret["msix"]["enabled"]
              and not ret["msix"]["function-masked"], ret)]
    order = [s["n"] for _, ok, s in chain if s is not None]
    bad = [f"{text}: " + (f"#{s['n']} {s['args']}" if s else "no stop")
           for text, ok, s in chain if not ok]
    if order != sorted(order):
        bad.append(f"out of order: stops {order}")
    out = [Check(g, f"{what}: SET_IRQS -> vfio_pci_set_irqs_ioctl() -> "
                 "vfio_pci_set_msi_trigger() -> [vfio_msi_enable()] "
                 "pci_alloc_irq_vectors_affinity() -> "
                 "__pci_enable_msix_range() [msix_capability_init()]",
                 not bad, "; ".join(bad) or "stops " + ", ".join(
                     f"#{x}" for x in order))]

    block = _first(span, "vfio_msi_set_block", start=0, count=n)
    signals = [s for s in span if s["function"] ==
               "vfio_msi_set_vector_signal" and s["phase"] == "entry"
               and s["info"].get("fd", -1) >= 0]
    bad = []
    if block is None:
        bad.append(f"no vfio_msi_set_block(0, {n}) stop")
    if [s["info"]["entry"] for s in signals] != list(range(n)):
        bad.append("vectors " + str([s["info"]["entry"] for s in signals]))
    for s in signals:
        v = s["info"]["entry"]
        e = _entry(s["msix"], v) if s.get("msix") else None
        started = next((x for x in span if x["n"] > s["n"] and x["function"]
                        == "irq_startup" and x["phase"] == "return"
                        and x["info"].get("entry") == v), None)
        after = _entry(started["msix"], v)             if started and started.get("msix") else None
        if e is None or not e["masked"] or after is None                 or after["masked"]:
            bad.append(f"vector {v}: #{s['n']} "
                       + (_state(e) if e else "no entry") + " -> "
                       + (f"#{started['n']} {_state(after)}" if after
                          else "no irq_startup() return"))
    out.append(Check(
        g, f"{what}: vfio_msi_set_block(0, {n}) -> "
        "vfio_msi_set_vector_signal() per vector with its eventfd: entry "
        "masked there, unmasked when its irq_startup() returned", not bad,
        "; ".join(bad) or f"#{block['n']}, vectors 0-{n - 1} at " +
        ", ".join(f"#{s['n']}" for s in signals)))
    return out


def _vfio_disable_checks(g, stops, want) -> list[Check]:
    out = []
    disables = [s for s in stops if s["function"] == "vfio_msi_disable"]
    bad = []
    for s in disables:
        freed = []
        for x in stops:
            if x["n"] <= s["n"]:
                continue
            if x["function"] != "vfio_msi_set_vector_signal" or                     x["info"].get("fd", 0) >= 0:
                break
            freed.append(x["info"]["entry"])
        trig = next((x for x in reversed(stops) if x["n"] < s["n"]
                     and x["function"] == "vfio_pci_set_msi_trigger"), None)
        if not (s.get("msix") and s["msix"]["enabled"]) or                 freed != list(range(s["info"].get("num_ctx", -1))) or                 trig is None or trig["info"].get("count") != 0 or                 trig["info"].get("flags") != NONE_TRIGGER:
            bad.append(f"#{s['n']} num_ctx {s['info'].get('num_ctx')}: "
                       f"freed {freed}, from "
                       + (f"#{trig['n']} {trig['args']}" if trig else "?"))
    out.append(Check(
        g, "vfio: each disable: vfio_pci_set_msi_trigger(count 0, "
        "DATA_NONE) -> vfio_msi_disable() with MSI-X enabled, every "
        "vector's trigger freed (vfio_msi_set_vector_signal(fd -1))",
        [s["info"].get("num_ctx") for s in disables] == want and not bad,
        "; ".join(bad) or ", ".join(
            f"#{s['n']} num_ctx {s['info'].get('num_ctx')}"
            for s in disables) or "no vfio_msi_disable() stop"))
    loop = [s for s in stops if s["function"] == "vfio_pci_set_msi_trigger"
            and s["info"].get("flags") == NONE_TRIGGER
            and s["info"].get("count")]
    bad = []
    for s in loop:
        nxt = next((x["n"] for x in stops if x["n"] > s["n"] and
                    x["function"] == "vfio_pci_set_irqs_ioctl"), 1 << 30)
        bad += [f"#{x['n']} {x['function']}" for x in stops
                if s["n"] < x["n"] < nxt]
    out.append(Check(
        g, "vfio: loopback SET_IRQS(DATA_NONE|ACTION_TRIGGER) on enabled "
        "MSI-X: no allocation, no vector signal (eventfd_signal() only)",
        bool(loop) and not bad and all(s["info"].get("irq_type") == "MSI-X"
                                       for s in loop),
        "; ".join(bad) or ", ".join(f"#{s['n']} count {s['info']['count']}"
                                    for s in loop) or "no such stop"))
    return out


def _allocations(stops):
    """((first stop, return stop), vectors returned) of each allocation
    the walk followed to its return."""
    out, start = [], None
    for s in stops:
        if s["function"] != "pci_alloc_irq_vectors_affinity":
            continue
        if s["phase"] == "entry":
            start = s["n"]
        elif start is not None:
            if s["info"].get("returned", 0) > 0:
                out.append(((start, s["n"]), s["info"]["returned"]))
            start = None
    return out


def _entry(m: dict, i: int):
    """Entry @i of a stop's parsed `info msix` (JSON made the keys
    strings)."""
    return m["entries"].get(i) or m["entries"].get(str(i))


def _touched(m: dict) -> list:
    return [i for i, e in m["entries"].items()
            if e["address"] or e["data"] or not e["masked"]]


def _xen_message(e: dict) -> bool:
    """A compatibility-format message with a vector: what Xen writes,
    not a pirq-format one (vector 0, the pirq in the destination)."""
    dv = _compat(e["decoded"])
    return dv is not None and dv[1] != 0


def _state(e: dict) -> str:
    return ("masked" if e["masked"] else "unmasked") + ", " + \
        (e["decoded"] or f"address {e['address']:#x} data {e['data']:#x}")


def _delivered(e, entry, record):
    """
    (APIC destination, vector) the entry's message (as `info msix` showed
    it at the stop) delivers to, and how that was read.  A compatibility
    format message says it itself; a remappable one names an IRTE: the
    message must be the one the device still held at the sync, and the
    IRTE (read there through the vIOMMU, iommu.py) says where it goes.
    """
    if e is None:
        return None, "no such entry"
    got = _compat(e["decoded"])
    if got is not None or "remappable" not in e["decoded"]:
        return got, e["decoded"]
    loaded = next((c for c in record.get("qmp", {}).get("loaded", {})
                   .get("x-query-msix", []) if c["capability"] == "msix"),
                  None)
    v = next((v for v in (loaded or {}).get("vectors", [])
              if v["index"] == entry), None)
    irte = (record.get("irte") or {}).get(entry) or \
        (record.get("irte") or {}).get(str(entry))
    if v is None or irte is None:
        return None, e["decoded"] + ", no IRTE read at the sync"
    if (v["address"], v["data"]) != (e["address"], e["data"]):
        return None, (f"{e['decoded']}, but the device held "
                      f"{v['address']:#x}/{v['data']:#x} at the sync")
    return (irte["dest-id"], irte["vector"]), \
        f"{e['decoded']} -> IRTE {irte['index']:#x}"


def _compat(decoded: str):
    """(dest, vector) of a compat-format message in `info msix` words."""
    m = re.search(r"compat dest (0x[0-9a-f]+) vector (0x[0-9a-f]+)", decoded)
    return (int(m[1], 16), int(m[2], 16)) if m else None


def _fmt(dv) -> str:
    return "-" if dv is None else f"dest {dv[0]:#x} vector {dv[1]:#x}"
