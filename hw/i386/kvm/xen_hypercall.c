/*
 * QEMU Xen emulation: the hypercall dispatcher
 *
 * The one for every front end: KVM's hypercall exit (target/i386/kvm/
 * xen-emu.c), TCG's VMCALL/VMMCALL (xen_hypercall_tcg.c) and the
 * hypercall test port (xen_hypercall_port.c) hand over the hypercall
 * number and register arguments and say how to reach the caller's memory
 * (XenHypercallCaller); the structs are those of Xen's public headers
 * (include/hw/xen/interface/, and target/i386/kvm/xen-compat.h for the
 * 32-bit layouts that differ), copied in and, for the operations with
 * OUT fields, back.  The operations themselves are in xen_evtchn.c,
 * xen_overlay.c, xen_gnttab.c and the accelerator's XenEmuAccelOps,
 * which also does what only it can (KVM: Xen PV time).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "qemu/log.h"
#include "qemu/main-loop.h"
#include "hw/xen/xen.h"
#include "hw/xen/xen_backend_ops.h"
#include "hw/xen/interface/xen.h"
#include "hw/xen/interface/event_channel.h"
#include "hw/xen/interface/grant_table.h"
#include "hw/xen/interface/memory.h"
#include "hw/xen/interface/physdev.h"
#include "hw/xen/interface/sched.h"
#include "hw/xen/interface/vcpu.h"
#include "hw/xen/interface/version.h"
#include "hw/xen/interface/hvm/hvm_op.h"
#include "hw/xen/interface/hvm/params.h"
#include "hw/core/cpu.h"
#include "exec/target_page.h"
/* The 32-bit ABI's layouts of the structs whose size differs */
#include "target/i386/kvm/xen-compat.h"
#include "system/kvm_xen.h"
#include "system/runstate.h"
#include "trace.h"

#include "xen_accel.h"
#include "xen_domain.h"
#include "xen_evtchn.h"
#include "xen_gnttab.h"
#include "xen_hypercall.h"
#include "xen_overlay.h"
#include "xen_primary_console.h"
#include "xen_xenstore.h"

/*
 * An operation whose only argument is a pointer to one struct: its size,
 * whether Xen writes it back, and the function that does it.
 */
typedef struct XenStructOp {
    const char *name;
    size_t size;
    bool out;
    int (*fn)(void *arg);
} XenStructOp;

