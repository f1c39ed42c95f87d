/*
 * QEMU Xen emulation: vcpu_info and upcalls for TCG and qtest
 *
 * Where the accelerator has no Xen support of its own (TCG, qtest), QEMU
 * finds each vCPU's vcpu_info and raises the upcall itself, in this
 * device (/machine/xen-upcall).  xen_accel_tcg.c, those accelerators'
 * XenEmuAccelOps (xen_accel.h), creates it and hands it the operations
 * below; KVM does the same in the kernel (target/i386/kvm/xen-emu.c).
 *
 * The upcall, as Xen raises it (xen/arch/x86/hvm/irq.c,
 * hvm_assert_evtchn_irq() and hvm_vcpu_has_pending_irq()):
 *
 *  - a per-vCPU vector (HVMOP_set_evtchn_upcall_vector) is set in the
 *    vCPU's local APIC as an edge interrupt when evtchn_upcall_pending
 *    goes from 0 to 1, and only then;
 *  - the global callback vector (HVM_PARAM_CALLBACK_IRQ, type vector) is
 *    injected on every VM entry while evtchn_upcall_pending is set, with
 *    no local APIC state and no EOI.  Here the upcall raises the vCPU's
 *    CPU_INTERRUPT_XEN_CALLBACK, and the x86 CPU takes the vector where
 *    Xen would, at interrupt acceptance, for as long as
 *    xen_emu_callback_vector() names it (target/i386/cpu.c,
 *    x86_cpu_pending_interrupt());
 *  - the GSI and PCI INTx callback types (vCPU 0 only) assert a level
 *    line, deasserted once the guest clears evtchn_upcall_pending, which
 *    is checked at the same period (KVM checks it on every exit).
 *
 * Each vCPU also has an output of the named GPIO "upcall" of the
 * xen-upcall device (/machine/xen-upcall): high from an upcall until the
 * guest clears that vCPU's evtchn_upcall_pending, so that a qtest can
 * watch upcalls with irq_intercept_out.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/atomic.h"
#include "qemu/log.h"
#include "qemu/main-loop.h"
#include "qemu/timer.h"
#include "qapi/error.h"
#include "qom/object.h"
#include "exec/address-spaces.h"
#include "hw/boards.h"
#include "hw/irq.h"
#include "hw/qdev-core.h"
#include "hw/sysbus.h"
#include "hw/i386/x86-msi.h"
#include "hw/xen/xen.h"
#include "hw/xen/interface/xen.h"
#include "hw/xen/interface/hvm/params.h"
#include "migration/vmstate.h"
#include "system/kvm_xen.h"
#include "system/xen-emu.h"
#include "target/i386/cpu.h"
#include "trace.h"

#include "xen_evtchn.h"
#include "xen_overlay.h"
#include "xen_upcall.h"

/*
 * How often an asserted upcall is looked at again: a GSI / PCI INTx
 * callback line or the "upcall" GPIO deasserted once the guest has
 * cleared evtchn_upcall_pending.  1 ms of virtual time; under qtest,
 * qtest_clock_step() makes it happen.  The device's read-only property
 * "poll-ns" shows it.
 */
static const uint64_t xen_upcall_poll_ns = 1 * SCALE_MS;

typedef struct XenUpcallVCPU {
    /* VCPUOP_register_vcpu_info's address, or INVALID_GPA (migrated) */
    uint64_t vcpu_info_gpa;
    /* HVMOP_set_evtchn_upcall_vector's vector, or 0 (migrated) */
    uint8_t upcall_vector;
    /* Upcall raised, evtchn_upcall_pending not yet seen clear (migrated) */
    bool asserted;
    /* Upcalls raised: 0->1 edges of evtchn_upcall_pending (migrated) */
    uint64_t upcalls;
    /*
     * Per-vCPU vectors sent, lines asserted, and global callback vectors
     * the vCPU took (xen_emu_callback_taken()) (migrated)
     */
    uint64_t injections;

    /* Where vcpu_info_gpa is mapped, rebuilt from it */
    MemoryRegion *vcpu_info_mr;
    void *vcpu_info_hva;
    /* An upcall raised without the BQL, for the bottom half */
    bool raise_deferred;
} XenUpcallVCPU;

