/*
 * QEMU Xen emulation: the hypercall test port
 *
 * An ISA device through which a qtest, or a guest that cannot execute
 * VMCALL/VMMCALL under this accelerator, issues Xen hypercalls with
 * Xen's public ABI: the hypercall number, the register arguments, and
 * pointer arguments as guest-physical addresses of the structs of Xen's
 * public headers.  Register map: docs/specs/xen-hypercall-port.rst and
 * include/hw/i386/xen-hypercall-port-regs.h.  The hypercall is carried
 * out by the accelerator-neutral dispatcher, xen_hypercall.c.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/log.h"
#include "qapi/error.h"
#include "exec/address-spaces.h"
#include "hw/core/cpu.h"
#include "hw/isa/isa.h"
#include "hw/qdev-properties.h"
#include "hw/xen/xen.h"
#include "hw/i386/xen-hypercall-port-regs.h"
#include "migration/vmstate.h"
#include "trace.h"

#include "xen_hypercall.h"

#define TYPE_XEN_HYPERCALL_PORT "xen-hypercall-port"
OBJECT_DECLARE_SIMPLE_TYPE(XenHypercallPortState, XEN_HYPERCALL_PORT)

struct XenHypercallPortState {
    ISADevice parent_obj;

    MemoryRegion io;
    uint32_t iobase;

    uint32_t vcpu;
    uint32_t op;
    uint64_t args[XEN_HCALL_PORT_NR_ARGS];
    int64_t result;
};

static int copy_from_gpa(XenHypercallCaller *c, uint64_t gpa, void *buf,
                         size_t len)
{
    MemTxResult r = address_space_read(&address_space_memory, gpa,
                                       MEMTXATTRS_UNSPECIFIED, buf, len);

    return r == MEMTX_OK ? 0 : -EFAULT;
}

static int copy_to_gpa(XenHypercallCaller *c, uint64_t gpa, const void *buf,
                       size_t len)
{
    MemTxResult r = address_space_write(&address_space_memory, gpa,
                                        MEMTXATTRS_UNSPECIFIED, buf, len);

    return r == MEMTX_OK ? 0 : -EFAULT;
}

static void issue(XenHypercallPortState *s)
{
    XenHypercallCaller c = {
        .copy_from = copy_from_gpa,
        .copy_to = copy_to_gpa,
        .vcpu_id = s->vcpu,
        .long_mode = true,
    };

    if (!qemu_get_cpu(s->vcpu)) {
        qemu_log_mask(LOG_GUEST_ERROR, "%s: no vCPU %u\n",
                      TYPE_XEN_HYPERCALL_PORT, s->vcpu);
        trace_xen_hypercall_port_bad_vcpu(s->vcpu);
        s->result = -EINVAL;
        return;
    }
    s->result = xen_hypercall(&c, s->op, s->args);
}

static uint64_t xen_hcall_port_read(void *opaque, hwaddr addr, unsigned size)
{
    XenHypercallPortState *s = opaque;
    unsigned i = (addr - XEN_HCALL_PORT_ARG_LO(0)) / 8;

    switch (addr) {
    case XEN_HCALL_PORT_ID:
        return XEN_HCALL_PORT_ID_VALUE;
    case XEN_HCALL_PORT_VCPU:
        return s->vcpu;
    case XEN_HCALL_PORT_OP:
        return s->op;
    case XEN_HCALL_PORT_ARG_LO(0) ... XEN_HCALL_PORT_ARG_HI(4):
        return addr & 4 ? s->args[i] >> 32 : (uint32_t)s->args[i];
    case XEN_HCALL_PORT_RESULT_LO:
        return (uint32_t)s->result;
    case XEN_HCALL_PORT_RESULT_HI:
        return (uint64_t)s->result >> 32;
    default:
        return 0;   /* DOORBELL is write-only */
    }
}

