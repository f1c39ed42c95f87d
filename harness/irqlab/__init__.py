# SPDX-License-Identifier: GPL-2.0-or-later
"""
irqlab's Linux guest harness: boot a stock Debian kernel under QEMU TCG
against a PCI device with MSI-X, take the guest's view of every vector
(/proc, tracefs, the driver's debugfs) and the device's view (QMP
x-query-msix, x-query-msix-log, the vIOMMU's remapping table), and check
that they agree.

One concept per module:

  cpulist    Linux cpulists ("0-3,6")
  channel    the ttyS1 report/sync protocol of guest/init
  guest      the guest's report files, parsed
  host       the device's view from x-query-msix and its event log
  sequence   msix_capability_init() as the device saw it
  vectors    one row per vector: the guest's irq beside the device's entry
  lapic      the local APICs a message's destination selects
  iommu      VT-d interrupt remapping: IRTA and IRTE through the monitor
  affinity   managed affinity: the tables measured at -smp 8 and the
             expectations derived from the guest's CPUs
  checks     the cross-checks, each PASS or FAIL
  verdict    one check's verdict, and what of the kernel it needs
  faults     test hooks that break a value on purpose
  stall      what stopped a run that stopped making progress, in words
  xen        a Xen HVM guest's vectors, hop by hop (--xen)
  dom0       Linux as Debian's Xen's PV dom0 (--dom0)
  xenkeys    Xen's own view through its debug keys (--dom0)
  xenmodel   xen-physirq's replay of a --dom0 run against Xen's
  scenario   the devices under test and their QEMU options
  kimage     a kernel image: its release, a bzImage's payload
  kconfig    a kernel's configuration (IKCONFIG or beside the image) and
             what runs and checks need of it
  ownkernel  --kernel PATH: its needs, modules and initramfs
  machine    QEMU's command line, launch, the synchronised run and its
             record
  analysis   a run's record to its report: the sequence, rows, checks
  report     the printed report and the JSON document
  symbols    kernel symbols and structure layouts for gdb
  debug      `irqlab debug`: a run under gdb
  soak       `irqlab soak`: many runs, idle and loaded
  cli        `irqlab run`, `check`, `debug`, `soak`, `faults`
"""