struct XenUpcallState {
    SysBusDevice parent_obj;

    uint32_t nr_vcpus;
    XenUpcallVCPU *vcpu;

    QEMUTimer *poll_timer;
    QEMUBH *raise_bh;
    qemu_irq *upcall;
};

static XenUpcallState *xen_upcall_singleton;

static XenUpcallVCPU *upcall_vcpu(uint32_t vcpu_id)
{
    XenUpcallState *s = xen_upcall_singleton;

    if (!s || vcpu_id >= s->nr_vcpus) {
        return NULL;
    }
    return &s->vcpu[vcpu_id];
}

/*
 * vCPU @vcpu_id's vcpu_info: where the guest registered it, else its slot
 * in shared_info's legacy vcpu_info[] array (vCPUs 0-31, as in Xen).  The
 * 32-bit compat_vcpu_info has the same 64-byte size.
 */
void *xen_upcall_get_vcpu_info_hva(uint32_t vcpu_id)
{
    XenUpcallVCPU *v = upcall_vcpu(vcpu_id);
    uint8_t *shinfo;

    if (!v) {
        return NULL;
    }
    if (qatomic_read(&v->vcpu_info_gpa) != INVALID_GPA) {
        /* Pairs with xen_upcall_register_vcpu_info()'s smp_wmb() */
        smp_rmb();
        return qatomic_read(&v->vcpu_info_hva);
    }
    shinfo = xen_overlay_get_shinfo_ptr();
    if (!shinfo || vcpu_id >= XEN_LEGACY_MAX_VCPUS) {
        return NULL;
    }
    return shinfo + vcpu_id * sizeof(struct vcpu_info);
}

static bool upcall_pending(uint32_t vcpu_id)
{
    struct vcpu_info *vi = xen_upcall_get_vcpu_info_hva(vcpu_id);

    return vi && qatomic_read(&vi->evtchn_upcall_pending);
}

/* Send @vector to vCPU @vcpu_id's local APIC: fixed, edge, physical. */
static void send_apic_vector(uint32_t vcpu_id, uint8_t vector)
{
    CPUState *cs = qemu_get_cpu(vcpu_id);

    if (!cs) {
        return;
    }
    address_space_stl_le(&address_space_memory,
                         x86_msi_compose_addr(X86_CPU(cs)->apic_id),
                         x86_msi_compose_data(vector),
                         MEMTXATTRS_UNSPECIFIED, NULL);
}

static void arm_poll(XenUpcallState *s)
{
    if (!timer_pending(s->poll_timer)) {
        timer_mod(s->poll_timer,
                  qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL) + xen_upcall_poll_ns);
    }
}

/* HVM_PARAM_CALLBACK_IRQ's global vector, or 0 for another type */
static uint8_t callback_vector(void)
{
    if (xen_evtchn_get_callback_type() != HVM_PARAM_CALLBACK_TYPE_VECTOR) {
        return 0;
    }
    return xen_evtchn_get_callback_param();
}

/* With the BQL: deliver the upcall of vCPU @vcpu_id now. */
static void do_raise_upcall(XenUpcallState *s, uint32_t vcpu_id, int type)
{
    XenUpcallVCPU *v = &s->vcpu[vcpu_id];
    const char *how;

    v->upcalls++;
    if (v->upcall_vector) {
        how = "vcpu-vector";
        send_apic_vector(vcpu_id, v->upcall_vector);
        v->injections++;
    } else if (type == HVM_PARAM_CALLBACK_TYPE_VECTOR) {
        how = "callback-vector";
        /* Taken at interrupt acceptance: xen_emu_callback_vector() */
        cpu_interrupt(qemu_get_cpu(vcpu_id), CPU_INTERRUPT_XEN_CALLBACK);
    } else if ((type == HVM_PARAM_CALLBACK_TYPE_GSI ||
                type == HVM_PARAM_CALLBACK_TYPE_PCI_INTX) && vcpu_id == 0) {
        how = "callback-line";
        v->injections++;
        /* Calls back into xen_upcall_set_callback_asserted() */
        xen_evtchn_set_callback_level(1);
    } else {
        how = "none";
    }
    trace_xen_upcall_raise(vcpu_id, how,
                           v->upcall_vector ?: callback_vector());

    v->asserted = true;
    qemu_set_irq(s->upcall[vcpu_id], 1);
    arm_poll(s);
}

