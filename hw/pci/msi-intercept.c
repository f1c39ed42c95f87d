/*
 * MSI interceptors: models that claim or watch PCI MSI/MSI-X messages
 *
 * See include/hw/pci/msi-intercept.h.  The chain is walked under the BQL,
 * like the MSI core that calls it.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "hw/pci/pci_device.h"
#include "hw/pci/msi-intercept.h"
#include "trace.h"

static QTAILQ_HEAD(, PCIMSIInterceptor) interceptors =
    QTAILQ_HEAD_INITIALIZER(interceptors);
unsigned pci_msi_interceptors;

void pci_msi_interceptor_register(PCIMSIInterceptor *ic)
{
    QTAILQ_INSERT_TAIL(&interceptors, ic, next);
    pci_msi_interceptors++;
}

void pci_msi_interceptor_unregister(PCIMSIInterceptor *ic)
{
    QTAILQ_REMOVE(&interceptors, ic, next);
    pci_msi_interceptors--;
}

bool pci_msi_intercept_slow(PCIDevice *dev, uint64_t address, uint32_t data)
{
    PCIMSIInterceptor *ic;

    QTAILQ_FOREACH(ic, &interceptors, next) {
        if (ic->deliver && ic->deliver(dev, address, data)) {
            trace_msi_intercepted(dev->name, ic->name, address, data);
            return true;
        }
    }
    return false;
}

bool pci_msi_entry_owned_slow(PCIDevice *dev, MsiCapability cap,
                              unsigned vector)
{
    PCIMSIInterceptor *ic;

    QTAILQ_FOREACH(ic, &interceptors, next) {
        if (ic->owns_entry && ic->owns_entry(dev, cap, vector)) {
            return true;
        }
    }
    return false;
}

void pci_msi_snoop(PCIDevice *dev, MsiCapability cap, unsigned vector,
                   uint64_t address, uint32_t data, bool masked)
{
    PCIMSIInterceptor *ic;

    QTAILQ_FOREACH(ic, &interceptors, next) {
        if (ic->snoop) {
            ic->snoop(dev, cap, vector, address, data, masked);
        }
    }
}

void pci_msi_device_removed(PCIDevice *dev)
{
    PCIMSIInterceptor *ic;

    QTAILQ_FOREACH(ic, &interceptors, next) {
        if (ic->device_removed) {
            ic->device_removed(dev);
        }
    }
}
