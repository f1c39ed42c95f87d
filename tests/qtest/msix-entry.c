/*
 * MSI-X table entries for qtests (msix-entry.h)
 *
 * Copyright (c) 2026 irqlab developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "standard-headers/linux/pci_regs.h"
#include "msix-entry.h"

void msix_table_map(QPCIDevice *dev)
{
    uint8_t cap = qpci_find_capability(dev, PCI_CAP_ID_MSIX, 0);
    uint32_t table, pba;

    g_assert_cmphex(cap, !=, 0);
    table = qpci_config_readl(dev, cap + PCI_MSIX_TABLE);
    pba = qpci_config_readl(dev, cap + PCI_MSIX_PBA);
    dev->msix_table_bar = qpci_iomap(dev, table & PCI_MSIX_TABLE_BIR, NULL);
    dev->msix_table_off = table & PCI_MSIX_TABLE_OFFSET;
    dev->msix_pba_bar = (pba & PCI_MSIX_PBA_BIR) ==
                        (table & PCI_MSIX_TABLE_BIR) ?
                        dev->msix_table_bar :
                        qpci_iomap(dev, pba & PCI_MSIX_PBA_BIR, NULL);
    dev->msix_pba_off = pba & PCI_MSIX_PBA_OFFSET;
}

uint64_t msix_entry_offset(QPCIDevice *dev, int vector, int field)
{
    return dev->msix_table_off + vector * PCI_MSIX_ENTRY_SIZE + field;
}

void msix_entry_writel(QPCIDevice *dev, int vector, int field, uint32_t val)
{
    qpci_io_writel(dev, dev->msix_table_bar,
                   msix_entry_offset(dev, vector, field), val);
}

uint32_t msix_entry_readl(QPCIDevice *dev, int vector, int field)
{
    return qpci_io_readl(dev, dev->msix_table_bar,
                         msix_entry_offset(dev, vector, field));
}

void msix_entry_set(QPCIDevice *dev, int vector, uint64_t addr,
                    uint32_t data)
{
    msix_entry_writel(dev, vector, PCI_MSIX_ENTRY_LOWER_ADDR, addr);
    msix_entry_writel(dev, vector, PCI_MSIX_ENTRY_UPPER_ADDR, addr >> 32);
    msix_entry_writel(dev, vector, PCI_MSIX_ENTRY_DATA, data);
}

uint64_t msix_entry_address(QPCIDevice *dev, int vector)
{
    return msix_entry_readl(dev, vector, PCI_MSIX_ENTRY_LOWER_ADDR) |
           (uint64_t)msix_entry_readl(dev, vector,
                                      PCI_MSIX_ENTRY_UPPER_ADDR) << 32;
}

void msix_entry_mask(QPCIDevice *dev, int vector, bool masked)
{
    msix_entry_writel(dev, vector, PCI_MSIX_ENTRY_VECTOR_CTRL,
                      masked ? PCI_MSIX_ENTRY_CTRL_MASKBIT : 0);
}

void msix_entry_program(QPCIDevice *dev, int vector, uint64_t addr,
                        uint32_t data, bool masked)
{
    msix_entry_set(dev, vector, addr, data);
    msix_entry_mask(dev, vector, masked);
}

void msix_copy_mapping(QPCIDevice *dst, const QPCIDevice *src)
{
    dst->msix_enabled = src->msix_enabled;
    dst->msix_table_bar = src->msix_table_bar;
    dst->msix_table_off = src->msix_table_off;
    dst->msix_pba_bar = src->msix_pba_bar;
    dst->msix_pba_off = src->msix_pba_off;
}