static void xen_upcall_raise_bh(void *opaque)
{
    XenUpcallState *s = opaque;
    uint32_t i;

    for (i = 0; i < s->nr_vcpus; i++) {
        if (qatomic_xchg(&s->vcpu[i].raise_deferred, false)) {
            do_raise_upcall(s, i, xen_evtchn_get_callback_type());
        }
    }
}

/*
 * XenEmuAccelOps.raise_upcall: evtchn_upcall_pending of vCPU @vcpu_id
 * has just gone from 0 to 1.  Called with the port lock held, and with
 * the BQL from every caller today (hypercall test port, monitor, MSI
 * delivery, PV backends); without it the upcall waits for a bottom half.
 */
void xen_upcall_raise_upcall(uint32_t vcpu_id, int type)
{
    XenUpcallState *s = xen_upcall_singleton;

    if (!s || vcpu_id >= s->nr_vcpus) {
        return;
    }
    if (bql_locked()) {
        do_raise_upcall(s, vcpu_id, type);
    } else {
        qatomic_set(&s->vcpu[vcpu_id].raise_deferred, true);
        qemu_bh_schedule(s->raise_bh);
    }
}

/* The upcalls still asserted: deassert once seen clear. */
static void xen_upcall_poll(void *opaque)
{
    XenUpcallState *s = opaque;
    bool again = false;
    uint32_t i;

    for (i = 0; i < s->nr_vcpus; i++) {
        XenUpcallVCPU *v = &s->vcpu[i];

        if (!v->asserted) {
            continue;
        }
        if (!upcall_pending(i)) {
            v->asserted = false;
            qemu_set_irq(s->upcall[i], 0);
            if (i == 0) {
                xen_evtchn_set_callback_level(0);
            }
            trace_xen_upcall_deassert(i);
            continue;
        }
        again = true;
    }
    if (again) {
        arm_poll(s);
    }
}

/* The GSI / PCI INTx callback line was asserted for vCPU 0. */
void xen_upcall_set_callback_asserted(void)
{
    XenUpcallState *s = xen_upcall_singleton;

    if (s && s->nr_vcpus) {
        s->vcpu[0].asserted = true;
        qemu_set_irq(s->upcall[0], 1);
        arm_poll(s);
    }
}

/*
 * include/system/xen-emu.h: the global callback vector to inject into
 * @cs now, or -1.  Called by its vCPU thread, with or without the BQL.
 */
int xen_emu_callback_vector(CPUState *cs)
{
    XenUpcallVCPU *v = upcall_vcpu(cs->cpu_index);
    uint8_t vector = callback_vector();

    if (!v || v->upcall_vector || !vector || !upcall_pending(cs->cpu_index)) {
        return -1;
    }
    return vector;
}

void xen_emu_callback_taken(CPUState *cs, int vector)
{
    XenUpcallVCPU *v = upcall_vcpu(cs->cpu_index);

    if (v) {
        v->injections++;
        trace_xen_upcall_callback_taken(cs->cpu_index, vector);
    }
}

/* Whether QEMU raises the upcalls (TCG, qtest), not the accelerator */
bool xen_upcall_backend_active(void)
{
    return xen_upcall_singleton != NULL;
}

bool xen_upcall_has_vcpu_callback_vector(void)
{
    XenUpcallVCPU *v = upcall_vcpu(0);

    return v && v->upcall_vector;
}

static void unmap_vcpu_info(XenUpcallVCPU *v)
{
    if (v->vcpu_info_mr) {
        memory_region_unref(v->vcpu_info_mr);
    }
    v->vcpu_info_mr = NULL;
    v->vcpu_info_hva = NULL;
}

/*
 * Map guest-physical @gpa's vcpu_info into @mr and @hva; -EINVAL if it is
 * not all in writable RAM.
 */
