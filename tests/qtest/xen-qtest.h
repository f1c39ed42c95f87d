/*
 * A Xen HVM guest for qtests: hypercalls through the hypercall test port
 * (docs/specs/xen-hypercall-port.rst) with the structs of Xen's public
 * headers in guest RAM, shared_info and vcpu_info as the guest sees
 * them, the monitor's view (x-query-xen-irqs, xen-event-list), machine
 * set-up, and msix-testdev as the device whose messages and INTx line
 * the tests follow.  Used by xen-evtchn-test and xen-pirq-test.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef TESTS_QTEST_XEN_QTEST_H
#define TESTS_QTEST_XEN_QTEST_H

#include "qemu/host-utils.h"
#include "libqtest.h"
#include "libqos/pci-pc.h"
#include "libqos/libqos-pc.h"
#include "libqos/libqos-malloc.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include "standard-headers/linux/pci_regs.h"
#include "hw/i386/x86-msi.h"
#include "hw/i386/xen-hypercall-port-regs.h"
#include "hw/misc/msix-testdev-regs.h"
/* The interface version QEMU's include/hw/xen/xen.h selects */
#define __XEN_INTERFACE_VERSION__ 0x00040e00
#include "hw/xen/interface/xen.h"
#include "hw/xen/interface/event_channel.h"
#include "hw/xen/interface/memory.h"
#include "hw/xen/interface/physdev.h"
#include "hw/xen/interface/vcpu.h"
#include "hw/xen/interface/version.h"
#include "hw/xen/interface/hvm/hvm_op.h"
#include "hw/xen/interface/hvm/params.h"

/* The Xen version the emulation reports (-accel ...,xen-version=) */
#define XEN_QTEST_VERSION           0x4000a
#define XEN_QTEST_DOMID             1   /* xen_domid's default in emulation */
/*
 * The global callback vector xen_domain() sets (HVM_PARAM_CALLBACK_IRQ),
 * Linux's (arch/x86/include/asm/irq_vectors.h)
 */
#define HYPERVISOR_CALLBACK_VECTOR  0xf3
/* msix-testdev, the device whose messages and INTx line the tests follow */
#define XEN_TDEV_DEVFN              QPCI_DEVFN(4, 0)
#define XEN_TDEV_ID                 "dut"
/* HVM_PARAM_CALLBACK_IRQ's value: the type in its top byte */
#define XEN_CALLBACK_VIA(type, val) \
    ((uint64_t)(type) << ctz64(HVM_PARAM_CALLBACK_IRQ_TYPE_MASK) | (val))

typedef struct XenGuest {
    QOSState *qs;
    QTestState *qts;
    QPCIDevice *dev;        /* msix-testdev, when asked for */
    QPCIBar bar;
    uint64_t arg;           /* a page for hypercall structs */
    uint64_t shinfo;        /* where shared_info is mapped */
} XenGuest;

#define XEN_EVTCHN_OP(x, cmd, s) \
    xen_hcall_struct(x, __HYPERVISOR_event_channel_op, cmd, &(s), sizeof(s))
#define XEN_PHYSDEV_OP(x, cmd, s) \
    xen_hcall_struct(x, __HYPERVISOR_physdev_op, cmd, &(s), sizeof(s))
#define XEN_HVM_OP(x, cmd, s) \
    xen_hcall_struct(x, __HYPERVISOR_hvm_op, cmd, &(s), sizeof(s))

/*
 * A dom0's machine: msix-testdev and the model of Xen's physical IRQ
 * layer.  MSI-X is left disabled, as a dom0 leaves it: Xen enables it.
 */
#define XEN_DOM0_DEVICES \
    "-device xen-physirq " \
    "-device msix-testdev,id=" XEN_TDEV_ID ",addr=04.0"

/* --------------------------------------------------------- hypercalls */

/*
 * Hypercall @op with arguments @a0..@a2 on vCPU @vcpu through the test
 * port; Xen's signed result.
 */
int64_t xen_hcall_on(XenGuest *x, uint32_t vcpu, uint32_t op, uint64_t a0,
                     uint64_t a1, uint64_t a2);

/* Hypercall @op, sub-operation @cmd, on the struct *@buf in guest RAM. */
int64_t xen_hcall_struct(XenGuest *x, uint32_t op, int cmd, void *buf,
                         size_t len);

/* HVMOP_set_param of HVM parameter @index */
int64_t xen_set_param(XenGuest *x, uint32_t index, uint64_t value);

/* EVTCHNOP_alloc_unbound for the domain itself; the port (must work) */
uint32_t xen_alloc_unbound(XenGuest *x);

/* EVTCHNOP_close of @port */
int64_t xen_close_port(XenGuest *x, uint32_t port);

/* EVTCHNOP_send on @port */
int64_t xen_send_port(XenGuest *x, uint32_t port);

/*
 * EVTCHNOP_status of @port; its result in *@ret, or asserted 0 when @ret
 * is NULL.
 */
struct evtchn_status xen_port_status(XenGuest *x, uint32_t port, int64_t *ret);

/* EVTCHNOP_bind_ipi to vCPU @vcpu; the port (must work) */
uint32_t xen_bind_ipi(XenGuest *x, uint32_t vcpu);

/* --------------------------------------------- guest memory and state */

/* @port's bits in shared_info's evtchn_pending and evtchn_mask */
bool xen_port_pending(XenGuest *x, uint32_t port);

bool xen_port_masked(XenGuest *x, uint32_t port);

/* What a guest does to mask or unmask a port: write the bit itself. */
void xen_set_port_mask(XenGuest *x, uint32_t port, bool on);