#define XEN_STRUCT_OP(cmd, type, func, is_out)                          \
    [cmd] = { .name = #cmd, .size = sizeof(struct type), .out = is_out, \
              .fn = func##_thunk }

#define XEN_THUNK(func, type)                                           \
    static int func##_thunk(void *arg) { return func((struct type *)arg); }

XEN_THUNK(xen_evtchn_bind_interdomain_op, evtchn_bind_interdomain)
XEN_THUNK(xen_evtchn_bind_virq_op, evtchn_bind_virq)
XEN_THUNK(xen_evtchn_bind_pirq_op, evtchn_bind_pirq)
XEN_THUNK(xen_evtchn_close_op, evtchn_close)
XEN_THUNK(xen_evtchn_send_op, evtchn_send)
XEN_THUNK(xen_evtchn_status_op, evtchn_status)
XEN_THUNK(xen_evtchn_alloc_unbound_op, evtchn_alloc_unbound)
XEN_THUNK(xen_evtchn_bind_ipi_op, evtchn_bind_ipi)
XEN_THUNK(xen_evtchn_bind_vcpu_op, evtchn_bind_vcpu)
XEN_THUNK(xen_evtchn_unmask_op, evtchn_unmask)
XEN_THUNK(xen_evtchn_reset_op, evtchn_reset)
XEN_THUNK(xen_physdev_unmap_pirq, physdev_unmap_pirq)
XEN_THUNK(xen_physdev_eoi_pirq, physdev_eoi)
XEN_THUNK(xen_physdev_query_pirq, physdev_irq_status_query)
XEN_THUNK(xen_physdev_get_free_pirq, physdev_get_free_pirq)

/* xen/include/public/event_channel.h; the same layout in both ABIs */
static const XenStructOp evtchn_ops[] = {
    XEN_STRUCT_OP(EVTCHNOP_bind_interdomain, evtchn_bind_interdomain,
                  xen_evtchn_bind_interdomain_op, true),
    XEN_STRUCT_OP(EVTCHNOP_bind_virq, evtchn_bind_virq,
                  xen_evtchn_bind_virq_op, true),
    XEN_STRUCT_OP(EVTCHNOP_bind_pirq, evtchn_bind_pirq,
                  xen_evtchn_bind_pirq_op, true),
    XEN_STRUCT_OP(EVTCHNOP_close, evtchn_close, xen_evtchn_close_op, false),
    XEN_STRUCT_OP(EVTCHNOP_send, evtchn_send, xen_evtchn_send_op, false),
    XEN_STRUCT_OP(EVTCHNOP_status, evtchn_status, xen_evtchn_status_op, true),
    XEN_STRUCT_OP(EVTCHNOP_alloc_unbound, evtchn_alloc_unbound,
                  xen_evtchn_alloc_unbound_op, true),
    XEN_STRUCT_OP(EVTCHNOP_bind_ipi, evtchn_bind_ipi,
                  xen_evtchn_bind_ipi_op, true),
    XEN_STRUCT_OP(EVTCHNOP_bind_vcpu, evtchn_bind_vcpu,
                  xen_evtchn_bind_vcpu_op, false),
    XEN_STRUCT_OP(EVTCHNOP_unmask, evtchn_unmask, xen_evtchn_unmask_op, false),
    XEN_STRUCT_OP(EVTCHNOP_reset, evtchn_reset, xen_evtchn_reset_op, false),
};

/* xen/include/public/physdev.h, but for map_pirq (see below) */
static const XenStructOp physdev_ops[] = {
    XEN_STRUCT_OP(PHYSDEVOP_unmap_pirq, physdev_unmap_pirq,
                  xen_physdev_unmap_pirq, true),
    XEN_STRUCT_OP(PHYSDEVOP_eoi, physdev_eoi, xen_physdev_eoi_pirq, true),
    XEN_STRUCT_OP(PHYSDEVOP_irq_status_query, physdev_irq_status_query,
                  xen_physdev_query_pirq, true),
    XEN_STRUCT_OP(PHYSDEVOP_get_free_pirq, physdev_get_free_pirq,
                  xen_physdev_get_free_pirq, true),
};


static int do_struct_op(XenHypercallCaller *c, const XenStructOp *op,
                        uint64_t arg)
{
    uint8_t buf[64] QEMU_ALIGNED(8);
    int err;

    assert(op->size <= sizeof(buf));
    if (c->copy_from(c, arg, buf, op->size)) {
        return -EFAULT;
    }
    err = op->fn(buf);
    if (!err && op->out && c->copy_to(c, arg, buf, op->size)) {
        err = -EFAULT;
    }
    return err;
}

bool xen_hypercall_evtchn_op(XenHypercallCaller *c, int cmd, uint64_t arg,
                             int64_t *result)
{
    switch (cmd) {
    case EVTCHNOP_init_control:
    case EVTCHNOP_expand_array:
    case EVTCHNOP_set_priority:
        /* The FIFO ABI is not emulated; guests fall back to 2-level. */
        *result = -ENOSYS;
        break;
    default:
        if (cmd < 0 || cmd >= ARRAY_SIZE(evtchn_ops) || !evtchn_ops[cmd].fn) {
            return false;
        }
        *result = do_struct_op(c, &evtchn_ops[cmd], arg);
        trace_xen_hypercall_op("event_channel_op", evtchn_ops[cmd].name,
                               *result);
        break;
    }
    return true;
}

static int physdev_map_pirq(XenHypercallCaller *c, uint64_t arg)
{
    struct physdev_map_pirq map;
    struct compat_physdev_map_pirq map32;
    int err;

    qemu_build_assert(sizeof(map32) == 36);
    qemu_build_assert(offsetof(struct physdev_map_pirq, entry_nr) ==
                      offsetof(struct compat_physdev_map_pirq, entry_nr));
    if (c->long_mode) {
        if (c->copy_from(c, arg, &map, sizeof(map))) {
            return -EFAULT;
        }
    } else {
        if (c->copy_from(c, arg, &map32, sizeof(map32))) {
            return -EFAULT;
        }
        memcpy(&map, &map32, offsetof(struct physdev_map_pirq, table_base));
        map.table_base = map32.table_base;
    }
    err = xen_physdev_map_pirq(&map);
    /* Only pirq (and entry_nr) are OUT; both precede table_base. */
    if (!err && c->copy_to(c, arg, &map,
                           offsetof(struct physdev_map_pirq, table_base))) {
        err = -EFAULT;
    }
    return err;
}

bool xen_hypercall_physdev_op(XenHypercallCaller *c, int cmd, uint64_t arg,
                              int64_t *result)
{
    switch (cmd) {
    case PHYSDEVOP_map_pirq:
        *result = physdev_map_pirq(c, arg);
        trace_xen_hypercall_op("physdev_op", "PHYSDEVOP_map_pirq", *result);
        break;
    case PHYSDEVOP_pirq_eoi_gmfn_v2: /* FreeBSD 13 makes this hypercall */
        *result = -ENOSYS;
        break;
    default:
        if (cmd < 0 || cmd >= ARRAY_SIZE(physdev_ops) ||
            !physdev_ops[cmd].fn) {
            return false;
        }
        *result = do_struct_op(c, &physdev_ops[cmd], arg);
        trace_xen_hypercall_op("physdev_op", physdev_ops[cmd].name, *result);
        break;
    }
    return true;
}

/* HVMOP_set_param / HVMOP_get_param (xen/include/public/hvm/params.h) */
static int hvm_param(XenHypercallCaller *c, bool set, uint64_t arg)
{
    struct xen_hvm_param hp;
    int err = 0;

    qemu_build_assert(sizeof(hp) == 16);
    if (c->copy_from(c, arg, &hp, sizeof(hp))) {
        return -EFAULT;
    }
    if (hp.domid != DOMID_SELF && hp.domid != xen_domid) {
        return -ESRCH;
    }
    switch (hp.index) {
    case HVM_PARAM_CALLBACK_IRQ:
        if (!set) {
            hp.value = xen_evtchn_get_callback_param();
        } else {
            BQL_LOCK_GUARD();
            err = xen_evtchn_set_callback_param(hp.value);
            /* As Xen's hvm_latch_shinfo_size(): the ABI width is known. */
            xen_set_long_mode(c->long_mode);
        }
        break;
    case HVM_PARAM_STORE_EVTCHN:
        if (set) {
            return -EPERM;
        }
        hp.value = xen_xenstore_get_port();
        break;
    case HVM_PARAM_STORE_PFN:
        if (set) {
            return -EPERM;
        }
        hp.value = XEN_SPECIAL_PFN(XENSTORE);
        break;
    case HVM_PARAM_CONSOLE_PFN:
    case HVM_PARAM_CONSOLE_EVTCHN:
        if (set) {
            return -EPERM;
        }
        /* As KVM's handle_get_param(): -EINVAL without a console */
        hp.value = hp.index == HVM_PARAM_CONSOLE_PFN ?
                   xen_primary_console_get_pfn() :
                   xen_primary_console_get_port();
        if (!hp.value) {
            return -EINVAL;
        }
        break;
    default:
        return -ENOSYS;
    }
    if (!err && !set && c->copy_to(c, arg, &hp, sizeof(hp))) {
        err = -EFAULT;
    }
    return err;
}

/* HVMOP_set_evtchn_upcall_vector (xen/include/public/hvm/hvm_op.h) */
static int hvm_set_upcall_vector(XenHypercallCaller *c, uint64_t arg)
{
    struct xen_hvm_evtchn_upcall_vector up;

    qemu_build_assert(sizeof(up) == 8);
    if (c->copy_from(c, arg, &up, sizeof(up))) {
        return -EFAULT;
    }
    /* Xen: vectors below 0x10 are reserved (hvm_set_evtchn_upcall_vector) */
    if (up.vector < 0x10) {
        return -EINVAL;
    }
    /* Xen: an unknown vCPU is -ENOENT (domain_vcpu() returns NULL) */
    return xen_accel_set_upcall_vector(up.vcpu, up.vector);
}

static int64_t hvm_op(XenHypercallCaller *c, int cmd, uint64_t arg)
{
    switch (cmd) {
    case HVMOP_set_param:
        return hvm_param(c, true, arg);
    case HVMOP_get_param:
        return hvm_param(c, false, arg);
    case HVMOP_set_evtchn_upcall_vector:
        return hvm_set_upcall_vector(c, arg);
    default:
        return -ENOSYS;
    }
}

/*
 * shared_info mapped, and the accelerator told (KVM points each vCPU
 * without a registered vcpu_info at its slot in the page).  Xen latches
 * the guest's ABI width elsewhere: HVM_PARAM_CALLBACK_IRQ and the
 * hypercall page (hvm_latch_shinfo_size()).
 */
static int map_shared_info(uint64_t gfn)
{
    int err;

    BQL_LOCK_GUARD();
    err = xen_overlay_map_shinfo_page(gfn << XEN_PAGE_SHIFT);
    if (!err) {
        xen_accel_shared_info_mapped(gfn << XEN_PAGE_SHIFT);
    }
    return err;
}

static int map_grant_frame(uint64_t idx, uint64_t gfn)
{
    BQL_LOCK_GUARD();
    return xen_gnttab_map_page(idx, gfn);
}

/*
 * One frame of XENMEM_add_to_physmap (xen/include/public/memory.h):
 * shared_info or a grant table frame; XENMAPSPACE_gmfn* are not
 * emulated, foreign and dev_mmio frames are not the guest's.
 */
static int add_to_physmap_one(unsigned int space, uint64_t idx, uint64_t gfn)
{
    switch (space) {
    case XENMAPSPACE_shared_info:
        if (idx != 0) {
            return -EINVAL;
        }
        return map_shared_info(gfn);
    case XENMAPSPACE_grant_table:
        return map_grant_frame(idx, gfn);
    case XENMAPSPACE_gmfn:
    case XENMAPSPACE_gmfn_range:
        return -ENOTSUP;
    case XENMAPSPACE_gmfn_foreign:
    case XENMAPSPACE_dev_mmio:
        return -EPERM;
    default:
        return -EINVAL;
    }
}

static int add_to_physmap(XenHypercallCaller *c, uint64_t arg)
{
    struct xen_add_to_physmap xatp;

    if (c->long_mode) {
        if (c->copy_from(c, arg, &xatp, sizeof(xatp))) {
            return -EFAULT;
        }
    } else {
        struct compat_xen_add_to_physmap xatp32;

        qemu_build_assert(sizeof(xatp32) == 16);
        if (c->copy_from(c, arg, &xatp32, sizeof(xatp32))) {
            return -EFAULT;
        }
        xatp.domid = xatp32.domid;
        xatp.size = xatp32.size;
        xatp.space = xatp32.space;
        xatp.idx = xatp32.idx;
        xatp.gpfn = xatp32.gpfn;
    }
    if (xatp.domid != DOMID_SELF && xatp.domid != xen_domid) {
        return -ESRCH;
    }
    return add_to_physmap_one(xatp.space, xatp.idx, xatp.gpfn);
}

/*
 * XENMEM_add_to_physmap_batch: @size frames, an index and a frame number
 * each from the caller's arrays, an error each into its third (entries
 * of xen_ulong_t: 4 bytes in the 32-bit ABI), as KVM's
 * do_add_to_physmap_batch() did.
 */
static int add_to_physmap_batch(XenHypercallCaller *c, uint64_t arg)
{
    struct xen_add_to_physmap_batch xatpb;
    uint64_t idxs, gpfns, errs;
    size_t op_sz;

    if (c->long_mode) {
        if (c->copy_from(c, arg, &xatpb, sizeof(xatpb))) {
            return -EFAULT;
        }
        idxs = (uintptr_t)xatpb.idxs.p;
        gpfns = (uintptr_t)xatpb.gpfns.p;
        errs = (uintptr_t)xatpb.errs.p;
        op_sz = sizeof(uint64_t);
    } else {
        struct compat_xen_add_to_physmap_batch b32;

        qemu_build_assert(sizeof(b32) == 20);
        if (c->copy_from(c, arg, &b32, sizeof(b32))) {
            return -EFAULT;
        }
        xatpb.domid = b32.domid;
        xatpb.space = b32.space;
        xatpb.size = b32.size;
        idxs = b32.idxs.c;
        gpfns = b32.gpfns.c;
        errs = b32.errs.c;
        op_sz = sizeof(uint32_t);
    }
    if (xatpb.domid != DOMID_SELF && xatpb.domid != xen_domid) {
        return -ESRCH;
    }
    /* Explicitly invalid for the batch op, as in Xen */
    if (xatpb.space == XENMAPSPACE_gmfn_range) {
        return -EINVAL;
    }
    while (xatpb.size--) {
        uint64_t idx = 0, gpfn = 0;
        int32_t err;

        /* Little-endian: the 32-bit ABI fills the low half of each */
        if (c->copy_from(c, idxs, &idx, op_sz) ||
            c->copy_from(c, gpfns, &gpfn, op_sz)) {
            return -EFAULT;
        }
        err = cpu_to_le32(add_to_physmap_one(xatpb.space, le64_to_cpu(idx),
                                             le64_to_cpu(gpfn)));
        if (c->copy_to(c, errs, &err, sizeof(err))) {
            return -EFAULT;
        }
        idxs += op_sz;
        gpfns += op_sz;
        errs += sizeof(err);
    }
    return 0;
}

static int64_t memory_op(XenHypercallCaller *c, int cmd, uint64_t arg)
{
    switch (cmd) {
    case XENMEM_add_to_physmap:
        return add_to_physmap(c, arg);
    case XENMEM_add_to_physmap_batch:
        return add_to_physmap_batch(c, arg);
    default:
        return -ENOSYS;
    }
}

/*
 * VCPUOP_register_vcpu_info (xen/include/public/vcpu.h); the others (the
 * timers, the time and runstate areas) are the accelerator's, where it
 * keeps Xen PV time (KVM).
 */
static int64_t vcpu_op(XenHypercallCaller *c, int cmd, uint32_t vcpu_id,
                       uint64_t arg)
{
    struct vcpu_register_vcpu_info rvi;

    if (cmd != VCPUOP_register_vcpu_info) {
        return xen_accel_vcpu_op(c, cmd, vcpu_id, arg);
    }
    qemu_build_assert(sizeof(rvi) == 16);
    if (c->copy_from(c, arg, &rvi, sizeof(rvi))) {
        return -EFAULT;
    }
    /* Xen's vcpu_op(): the struct must not cross its page */
    if (rvi.offset > XEN_PAGE_SIZE - sizeof(struct vcpu_info)) {
        return -EINVAL;
    }
    BQL_LOCK_GUARD();
    return xen_accel_register_vcpu_info(vcpu_id,
                                        (rvi.mfn << XEN_PAGE_SHIFT) +
                                        rvi.offset);
}

/*
 * SCHEDOP_shutdown's reasons (xen/include/public/sched.h), as KVM's
 * schedop_shutdown(): QEMU's own shutdown, reset and panic
 */
static int sched_shutdown(XenHypercallCaller *c, uint64_t arg)
{
    struct sched_shutdown shutdown;

    qemu_build_assert(sizeof(shutdown) == 4);
    if (c->copy_from(c, arg, &shutdown, sizeof(shutdown))) {
        return -EFAULT;
    }
    switch (shutdown.reason) {
    case SHUTDOWN_crash:
        cpu_dump_state(qemu_get_cpu(c->vcpu_id), stderr, CPU_DUMP_CODE);
        qemu_system_guest_panicked(NULL);
        return 0;
    case SHUTDOWN_reboot:
        qemu_system_reset_request(SHUTDOWN_CAUSE_GUEST_RESET);
        return 0;
    case SHUTDOWN_poweroff:
        qemu_system_shutdown_request(SHUTDOWN_CAUSE_GUEST_SHUTDOWN);
        return 0;
    case SHUTDOWN_soft_reset: {
        BQL_LOCK_GUARD();
        return xen_domain_soft_reset();
    }
    default:
        return -EINVAL;
    }
}

static int64_t sched_op(XenHypercallCaller *c, int cmd, uint64_t arg)
{
    switch (cmd) {
    case SCHEDOP_shutdown:
        return sched_shutdown(c, arg);
    case SCHEDOP_poll:
        /*
         * Linux's PV spinlocks BUG() on any error (xen_poll_irq_timeout());
         * the ABI allows a wakeup with no port pending, so return at once,
         * as KVM does: the guest looks at its lock again.
         */
    case SCHEDOP_yield:
        sched_yield();
        return 0;
    default:
        return -ENOSYS;
    }
}

/*
 * GNTTABOP_set_version, get_version and query_size
 * (xen/include/public/grant_table.h), one struct each, whose layout is
 * the same in both ABIs; Xen refuses every other operation to HVM
 * guests (-ENOSYS), as KVM's kvm_xen_hcall_gnttab_op() does.
 */
XEN_THUNK(xen_gnttab_set_version_op, gnttab_set_version)
XEN_THUNK(xen_gnttab_get_version_op, gnttab_get_version)
XEN_THUNK(xen_gnttab_query_size_op, gnttab_query_size)

static const XenStructOp gnttab_ops[] = {
    XEN_STRUCT_OP(GNTTABOP_set_version, gnttab_set_version,
                  xen_gnttab_set_version_op, true),
    XEN_STRUCT_OP(GNTTABOP_get_version, gnttab_get_version,
                  xen_gnttab_get_version_op, true),
    XEN_STRUCT_OP(GNTTABOP_query_size, gnttab_query_size,
                  xen_gnttab_query_size_op, true),
};

static int64_t grant_table_op(XenHypercallCaller *c, int cmd, uint64_t arg,
                              uint64_t count)
{
    if (cmd < 0 || cmd >= ARRAY_SIZE(gnttab_ops) || !gnttab_ops[cmd].fn) {
        return -ENOSYS;
    }
    /* Xen's gnttab_query_size(): exactly one; the others ignore count */
    if (cmd == GNTTABOP_query_size && count != 1) {
        return -EINVAL;
    }
    return do_struct_op(c, &gnttab_ops[cmd], arg);
}

/*
 * set_timer_op(timeout): the singleshot timer of the caller's vCPU, at
 * absolute system time @timeout ns, or stopped with 0 (xen.h); 32-bit
 * callers pass it in two arguments, the low half first.  Only where the
 * accelerator keeps Xen PV time.
 */
static int64_t set_timer_op(XenHypercallCaller *c, const uint64_t args[5])
{
    uint64_t timeout = c->long_mode ? args[0]
                                    : args[1] << 32 | (uint32_t)args[0];

    return xen_accel_set_timer_op(c, timeout);
}

/* XENVER_version, XENVER_get_features (xen/include/public/version.h) */
static int64_t xen_version_op(XenHypercallCaller *c, int cmd, uint64_t arg)
{
    struct xen_feature_info fi;

    switch (cmd) {
    case XENVER_version:
        return xen_accel_get_xen_version();
    case XENVER_get_features:
        qemu_build_assert(sizeof(fi) == 8);
        if (c->copy_from(c, arg, &fi, sizeof(fi))) {
            return -EFAULT;
        }
        /*
         * XENFEAT_hvm_safe_pvclock only where the accelerator keeps Xen
         * PV time (KVM): without it nothing fills the guest's pvclock in
         * vcpu_info, and with the feature Linux's xen_hvm_init_time_ops()
         * would divide by its zero tsc_to_system_mul (docs/xen-model.rst).
         */
        fi.submap = 0;
        if (fi.submap_idx == 0) {
            fi.submap = 1 << XENFEAT_writable_page_tables |
                        1 << XENFEAT_writable_descriptor_tables |
                        1 << XENFEAT_auto_translated_physmap |
                        1 << XENFEAT_hvm_callback_vector |
                        1 << XENFEAT_hvm_pirqs;
            if (xen_accel_has_pv_time()) {
                fi.submap |= 1 << XENFEAT_hvm_safe_pvclock;
            }
        }
        return c->copy_to(c, arg, &fi, sizeof(fi)) ? -EFAULT : 0;
    default:
        return -ENOSYS;
    }
}

int64_t xen_hypercall(XenHypercallCaller *c, unsigned int op,
                      const uint64_t args[5])
{
    int64_t ret;
    int cmd = args[0];

    trace_xen_hypercall(c->vcpu_id, op, args[0], args[1], args[2]);
    switch (op) {
    case __HYPERVISOR_event_channel_op:
        if (!xen_hypercall_evtchn_op(c, cmd, args[1], &ret)) {
            ret = -ENOSYS;
        }
        break;
    case __HYPERVISOR_physdev_op:
        if (!xen_hypercall_physdev_op(c, cmd, args[1], &ret)) {
            ret = -ENOSYS;
        }
        break;
    case __HYPERVISOR_hvm_op:
        ret = hvm_op(c, cmd, args[1]);
        break;
    case __HYPERVISOR_memory_op:
        ret = memory_op(c, cmd, args[1]);
        break;
    case __HYPERVISOR_vcpu_op:
        ret = vcpu_op(c, cmd, args[1], args[2]);
        break;
    case __HYPERVISOR_xen_version:
        ret = xen_version_op(c, cmd, args[1]);
        break;
    case __HYPERVISOR_sched_op:
        ret = sched_op(c, cmd, args[1]);
        break;
    case __HYPERVISOR_grant_table_op:
        ret = grant_table_op(c, cmd, args[1], args[2]);
        break;
    case __HYPERVISOR_set_timer_op:
        ret = set_timer_op(c, args);
        break;
    case __HYPERVISOR_vm_assist:
        /*
         * The one assist Xen offers HVM guests is
         * VMASST_TYPE_runstate_update_flag, for the runstate area of PV
         * time; not emulated (nor was it under KVM), which Linux's
         * xen_setup_runstate_info() tolerates.
         */
        ret = -ENOSYS;
        break;
    default:
        ret = -ENOSYS;
        break;
    }
    if (ret == -ENOSYS) {
        qemu_log_mask(LOG_UNIMP, "xen: hypercall %u (%d) not emulated\n",
                      op, cmd);
    } else if (ret < 0) {
        qemu_log_mask(LOG_GUEST_ERROR, "xen: hypercall %u (%d) failed: %s\n",
                      op, cmd, strerror(-ret));
    }
    trace_xen_hypercall_result(c->vcpu_id, op, ret);
    return ret;
}
