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
  sequence   seed 001/003: msix_capability_init() as the device saw it
  iommu      VT-d interrupt remapping: IRTA and IRTE through the monitor
  seed004    seed 004's measured tables and the derived expectations
  checks     the cross-checks, each PASS or FAIL
  faults     test hooks that break a value on purpose
  scenario   the devices under test and their QEMU options
  machine    QEMU's command line, launch, and the synchronised run
  report     the printed report and the JSON document
  cli        `irqlab run`
"""
