# SPDX-License-Identifier: GPL-2.0-or-later
"""
The devices under test.  Each sits at 0000:00:04.0 on q35's pcie.0 with
qdev id "dut", which the QMP queries name.  msix-testdev is ours and
driven by guest/driver; nvme and virtio-blk are QEMU's stock devices
with Linux's stock drivers, the independent oracles.
"""

import os
from dataclasses import dataclass

DUT = "dut"
ADDR = "04.0"
BDF = "0000:00:04.0"
# The device's event log (x-msi-log-size, 4096 by default, at most 2^20)
# must keep the whole allocation and every message since: an event per
# message, one message per completion batch or I/O at most.
LOG_MIN, LOG_MAX = 1 << 16, 1 << 20


def log_size(commands: int, smp: int, queues: int) -> int:
    return min(LOG_MAX, max(LOG_MIN, 4 * commands * smp * (queues + 1)))
DISK_BYTES = 16 << 20


@dataclass(frozen=True)
class Scenario:
    name: str
    default_queues: int     # the I/O queues the device offers by default
    block: bool             # needs a disk
    # the modules guest/init's load_driver loads (their dependencies
    # found by scripts/irqlab-guest), when not built in
    modules: tuple = ()

    @property
    def device_type(self) -> str:
        return "virtio-blk-pci" if self.name == "virtio-blk" else self.name

    def device_args(self, queues: int | None, tmpdir: str,
                    log: int | None = LOG_MIN, props: str = "") -> list[str]:
        """@log: the device's event log size; None for a QEMU without
        irqlab's patches, which has no event log.  @props: more device
        properties, "name=value,..."."""
        common = f"id={DUT},addr={ADDR}" + \
            (f",x-msi-log-size={log}" if log is not None else "") + \
            (f",{props}" if props else "")
        args = []
        if self.block:
            disk = os.path.join(tmpdir, "disk.raw")
            with open(disk, "wb") as f:
                f.truncate(DISK_BYTES)
            args += ["-drive", f"file={disk},if=none,id=d0,format=raw"]
        dev = f"{self.device_type},{common}"
        if self.name == "msix-testdev":
            # docs/specs/msix-testdev.rst: queues I/O pairs, a table of
            # vectors entries; one per CQ, as nvme sizes its table.
            if queues is not None:
                dev += f",queues={queues},vectors={queues + 1}"
        elif self.name == "nvme":
            dev += ",drive=d0,serial=irqlab"
            if queues is not None:
                dev += f",max_ioqpairs={queues},msix_qsize={queues + 1}"
        else:
            dev += f",drive=d0,num-queues={queues or self.default_queues}"
        return args + ["-device", dev]


SCENARIOS = {s.name: s for s in (
    Scenario("msix-testdev", 64, False, ("msix_testdev",)),
    # hw/nvme: max_ioqpairs=64
    Scenario("nvme", 64, True, ("nvme",)),
    # as affinity.py's table measured
    Scenario("virtio-blk", 4, True, ("virtio_pci", "virtio_blk")),
)}
