/*
 * MSI interceptors: models that claim or watch PCI MSI/MSI-X messages
 *
 * An interrupt controller model that is not reached through the bus-master
 * address space (Xen's pirq / event-channel emulation is the first) sees
 * each message here before it is written, in registration order, and may
 * claim it; it also sees each vector's message whenever the guest programs
 * or masks it, and may own MSI-X table entries or MSI capabilities that it
 * programs itself.
 * Nothing else in QEMU changes: with no interceptor
 * registered, messages go to the bus-master address space (and from there
 * through any IOMMU to the APIC) exactly as before.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_PCI_MSI_INTERCEPT_H
#define HW_PCI_MSI_INTERCEPT_H

#include "qemu/queue.h"
#include "qapi/qapi-types-pci-msi.h"

typedef struct PCIMSIInterceptor PCIMSIInterceptor;

struct PCIMSIInterceptor {
    /* Shown in trace events. */
    const char *name;

    /*
     * A message from @dev, before it is written to the bus-master address
     * space and before any IOMMU translates it.  Return true if the model
     * took it; then no later interceptor sees it and nothing is written.
     * May be NULL.
     */
    bool (*deliver)(PCIDevice *dev, uint64_t address, uint32_t data);

    /*
     * The message or mask of vector @vector of @dev's capability @cap may
     * have changed: an MSI-X table write or mask change, or an MSI
     * configuration write.  @masked is whether a notify would now be
     * held.  May be NULL.
     */
    void (*snoop)(PCIDevice *dev, MsiCapability cap, unsigned vector,
                  uint64_t address, uint32_t data, bool masked);

    /*
     * Whether the model programs MSI-X table entry @vector of @dev (@cap
     * MSI_CAPABILITY_MSIX), or @dev's MSI capability (@vector 0), itself,
     * as Xen does for the ones it maps (docs/xen-model.rst): the guest's
     * writes to the entry, or to the capability's Message Control, Address
     * and Data, are then ignored and logged, and the model writes them
     * with msix_write_entry() or msi_write_owned().  May be NULL.
     */
    bool (*owns_entry)(PCIDevice *dev, MsiCapability cap, unsigned vector);

    /* @dev is going away.  May be NULL. */
    void (*device_removed)(PCIDevice *dev);

    QTAILQ_ENTRY(PCIMSIInterceptor) next;
};

void pci_msi_interceptor_register(PCIMSIInterceptor *ic);
void pci_msi_interceptor_unregister(PCIMSIInterceptor *ic);

/* For the MSI core (hw/pci/pci.c, msi.c, msix.c). */
extern unsigned pci_msi_interceptors;   /* how many are registered */
bool pci_msi_intercept_slow(PCIDevice *dev, uint64_t address, uint32_t data);

/* Whether an interceptor took the message; inline: on every delivery. */
static inline bool pci_msi_intercept(PCIDevice *dev, uint64_t address,
                                     uint32_t data)
{
    return pci_msi_interceptors &&
           pci_msi_intercept_slow(dev, address, data);
}
bool pci_msi_entry_owned_slow(PCIDevice *dev, MsiCapability cap,
                              unsigned vector);

/* Whether a model owns MSI-X entry @vector / the MSI capability of @dev */
static inline bool pci_msi_entry_owned(PCIDevice *dev, MsiCapability cap,
                                       unsigned vector)
{
    return pci_msi_interceptors &&
           pci_msi_entry_owned_slow(dev, cap, vector);
}
void pci_msi_snoop(PCIDevice *dev, MsiCapability cap, unsigned vector,
                   uint64_t address, uint32_t data, bool masked);
void pci_msi_device_removed(PCIDevice *dev);

#endif
