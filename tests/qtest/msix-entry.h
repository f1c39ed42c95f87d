/*
 * MSI-X table entries for qtests: the one place that knows where an
 * entry's dwords are (PCI Local Bus Specification 3.0, 6.8.2, "MSI-X
 * Capability and Table Structure") and writes or reads them, through the
 * table BAR libqos maps in qpci_msix_enable() or msix_table_map().
 *
 * Copyright (c) 2026 irqlab developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef TESTS_QTEST_MSIX_ENTRY_H
#define TESTS_QTEST_MSIX_ENTRY_H

#include "libqos/pci.h"

/*
 * Map @dev's MSI-X table and PBA into dev->msix_table_bar and
 * dev->msix_pba_bar as qpci_msix_enable() does, without writing Message
 * Control: for a test that replays a driver's own order of writes.
 */
void msix_table_map(QPCIDevice *dev);

/* Where dword @field (PCI_MSIX_ENTRY_*) of entry @vector is in its BAR */
uint64_t msix_entry_offset(QPCIDevice *dev, int vector, int field);

/* One dword of entry @vector */
void msix_entry_writel(QPCIDevice *dev, int vector, int field, uint32_t val);
uint32_t msix_entry_readl(QPCIDevice *dev, int vector, int field);

/*
 * Entry @vector's message, as Linux's __pci_write_msi_msg() writes it:
 * address low, address high, data; and the address read back.
 */
void msix_entry_set(QPCIDevice *dev, int vector, uint64_t addr,
                    uint32_t data);
uint64_t msix_entry_address(QPCIDevice *dev, int vector);

/* Vector Control's mask bit, as Linux's pci_msix_write_vector_ctrl() */
void msix_entry_mask(QPCIDevice *dev, int vector, bool masked);

/* msix_entry_set(), then msix_entry_mask(): a whole entry programmed */
void msix_entry_program(QPCIDevice *dev, int vector, uint64_t addr,
                        uint32_t data, bool masked);

/*
 * After migration: @dst, the same device in the destination, takes the
 * MSI-X table and PBA mapping qpci_msix_enable() made for @src (the
 * BARs came across with the device's configuration space).
 */
void msix_copy_mapping(QPCIDevice *dst, const QPCIDevice *src);

#endif
