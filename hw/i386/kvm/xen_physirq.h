/*
 * QEMU Xen emulation: a model of Xen's physical IRQ layer, for
 * dom0-style MSI-X (PHYSDEVOP_map_pirq of MSI type)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef QEMU_XEN_PHYSIRQ_H
#define QEMU_XEN_PHYSIRQ_H

#include "hw/xen/xen.h"
#include "hw/xen/interface/physdev.h"
#include "qapi/qapi-types-xen-irqs-target.h"

#define TYPE_XEN_PHYSIRQ "xen-physirq"

/* Whether the machine has the model (`-device xen-physirq`). */
bool xen_physirq_present(void);

/*
 * Xen's allocate_and_map_msi_pirq() for the domain's @pirq, already
 * reserved by the caller: an irq, a vector on a CPU, the message written
 * into the MSI-X table entry @map names (masked), the entry owned.
 * Returns 0 or Xen's negative errno.
 */
int xen_physirq_map_msi(const struct physdev_map_pirq *map, int pirq);
/* Xen's unmap_domain_pirq(): the entry masked and released, all freed. */
int xen_physirq_unmap(int pirq);
/* Xen's pirq_guest_bind() / pirq_guest_unbind(): unmask / mask the entry */
void xen_physirq_guest_bind(int pirq);
void xen_physirq_guest_unbind(int pirq);

/* For x-query-xen-irqs: the source of dom0-style @pirq into @info. */
void xen_physirq_query_pirq(int pirq, XenPirqInfo *info);
/* For x-query-xen-irqs: the irq descriptors and vector_irq[] entries. */
void xen_physirq_query(XenIrqsInfo *info);

#endif /* QEMU_XEN_PHYSIRQ_H */
