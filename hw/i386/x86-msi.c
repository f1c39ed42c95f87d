/*
 * The x86 MSI decoder: a message as the x86 platform reads it
 *
 * The MSI instrumentation (hw/pci/msi-record.c, msi-monitor.c) knows no
 * platform: it asks hw/pci/msi-decode.c, and this file registers the x86
 * reader there at start-up, in every binary that has x86 machines.  The
 * fields are read with include/hw/i386/x86-msi.h, which also composes the
 * messages of QEMU's Xen emulation and of the qtests, and which names the
 * specifications.
 *
 * The format is chosen in this order (docs/msix-instrumentation.rst):
 * 1. address low dword outside the window: memory, a plain write of the
 *    data (as when a test points an entry at guest RAM);
 * 2. vector 0 with ExtINT delivery: Xen's pirq encoding, which sets
 *    address_hi.  QEMU's Xen emulation claims a message as a pirq on
 *    vector 0 alone (xen_evtchn_deliver_pirq_msi()); this also wants
 *    ExtINT, as Linux writes it, so a vector-0 fixed message reads as
 *    compat;
 * 3. any address above 4 GiB: memory;
 * 4. address bit 4 (int_mode) set: remappable;
 * 5. otherwise: compat.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/module.h"
#include "hw/i386/x86-msi.h"
#include "hw/pci/msi-decode.h"

/* The QAPI enum lists the delivery modes in their data bits' order. */
QEMU_BUILD_BUG_ON(MSI_DELIVERY_MODE_FIXED != X86_MSI_DELIVERY_FIXED);
QEMU_BUILD_BUG_ON(MSI_DELIVERY_MODE_LOWEST_PRIORITY !=
                  X86_MSI_DELIVERY_LOWPRI);
QEMU_BUILD_BUG_ON(MSI_DELIVERY_MODE_EXTINT != X86_MSI_DELIVERY_EXTINT);

/*
 * The one line `info msix`, `info msix-log`, the trace events and the
 * QMP member summary give for @d.
 */
static char *x86_msi_summary(const MsiDecoded *d)
{
    const MsiDecodedCompat *c = &d->u.compat;
    const MsiDecodedRemappable *r = &d->u.remappable;

    switch (d->format) {
    case MSI_MESSAGE_FORMAT_COMPAT:
        return g_strdup_printf("compat dest 0x%x vector 0x%x %s %s %s%s%s",
                               c->dest_id, c->vector,
                               MsiDeliveryMode_str(c->delivery_mode),
                               MsiDestMode_str(c->dest_mode),
                               MsiTriggerMode_str(c->trigger_mode),
                               c->trigger_mode == MSI_TRIGGER_MODE_LEVEL &&
                               c->level ? " assert" : "",
                               c->redirection_hint ? " rh" : "");
    case MSI_MESSAGE_FORMAT_REMAPPABLE:
        return r->shv ? g_strdup_printf("remappable irte 0x%x shv "
                                        "subhandle 0x%x", r->irte_index,
                                        r->subhandle)
                      : g_strdup_printf("remappable irte 0x%x",
                                        r->irte_index);
    case MSI_MESSAGE_FORMAT_XEN_PIRQ:
        return g_strdup_printf("xen-pirq %u", d->u.xen_pirq.pirq);
    default:
        return g_strdup("memory");
    }
}

static void x86_msi_read(uint64_t address, uint32_t data, MsiDecoded *out)
{
    uint8_t vector = x86_msi_vector(data);
    unsigned delivery = x86_msi_delivery_mode(data);

    if (!x86_msi_in_window(address)) {
        out->format = MSI_MESSAGE_FORMAT_MEMORY;
    } else if (vector == 0 && delivery == X86_MSI_DELIVERY_EXTINT) {
        out->format = MSI_MESSAGE_FORMAT_XEN_PIRQ;
        out->u.xen_pirq.pirq = x86_msi_xen_pirq(address);
    } else if (address >> 32) {
        out->format = MSI_MESSAGE_FORMAT_MEMORY;
    } else if (address & X86_MSI_ADDR_INT_MODE_REMAP) {
        MsiDecodedRemappable *r = &out->u.remappable;

        out->format = MSI_MESSAGE_FORMAT_REMAPPABLE;
        r->irte_index = x86_msi_irte_index(address);
        r->shv = address & X86_MSI_ADDR_SUB_VALID;
        r->subhandle = data & X86_MSI_DATA_SUBHANDLE_MASK;
    } else {
        MsiDecodedCompat *c = &out->u.compat;

        out->format = MSI_MESSAGE_FORMAT_COMPAT;
        c->dest_id = x86_msi_dest_id(address);
        c->vector = vector;
        c->delivery_mode = delivery;
        c->dest_mode = address & X86_MSI_ADDR_DEST_MODE_LOGICAL ?
                       MSI_DEST_MODE_LOGICAL : MSI_DEST_MODE_PHYSICAL;
        c->trigger_mode = data & X86_MSI_DATA_TRIGGER_LEVEL ?
                          MSI_TRIGGER_MODE_LEVEL : MSI_TRIGGER_MODE_EDGE;
        c->level = data & X86_MSI_DATA_LEVEL_ASSERT;
        c->redirection_hint = address & X86_MSI_ADDR_REDIRECTION_HINT;
    }
}

static void x86_msi_decode(uint64_t address, uint32_t data, MsiDecoded *out)
{
    memset(out, 0, sizeof(*out));
    x86_msi_read(address, data, out);
    out->summary = x86_msi_summary(out);
}

static void x86_msi_register(void)
{
    msi_decoder_register(x86_msi_decode);
}

/* Run with the QOM types, before any device can send a message. */
type_init(x86_msi_register)