static void xen_hcall_port_write(void *opaque, hwaddr addr, uint64_t val,
                                 unsigned size)
{
    XenHypercallPortState *s = opaque;
    unsigned i = (addr - XEN_HCALL_PORT_ARG_LO(0)) / 8;

    switch (addr) {
    case XEN_HCALL_PORT_VCPU:
        s->vcpu = val;
        break;
    case XEN_HCALL_PORT_OP:
        s->op = val;
        break;
    case XEN_HCALL_PORT_DOORBELL:
        issue(s);
        break;
    case XEN_HCALL_PORT_ARG_LO(0) ... XEN_HCALL_PORT_ARG_HI(4):
        if (addr & 4) {
            s->args[i] = deposit64(s->args[i], 32, 32, val);
        } else {
            s->args[i] = deposit64(s->args[i], 0, 32, val);
        }
        break;
    default:
        qemu_log_mask(LOG_GUEST_ERROR, "%s: write to read-only 0x%" HWADDR_PRIx
                      "\n", TYPE_XEN_HYPERCALL_PORT, addr);
        break;
    }
}

static const MemoryRegionOps xen_hcall_port_ops = {
    .read = xen_hcall_port_read,
    .write = xen_hcall_port_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = {
        .min_access_size = 4,
        .max_access_size = 4,
    },
};

static void xen_hcall_port_realize(DeviceState *dev, Error **errp)
{
    XenHypercallPortState *s = XEN_HYPERCALL_PORT(dev);

    if (xen_mode != XEN_EMULATE) {
        error_setg(errp, "%s needs Xen emulation: -accel <accel>,xen-version="
                   "0x4000a or another Xen version", TYPE_XEN_HYPERCALL_PORT);
        return;
    }
    if (s->iobase > 0xffff - XEN_HCALL_PORT_SIZE + 1) {
        error_setg(errp, "%s: iobase 0x%x leaves no room for its 0x%x ports",
                   TYPE_XEN_HYPERCALL_PORT, s->iobase, XEN_HCALL_PORT_SIZE);
        return;
    }
    memory_region_init_io(&s->io, OBJECT(dev), &xen_hcall_port_ops, s,
                          TYPE_XEN_HYPERCALL_PORT, XEN_HCALL_PORT_SIZE);
    isa_register_ioport(ISA_DEVICE(dev), &s->io, s->iobase);
}

static void xen_hcall_port_reset_hold(Object *obj, ResetType type)
{
    XenHypercallPortState *s = XEN_HYPERCALL_PORT(obj);

    s->vcpu = 0;
    s->op = 0;
    memset(s->args, 0, sizeof(s->args));
    s->result = 0;
}

static const VMStateDescription xen_hcall_port_vmstate = {
    .name = TYPE_XEN_HYPERCALL_PORT,
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32(vcpu, XenHypercallPortState),
        VMSTATE_UINT32(op, XenHypercallPortState),
        VMSTATE_UINT64_ARRAY(args, XenHypercallPortState,
                             XEN_HCALL_PORT_NR_ARGS),
        VMSTATE_INT64(result, XenHypercallPortState),
        VMSTATE_END_OF_LIST()
    }
};

static const Property xen_hcall_port_properties[] = {
    DEFINE_PROP_UINT32("iobase", XenHypercallPortState, iobase,
                       XEN_HCALL_PORT_DEFAULT_IOBASE),
};

static void xen_hcall_port_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    ResettableClass *rc = RESETTABLE_CLASS(klass);

    dc->realize = xen_hcall_port_realize;
    dc->vmsd = &xen_hcall_port_vmstate;
    dc->desc = "Xen hypercalls through I/O ports (tests, guests without "
               "VMCALL)";
    device_class_set_props(dc, xen_hcall_port_properties);
    set_bit(DEVICE_CATEGORY_MISC, dc->categories);
    rc->phases.hold = xen_hcall_port_reset_hold;
}

static const TypeInfo xen_hcall_port_info = {
    .name = TYPE_XEN_HYPERCALL_PORT,
    .parent = TYPE_ISA_DEVICE,
    .instance_size = sizeof(XenHypercallPortState),
    .class_init = xen_hcall_port_class_init,
};

static void xen_hcall_port_register_types(void)
{
    type_register_static(&xen_hcall_port_info);
}

type_init(xen_hcall_port_register_types)
