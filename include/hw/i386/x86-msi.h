/*
 * The x86 MSI message: its fields, composed and read in one place
 *
 * To PCI, an MSI is a DWORD write of the data to the address.  On x86 an
 * address whose low dword is in the window 0xFEEx_xxxx is an interrupt
 * instead, in one of these formats:
 *
 * - compatibility: Intel 64 and IA-32 Architectures Software Developer's
 *   Manual, vol. 3A, "Message Signalled Interrupts": "Message Address
 *   Register Format" and "Message Data Register Format" (section 11.11 in
 *   editions up to 2023, 12.11 since); QEMU's apic-msidef.h has their
 *   shifts.  Address bits 11:5 as destination ID bits 14:8 (for APIC IDs
 *   above 255 without interrupt remapping) are not in the SDM: they are
 *   the extended destination ID of KVM, Hyper-V and QEMU, Linux's
 *   virt_destid_8_14 (arch/x86/include/asm/msi.h);
 * - remappable: Intel Virtualization Technology for Directed I/O, 5.1.5.2,
 *   "Interrupt Requests in Remappable Format"; the bits are named after
 *   the fields of QEMU's VTD_IR_MSIAddress (include/hw/i386/intel_iommu.h);
 * - Xen's pirq encoding: Linux's xen_msi_compose_msg() (arch/x86/pci/xen.c)
 *   asks Xen for a pirq with vector 0 and ExtINT delivery, the pirq's bits
 *   7:0 in the destination ID and its bits 31:8 in address_hi bits 31:8.
 *
 * QEMU's x86 code (hw/i386/x86-msi.c, the decoder behind the MSI
 * instrumentation; the Xen emulation) and the qtests all include this
 * file, so it holds macros and static inlines on apic-msidef.h only.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_I386_X86_MSI_H
#define HW_I386_X86_MSI_H

#include "hw/i386/apic-msidef.h"

/*
 * The interrupt window: address bits 31:20 are 0FEEH.  QEMU's local APIC
 * takes MSI writes and its registers in one region at its default base,
 * which is this address (hw/intc/apic.c).
 */
#define X86_MSI_ADDR_BASE_LO            0xfee00000U
#define X86_MSI_ADDR_BASE_MASK          0xfff00000U

/* Address, compatibility format */
#define X86_MSI_ADDR_DEST_ID(id) \
    (((uint32_t)(id) << MSI_ADDR_DEST_ID_SHIFT) & MSI_ADDR_DEST_ID_MASK)
#define X86_MSI_ADDR_EXT_DEST_ID_SHIFT  5       /* bits 11:5: ID 14:8 */
#define X86_MSI_ADDR_EXT_DEST_ID_MASK   0x00000fe0U
#define X86_MSI_ADDR_REDIRECTION_HINT   (1U << MSI_ADDR_REDIRECTION_SHIFT)
#define X86_MSI_ADDR_DEST_MODE_LOGICAL  (1U << MSI_ADDR_DEST_MODE_SHIFT)

/* Address, remappable format (VTD_IR_MSIAddress) */
#define X86_MSI_ADDR_INDEX_L_SHIFT      5       /* bits 19:5: handle 14:0 */
#define X86_MSI_ADDR_INDEX_L_MASK       0x000fffe0U
#define X86_MSI_ADDR_INT_MODE_REMAP     (1U << 4)   /* int_mode */
#define X86_MSI_ADDR_SUB_VALID          (1U << 3)   /* SHV */
#define X86_MSI_ADDR_INDEX_H            (1U << 2)   /* handle bit 15 */
#define X86_MSI_INDEX_H_SHIFT           15

/* Address, Xen pirq: the pirq's bits 31:8 in address_hi bits 31:8 */
#define X86_MSI_ADDR_HI_PIRQ_MASK       0xffffff00U

/* Data, compatibility format */
#define X86_MSI_DATA_VECTOR(v)          ((uint32_t)(v) & MSI_DATA_VECTOR_MASK)
#define X86_MSI_DATA_DELIVERY(mode)     ((uint32_t)(mode) << \
                                         MSI_DATA_DELIVERY_MODE_SHIFT)
