/*
 * QEMU Xen emulation: vcpu_info and upcalls for TCG and qtest
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef QEMU_XEN_UPCALL_H
#define QEMU_XEN_UPCALL_H

#include "hw/sysbus.h"
#include "qom/object.h"

#define TYPE_XEN_UPCALL "xen-upcall"
OBJECT_DECLARE_SIMPLE_TYPE(XenUpcallState, XEN_UPCALL)

/* What x-query-xen-irqs shows of one vCPU. */
typedef struct XenUpcallVCPUStats {
    bool valid;                 /* the backend is in use and has the vCPU */
    uint8_t upcall_vector;      /* HVMOP_set_evtchn_upcall_vector, or 0 */
    bool asserted;              /* evtchn_upcall_pending not yet seen clear */
    uint64_t upcalls;           /* 0->1 edges of evtchn_upcall_pending */
    uint64_t injections;        /* vectors sent, lines asserted */
    uint64_t vcpu_info_gpa;     /* VCPUOP_register_vcpu_info, or INVALID_GPA */
} XenUpcallVCPUStats;

void xen_upcall_get_vcpu_stats(uint32_t vcpu_id, XenUpcallVCPUStats *st);

#endif /* QEMU_XEN_UPCALL_H */
