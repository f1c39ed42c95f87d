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
 * Fill in x-query-xen-irqs's upcall state of vCPU @vcpu_id; false if this
 * backend is not in use or has no such vCPU.
 */
bool xen_upcall_query_vcpu(uint32_t vcpu_id, XenVcpuUpcallInfo *info);

/* Whether this backend raises the upcalls (Xen emulation without KVM) */
bool xen_upcall_backend_active(void);

#endif /* QEMU_XEN_UPCALL_H */
