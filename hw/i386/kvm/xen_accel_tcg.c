/*
 * QEMU Xen emulation: XenEmuAccelOps for TCG and qtest
 *
 * The Xen emulation devices reach the accelerator through XenEmuAccelOps
 * (xen_accel.h).  KVM implements it with its in-kernel Xen support
 * (target/i386/kvm/xen-emu.c).  TCG and qtest have none: there QEMU finds
 * each vCPU's vcpu_info and raises the upcalls itself, in the xen-upcall
 * device (xen_upcall.c), and this file is the accelerator's side:
 *
 *  - the properties `-accel tcg|qtest,xen-version=...,
 *    xen-evtchn-max-pirq=...,xen-gnttab-max-frames=...`, kept in the
 *    accelerator's object (XenEmuAccelProps, include/system/xen-emu.h);
 *  - the operations, each handed to xen-upcall or read from those
 *    properties.  What QEMU raising the upcalls needs nothing for is left
 *    NULL, and xen_accel.h's wrappers do what an accelerator without it
 *    must: no in-accelerator event delivery, no MSI routes to refresh, no
 *    copy of shared_info or of the guest's ABI width, no VIRQ_TIMER, no
 *    Xen PV time.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qapi/visitor.h"
#include "qom/object.h"
#include "hw/boards.h"
#include "hw/sysbus.h"
#include "hw/i386/e820_memory_layout.h"
#include "hw/xen/xen.h"
#include "system/kvm_xen.h"
#include "system/xen-emu.h"

#include "xen_accel.h"
#include "xen_upcall.h"

/*
 * The accelerator object's settings, found when xen-version switches Xen
 * emulation on; one accelerator object exists.
 */
static const XenEmuAccelProps *xen_accel_tcg_props;

static uint16_t xen_accel_tcg_get_evtchn_max_pirq(void)
{
    return xen_accel_tcg_props->evtchn_max_pirq;
}

static uint16_t xen_accel_tcg_get_gnttab_max_frames(void)
{
    return xen_accel_tcg_props->gnttab_max_frames;
}

static uint32_t xen_accel_tcg_get_xen_version(void)
{
    return xen_accel_tcg_props->xen_version;
}

static void xen_accel_tcg_create_devices(void)
{
    DeviceState *dev = qdev_new(TYPE_XEN_UPCALL);

    object_property_add_child(qdev_get_machine(), "xen-upcall", OBJECT(dev));
    sysbus_realize_and_unref(SYS_BUS_DEVICE(dev), &error_fatal);
}

static const XenEmuAccelOps xen_accel_tcg_ops = {
    .get_vcpu_info_hva = xen_upcall_get_vcpu_info_hva,
    .has_vcpu_callback_vector = xen_upcall_has_vcpu_callback_vector,
    .raise_upcall = xen_upcall_raise_upcall,
    .set_callback_asserted = xen_upcall_set_callback_asserted,
    .get_evtchn_max_pirq = xen_accel_tcg_get_evtchn_max_pirq,
    .get_gnttab_max_frames = xen_accel_tcg_get_gnttab_max_frames,
    .get_xen_version = xen_accel_tcg_get_xen_version,
    .register_vcpu_info = xen_upcall_register_vcpu_info,
    .set_upcall_vector = xen_upcall_set_upcall_vector,
    .create_devices = xen_accel_tcg_create_devices,
    .reset_vcpus = xen_upcall_reset_vcpus,
};

/* The properties; @opaque is the XenEmuAccelProps's offset in @obj. */

static XenEmuAccelProps *props_of(Object *obj, void *opaque)
{
    return (XenEmuAccelProps *)((char *)obj + (uintptr_t)opaque);
}

static void get_xen_version(Object *obj, Visitor *v, const char *name,
                            void *opaque, Error **errp)
{
    visit_type_uint32(v, name, &props_of(obj, opaque)->xen_version, errp);
}

/*
 * Setting a non-zero xen-version switches Xen emulation on, as for KVM
 * (kvm_arch_set_xen_version()); these operations are then the
 * accelerator's.
 */
static void set_xen_version(Object *obj, Visitor *v, const char *name,
                            void *opaque, Error **errp)
{
    XenEmuAccelProps *props = props_of(obj, opaque);
    uint32_t value;

    if (!visit_type_uint32(v, name, &value, errp)) {
        return;
    }
    if (!value) {
        error_setg(errp, "xen-version must be a Xen version in "
                   "XENVER_version form, e.g. 0x4000a for 4.10");
        return;
    }
    if (xen_mode == XEN_ATTACH) {
        error_setg(errp, "xen-version: QEMU is already running under Xen");
        return;
    }
    props->xen_version = value;
    if (xen_mode == XEN_DISABLED) {
        xen_mode = XEN_EMULATE;
        xen_accel_tcg_props = props;
        xen_emu_accel_register(&xen_accel_tcg_ops);
        /* As kvm_xen_init(): firmware keeps the special pages reserved. */
        e820_add_entry(XEN_SPECIAL_AREA_ADDR, XEN_SPECIAL_AREA_SIZE,
                       E820_RESERVED);
    }
}

/*
 * Getter and setter of xen-evtchn-max-pirq and xen-gnttab-max-frames:
 * @opaque is the uint16_t's offset in @obj.
 */
static void visit_u16(Object *obj, Visitor *v, const char *name,
                      void *opaque, Error **errp)
{
    visit_type_uint16(v, name, (uint16_t *)((char *)obj + (uintptr_t)opaque),
                      errp);
}

/* A property's @opaque: where its field of XenEmuAccelProps is in @obj */
#define FIELD_AT(props_offset, field) \
    ((void *)(uintptr_t)((props_offset) + offsetof(XenEmuAccelProps, field)))

void xen_emu_accel_class_init(ObjectClass *oc, ptrdiff_t props_offset)
{
    void *offset = (void *)(uintptr_t)props_offset;
    ObjectProperty *op;

    object_class_property_add(oc, "xen-version", "uint32",
                              get_xen_version, set_xen_version, NULL,
                              offset);
    object_class_property_set_description(oc, "xen-version",
                                          "Xen version to be emulated "
                                          "(in XENVER_version form "
                                          "e.g. 0x4000a for 4.10)");

    /* The KVM accelerator's defaults (kvm_accel_instance_init()) */
    op = object_class_property_add(oc, "xen-evtchn-max-pirq", "uint16",
                                   visit_u16, visit_u16, NULL,
                                   FIELD_AT(props_offset, evtchn_max_pirq));
    object_property_set_default_uint(op, 256);
    object_class_property_set_description(oc, "xen-evtchn-max-pirq",
                                          "Maximum number of Xen PIRQs");
    op = object_class_property_add(oc, "xen-gnttab-max-frames", "uint16",
                                   visit_u16, visit_u16, NULL,
                                   FIELD_AT(props_offset, gnttab_max_frames));
    object_property_set_default_uint(op, 64);
    object_class_property_set_description(oc, "xen-gnttab-max-frames",
                                          "Maximum number of grant table "
                                          "frames");
}