static int map_vcpu_info_at(uint64_t gpa, MemoryRegion **mr, void **hva)
{
    MemoryRegionSection mrs = memory_region_find(get_system_memory(), gpa,
                                                 sizeof(struct vcpu_info));

    if (!mrs.mr) {
        return -EINVAL;
    }
    if (!mrs.mr->ram_block || mrs.mr->readonly ||
        int128_lt(mrs.size, int128_make64(sizeof(struct vcpu_info)))) {
        memory_region_unref(mrs.mr);
        return -EINVAL;
    }
    *mr = mrs.mr;
    *hva = qemu_map_ram_ptr(mrs.mr->ram_block, mrs.offset_within_region);
    return 0;
}

/* Map @v's registered vcpu_info (after a reset or migration) */
static int map_vcpu_info(XenUpcallVCPU *v)
{
    unmap_vcpu_info(v);
    if (v->vcpu_info_gpa == INVALID_GPA) {
        return 0;
    }
    return map_vcpu_info_at(v->vcpu_info_gpa, &v->vcpu_info_mr,
                            &v->vcpu_info_hva);
}

/*
 * VCPUOP_register_vcpu_info (xen/include/public/vcpu.h): vCPU @vcpu_id's
 * vcpu_info moves to guest-physical @gpa.  The dispatcher has checked
 * what Xen checks (the struct stays within one page); -EINVAL if @gpa is
 * not RAM, as Xen's map_guest_area() fails.
 */
int xen_upcall_register_vcpu_info(uint32_t vcpu_id, uint64_t gpa)
{
    XenUpcallVCPU *v = upcall_vcpu(vcpu_id);
    MemoryRegion *mr, *old_mr;
    void *hva;
    int ret;

    if (!v) {
        return -ENOENT;
    }
    ret = map_vcpu_info_at(gpa, &mr, &hva);
    if (ret) {
        return ret;
    }
    /*
     * Another vCPU's hypercall may set a port pending in this vcpu_info
     * without the BQL (xen_upcall_get_vcpu_info_hva()): publish the new
     * mapping before the address that makes readers use it, so that no
     * reader finds a registered address without a mapping and drops the
     * event.  One that still reads the old address gets the new mapping,
     * which is already the vCPU's vcpu_info.
     */
    old_mr = v->vcpu_info_mr;
    v->vcpu_info_mr = mr;
    qatomic_set(&v->vcpu_info_hva, hva);
    /* The mapping before the address; pairs with the reader's smp_rmb() */
    smp_wmb();
    qatomic_set(&v->vcpu_info_gpa, gpa);
    if (old_mr) {
        memory_region_unref(old_mr);
    }
    trace_xen_upcall_vcpu_info(vcpu_id, gpa);
    return 0;
}

/* HVMOP_set_evtchn_upcall_vector (xen/include/public/hvm/hvm_op.h) */
int xen_upcall_set_upcall_vector(uint32_t vcpu_id, uint8_t vector)
{
    XenUpcallVCPU *v = upcall_vcpu(vcpu_id);

    if (!v) {
        return -ENOENT;
    }
    v->upcall_vector = vector;
    trace_xen_upcall_vector(vcpu_id, vector);
    return 0;
}

static void reset_vcpus(XenUpcallState *s)
{
    uint32_t i;

    for (i = 0; i < s->nr_vcpus; i++) {
        XenUpcallVCPU *v = &s->vcpu[i];

        unmap_vcpu_info(v);
        v->vcpu_info_gpa = INVALID_GPA;
        v->upcall_vector = 0;
        v->asserted = false;
        v->raise_deferred = false;
        qemu_set_irq(s->upcall[i], 0);
    }
    timer_del(s->poll_timer);
}

void xen_upcall_reset_vcpus(void)
{
    XenUpcallState *s = xen_upcall_singleton;

    assert(bql_locked());
    trace_xen_upcall_reset_vcpus();
    if (s) {
        reset_vcpus(s);
    }
}

bool xen_upcall_query_vcpu(uint32_t vcpu_id, XenVcpuUpcallInfo *info)
{
    XenUpcallVCPU *v = upcall_vcpu(vcpu_id);

    if (!v) {
        return false;
    }
    info->vcpu = vcpu_id;
    info->upcall_vector = v->upcall_vector;
    info->has_vcpu_info = v->vcpu_info_gpa != INVALID_GPA;
    info->vcpu_info = v->vcpu_info_gpa;
    info->asserted = v->asserted;
    info->upcalls = v->upcalls;
    info->injections = v->injections;
    return true;
}

