/*
 * The one decoder of x86 MSI messages
 *
 * Trace events, the x-query-msix / x-query-msix-log monitor commands and
 * the qtests that read them all see a message through this file, so that
 * a message means the same thing everywhere.
 *
 * Sources:
 * - Compatibility format: Intel 64 and IA-32 Architectures Software
 *   Developer's Manual, vol. 3A, "Message Signalled Interrupts": "Message
 *   Address Register Format" and "Message Data Register Format" (section
 *   11.11 in editions up to 2023, 12.11 since).
 * - Extended destination ID (address bits 11:5 carry destination ID bits
 *   14:8, for APIC IDs above 255 without interrupt remapping): not in the
 *   SDM; the convention of KVM, Hyper-V and QEMU, and Linux's
 *   struct x86_msi_addr_lo (virt_destid_8_14) in arch/x86/include/asm/msi.h.
 * - Remappable format: Intel Virtualization Technology for Directed I/O,
 *   section 5.1.5.2, "Interrupt Requests in Remappable Format".
 * - Xen pirq encoding: Linux's xen_msi_compose_msg() in arch/x86/pci/xen.c
 *   (vector 0, ExtINT delivery, pirq bits 7:0 in the destination ID field,
 *   bits 31:8 in address_hi bits 31:8).  QEMU's Xen emulation claims a
 *   message as a pirq on vector 0 alone (xen_evtchn_deliver_pirq_msi());
 *   this decoder also wants ExtINT, as Linux writes it.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bitops.h"
#include "hw/pci/msi-decode.h"

/* Address: the interrupt window 0xFEEx_xxxx, in the low dword. */
#define MSI_ADDR_WINDOW_MASK            0xfff00000U
#define MSI_ADDR_WINDOW                 0xfee00000U
/* Address, compatibility format */
#define MSI_ADDR_DEST_ID_SHIFT          12      /* bits 19:12 */
#define MSI_ADDR_EXT_DEST_ID_SHIFT      5       /* bits 11:5 */
#define MSI_ADDR_EXT_DEST_ID_MASK       0x7fU
#define MSI_ADDR_IF_REMAPPABLE          BIT(4)  /* interrupt format */
#define MSI_ADDR_REDIRECTION_HINT       BIT(3)
#define MSI_ADDR_DEST_MODE_LOGICAL      BIT(2)
/* Address, remappable format */
#define MSI_ADDR_HANDLE_SHIFT           5       /* bits 19:5: handle 14:0 */
#define MSI_ADDR_HANDLE_MASK            0x7fffU
#define MSI_ADDR_SHV                    BIT(3)
#define MSI_ADDR_HANDLE_15              BIT(2)
/* Data, compatibility format */
#define MSI_DATA_VECTOR_MASK            0xffU
#define MSI_DATA_DELIVERY_SHIFT         8       /* bits 10:8 */
#define MSI_DATA_DELIVERY_MASK          0x7U
#define MSI_DATA_LEVEL_ASSERT           BIT(14)
#define MSI_DATA_TRIGGER_LEVEL          BIT(15)
/* Data, remappable format */
#define MSI_DATA_SUBHANDLE_MASK         0xffffU
/* Xen pirq: bits 31:8 of the pirq in address_hi bits 31:8. */
#define XEN_PIRQ_HI_MASK                0xffffff00U

void msi_decode_x86(uint64_t address, uint32_t data, MsiDecoded *out)
{
    uint32_t lo = address, hi = address >> 32;
    uint32_t vector = data & MSI_DATA_VECTOR_MASK;
    uint32_t delivery = (data >> MSI_DATA_DELIVERY_SHIFT) &
                        MSI_DATA_DELIVERY_MASK;

    memset(out, 0, sizeof(*out));

    if ((lo & MSI_ADDR_WINDOW_MASK) != MSI_ADDR_WINDOW) {
        out->format = MSI_MESSAGE_FORMAT_MEMORY;
        return;
    }
    if (vector == 0 && delivery == MSI_DELIVERY_MODE_EXTINT) {
        out->format = MSI_MESSAGE_FORMAT_XEN_PIRQ;
        out->u.xen_pirq.pirq = (hi & XEN_PIRQ_HI_MASK) |
                               ((lo >> MSI_ADDR_DEST_ID_SHIFT) & 0xff);
        return;
    }
    if (hi != 0) {
        /* Above 4 GiB: not the interrupt window. */
        out->format = MSI_MESSAGE_FORMAT_MEMORY;
        return;
    }
    if (lo & MSI_ADDR_IF_REMAPPABLE) {
        MsiDecodedRemappable *r = &out->u.remappable;

        out->format = MSI_MESSAGE_FORMAT_REMAPPABLE;
        r->irte_index = ((lo >> MSI_ADDR_HANDLE_SHIFT) & MSI_ADDR_HANDLE_MASK) |
                        (lo & MSI_ADDR_HANDLE_15 ? BIT(15) : 0);
        r->shv = lo & MSI_ADDR_SHV;
        r->subhandle = data & MSI_DATA_SUBHANDLE_MASK;
        return;
    }

    MsiDecodedCompat *c = &out->u.compat;

    out->format = MSI_MESSAGE_FORMAT_COMPAT;
    c->dest_id = ((lo >> MSI_ADDR_DEST_ID_SHIFT) & 0xff) |
                 (((lo >> MSI_ADDR_EXT_DEST_ID_SHIFT) &
                   MSI_ADDR_EXT_DEST_ID_MASK) << 8);
    c->vector = vector;
    c->delivery_mode = delivery;
    c->dest_mode = lo & MSI_ADDR_DEST_MODE_LOGICAL ? MSI_DEST_MODE_LOGICAL
                                                   : MSI_DEST_MODE_PHYSICAL;
    c->trigger_mode = data & MSI_DATA_TRIGGER_LEVEL ? MSI_TRIGGER_MODE_LEVEL
                                                    : MSI_TRIGGER_MODE_EDGE;
    c->level = data & MSI_DATA_LEVEL_ASSERT;
    c->redirection_hint = lo & MSI_ADDR_REDIRECTION_HINT;
}

char *msi_describe_x86(uint64_t address, uint32_t data, char *buf, size_t len)
{
    MsiDecoded d;

    msi_decode_x86(address, data, &d);
    switch (d.format) {
    case MSI_MESSAGE_FORMAT_COMPAT:
        snprintf(buf, len, "compat dest 0x%x vector 0x%x %s %s %s%s%s",
                 d.u.compat.dest_id, d.u.compat.vector,
                 MsiDeliveryMode_str(d.u.compat.delivery_mode),
                 MsiDestMode_str(d.u.compat.dest_mode),
                 MsiTriggerMode_str(d.u.compat.trigger_mode),
                 d.u.compat.trigger_mode == MSI_TRIGGER_MODE_LEVEL &&
                 d.u.compat.level ? " assert" : "",
                 d.u.compat.redirection_hint ? " rh" : "");
        break;
    case MSI_MESSAGE_FORMAT_REMAPPABLE:
        if (d.u.remappable.shv) {
            snprintf(buf, len, "remappable irte 0x%x shv subhandle 0x%x",
                     d.u.remappable.irte_index, d.u.remappable.subhandle);
        } else {
            snprintf(buf, len, "remappable irte 0x%x",
                     d.u.remappable.irte_index);
        }
        break;
    case MSI_MESSAGE_FORMAT_XEN_PIRQ:
        snprintf(buf, len, "xen-pirq %u", d.u.xen_pirq.pirq);
        break;
    default:
        snprintf(buf, len, "memory");
        break;
    }
    return buf;
}
