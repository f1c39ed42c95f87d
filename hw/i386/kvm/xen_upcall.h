/*
 * QEMU Xen emulation: vcpu_info and upcalls for TCG and qtest
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef QEMU_XEN_UPCALL_H
#define QEMU_XEN_UPCALL_H

#include "hw/sysbus.h"
#include "qom/object.h"
#include "qapi/qapi-types-xen-irqs-target.h"

#define TYPE_XEN_UPCALL "xen-upcall"
OBJECT_DECLARE_SIMPLE_TYPE(XenUpcallState, XEN_UPCALL)

/*
 * What TCG and qtest's XenEmuAccelOps (xen_accel_tcg.c) hand to the
 * device; each is the XenEmuAccelOps operation of the same name, as
 * xen_accel.h documents it.
 */
void *xen_upcall_get_vcpu_info_hva(uint32_t vcpu_id);
bool xen_upcall_has_vcpu_callback_vector(void);
void xen_upcall_raise_upcall(uint32_t vcpu_id, int type);
void xen_upcall_set_callback_asserted(void);
int xen_upcall_register_vcpu_info(uint32_t vcpu_id, uint64_t gpa);
int xen_upcall_set_upcall_vector(uint32_t vcpu_id, uint8_t vector);
void xen_upcall_reset_vcpus(void);

/*
 * Fill in x-query-xen-irqs's upcall state of vCPU @vcpu_id; false if this
 * backend is not in use or has no such vCPU.
 */
bool xen_upcall_query_vcpu(uint32_t vcpu_id, XenVcpuUpcallInfo *info);

/* Whether this backend raises the upcalls (Xen emulation without KVM) */
bool xen_upcall_backend_active(void);

#endif /* QEMU_XEN_UPCALL_H */