/* The device */

static void xen_upcall_realize(DeviceState *dev, Error **errp)
{
    XenUpcallState *s = XEN_UPCALL(dev);
    uint32_t i;

    if (xen_mode != XEN_EMULATE || xen_upcall_singleton) {
        error_setg(errp, "xen-upcall is created by the machine in Xen "
                   "emulation under TCG or qtest");
        return;
    }
    s->nr_vcpus = MACHINE(qdev_get_machine())->smp.max_cpus;
    s->vcpu = g_new0(XenUpcallVCPU, s->nr_vcpus);
    for (i = 0; i < s->nr_vcpus; i++) {
        s->vcpu[i].vcpu_info_gpa = INVALID_GPA;
    }
    s->upcall = g_new0(qemu_irq, s->nr_vcpus);
    qdev_init_gpio_out_named(dev, s->upcall, "upcall", s->nr_vcpus);
    s->poll_timer = timer_new_ns(QEMU_CLOCK_VIRTUAL, xen_upcall_poll, s);
    s->raise_bh = qemu_bh_new(xen_upcall_raise_bh, s);
    xen_upcall_singleton = s;
}

static void xen_upcall_reset_hold(Object *obj, ResetType type)
{
    XenUpcallState *s = XEN_UPCALL(obj);
    uint32_t i;

    reset_vcpus(s);
    for (i = 0; i < s->nr_vcpus; i++) {
        s->vcpu[i].upcalls = 0;
        s->vcpu[i].injections = 0;
    }
}

static int xen_upcall_post_load(void *opaque, int version_id)
{
    XenUpcallState *s = opaque;
    uint32_t i;

    for (i = 0; i < s->nr_vcpus; i++) {
        XenUpcallVCPU *v = &s->vcpu[i];

        if (map_vcpu_info(v)) {
            v->vcpu_info_gpa = INVALID_GPA;
        }
        qemu_set_irq(s->upcall[i], v->asserted);
    }
    return 0;
}

static const VMStateDescription xen_upcall_vcpu_vmstate = {
    .name = "xen-upcall/vcpu",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT64(vcpu_info_gpa, XenUpcallVCPU),
        VMSTATE_UINT8(upcall_vector, XenUpcallVCPU),
        VMSTATE_BOOL(asserted, XenUpcallVCPU),
        VMSTATE_UINT64(upcalls, XenUpcallVCPU),
        VMSTATE_UINT64(injections, XenUpcallVCPU),
        VMSTATE_END_OF_LIST()
    }
};

static const VMStateDescription xen_upcall_vmstate = {
    .name = "xen-upcall",
    .version_id = 1,
    .minimum_version_id = 1,
    .post_load = xen_upcall_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32_EQUAL(nr_vcpus, XenUpcallState, NULL),
        VMSTATE_STRUCT_VARRAY_POINTER_UINT32(vcpu, XenUpcallState, nr_vcpus,
                                             xen_upcall_vcpu_vmstate,
                                             XenUpcallVCPU),
        VMSTATE_TIMER_PTR(poll_timer, XenUpcallState),
        VMSTATE_END_OF_LIST()
    }
};

static void xen_upcall_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    ResettableClass *rc = RESETTABLE_CLASS(klass);

    dc->realize = xen_upcall_realize;
    dc->vmsd = &xen_upcall_vmstate;
    dc->user_creatable = false;
    dc->desc = "Xen emulation: vcpu_info and upcalls under TCG and qtest";
    rc->phases.hold = xen_upcall_reset_hold;
    object_class_property_add_uint64_ptr(klass, "poll-ns",
                                         &xen_upcall_poll_ns,
                                         OBJ_PROP_FLAG_READ);
    object_class_property_set_description(klass, "poll-ns",
                                          "virtual time between looks at a "
                                          "pending upcall (re-send, deassert)");
}

static const TypeInfo xen_upcall_info = {
    .name = TYPE_XEN_UPCALL,
    .parent = TYPE_SYS_BUS_DEVICE,
    .instance_size = sizeof(XenUpcallState),
    .class_init = xen_upcall_class_init,
};

static void xen_upcall_register_types(void)
{
    type_register_static(&xen_upcall_info);
}

type_init(xen_upcall_register_types)
