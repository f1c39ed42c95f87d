/*
 * xen-hypercall-port: register map
 *
 * The one place these constants are written: the device
 * (hw/i386/kvm/xen_hypercall_port.c) and the qtests include this file, so
 * it holds macros only.  docs/specs/xen-hypercall-port.rst says what each
 * register does.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef XEN_HYPERCALL_PORT_REGS_H
#define XEN_HYPERCALL_PORT_REGS_H

/* ISA I/O ports; 32-bit accesses only */
#define XEN_HCALL_PORT_DEFAULT_IOBASE   0x0f00
#define XEN_HCALL_PORT_SIZE             0x40

#define XEN_HCALL_PORT_ID               0x00    /* RO */
#define   XEN_HCALL_PORT_ID_VALUE       0x4c434858  /* "XHCL" */
#define XEN_HCALL_PORT_VCPU             0x04    /* RW: calling vCPU index */
#define XEN_HCALL_PORT_OP               0x08    /* RW: __HYPERVISOR_* */
#define XEN_HCALL_PORT_DOORBELL         0x0c    /* WO: any value issues it */
/* RW: argument i (0-4: rdi, rsi, rdx, r10, r8), low then high half */
#define XEN_HCALL_PORT_ARG_LO(i)        (0x10 + 8 * (i))
#define XEN_HCALL_PORT_ARG_HI(i)        (0x14 + 8 * (i))
#define XEN_HCALL_PORT_NR_ARGS          5
/* RO: the last result (rax), signed 64-bit, low then high half */
#define XEN_HCALL_PORT_RESULT_LO        0x38
#define XEN_HCALL_PORT_RESULT_HI        0x3c

#endif /* XEN_HYPERCALL_PORT_REGS_H */