#define X86_MSI_DATA_DELIVERY_MASK      X86_MSI_DATA_DELIVERY(7)
#define X86_MSI_DATA_LEVEL_ASSERT       (1U << MSI_DATA_LEVEL_SHIFT)
#define X86_MSI_DATA_TRIGGER_LEVEL      (1U << MSI_DATA_TRIGGER_SHIFT)
/* Delivery modes, data bits 10:8 (the others: SMI 2, NMI 4, INIT 5) */
#define X86_MSI_DELIVERY_FIXED          0
#define X86_MSI_DELIVERY_LOWPRI         1
#define X86_MSI_DELIVERY_EXTINT         7

/* Data, remappable format: the subhandle, added to the handle with SHV */
#define X86_MSI_DATA_SUBHANDLE_MASK     0x0000ffffU

/* ------------------------------------------------------------- compose */

/*
 * The message for @vector on the CPU with APIC ID @apic_id, as Xen's
 * msi_compose_msg() (xen/arch/x86/msi.c) writes it for one CPU: physical
 * destination mode, no redirection hint, APIC ID bits 7:0 (Xen's
 * MSI_ADDR_DEST_ID()); fixed delivery, edge, Level Assert set (which the
 * SDM ignores for edge; Xen sets it, as does QEMU's
 * kvm_xen_inject_vcpu_callback_vector()).
 */
static inline uint64_t x86_msi_compose_addr(uint32_t apic_id)
{
    return X86_MSI_ADDR_BASE_LO | X86_MSI_ADDR_DEST_ID(apic_id);
}

static inline uint32_t x86_msi_compose_data(uint8_t vector)
{
    return X86_MSI_DATA_LEVEL_ASSERT |
           X86_MSI_DATA_DELIVERY(X86_MSI_DELIVERY_FIXED) |
           X86_MSI_DATA_VECTOR(vector);
}

/* The address Linux's xen_msi_compose_msg() writes for @pirq */
static inline uint64_t x86_msi_compose_xen_pirq_addr(uint32_t pirq)
{
    return (uint64_t)(pirq & X86_MSI_ADDR_HI_PIRQ_MASK) << 32 |
           X86_MSI_ADDR_BASE_LO | X86_MSI_ADDR_DEST_ID(pirq);
}

/* ---------------------------------------------------------------- read */

/* Whether @address's low dword is in the interrupt window */
static inline bool x86_msi_in_window(uint64_t address)
{
    return ((uint32_t)address & X86_MSI_ADDR_BASE_MASK) ==
           X86_MSI_ADDR_BASE_LO;
}

/* Compatibility format: the destination ID, extended bits 14:8 included */
static inline uint32_t x86_msi_dest_id(uint64_t address)
{
    return ((address & MSI_ADDR_DEST_ID_MASK) >> MSI_ADDR_DEST_ID_SHIFT) |
           ((address & X86_MSI_ADDR_EXT_DEST_ID_MASK) >>
            X86_MSI_ADDR_EXT_DEST_ID_SHIFT) << 8;
}

static inline uint8_t x86_msi_vector(uint32_t data)
{
    return (data & MSI_DATA_VECTOR_MASK) >> MSI_DATA_VECTOR_SHIFT;
}

static inline unsigned x86_msi_delivery_mode(uint32_t data)
{
    return (data & X86_MSI_DATA_DELIVERY_MASK) >> MSI_DATA_DELIVERY_MODE_SHIFT;
}

/* Remappable format: the interrupt handle, index_h:index_l */
static inline uint16_t x86_msi_irte_index(uint64_t address)
{
    return ((address & X86_MSI_ADDR_INDEX_L_MASK) >>
            X86_MSI_ADDR_INDEX_L_SHIFT) |
           (address & X86_MSI_ADDR_INDEX_H ? 1U << X86_MSI_INDEX_H_SHIFT : 0);
}

/* Xen's pirq encoding: the pirq */
static inline uint32_t x86_msi_xen_pirq(uint64_t address)
{
    return ((address >> 32) & X86_MSI_ADDR_HI_PIRQ_MASK) |
           (address & MSI_ADDR_DEST_ID_MASK) >> MSI_ADDR_DEST_ID_SHIFT;
}

#endif /* HW_I386_X86_MSI_H */
