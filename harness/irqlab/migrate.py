# SPDX-License-Identifier: GPL-2.0-or-later
"""
Migration in flight (`irqlab run --storm --migrate N`): at the guest's
sync "storm-cut-K" the running machine is migrated to a file and
restored into a new QEMU with the same command line, which then runs
on.  Only the guest's main script waits at the sync: the device, the
handlers and the storm's workers keep going while the source migrates
(live, precopy), so the cut lands in the middle of messages in flight,
held and pending.

The file: URI is QEMU's own (docs/devel/migration/main.rst, "file:"
transport); QMP is qemu.machine's.  The sync socket and the console file
are the same paths on both sides: the source's socket is closed before
the destination binds it, and the console chardev appends.
"""

import os
import socket
import time

# A TCG guest in a storm dirties memory faster than the default 300 ms of
# downtime can copy; the pause is the guest's, not a wait of ours.
DOWNTIME_LIMIT_MS = 5000
MIGRATE_TIMEOUT_S = 120.0
POLL_S = 0.05


class MigrationError(Exception):
    pass


def _wait(vm, what: str) -> dict:
    """query-migrate until it ends; its answer."""
    end = time.monotonic() + MIGRATE_TIMEOUT_S
    while True:
        st = vm.cmd("query-migrate")
        if st.get("status") in ("completed", "failed", "cancelled"):
            return st
        if time.monotonic() > end:
            raise MigrationError(f"{what}: still {st.get('status')} after "
                                 f"{MIGRATE_TIMEOUT_S:.0f} s")
        time.sleep(POLL_S)


def cut(vm, make_vm, sync_path: str, path: str, phase: str,
        final=None) -> tuple[object, socket.socket, dict]:
    """
    Migrate @vm (running) to the file @path, then start a new QEMU from
    make_vm(extra_args) with -incoming defer and load it there.  @final,
    called with @vm once the source has stopped, reads what the source
    counted (its answer goes into the returned record as "source").
    Returns (new vm, its sync socket connected, the cut's record: phase,
    status, seconds, bytes, downtime-ms).  The destination is left
    stopped: the caller answers the guest and lets it run (`cont`).
    MigrationError when either side fails.
    """
    t0 = time.monotonic()
    vm.cmd("migrate-set-parameters", **{"downtime-limit": DOWNTIME_LIMIT_MS})
    vm.cmd("migrate", uri=f"file:{path}")
    st = _wait(vm, "the source")
    rec = {"phase": phase, "status": st.get("status"),
           "downtime-ms": st.get("downtime"),
           "bytes": os.path.getsize(path) if os.path.exists(path) else 0}
    if st.get("status") != "completed":
        raise MigrationError(f"the source: {st.get('status')}: "
                             f"{st.get('error-desc', '')}")
    if final:
        rec["source"] = final(vm)
    vm.shutdown()

    new = make_vm(["-incoming", "defer"])
    new.launch()
    new.cmd("migrate-incoming", uri=f"file:{path}")
    st = _wait(new, "the destination")
    if st.get("status") != "completed":
        rec["status"] = st.get("status")
        raise MigrationError(f"the destination: {st.get('status')}: "
                             f"{st.get('error-desc', '')}")
    os.unlink(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(sync_path)
    rec["seconds"] = time.monotonic() - t0
    return new, sock, rec
