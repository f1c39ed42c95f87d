/*
 * QEMU Xen emulation: a model of Xen's physical IRQ layer, for
 * dom0-style MSI-X and MSI (PHYSDEVOP_map_pirq of MSI type)
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
 * How many vectors, and pirqs, PHYSDEVOP_map_pirq @map maps: entry_nr
 * for MAP_PIRQ_TYPE_MULTI_MSI, else 1; -EINVAL for a bad count.
 */
int xen_physirq_map_nvec(const struct physdev_map_pirq *map);
/*
 * Xen's allocate_and_map_msi_pirq() for the domain's pirqs @pirq ..
 * @pirq + xen_physirq_map_nvec(@map) - 1, reserved by the caller: an irq
 * and a vector for each, the message written into the MSI-X table entry
 * (masked) or the MSI capability (enabled) @map names, which the model
 * then owns.  Returns 0 (for MSI with @map->entry_nr set to the vectors
 * mapped) or Xen's negative errno (-ENFILE with @map->entry_nr set to the
 * function's MSI vectors when it has fewer than asked).
 */
int xen_physirq_map_msi(struct physdev_map_pirq *map, int pirq);
/*
 * How many pirqs from @pirq PHYSDEVOP_unmap_pirq releases: 1, or a
 * multi-message MSI's block; -EBUSY for a block's other pirqs.
 */
int xen_physirq_unmap_count(int pirq);
/* Xen's unmap_domain_pirq(): the vectors masked and released, all freed */
int xen_physirq_unmap(int pirq);
/*
 * Xen's pirq_guest_bind() / pirq_guest_unbind(): the irq's affinity to
 * vCPU 0's CPU and the entry unmasked / the entry masked
 */
void xen_physirq_guest_bind(int pirq);
void xen_physirq_guest_unbind(int pirq);
/*
 * Xen's pirq_set_affinity() from EVTCHNOP_bind_vcpu of @pirq's port: the
 * irq moves to @vcpu's CPU at its next interrupt (IRQ_MOVE_PENDING)
 */
void xen_physirq_set_affinity(int pirq, unsigned vcpu);

/* For x-query-xen-irqs: the source of dom0-style @pirq into @info. */
void xen_physirq_query_pirq(int pirq, XenPirqInfo *info);
/* For x-query-xen-irqs: the irq descriptors and vector_irq[] entries. */
void xen_physirq_query(XenIrqsInfo *info);

#endif /* QEMU_XEN_PHYSIRQ_H */