/* vCPU @vcpu's vcpu_info in shared_info's legacy array */
uint64_t xen_vcpu_info(XenGuest *x, uint32_t vcpu);

/* evtchn_upcall_pending and evtchn_pending_sel of the vcpu_info at @vi */
uint8_t xen_upcall_pending(XenGuest *x, uint64_t vi);

uint64_t xen_pending_sel(XenGuest *x, uint64_t vi);

/* What Linux's xen_evtchn_do_upcall() does: clear and scan. */
void xen_guest_ack(XenGuest *x, uint64_t vi, uint32_t port);

/* How often the model looks at a pending upcall again (xen_upcall.c) */
int64_t xen_poll_ns(XenGuest *x);

/* x-query-xen-irqs */
QDict *xen_irqs(XenGuest *x);

/*
 * The element of x-query-xen-irqs's list @list whose @key is @val (a new
 * reference), or NULL.
 */
QDict *xen_irqs_find(XenGuest *x, const char *list, const char *key,
                     int64_t val);

/* A counter of vCPU @vcpu's upcall state in x-query-xen-irqs. */
int64_t xen_vcpu_stat(XenGuest *x, uint32_t vcpu, const char *key);

/* @pirq's element of x-query-xen-irqs's "pirqs" (new reference), or NULL */
QDict *xen_pirq_info(XenGuest *x, uint32_t pirq);

/* xen-event-list's element for @port (new reference), or NULL */
QDict *xen_event_info(XenGuest *x, uint32_t port);

/* ------------------------------------------------------------- set-up */

/* xen_boot() without its IOAPIC interception: we watch "upcall". */
QOSState * G_GNUC_PRINTF(1, 2) xen_boot(const char *fmt, ...);

/* The accelerator the tests run under: qtest, or kvm for /xen/kvm/ */
extern const char *xen_accel;

/* The command line: @smp vCPUs, @pirqs pirqs (0: default), @extra */
char *xen_args(int smp, int pirqs, const char *extra);

/*
 * A Xen-emulated q35 with the hypercall test port, @smp vCPUs, @pirqs
 * pirqs (0: the default) and the options @extra, under xen_accel.
 */
XenGuest *xen_start(int smp, int pirqs, const char *extra);

/* shared_info placed, the global callback vector set: a guest's bring-up */
XenGuest *xen_domain(int smp, int pirqs, const char *extra);

/* Shut the machine down and free @x */
void xen_stop(XenGuest *x);

/* ------------------------------------------------------ pirqs (MSI-X) */

/* xen_domain() with msix-testdev at 04.0, MSI-X enabled and mapped */
XenGuest *xen_tdev(int smp, int pirqs);

/*
 * Xen's HVM pirq encoding (Xen's hvm_inject_msi(), Linux's
 * xen_msi_compose_msg()): vector 0, pirq bits 7:0 in the destination ID
 * bits, bits 31:8 in address bits 63:40.
 */
void xen_msix_entry_pirq(XenGuest *x, int v, uint32_t pirq, bool masked);

/* msix-testdev's RAISE: the device notifies vector @v */
void xen_raise_vector(XenGuest *x, int v);

/* PHYSDEVOP_get_free_pirq for MSI; the pirq (must work) */
uint32_t xen_get_free_pirq(XenGuest *x);

/* ------------------------------ dom0-style MSI-X (PHYSDEVOP_map_pirq) */

/* Set or clear the MSI-X Enable bit, as the guest would */
void xen_set_msix_enable(XenGuest *x, bool on);

/* xen_domain() with XEN_DOM0_DEVICES, the table mapped for the test */
XenGuest *xen_dom0(int smp);

/* The MSI-X table's BAR, as Linux's xen_initdom_setup_msi_irqs() passes */
uint64_t xen_msix_table_bar(XenGuest *x);

/* PHYSDEVOP_map_pirq of MSI-X entry @entry of @devfn, as dom0 Linux does */
int64_t xen_map_msix(XenGuest *x, int type, int devfn, int entry,
                     uint64_t table_base, int *pirq);

/* PHYSDEVOP_unmap_pirq of @pirq */
int64_t xen_unmap_pirq(XenGuest *x, int pirq);

/* x-query-xen-irqs's irq descriptor bound to @pirq (new ref.), or NULL */
QDict *xen_irq_desc(XenGuest *x, int pirq);

/* The irq in CPU @cpu's vector_irq[@vector] (x-query-xen-irqs), or -1 */
int64_t xen_vector_irq(XenGuest *x, int64_t cpu, int64_t vector);

/* MSI-X Enable of msix-testdev, as x-query-msix reports it */
bool xen_msix_enabled(XenGuest *x);

/* -------------------------------------- GSIs: msix-testdev's INTx line */

/*
 * msix-testdev with MSI-X and MSI off interrupts by INTx, level, while a
 * completion on its admin CQ is unconsumed, unless INTMS bit 0 masks it
 * (docs/specs/msix-testdev.rst).  One NOOP completed and never consumed
 * leaves the line to INTMS bit 0: a level line the test drives.  The
 * IOAPIC's inputs are intercepted, so qtest_get_irq(gsi) is what reaches
 * the IOAPIC.
 */
XenGuest *xen_intx(int smp);

/* Raise or lower that line (INTMC / INTMS bit 0) */
void xen_intx_line(XenGuest *x, bool high);

/* The GSI the line reaches: the one IOAPIC input that follows it */
int xen_intx_gsi(XenGuest *x);

#endif
