/*
 * Xen event channels, upcalls and pirqs under qtest, step by step
 *
 * QEMU's Xen HVM emulation runs here with `-accel qtest,xen-version=...`;
 * hypercalls go through the hypercall test port
 * (docs/specs/xen-hypercall-port.rst) with the structs of Xen's public
 * headers in guest RAM.  Each test checks what a Xen guest would see
 * (shared_info's 2-level bitmaps, vcpu_info, the local APIC's IRR) and
 * what the monitor reports (xen-event-list, x-query-xen-irqs).  The
 * semantics are Xen's: xen/common/event_channel.c, event_2l.c,
 * xen/arch/x86/hvm/irq.c; docs/xen-model.rst lists the differences.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/host-utils.h"
#include <sys/ioctl.h>
#include <linux/kvm.h>
#include "libqtest.h"
#include "libqos/pci-pc.h"
#include "libqos/libqos-pc.h"
#include "libqos/libqos-malloc.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include "standard-headers/linux/pci_regs.h"
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
#include "irqlab-migrate.h"
#include "msix-query.h"

#define XEN_VERSION         0x4000a
#define IOBASE              XEN_HCALL_PORT_DEFAULT_IOBASE
#define DOMID               1       /* xen_domid's default in emulation */
#define CALLBACK_VECTOR     0xf3
#define TDEV_DEVFN          QPCI_DEVFN(4, 0)
#define TDEV_ID             "dut"
/* HVM_PARAM_CALLBACK_IRQ's value: the type in its top byte */
#define HVM_CALLBACK(type, val) \
    ((uint64_t)(type) << ctz64(HVM_PARAM_CALLBACK_IRQ_TYPE_MASK) | (val))

typedef struct Xen {
    QOSState *qs;
    QTestState *qts;
    QPCIDevice *dev;        /* msix-testdev, when asked for */
    QPCIBar bar;
    uint64_t arg;           /* a page for hypercall structs */
    uint64_t shinfo;        /* where shared_info is mapped */
} Xen;

/* --------------------------------------------------------- hypercalls */

static int64_t hcall_on(Xen *x, uint32_t vcpu, uint32_t op, uint64_t a0,
                        uint64_t a1, uint64_t a2)
{
    uint64_t args[XEN_HCALL_PORT_NR_ARGS] = { a0, a1, a2 };
    uint64_t lo, hi;

    qtest_outl(x->qts, IOBASE + XEN_HCALL_PORT_VCPU, vcpu);
    qtest_outl(x->qts, IOBASE + XEN_HCALL_PORT_OP, op);
    for (int i = 0; i < XEN_HCALL_PORT_NR_ARGS; i++) {
        qtest_outl(x->qts, IOBASE + XEN_HCALL_PORT_ARG_LO(i), args[i]);
        qtest_outl(x->qts, IOBASE + XEN_HCALL_PORT_ARG_HI(i), args[i] >> 32);
    }
    qtest_outl(x->qts, IOBASE + XEN_HCALL_PORT_DOORBELL, 1);
    lo = qtest_inl(x->qts, IOBASE + XEN_HCALL_PORT_RESULT_LO);
    hi = qtest_inl(x->qts, IOBASE + XEN_HCALL_PORT_RESULT_HI);
    return (int64_t)(hi << 32 | lo);
}

/* Hypercall @op, sub-operation @cmd, on the struct *@buf in guest RAM. */
static int64_t hcall_struct(Xen *x, uint32_t op, int cmd, void *buf,
                            size_t len)
{
    int64_t ret;

    qtest_memwrite(x->qts, x->arg, buf, len);
    ret = hcall_on(x, 0, op, cmd, x->arg, 0);
    qtest_memread(x->qts, x->arg, buf, len);
    return ret;
}

#define EVTCHN(x, cmd, s) \
    hcall_struct(x, __HYPERVISOR_event_channel_op, cmd, &(s), sizeof(s))
#define PHYSDEV(x, cmd, s) \
    hcall_struct(x, __HYPERVISOR_physdev_op, cmd, &(s), sizeof(s))
#define HVMOP(x, cmd, s) \
    hcall_struct(x, __HYPERVISOR_hvm_op, cmd, &(s), sizeof(s))

static int64_t set_param(Xen *x, uint32_t index, uint64_t value)
{
    struct xen_hvm_param hp = { .domid = DOMID_SELF, .index = index,
                                .value = value };

    return HVMOP(x, HVMOP_set_param, hp);
}

static uint32_t alloc_unbound(Xen *x)
{
    struct evtchn_alloc_unbound a = { .dom = DOMID_SELF,
                                      .remote_dom = DOMID_SELF };

    g_assert_cmpint(EVTCHN(x, EVTCHNOP_alloc_unbound, a), ==, 0);
    return a.port;
}

static int64_t close_port(Xen *x, uint32_t port)
{
    struct evtchn_close c = { .port = port };

    return EVTCHN(x, EVTCHNOP_close, c);
}

static int64_t send_port(Xen *x, uint32_t port)
{
    struct evtchn_send s = { .port = port };

    return EVTCHN(x, EVTCHNOP_send, s);
}

static struct evtchn_status port_status(Xen *x, uint32_t port, int64_t *ret)
{
    struct evtchn_status st = { .dom = DOMID_SELF, .port = port };
    int64_t r = EVTCHN(x, EVTCHNOP_status, st);

    if (ret) {
        *ret = r;
    } else {
        g_assert_cmpint(r, ==, 0);
    }
    return st;
}

static uint32_t bind_ipi(Xen *x, uint32_t vcpu)
{
    struct evtchn_bind_ipi b = { .vcpu = vcpu };

    g_assert_cmpint(EVTCHN(x, EVTCHNOP_bind_ipi, b), ==, 0);
    return b.port;
}

/* --------------------------------------------- guest memory and state */

static bool shinfo_bit(Xen *x, size_t field, uint32_t port)
{
    uint64_t word = qtest_readq(x->qts, x->shinfo + field + port / 64 * 8);

    return word & (1ULL << (port % 64));
}

static bool pending(Xen *x, uint32_t port)
{
    return shinfo_bit(x, offsetof(struct shared_info, evtchn_pending), port);
}

static bool masked(Xen *x, uint32_t port)
{
    return shinfo_bit(x, offsetof(struct shared_info, evtchn_mask), port);
}

/* What a guest does to mask or unmask a port: write the bit itself. */
static void set_mask(Xen *x, uint32_t port, bool on)
{
    uint64_t a = x->shinfo + offsetof(struct shared_info, evtchn_mask) +
                 port / 64 * 8;
    uint64_t w = qtest_readq(x->qts, a);

    qtest_writeq(x->qts, a, on ? w | 1ULL << (port % 64)
                               : w & ~(1ULL << (port % 64)));
}

/* vCPU @vcpu's vcpu_info in shared_info's legacy array */
static uint64_t vcpu_info_of(Xen *x, uint32_t vcpu)
{
    return x->shinfo + vcpu * sizeof(struct vcpu_info);
}

static uint8_t upcall_pending(Xen *x, uint64_t vi)
{
    return qtest_readb(x->qts,
                       vi + offsetof(struct vcpu_info, evtchn_upcall_pending));
}

static uint64_t pending_sel(Xen *x, uint64_t vi)
{
    return qtest_readq(x->qts,
                       vi + offsetof(struct vcpu_info, evtchn_pending_sel));
}

/* What Linux's xen_evtchn_do_upcall() does: clear and scan. */
static void guest_ack(Xen *x, uint64_t vi, uint32_t port)
{
    uint64_t a = x->shinfo + offsetof(struct shared_info, evtchn_pending) +
                 port / 64 * 8;

    qtest_writeb(x->qts,
                 vi + offsetof(struct vcpu_info, evtchn_upcall_pending), 0);
    qtest_writeq(x->qts, vi + offsetof(struct vcpu_info, evtchn_pending_sel),
                 0);
    qtest_writeq(x->qts, a, qtest_readq(x->qts, a) & ~(1ULL << (port % 64)));
}

/* How often the model looks at a pending upcall again (xen_upcall.c) */
static int64_t poll_ns(Xen *x)
{
    g_autoptr(QDict) r = qtest_qmp(x->qts, "{'execute': 'qom-get', "
                                   "'arguments': {'path': '/machine/xen-upcall',"
                                   " 'property': 'poll-ns'}}");

    return qdict_get_int(r, "return");
}

/* x-query-xen-irqs */
static QDict *xen_irqs(Xen *x)
{
    return qtest_qmp_assert_success_ref(x->qts,
                                        "{'execute': 'x-query-xen-irqs'}");
}

/*
 * The element of x-query-xen-irqs's list @list whose @key is @val (a new
 * reference), or NULL.
 */
static QDict *xen_irqs_find(Xen *x, const char *list, const char *key,
                            int64_t val)
{
    g_autoptr(QDict) info = xen_irqs(x);
    QListEntry *e;

    QLIST_FOREACH_ENTRY(qdict_get_qlist(info, list), e) {
        QDict *d = qobject_to(QDict, qlist_entry_obj(e));

        if (qdict_get_int(d, key) == val) {
            return qobject_ref(d);
        }
    }
    return NULL;
}

/* A counter of vCPU @vcpu's upcall state in x-query-xen-irqs. */
static int64_t vcpu_stat(Xen *x, uint32_t vcpu, const char *key)
{
    g_autoptr(QDict) v = xen_irqs_find(x, "vcpus", "vcpu", vcpu);

    g_assert(v);
    if (qobject_type(qdict_get(v, key)) == QTYPE_QBOOL) {
        return qdict_get_bool(v, key);
    }
    return qdict_get_int(v, key);
}

/* @pirq's element of x-query-xen-irqs's "pirqs" (new reference), or NULL */
static QDict *pirq_info(Xen *x, uint32_t pirq)
{
    return xen_irqs_find(x, "pirqs", "pirq", pirq);
}

/* xen-event-list's element for @port (new reference), or NULL */
static QDict *event_info(Xen *x, uint32_t port)
{
    g_autoptr(QDict) resp = qtest_qmp(x->qts,
                                      "{'execute': 'xen-event-list'}");
    QListEntry *e;

    QLIST_FOREACH_ENTRY(qdict_get_qlist(resp, "return"), e) {
        QDict *p = qobject_to(QDict, qlist_entry_obj(e));

        if (qdict_get_int(p, "port") == port) {
            qobject_ref(p);
            return p;
        }
    }
    return NULL;
}

/* ------------------------------------------------------------- set-up */

/* boot() without its IOAPIC interception: we watch "upcall". */
static QOSState * G_GNUC_PRINTF(1, 2) boot(const char *fmt, ...)
{
    QOSState *qs;
    va_list ap;

    va_start(ap, fmt);
    qs = qtest_pc_vboot(fmt, ap);
    va_end(ap);
    return qs;
}

/* The accelerator the tests run under: qtest, or kvm for /xen/kvm/ */
static const char *xen_accel = "qtest";

/* The command line: @smp vCPUs, @pirqs pirqs (0: default), @extra */
static char *xen_args(int smp, int pirqs, const char *extra)
{
    g_autofree char *max_pirq = pirqs ?
        g_strdup_printf(",xen-evtchn-max-pirq=%d", pirqs) : g_strdup("");

    return g_strdup_printf("-machine q35 -nodefaults -smp %d "
                           "-accel %s,xen-version=%d%s "
                           "-device xen-hypercall-port %s",
                           smp, xen_accel, XEN_VERSION, max_pirq,
                           extra ?: "");
}

static Xen *xen_start(int smp, int pirqs, const char *extra)
{
    Xen *x = g_new0(Xen, 1);
    g_autofree char *args = xen_args(smp, pirqs, extra);

    x->qs = boot("%s", args);
    x->qts = x->qs->qts;
    g_assert_cmphex(qtest_inl(x->qts, IOBASE + XEN_HCALL_PORT_ID), ==,
                    XEN_HCALL_PORT_ID_VALUE);
    x->arg = guest_alloc(&x->qs->alloc, 4096);
    x->shinfo = ROUND_UP(guest_alloc(&x->qs->alloc, 2 * 4096), 4096);
    return x;
}

/* shared_info placed, the global callback vector set: a guest's bring-up */
static Xen *xen_domain(int smp, int pirqs, const char *extra)
{
    Xen *x = xen_start(smp, pirqs, extra);
    struct xen_add_to_physmap xatp = {
        .domid = DOMID_SELF, .space = XENMAPSPACE_shared_info, .idx = 0,
        .gpfn = x->shinfo >> 12,
    };

    g_assert_cmpint(hcall_struct(x, __HYPERVISOR_memory_op,
                                 XENMEM_add_to_physmap, &xatp, sizeof(xatp)),
                    ==, 0);
    g_assert_cmpint(set_param(x, HVM_PARAM_CALLBACK_IRQ,
                              HVM_CALLBACK(HVM_PARAM_CALLBACK_TYPE_VECTOR,
                                           CALLBACK_VECTOR)), ==, 0);
    return x;
}

static void xen_stop(Xen *x)
{
    g_free(x->dev);
    qtest_shutdown(x->qs);
    g_free(x);
}

/* ------------------------------------------------------------- tests */

/*
 * The test port answers; xen_version reports the configured version and
 * the HVM features; what the model does not have returns -ENOSYS; bad
 * vCPU and struct addresses return errors.
 */
static void test_port_and_version(void)
{
    Xen *x = xen_start(2, 0, NULL);
    struct xen_feature_info fi = { .submap_idx = 0 };

    g_assert_cmphex(hcall_on(x, 0, __HYPERVISOR_xen_version, XENVER_version,
                             0, 0), ==, XEN_VERSION);
    g_assert_cmpint(hcall_struct(x, __HYPERVISOR_xen_version,
                                 XENVER_get_features, &fi, sizeof(fi)), ==, 0);
    g_assert_true(fi.submap & (1U << XENFEAT_hvm_callback_vector));
    g_assert_true(fi.submap & (1U << XENFEAT_hvm_pirqs));
    g_assert_cmpint(hcall_on(x, 0, __HYPERVISOR_set_trap_table, 0, 0, 0),
                    ==, -ENOSYS);
    /* FIFO event channels are not emulated: guests fall back to 2-level */
    g_assert_cmpint(hcall_on(x, 0, __HYPERVISOR_event_channel_op,
                             EVTCHNOP_init_control, x->arg, 0), ==, -ENOSYS);
    /* A vCPU that does not exist */
    g_assert_cmpint(hcall_on(x, 7, __HYPERVISOR_xen_version, XENVER_version,
                             0, 0), ==, -EINVAL);
    /* A struct beyond guest RAM */
    g_assert_cmpint(hcall_on(x, 0, __HYPERVISOR_event_channel_op,
                             EVTCHNOP_status, 0xfffffffff000ULL, 0),
                    ==, -EFAULT);
    xen_stop(x);
}

/*
 * Port states (EVTCHNSTAT_*), lowest-free allocation, status of each,
 * close, bind_vcpu, and the errors Xen returns for bad input.
 */
static void test_port_states(void)
{
    Xen *x = xen_domain(2, 0, NULL);
    struct evtchn_status st;
    struct evtchn_bind_interdomain bi;
    struct evtchn_bind_virq bv;
    struct evtchn_bind_vcpu bc;
    uint32_t a, ipi, virq, local;
    int64_t ret;

    /* Port 0 is reserved: never allocated, never a valid argument */
    port_status(x, 0, &ret);
    g_assert_cmpint(ret, ==, -EINVAL);

    /* Lowest free: every port below the first allocation is in use */
    a = alloc_unbound(x);
    g_assert_cmpuint(a, >, 0);
    for (uint32_t p = 1; p < a; p++) {
        g_autoptr(QDict) e = event_info(x, p);
        g_assert_nonnull(e);
    }
    g_assert_cmpuint(alloc_unbound(x), ==, a + 1);
    g_assert_cmpuint(alloc_unbound(x), ==, a + 2);
    g_assert_cmpint(close_port(x, a + 1), ==, 0);
    g_assert_cmpuint(alloc_unbound(x), ==, a + 1);

    /* unbound, remote domain = ourselves */
    st = port_status(x, a, NULL);
    g_assert_cmpuint(st.status, ==, EVTCHNSTAT_unbound);
    g_assert_cmpuint(st.u.unbound.dom, ==, DOMID);

    /* interdomain to ourselves: both ends point at each other */
    bi = (struct evtchn_bind_interdomain) { .remote_dom = DOMID_SELF,
                                            .remote_port = a };
    g_assert_cmpint(EVTCHN(x, EVTCHNOP_bind_interdomain, bi), ==, 0);
    local = bi.local_port;
    g_assert_cmpuint(local, ==, a + 3);
    st = port_status(x, a, NULL);
    g_assert_cmpuint(st.status, ==, EVTCHNSTAT_interdomain);
    g_assert_cmpuint(st.u.interdomain.port, ==, local);
    st = port_status(x, local, NULL);
    g_assert_cmpuint(st.status, ==, EVTCHNSTAT_interdomain);
    g_assert_cmpuint(st.u.interdomain.port, ==, a);
    /* binding an already bound port again */
    g_assert_cmpint(EVTCHN(x, EVTCHNOP_bind_interdomain, bi), ==, -EINVAL);

    /* ipi on vCPU 1 */
    ipi = bind_ipi(x, 1);
    st = port_status(x, ipi, NULL);
    g_assert_cmpuint(st.status, ==, EVTCHNSTAT_ipi);
    g_assert_cmpuint(st.vcpu, ==, 1);

    /* a per-vCPU virq */
    bv = (struct evtchn_bind_virq) { .virq = VIRQ_DEBUG, .vcpu = 1 };
    g_assert_cmpint(EVTCHN(x, EVTCHNOP_bind_virq, bv), ==, 0);
    virq = bv.port;
    st = port_status(x, virq, NULL);
    g_assert_cmpuint(st.status, ==, EVTCHNSTAT_virq);
    g_assert_cmpuint(st.u.virq, ==, VIRQ_DEBUG);
    g_assert_cmpuint(st.vcpu, ==, 1);
    /* a global virq must be bound on vCPU 0 */
    bv = (struct evtchn_bind_virq) { .virq = VIRQ_CON_RING, .vcpu = 1 };
    g_assert_cmpint(EVTCHN(x, EVTCHNOP_bind_virq, bv), ==, -EINVAL);

    /* bind_vcpu moves an interdomain port, not an ipi */
    bc = (struct evtchn_bind_vcpu) { .port = local, .vcpu = 1 };
    g_assert_cmpint(EVTCHN(x, EVTCHNOP_bind_vcpu, bc), ==, 0);
    g_assert_cmpuint(port_status(x, local, NULL).vcpu, ==, 1);
    bc = (struct evtchn_bind_vcpu) { .port = ipi, .vcpu = 0 };
    g_assert_cmpint(EVTCHN(x, EVTCHNOP_bind_vcpu, bc), ==, -EINVAL);
    bc = (struct evtchn_bind_vcpu) { .port = local, .vcpu = 5 };
    g_assert_cmpint(EVTCHN(x, EVTCHNOP_bind_vcpu, bc), ==, -ENOENT);

    /* close: the other end of an interdomain pair is unbound again */
    g_assert_cmpint(close_port(x, local), ==, 0);
    g_assert_cmpuint(port_status(x, local, NULL).status, ==,
                     EVTCHNSTAT_closed);
    g_assert_cmpuint(port_status(x, a, NULL).status, ==, EVTCHNSTAT_unbound);

    /* bad input: wrong domain, port beyond the 2-level limit, vCPU */
    st = (struct evtchn_status) { .dom = DOMID + 5, .port = a };
    g_assert_cmpint(EVTCHN(x, EVTCHNOP_status, st), ==, -ESRCH);
    port_status(x, EVTCHN_2L_NR_CHANNELS, &ret);
    g_assert_cmpint(ret, ==, -EINVAL);
    {
        struct evtchn_bind_ipi b = { .vcpu = 9 };
        g_assert_cmpint(EVTCHN(x, EVTCHNOP_bind_ipi, b), ==, -ENOENT);
    }
    g_assert_cmpint(close_port(x, EVTCHN_2L_NR_CHANNELS + 1), ==, -EINVAL);

    /* the monitor's bad input: an error, and nothing else happens */
    for (int i = 0; i < 2; i++) {
        uint32_t bad = i ? EVTCHN_2L_NR_CHANNELS + 4 : 0;
        g_autofree char *want = g_strdup_printf("Invalid port %u", bad);
        g_autoptr(QDict) r = qtest_qmp(x->qts, "{'execute': 'xen-event-inject',"
                                       " 'arguments': {'port': %u}}", bad);

        g_assert_cmpstr(qdict_get_str(qdict_get_qdict(r, "error"), "desc"),
                        ==, want);
    }
    g_assert_cmpuint(port_status(x, a, NULL).status, ==, EVTCHNSTAT_unbound);
    xen_stop(x);
}

/*
 * Exhaustion at the 2-level limit, and the status of every port (the XTF
 * event channel cases: allocate all, status of each, close all).
 */
static void test_exhaustion(void)
{
    Xen *x = xen_domain(2, 0, NULL);
    uint32_t first = alloc_unbound(x), p = first, last;
    struct evtchn_alloc_unbound a = { .dom = DOMID_SELF,
                                      .remote_dom = DOMID_SELF };

    while ((p = alloc_unbound(x)) < EVTCHN_2L_NR_CHANNELS - 1) {
        g_assert_cmpuint(p, >, first);
    }
    last = p;
    g_assert_cmpuint(last, ==, EVTCHN_2L_NR_CHANNELS - 1);
    g_assert_cmpint(EVTCHN(x, EVTCHNOP_alloc_unbound, a), ==, -ENOSPC);

    for (p = first; p <= last; p++) {
        struct evtchn_status st = port_status(x, p, NULL);
        g_assert_cmpuint(st.status, ==, EVTCHNSTAT_unbound);
        g_assert_cmpint(close_port(x, p), ==, 0);
        g_assert_cmpuint(port_status(x, p, NULL).status, ==,
                         EVTCHNSTAT_closed);
    }
    g_assert_cmpuint(alloc_unbound(x), ==, first);
    xen_stop(x);
}

/*
 * One event, 2-level: pending bit, selector bit, upcall_pending, and one
 * upcall on its 0->1 edge only; a masked port only records pending,
 * EVTCHNOP_unmask re-raises it; close clears pending and keeps the mask.
 */
static void test_event_delivery(void)
{
    Xen *x = xen_domain(2, 0, NULL);
    uint64_t vi0 = vcpu_info_of(x, 0), vi1 = vcpu_info_of(x, 1);
    uint32_t ipi, a, local;
    struct evtchn_unmask um;
    struct evtchn_bind_interdomain bi;
    struct evtchn_bind_vcpu bc;

    qtest_irq_intercept_out_named(x->qts, "/machine/xen-upcall", "upcall");
    ipi = bind_ipi(x, 0);
    g_assert_false(pending(x, ipi));
    g_assert_false(lapic_irr_has(x->qts, 0, CALLBACK_VECTOR));
    g_assert_false(qtest_get_irq(x->qts, 0));

    g_assert_cmpint(send_port(x, ipi), ==, 0);
    g_assert_true(pending(x, ipi));
    g_assert_cmphex(pending_sel(x, vi0), ==, 1ULL << (ipi / 64));
    g_assert_cmpuint(upcall_pending(x, vi0), ==, 1);
    g_assert_true(lapic_irr_has(x->qts, 0, CALLBACK_VECTOR));
    g_assert_true(qtest_get_irq(x->qts, 0));
    g_assert_cmpint(vcpu_stat(x, 0, "upcalls"), ==, 1);
    {
        g_autoptr(QDict) e = event_info(x, ipi);
        g_assert_true(qdict_get_bool(e, "pending"));
        g_assert_false(qdict_get_bool(e, "masked"));
    }

    /* Again: already pending, no second upcall */
    g_assert_cmpint(send_port(x, ipi), ==, 0);
    g_assert_cmpint(vcpu_stat(x, 0, "upcalls"), ==, 1);

    /* Still no upcall while upcall_pending stays set, even for a new bit */
    a = alloc_unbound(x);
    bi = (struct evtchn_bind_interdomain) { .remote_dom = DOMID_SELF,
                                            .remote_port = a };
    g_assert_cmpint(EVTCHN(x, EVTCHNOP_bind_interdomain, bi), ==, 0);
    local = bi.local_port;
    g_assert_cmpint(send_port(x, a), ==, 0);        /* sets @local */
    g_assert_true(pending(x, local));
    g_assert_cmpint(vcpu_stat(x, 0, "upcalls"), ==, 1);

    /* The guest handles both; the next event is a new upcall */
    guest_ack(x, vi0, ipi);
    guest_ack(x, vi0, local);
    g_assert_cmpint(send_port(x, ipi), ==, 0);
    g_assert_cmpint(vcpu_stat(x, 0, "upcalls"), ==, 2);
    guest_ack(x, vi0, ipi);

    /* Masked: pending only */
    set_mask(x, ipi, true);
    g_assert_cmpint(send_port(x, ipi), ==, 0);
    g_assert_true(pending(x, ipi));
    g_assert_cmpuint(upcall_pending(x, vi0), ==, 0);
    g_assert_cmphex(pending_sel(x, vi0), ==, 0);
    g_assert_cmpint(vcpu_stat(x, 0, "upcalls"), ==, 2);
    {
        g_autoptr(QDict) e = event_info(x, ipi);
        g_assert_true(qdict_get_bool(e, "pending"));
        g_assert_true(qdict_get_bool(e, "masked"));
    }

    /* EVTCHNOP_unmask re-raises the pending event */
    um = (struct evtchn_unmask) { .port = ipi };
    g_assert_cmpint(EVTCHN(x, EVTCHNOP_unmask, um), ==, 0);
    g_assert_false(masked(x, ipi));
    g_assert_cmpuint(upcall_pending(x, vi0), ==, 1);
    g_assert_cmpint(vcpu_stat(x, 0, "upcalls"), ==, 3);
    guest_ack(x, vi0, ipi);

    /* Close: pending cleared, mask kept */
    set_mask(x, ipi, true);
    g_assert_cmpint(send_port(x, ipi), ==, 0);
    g_assert_true(pending(x, ipi));
    g_assert_cmpint(close_port(x, ipi), ==, 0);
    g_assert_false(pending(x, ipi));
    g_assert_true(masked(x, ipi));
    set_mask(x, ipi, false);

    /* bind_vcpu moves delivery: the event lands in vCPU 1's vcpu_info */
    bc = (struct evtchn_bind_vcpu) { .port = local, .vcpu = 1 };
    g_assert_cmpint(EVTCHN(x, EVTCHNOP_bind_vcpu, bc), ==, 0);
    g_assert_cmpint(send_port(x, a), ==, 0);
    g_assert_cmpuint(upcall_pending(x, vi1), ==, 1);
    g_assert_cmphex(pending_sel(x, vi1), ==, 1ULL << (local / 64));
    g_assert_cmpuint(upcall_pending(x, vi0), ==, 0);
    g_assert_cmpint(vcpu_stat(x, 1, "upcalls"), ==, 1);
    g_assert_true(qtest_get_irq(x->qts, 1));
    g_assert_true(lapic_irr_has(x->qts, 1, CALLBACK_VECTOR));
    xen_stop(x);
}

/*
 * The global callback vector is sent again while upcall_pending stays
 * set; once the guest clears it, the upcall GPIO drops and nothing more
 * is sent.
 */
static void test_callback_vector_resend(void)
{
    Xen *x = xen_domain(2, 0, NULL);
    uint64_t vi0 = vcpu_info_of(x, 0);
    uint32_t ipi = bind_ipi(x, 0);
    int64_t poll = poll_ns(x);

    qtest_irq_intercept_out_named(x->qts, "/machine/xen-upcall", "upcall");
    g_assert_cmpint(send_port(x, ipi), ==, 0);
    g_assert_cmpint(vcpu_stat(x, 0, "injections"), ==, 1);
    g_assert_true(qtest_get_irq(x->qts, 0));

    qtest_clock_step(x->qts, poll);
    g_assert_cmpint(vcpu_stat(x, 0, "injections"), ==, 2);
    qtest_clock_step(x->qts, poll);
    g_assert_cmpint(vcpu_stat(x, 0, "injections"), ==, 3);
    g_assert_cmpint(vcpu_stat(x, 0, "upcalls"), ==, 1);

    guest_ack(x, vi0, ipi);
    qtest_clock_step(x->qts, poll);
    g_assert_false(qtest_get_irq(x->qts, 0));
    g_assert_cmpint(vcpu_stat(x, 0, "asserted"), ==, 0);
    qtest_clock_step(x->qts, 10 * poll);
    g_assert_cmpint(vcpu_stat(x, 0, "injections"), ==, 3);
    xen_stop(x);
}

/*
 * HVMOP_set_evtchn_upcall_vector and VCPUOP_register_vcpu_info: the
 * per-vCPU vector reaches that vCPU's local APIC once, on the edge, and
 * the event lands in the registered vcpu_info.
 */
static void test_vcpu_upcall_vector(void)
{
    Xen *x = xen_domain(2, 0, NULL);
    uint64_t vi1 = guest_alloc(&x->qs->alloc, 4096);
    struct vcpu_register_vcpu_info rvi = { .mfn = vi1 >> 12,
                                           .offset = vi1 & 0xfff };
    struct xen_hvm_evtchn_upcall_vector up = { .vcpu = 1, .vector = 0xe0 };
    uint32_t ipi;

    qtest_memset(x->qts, vi1, 0, 64);
    qtest_memwrite(x->qts, x->arg, &rvi, sizeof(rvi));
    g_assert_cmpint(hcall_on(x, 1, __HYPERVISOR_vcpu_op,
                             VCPUOP_register_vcpu_info, 1, x->arg), ==, 0);
    g_assert_cmpint(HVMOP(x, HVMOP_set_evtchn_upcall_vector, up), ==, 0);

    ipi = bind_ipi(x, 1);
    g_assert_cmpint(send_port(x, ipi), ==, 0);
    g_assert_cmpuint(upcall_pending(x, vi1), ==, 1);
    g_assert_cmpuint(upcall_pending(x, vcpu_info_of(x, 1)), ==, 0);
    g_assert_true(lapic_irr_has(x->qts, 1, 0xe0));
    g_assert_false(lapic_irr_has(x->qts, 1, CALLBACK_VECTOR));
    g_assert_false(lapic_irr_has(x->qts, 0, 0xe0));
    g_assert_cmpint(vcpu_stat(x, 1, "injections"), ==, 1);
    /* edge only: not sent again while upcall_pending stays set */
    qtest_clock_step(x->qts, 5 * poll_ns(x));
    g_assert_cmpint(vcpu_stat(x, 1, "injections"), ==, 1);

    /* Bad input, with Xen's errors */
    up = (struct xen_hvm_evtchn_upcall_vector) { .vcpu = 1, .vector = 0x0f };
    g_assert_cmpint(HVMOP(x, HVMOP_set_evtchn_upcall_vector, up), ==,
                    -EINVAL);
    up = (struct xen_hvm_evtchn_upcall_vector) { .vcpu = 9, .vector = 0xe0 };
    g_assert_cmpint(HVMOP(x, HVMOP_set_evtchn_upcall_vector, up), ==,
                    -ENOENT);
    rvi = (struct vcpu_register_vcpu_info) { .mfn = vi1 >> 12,
                                             .offset = 4096 - 32 };
    qtest_memwrite(x->qts, x->arg, &rvi, sizeof(rvi));
    g_assert_cmpint(hcall_on(x, 0, __HYPERVISOR_vcpu_op,
                             VCPUOP_register_vcpu_info, 0, x->arg), ==,
                    -EINVAL);
    rvi = (struct vcpu_register_vcpu_info) { .mfn = 0xfffff000ULL };
    qtest_memwrite(x->qts, x->arg, &rvi, sizeof(rvi));
    g_assert_cmpint(hcall_on(x, 0, __HYPERVISOR_vcpu_op,
                             VCPUOP_register_vcpu_info, 0, x->arg), ==,
                    -EINVAL);
    g_assert_cmpint(hcall_on(x, 0, __HYPERVISOR_vcpu_op,
                             VCPUOP_register_vcpu_info, 9, x->arg), ==,
                    -ENOENT);
    xen_stop(x);
}

/* ------------------------------------------------------ pirqs (MSI-X) */

static Xen *xen_tdev(int smp, int pirqs)
{
    Xen *x = xen_domain(smp, pirqs,
                        "-device msix-testdev,id=" TDEV_ID ",addr=04.0");

    x->dev = qpci_device_find(x->qs->pcibus, TDEV_DEVFN);
    g_assert(x->dev);
    qpci_device_enable(x->dev);
    x->bar = qpci_iomap(x->dev, MSIX_TESTDEV_BAR_REGS, NULL);
    qpci_msix_enable(x->dev);
    return x;
}

/*
 * Xen's HVM pirq encoding (Xen's hvm_inject_msi(), Linux's
 * xen_msi_compose_msg()): vector 0, pirq bits 7:0 in the destination ID
 * bits, bits 31:8 in address bits 63:40.
 */
static void msix_entry_pirq(Xen *x, int v, uint32_t pirq, bool masked)
{
    uint64_t addr = 0xfee00000ULL | (pirq & 0xff) << 12 |
                    (uint64_t)(pirq & ~0xffU) << 32;

    msix_entry_set(x->dev, v, addr, 0);
    msix_entry_mask(x->dev, v, masked);
}

static uint32_t entry_ctrl(Xen *x, int v)
{
    return msix_entry_readl(x->dev, v, PCI_MSIX_ENTRY_VECTOR_CTRL);
}

static void raise_vector(Xen *x, int v)
{
    qpci_io_writel(x->dev, x->bar, MSIX_TESTDEV_REG_RAISE, v);
}

static uint32_t get_free_pirq(Xen *x)
{
    struct physdev_get_free_pirq g = { .type = MAP_PIRQ_TYPE_MSI };

    g_assert_cmpint(PHYSDEV(x, PHYSDEVOP_get_free_pirq, g), ==, 0);
    return g.pirq;
}

/*
 * HVM guests' pirq MSI: PHYSDEVOP_get_free_pirq, a pirq-encoded MSI-X
 * entry, EVTCHNOP_bind_pirq (which unmasks the entry), a message from
 * the device -> an event on the bound port.  A message for a pirq with no
 * port is dropped and counted; nothing reaches a local APIC.  MSI pirqs
 * are allocated from the top, so with 26 pirqs and 26 vCPUs the unbound
 * pirq's destination bits name a local APIC that exists: were the message
 * let through, that APIC's IRR would show vector 0.
 */
static void test_hvm_pirq_msix(void)
{
    Xen *x = xen_tdev(26, 26);
    uint64_t vi0 = vcpu_info_of(x, 0);
    uint32_t pirq = get_free_pirq(x), unbound = get_free_pirq(x);
    struct evtchn_bind_pirq bp = { .pirq = pirq };
    g_autofree char *irr_before = NULL, *irr_after = NULL;
    g_autoptr(QDict) info = NULL, info2 = NULL;

    g_assert_cmpuint(pirq, !=, unbound);
    g_assert_cmpuint(unbound, <, 26);
    msix_entry_pirq(x, 1, pirq, true);
    g_assert_cmphex(entry_ctrl(x, 1), ==, PCI_MSIX_ENTRY_CTRL_MASKBIT);

    g_assert_cmpint(EVTCHN(x, EVTCHNOP_bind_pirq, bp), ==, 0);
    g_assert_cmphex(entry_ctrl(x, 1), ==, 0);       /* unmasked on bind */
    g_assert_cmpuint(port_status(x, bp.port, NULL).status, ==,
                     EVTCHNSTAT_pirq);
    g_assert_cmpuint(port_status(x, bp.port, NULL).u.pirq, ==, pirq);
    /* a second bind of the same pirq */
    g_assert_cmpint(EVTCHN(x, EVTCHNOP_bind_pirq, bp), ==, -EBUSY);

    raise_vector(x, 1);
    g_assert_true(pending(x, bp.port));
    g_assert_cmpuint(upcall_pending(x, vi0), ==, 1);
    info = pirq_info(x, pirq);
    g_assert_cmpstr(qdict_get_str(info, "source"), ==, "msix");
    g_assert_cmpstr(qdict_get_str(info, "device"), ==,
                    "/machine/peripheral/" TDEV_ID);
    g_assert_cmpint(qdict_get_int(info, "vector"), ==, 1);
    g_assert_cmpint(qdict_get_int(info, "port"), ==, bp.port);
    g_assert_cmpint(qdict_get_int(info, "delivered"), ==, 1);
    g_assert_true(qdict_get_bool(info, "port-pending"));

    /* Unbound: claimed and dropped, not sent to the APIC as vector 0 */
    irr_before = lapic_irr(x->qts, unbound);
    msix_entry_pirq(x, 2, unbound, false);
    raise_vector(x, 2);
    irr_after = lapic_irr(x->qts, unbound);
    g_assert_cmpstr(irr_before, ==, irr_after);
    info2 = pirq_info(x, unbound);
    g_assert_cmpint(qdict_get_int(info2, "dropped"), ==, 1);
    g_assert_cmpint(qdict_get_int(info2, "delivered"), ==, 0);

    /* Bad input: pirq beyond the domain's, wrong domain */
    bp = (struct evtchn_bind_pirq) { .pirq = 5000 };
    g_assert_cmpint(EVTCHN(x, EVTCHNOP_bind_pirq, bp), ==, -EINVAL);
    {
        struct physdev_map_pirq m = { .domid = DOMID + 3,
                                      .type = MAP_PIRQ_TYPE_GSI,
                                      .index = 5, .pirq = -1 };
        g_assert_cmpint(PHYSDEV(x, PHYSDEVOP_map_pirq, m), ==, -EPERM);
    }
    xen_stop(x);
}

/* ----------------------------------------- dom0-style MSI-X (seed 000) */

/*
 * Seed 000's machine: msix-testdev and the model of Xen's physical IRQ
 * layer.  MSI-X is left disabled, as a dom0 leaves it: Xen enables it.
 */
#define DOM0_DEVICES \
    "-device xen-physirq -device msix-testdev,id=" TDEV_ID ",addr=04.0"

/* Set or clear the MSI-X Enable bit, as the guest would */
static void set_msix_enable(Xen *x, bool on)
{
    uint8_t cap = qpci_find_capability(x->dev, PCI_CAP_ID_MSIX, 0);
    uint16_t ctrl = qpci_config_readw(x->dev, cap + PCI_MSIX_FLAGS);

    qpci_config_writew(x->dev, cap + PCI_MSIX_FLAGS,
                       on ? ctrl | PCI_MSIX_FLAGS_ENABLE
                          : ctrl & ~PCI_MSIX_FLAGS_ENABLE);
}

static Xen *xen_dom0(int smp)
{
    Xen *x = xen_domain(smp, 0, DOM0_DEVICES);

    x->dev = qpci_device_find(x->qs->pcibus, TDEV_DEVFN);
    g_assert(x->dev);
    qpci_device_enable(x->dev);
    x->bar = qpci_iomap(x->dev, MSIX_TESTDEV_BAR_REGS, NULL);
    qpci_msix_enable(x->dev);           /* maps the table for the test */
    set_msix_enable(x, false);
    return x;
}

/* The MSI-X table's BAR, as Linux's xen_initdom_setup_msi_irqs() passes */
static uint64_t msix_table_bar(Xen *x)
{
    int reg = PCI_BASE_ADDRESS_0 + 4 * MSIX_TESTDEV_BAR_MSIX;

    return (qpci_config_readl(x->dev, reg) & PCI_BASE_ADDRESS_MEM_MASK) |
           (uint64_t)qpci_config_readl(x->dev, reg + 4) << 32;
}

/* PHYSDEVOP_map_pirq of MSI-X entry @entry of @devfn, as dom0 Linux does */
static int64_t map_msix(Xen *x, int type, int devfn, int entry,
                        uint64_t table_base, int *pirq)
{
    struct physdev_map_pirq m = {
        .domid = DOMID_SELF, .type = type, .index = -1, .pirq = -1,
        .bus = 0, .devfn = devfn, .entry_nr = entry,
        .table_base = table_base,
    };
    int64_t ret = PHYSDEV(x, PHYSDEVOP_map_pirq, m);

    if (pirq) {
        *pirq = m.pirq;
    }
    return ret;
}

static int64_t unmap_pirq(Xen *x, int pirq)
{
    struct physdev_unmap_pirq u = { .domid = DOMID_SELF, .pirq = pirq };

    return PHYSDEV(x, PHYSDEVOP_unmap_pirq, u);
}

/* x-query-xen-irqs's irq descriptor bound to @pirq (new ref.), or NULL */
static QDict *irq_desc_of(Xen *x, int pirq)
{
    return xen_irqs_find(x, "irqs", "pirq", pirq);
}

/* The irq in CPU @cpu's vector_irq[@vector] (x-query-xen-irqs), or -1 */
static int64_t vector_irq(Xen *x, int64_t cpu, int64_t vector)
{
    g_autoptr(QDict) info = xen_irqs(x);
    QListEntry *e;

    QLIST_FOREACH_ENTRY(qdict_get_qlist(info, "vector-irq"), e) {
        QDict *v = qobject_to(QDict, qlist_entry_obj(e));

        if (qdict_get_int(v, "cpu") == cpu &&
            qdict_get_int(v, "vector") == vector) {
            return qdict_get_int(v, "irq");
        }
    }
    return -1;
}

static bool msix_function_enabled(Xen *x)
{
    g_autoptr(QDict) st = msix_query_state(x->qts, TDEV_ID);

    return qdict_get_bool(st, "enabled");
}

/*
 * The model's mapping of @entry, seen three ways, must agree: its irq
 * descriptor (Xen's irq above the GSIs, a vector of Xen's dynamic range
 * on a CPU), that CPU's vector_irq[], and the MSI-X table entry, read
 * through the BAR and through x-query-msix, holding the compatibility
 * message for that CPU's APIC ID and vector (Xen's msi_compose_msg()),
 * masked.  Returns the descriptor.
 */
static QDict *check_mapped(Xen *x, int pirq, int entry)
{
    QDict *d = irq_desc_of(x, pirq);
    g_autoptr(QDict) msix = msix_query_state(x->qts, TDEV_ID);
    QDict *v = msix_query_vector(msix, entry);
    int64_t irq, cpu, apic, vector;
    uint64_t addr;
    uint32_t data;

    g_assert(d);
    irq = qdict_get_int(d, "irq");
    cpu = qdict_get_int(d, "cpu");
    apic = qdict_get_int(d, "apic-id");
    vector = qdict_get_int(d, "vector");
    g_assert_cmpint(irq, >=, 24);           /* above the IOAPIC's GSIs */
    g_assert_cmpint(vector, >=, 0x20);      /* Xen's dynamic vectors */
    g_assert_cmpint(vector, <=, 0xdf);
    g_assert_cmpint(qdict_get_int(d, "entry"), ==, entry);
    g_assert_cmpint(qdict_get_int(d, "devfn"), ==, TDEV_DEVFN);
    g_assert_cmpstr(qdict_get_str(d, "device"), ==,
                    "/machine/peripheral/" TDEV_ID);
    g_assert_cmpint(vector_irq(x, cpu, vector), ==, irq);

    addr = msix_entry_readl(x->dev, entry, PCI_MSIX_ENTRY_LOWER_ADDR) |
           (uint64_t)msix_entry_readl(x->dev, entry,
                                      PCI_MSIX_ENTRY_UPPER_ADDR) << 32;
    data = msix_entry_readl(x->dev, entry, PCI_MSIX_ENTRY_DATA);
    g_assert_cmphex(addr, ==, 0xfee00000ULL | apic << 12);
    g_assert_cmphex(data, ==, 0x4000 | vector);   /* level assert, fixed */
    g_assert_cmphex(qdict_get_int(v, "address"), ==, addr);
    g_assert_cmphex(qdict_get_int(v, "data"), ==, data);
    g_assert_cmpint(qdict_get_int(qdict_get_qdict(v, "decoded"), "dest-id"),
                    ==, apic);
    return d;
}

/*
 * Seed 000 step by step: Xen maps the device's MSI-X entry for dom0
 * (PHYSDEVOP_map_pirq writes the entry), dom0 binds the pirq, and a
 * message from the device travels do_IRQ: vector_irq[] -> irq -> pirq ->
 * port -> 2-level pending bits -> upcall, never to the local APIC.
 */
static void test_dom0_msix(void)
{
    Xen *x = xen_dom0(2);
    uint64_t vi0 = vcpu_info_of(x, 0);
    uint64_t bar = msix_table_bar(x);
    g_autoptr(QDict) d1 = NULL, d3 = NULL, p3 = NULL, p3b = NULL;
    int pirq1, pirq3, cpu, vector;
    struct evtchn_bind_pirq bp;
    struct evtchn_unmask um;
    struct physdev_eoi eoi;
    struct physdev_irq_status_query q;
    uint32_t data;

    qtest_irq_intercept_out_named(x->qts, "/machine/xen-upcall", "upcall");

    /* PHYSDEVOP_map_pirq: Xen enables MSI-X and programs the entries */
    g_assert_false(msix_function_enabled(x));
    g_assert_cmpint(map_msix(x, MAP_PIRQ_TYPE_MSI, TDEV_DEVFN, 1, bar,
                             &pirq1), ==, 0);
    g_assert_cmpint(map_msix(x, MAP_PIRQ_TYPE_MSI_SEG, TDEV_DEVFN, 3, bar,
                             &pirq3), ==, 0);
    g_assert_cmpint(pirq1, >, 0);
    g_assert_cmpint(pirq3, >, 0);
    g_assert_cmpint(pirq1, !=, pirq3);
    g_assert_true(msix_function_enabled(x));
    d1 = check_mapped(x, pirq1, 1);
    d3 = check_mapped(x, pirq3, 3);
    g_assert_cmpint(qdict_get_int(d1, "irq"), !=, qdict_get_int(d3, "irq"));
    /* two mappings, two CPUs: the vectors are spread */
    g_assert_cmpint(qdict_get_int(d1, "cpu"), !=, qdict_get_int(d3, "cpu"));
    cpu = qdict_get_int(d3, "cpu");
    vector = qdict_get_int(d3, "vector");
    g_assert_cmphex(entry_ctrl(x, 3), ==, PCI_MSIX_ENTRY_CTRL_MASKBIT);
    p3 = pirq_info(x, pirq3);
    g_assert_cmpstr(qdict_get_str(p3, "source"), ==, "dom0-msix");
    g_assert_cmpint(qdict_get_int(p3, "irq"), ==, qdict_get_int(d3, "irq"));
    g_assert_cmpint(qdict_get_int(p3, "vector"), ==, 3);
    g_assert_true(qdict_get_bool(p3, "vector-masked"));
    {
        g_autofree char *hmp = qtest_hmp(x->qts, "info xen-irqs");
        g_autofree char *want = g_strdup_printf(
            "irq %" PRId64 ": cpu %d (APIC ID %" PRId64 ") vector 0x%02x "
            "-> pirq %d", qdict_get_int(d3, "irq"), cpu,
            qdict_get_int(d3, "apic-id"), vector, pirq3);

        g_assert_nonnull(strstr(hmp, want));
    }

    /* The entry is the model's: the guest's writes are ignored */
    data = msix_entry_readl(x->dev, 3, PCI_MSIX_ENTRY_DATA);
    msix_entry_writel(x->dev, 3, PCI_MSIX_ENTRY_DATA, 0x55);
    msix_entry_mask(x->dev, 3, false);
    g_assert_cmphex(msix_entry_readl(x->dev, 3, PCI_MSIX_ENTRY_DATA), ==,
                    data);
    g_assert_cmphex(entry_ctrl(x, 3), ==, PCI_MSIX_ENTRY_CTRL_MASKBIT);
    /* ...and a second mapping of it is refused */
    g_assert_cmpint(map_msix(x, MAP_PIRQ_TYPE_MSI, TDEV_DEVFN, 3, bar, NULL),
                    ==, -EBUSY);

    /* EVTCHNOP_bind_pirq (Linux's startup_pirq()): Xen unmasks */
    bp = (struct evtchn_bind_pirq) { .pirq = pirq3 };
    g_assert_cmpint(EVTCHN(x, EVTCHNOP_bind_pirq, bp), ==, 0);
    g_assert_cmpuint(port_status(x, bp.port, NULL).status, ==,
                     EVTCHNSTAT_pirq);
    g_assert_cmpuint(port_status(x, bp.port, NULL).u.pirq, ==, pirq3);
    {
        g_autoptr(QDict) e = event_info(x, bp.port);
        g_assert_cmpstr(qdict_get_str(e, "type"), ==, "pirq");
        g_assert_cmpint(qdict_get_int(e, "target"), ==, pirq3);
    }
    g_assert_cmphex(entry_ctrl(x, 3), ==, 0);

    /* The device raises entry 3: do_IRQ -> send_guest_pirq -> upcall */
    g_assert_false(qtest_get_irq(x->qts, 0));
    raise_vector(x, 3);
    g_assert_cmpint(msix_query_counter(x->qts, TDEV_ID, 3, "sent"), ==, 1);
    g_assert_false(lapic_irr_has(x->qts, cpu, vector));
    d3 = (qobject_unref(d3), irq_desc_of(x, pirq3));
    g_assert_cmpint(qdict_get_int(d3, "count"), ==, 1);
    p3b = pirq_info(x, pirq3);
    g_assert_cmpint(qdict_get_int(p3b, "delivered"), ==, 1);
    g_assert_cmpint(qdict_get_int(p3b, "dropped"), ==, 0);
    g_assert_true(pending(x, bp.port));
    g_assert_cmphex(pending_sel(x, vi0), ==, 1ULL << (bp.port / 64));
    g_assert_cmpuint(upcall_pending(x, vi0), ==, 1);
    g_assert_true(qtest_get_irq(x->qts, 0));
    g_assert_true(lapic_irr_has(x->qts, 0, CALLBACK_VECTOR));
    g_assert_cmpint(vcpu_stat(x, 0, "upcalls"), ==, 1);

    /* Again: no second upcall until the guest clears upcall_pending */
    raise_vector(x, 3);
    g_assert_cmpint(vcpu_stat(x, 0, "upcalls"), ==, 1);
    d3 = (qobject_unref(d3), irq_desc_of(x, pirq3));
    g_assert_cmpint(qdict_get_int(d3, "count"), ==, 2);
    guest_ack(x, vi0, bp.port);

    /* Port masked: pending only; EVTCHNOP_unmask raises the upcall */
    set_mask(x, bp.port, true);
    raise_vector(x, 3);
    g_assert_true(pending(x, bp.port));
    g_assert_cmpuint(upcall_pending(x, vi0), ==, 0);
    g_assert_cmpint(vcpu_stat(x, 0, "upcalls"), ==, 1);
    um = (struct evtchn_unmask) { .port = bp.port };
    g_assert_cmpint(EVTCHN(x, EVTCHNOP_unmask, um), ==, 0);
    g_assert_cmpuint(upcall_pending(x, vi0), ==, 1);
    g_assert_cmpint(vcpu_stat(x, 0, "upcalls"), ==, 2);
    guest_ack(x, vi0, bp.port);

    /* EOI of an edge MSI pirq: nothing to do, no EOI needed */
    eoi = (struct physdev_eoi) { .irq = pirq3 };
    g_assert_cmpint(PHYSDEV(x, PHYSDEVOP_eoi, eoi), ==, 0);
    q = (struct physdev_irq_status_query) { .irq = pirq3 };
    g_assert_cmpint(PHYSDEV(x, PHYSDEVOP_irq_status_query, q), ==, 0);
    g_assert_cmpuint(q.flags & XENIRQSTAT_needs_eoi, ==, 0);

    /* Still bound: unmap refused */
    g_assert_cmpint(unmap_pirq(x, pirq3), ==, -EBUSY);

    /* Close: pending cleared, port mask kept, the entry masked again */
    set_mask(x, bp.port, true);
    raise_vector(x, 3);
    g_assert_true(pending(x, bp.port));
    g_assert_cmpint(close_port(x, bp.port), ==, 0);
    g_assert_false(pending(x, bp.port));
    g_assert_true(masked(x, bp.port));
    g_assert_cmphex(entry_ctrl(x, 3), ==, PCI_MSIX_ENTRY_CTRL_MASKBIT);
    raise_vector(x, 3);                 /* held in the PBA */
    g_assert_true(msix_query_flag(x->qts, TDEV_ID, 3, "pending"));
    set_mask(x, bp.port, false);

    /* Unmap: the irq, its vector and the entry are released */
    g_assert_cmpint(unmap_pirq(x, pirq3), ==, 0);
    g_assert_null(irq_desc_of(x, pirq3));
    g_assert_cmpint(vector_irq(x, cpu, vector), ==, -1);
    g_assert_null(pirq_info(x, pirq3));
    g_assert_cmphex(entry_ctrl(x, 3), ==, PCI_MSIX_ENTRY_CTRL_MASKBIT);
    msix_entry_writel(x->dev, 3, PCI_MSIX_ENTRY_DATA, 0x55);
    g_assert_cmphex(msix_entry_readl(x->dev, 3, PCI_MSIX_ENTRY_DATA), ==,
                    0x55);
    g_assert_true(msix_function_enabled(x));    /* entry 1 is mapped */
    g_assert_cmpint(unmap_pirq(x, pirq3), ==, -ENOENT);
    g_assert_cmpint(unmap_pirq(x, pirq1), ==, 0);
    g_assert_false(msix_function_enabled(x));   /* the last one went */
    xen_stop(x);
}

/*
 * Seed 000 for a multi-message MSI capability (MAP_PIRQ_TYPE_MULTI_MSI,
 * no table_base): one irq and pirq per vector, a contiguous block of
 * vectors aligned to its size on one CPU (the device ORs the vector
 * number into the data), the capability programmed (Multiple Message
 * Enable, MSI Enable) and owned by the model; vector 2's message goes
 * vector_irq -> irq -> pirq + 2 -> port; the block is unmapped through
 * its first pirq only.  msix-testdev's MSI has no per-vector masks, so
 * a message for an unbound pirq of the block is dropped and counted.
 */
static void test_dom0_msi(void)
{
    Xen *x = xen_domain(2, 0, "-device xen-physirq -device msix-testdev,id="
                        TDEV_ID ",addr=04.0,msix=off");
    uint64_t vi0 = vcpu_info_of(x, 0);
    struct physdev_map_pirq m = {
        .domid = DOMID_SELF, .type = MAP_PIRQ_TYPE_MULTI_MSI, .index = -1,
        .pirq = -1, .devfn = TDEV_DEVFN, .entry_nr = 4,
    };
    struct evtchn_bind_pirq bp;
    g_autoptr(QDict) d0 = NULL;
    int64_t cpu, base;
    uint16_t flags;
    uint8_t cap;
    int i;

    x->dev = qpci_device_find(x->qs->pcibus, TDEV_DEVFN);
    g_assert(x->dev);
    qpci_device_enable(x->dev);
    x->bar = qpci_iomap(x->dev, MSIX_TESTDEV_BAR_REGS, NULL);
    cap = qpci_find_capability(x->dev, PCI_CAP_ID_MSI, 0);

    g_assert_cmpint(PHYSDEV(x, PHYSDEVOP_map_pirq, m), ==, 0);
    g_assert_cmpint(m.entry_nr, ==, 4);
    d0 = irq_desc_of(x, m.pirq);
    g_assert(d0);
    cpu = qdict_get_int(d0, "cpu");
    base = qdict_get_int(d0, "vector");
    g_assert_cmpint(base % 4, ==, 0);
    for (i = 0; i < 4; i++) {
        g_autoptr(QDict) d = irq_desc_of(x, m.pirq + i);
        g_autoptr(QDict) p = pirq_info(x, m.pirq + i);

        g_assert(d);
        g_assert_cmpstr(qdict_get_str(d, "source"), ==, "dom0-msi");
        g_assert_cmpint(qdict_get_int(d, "entry"), ==, i);
        g_assert_cmpint(qdict_get_int(d, "cpu"), ==, cpu);
        g_assert_cmpint(qdict_get_int(d, "vector"), ==, base + i);
        g_assert_cmpint(vector_irq(x, cpu, base + i), ==,
                        qdict_get_int(d, "irq"));
        g_assert_cmpstr(qdict_get_str(p, "source"), ==, "dom0-msi");
        g_assert_cmpint(qdict_get_int(p, "irq"), ==, qdict_get_int(d, "irq"));
    }

    /* The capability: Xen's message for vector 0, 4 vectors, enabled */
    flags = qpci_config_readw(x->dev, cap + PCI_MSI_FLAGS);
    g_assert_true(flags & PCI_MSI_FLAGS_ENABLE);
    g_assert_cmpint((flags & PCI_MSI_FLAGS_QSIZE) >> 4, ==, 2);
    g_assert_cmphex(qpci_config_readl(x->dev, cap + PCI_MSI_ADDRESS_LO) |
                    (uint64_t)qpci_config_readl(x->dev,
                                                cap + PCI_MSI_ADDRESS_HI) << 32,
                    ==, 0xfee00000ULL |
                        qdict_get_int(d0, "apic-id") << 12);
    g_assert_cmphex(qpci_config_readw(x->dev, cap + PCI_MSI_DATA_64), ==,
                    0x4000 | base);
    /* ...owned: the guest's writes are ignored */
    qpci_config_writew(x->dev, cap + PCI_MSI_DATA_64, 0x55);
    qpci_config_writew(x->dev, cap + PCI_MSI_FLAGS,
                       flags & ~PCI_MSI_FLAGS_ENABLE);
    g_assert_cmphex(qpci_config_readw(x->dev, cap + PCI_MSI_DATA_64), ==,
                    0x4000 | base);
    g_assert_cmphex(qpci_config_readw(x->dev, cap + PCI_MSI_FLAGS), ==,
                    flags);

    /* Vector 2 of the block: pirq + 2's port; vector 1: unbound, dropped */
    bp = (struct evtchn_bind_pirq) { .pirq = m.pirq + 2 };
    g_assert_cmpint(EVTCHN(x, EVTCHNOP_bind_pirq, bp), ==, 0);
    raise_vector(x, 2);
    g_assert_true(pending(x, bp.port));
    g_assert_cmpuint(upcall_pending(x, vi0), ==, 1);
    g_assert_false(lapic_irr_has(x->qts, cpu, base + 2));
    raise_vector(x, 1);
    {
        g_autoptr(QDict) p1 = pirq_info(x, m.pirq + 1);
        g_autoptr(QDict) p2 = pirq_info(x, m.pirq + 2);

        g_assert_cmpint(qdict_get_int(p1, "dropped"), ==, 1);
        g_assert_cmpint(qdict_get_int(p2, "delivered"), ==, 1);
    }
    g_assert_false(lapic_irr_has(x->qts, cpu, base + 1));

    /* Unmapped through the first pirq only, once no port is bound */
    g_assert_cmpint(unmap_pirq(x, m.pirq + 2), ==, -EBUSY);
    g_assert_cmpint(unmap_pirq(x, m.pirq), ==, -EBUSY);
    g_assert_cmpint(close_port(x, bp.port), ==, 0);
    g_assert_cmpint(unmap_pirq(x, m.pirq), ==, 0);
    for (i = 0; i < 4; i++) {
        g_assert_null(irq_desc_of(x, m.pirq + i));
        g_assert_null(pirq_info(x, m.pirq + i));
        g_assert_cmpint(vector_irq(x, cpu, base + i), ==, -1);
    }
    g_assert_false(qpci_config_readw(x->dev, cap + PCI_MSI_FLAGS) &
                   PCI_MSI_FLAGS_ENABLE);
    qpci_config_writew(x->dev, cap + PCI_MSI_DATA_64, 0x55);
    g_assert_cmphex(qpci_config_readw(x->dev, cap + PCI_MSI_DATA_64), ==,
                    0x55);

    /* MAP_PIRQ_TYPE_MSI without a table_base: one vector */
    m = (struct physdev_map_pirq) { .domid = DOMID_SELF,
                                    .type = MAP_PIRQ_TYPE_MSI, .index = -1,
                                    .pirq = -1, .devfn = TDEV_DEVFN };
    g_assert_cmpint(PHYSDEV(x, PHYSDEVOP_map_pirq, m), ==, 0);
    g_assert_cmpint(m.entry_nr, ==, 1);
    g_assert_cmpint(qpci_config_readw(x->dev, cap + PCI_MSI_FLAGS) &
                    PCI_MSI_FLAGS_QSIZE, ==, 0);
    g_assert_nonnull(irq_desc_of(x, m.pirq));
    /* ...and a second mapping of the capability is refused */
    m.pirq = -1;
    g_assert_cmpint(PHYSDEV(x, PHYSDEVOP_map_pirq, m), ==, -EBUSY);
    xen_stop(x);
}

/*
 * Bad input to the dom0-style path gets Xen's errnos, and nothing is
 * mapped; without the model, MSI types are -EINVAL as for any HVM domain.
 */
static void test_dom0_msix_errors(void)
{
    Xen *x = xen_dom0(1);
    uint64_t bar = msix_table_bar(x);
    uint8_t cap = qpci_find_capability(x->dev, PCI_CAP_ID_MSIX, 0);
    int size = (qpci_config_readw(x->dev, cap + PCI_MSIX_FLAGS) &
                PCI_MSIX_FLAGS_QSIZE) + 1;
    struct physdev_map_pirq m = {
        .domid = DOMID + 3, .type = MAP_PIRQ_TYPE_MSI, .index = -1,
        .pirq = -1, .devfn = TDEV_DEVFN, .table_base = bar,
    };
    struct physdev_eoi eoi = { .irq = 0x80000000u };
    struct physdev_irq_status_query q = { .irq = 0x80000000u };

    g_assert_cmpint(PHYSDEV(x, PHYSDEVOP_map_pirq, m), ==, -EPERM);
    m = (struct physdev_map_pirq) {
        .domid = DOMID_SELF, .type = MAP_PIRQ_TYPE_MSI, .index = 5,
        .pirq = -1, .devfn = TDEV_DEVFN, .table_base = bar,
    };
    g_assert_cmpint(PHYSDEV(x, PHYSDEVOP_map_pirq, m), ==, -EINVAL);
    g_assert_cmpint(map_msix(x, MAP_PIRQ_TYPE_MSI, TDEV_DEVFN, size, bar,
                             NULL), ==, -EINVAL);
    g_assert_cmpint(map_msix(x, MAP_PIRQ_TYPE_MSI, TDEV_DEVFN, -1, bar,
                             NULL), ==, -EINVAL);
    g_assert_cmpint(map_msix(x, MAP_PIRQ_TYPE_MSI, QPCI_DEVFN(5, 0), 0, bar,
                             NULL), ==, -ENODEV);
    g_assert_cmpint(map_msix(x, MAP_PIRQ_TYPE_MSI, 0x1234, 0, bar, NULL),
                    ==, -ENODEV);
    g_assert_cmpint(map_msix(x, MAP_PIRQ_TYPE_MULTI_MSI, TDEV_DEVFN, 0, bar,
                             NULL), ==, -EINVAL);
    /* multi-message MSI: a power of two up to 32, new pirqs only */
    {
        static const struct { int nvec, pirq; } bad[] = {
            { 0, -1 }, { 3, -1 }, { 64, -1 }, { 2, 100 },
        };

        for (int i = 0; i < ARRAY_SIZE(bad); i++) {
            m = (struct physdev_map_pirq) {
                .domid = DOMID_SELF, .type = MAP_PIRQ_TYPE_MULTI_MSI,
                .index = -1, .pirq = bad[i].pirq, .devfn = TDEV_DEVFN,
                .entry_nr = bad[i].nvec,
            };
            g_assert_cmpint(PHYSDEV(x, PHYSDEVOP_map_pirq, m), ==, -EINVAL);
        }
    }
    {
        g_autoptr(QDict) info = xen_irqs(x);
        g_assert_true(qlist_empty(qdict_get_qlist(info, "irqs")));
        g_assert_true(qlist_empty(qdict_get_qlist(info, "pirqs")));
    }
    g_assert_false(msix_function_enabled(x));
    /* pirqs beyond the domain's */
    g_assert_cmpint(PHYSDEV(x, PHYSDEVOP_eoi, eoi), ==, -EINVAL);
    g_assert_cmpint(PHYSDEV(x, PHYSDEVOP_irq_status_query, q), ==, -EINVAL);
    xen_stop(x);

    x = xen_tdev(1, 0);
    g_assert_cmpint(map_msix(x, MAP_PIRQ_TYPE_MSI, TDEV_DEVFN, 0,
                             msix_table_bar(x), NULL), ==, -EINVAL);
    {
        g_autoptr(QDict) info = xen_irqs(x);
        g_assert_false(qdict_haskey(info, "irqs"));
    }
    xen_stop(x);
}

/* -------------------------------------- GSIs: msix-testdev's INTx line */

/*
 * msix-testdev with MSI-X and MSI off interrupts by INTx, level, while a
 * completion on its admin CQ is unconsumed, unless INTMS bit 0 masks it
 * (docs/specs/msix-testdev.rst).  One NOOP completed and never consumed
 * leaves the line to INTMS bit 0: a level line the test drives.  The
 * IOAPIC's inputs are intercepted, so qtest_get_irq(gsi) is what reaches
 * the IOAPIC.
 */
static Xen *xen_intx(int smp)
{
    Xen *x = xen_domain(smp, 0, "-device msix-testdev,id=" TDEV_ID
                        ",addr=04.0,msix=off,msi=off");
    uint64_t sq = ROUND_UP(guest_alloc(&x->qs->alloc, 2 * 4096), 4096);
    uint64_t cq = ROUND_UP(guest_alloc(&x->qs->alloc, 2 * 4096), 4096);
    uint8_t sqe[MSIX_TESTDEV_SQE_SIZE] = { 0 };
    gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    QPCIBar b;

    qtest_irq_intercept_in(x->qts, "ioapic");
    x->dev = qpci_device_find(x->qs->pcibus, TDEV_DEVFN);
    g_assert(x->dev);
    qpci_device_enable(x->dev);
    b = x->bar = qpci_iomap(x->dev, MSIX_TESTDEV_BAR_REGS, NULL);
    qpci_io_writel(x->dev, b, MSIX_TESTDEV_REG_INTMS, 1);
    qpci_io_writel(x->dev, b, MSIX_TESTDEV_REG_AQA,
                   1 | 1 << MSIX_TESTDEV_AQA_ACQS_SHIFT);
    qpci_io_writeq(x->dev, b, MSIX_TESTDEV_REG_ASQ, sq);
    qpci_io_writeq(x->dev, b, MSIX_TESTDEV_REG_ACQ, cq);
    qpci_io_writel(x->dev, b, MSIX_TESTDEV_REG_CC, MSIX_TESTDEV_CC_EN);
    stl_le_p(sqe + MSIX_TESTDEV_SQE_CDW0,
             MSIX_TESTDEV_CMD_NOOP | 1u << MSIX_TESTDEV_CDW0_CID_SHIFT);
    qtest_memwrite(x->qts, sq, sqe, sizeof(sqe));
    qpci_io_writel(x->dev, b, MSIX_TESTDEV_SQ_TAIL_DB(0), 1);
    while (!(qtest_readl(x->qts, cq + MSIX_TESTDEV_CQE_STATUS) &
             MSIX_TESTDEV_CQE_PHASE)) {
        g_assert_cmpint(g_get_monotonic_time(), <, end);
    }
    return x;
}

static void intx_line(Xen *x, bool high)
{
    qpci_io_writel(x->dev, x->bar, high ? MSIX_TESTDEV_REG_INTMC
                                        : MSIX_TESTDEV_REG_INTMS, 1);
}

/* The GSI the line reaches: the one IOAPIC input that follows it */
static int intx_gsi(Xen *x)
{
    int gsi, found = -1;

    intx_line(x, true);
    for (gsi = 0; gsi < 24; gsi++) {
        if (qtest_get_irq(x->qts, gsi)) {
            g_assert_cmpint(found, ==, -1);
            found = gsi;
        }
    }
    g_assert_cmpint(found, >=, 16);         /* a PCI interrupt line */
    intx_line(x, false);
    g_assert_false(qtest_get_irq(x->qts, found));
    return found;
}

/*
 * A GSI pirq (PHYSDEVOP_map_pirq, MAP_PIRQ_TYPE_GSI): the level line's
 * rising edge is an event on the bound port and bypasses the IOAPIC;
 * PHYSDEVOP_eoi re-sends the event while the line is still asserted,
 * and only then; unmapped, the line reaches the IOAPIC again.
 */
static void test_gsi_pirq(void)
{
    Xen *x = xen_intx(1);
    int gsi = intx_gsi(x);
    uint64_t vi0 = vcpu_info_of(x, 0);
    struct physdev_map_pirq m = { .domid = DOMID_SELF,
                                  .type = MAP_PIRQ_TYPE_GSI,
                                  .index = gsi, .pirq = -1 };
    struct physdev_irq_status_query q;
    struct physdev_eoi eoi;
    struct evtchn_bind_pirq bp;
    g_autoptr(QDict) info = NULL;

    g_assert_cmpint(PHYSDEV(x, PHYSDEVOP_map_pirq, m), ==, 0);
    info = pirq_info(x, m.pirq);
    g_assert_cmpstr(qdict_get_str(info, "source"), ==, "gsi");
    g_assert_cmpint(qdict_get_int(info, "gsi"), ==, gsi);
    q = (struct physdev_irq_status_query) { .irq = m.pirq };
    g_assert_cmpint(PHYSDEV(x, PHYSDEVOP_irq_status_query, q), ==, 0);
    g_assert_cmpuint(q.flags & XENIRQSTAT_needs_eoi, ==,
                     XENIRQSTAT_needs_eoi);
    bp = (struct evtchn_bind_pirq) { .pirq = m.pirq };
    g_assert_cmpint(EVTCHN(x, EVTCHNOP_bind_pirq, bp), ==, 0);

    /* The line rises: an event, and the IOAPIC does not see it */
    intx_line(x, true);
    g_assert_true(pending(x, bp.port));
    g_assert_cmpuint(upcall_pending(x, vi0), ==, 1);
    g_assert_false(qtest_get_irq(x->qts, gsi));
    qobject_unref(info);
    info = pirq_info(x, m.pirq);
    g_assert_cmpint(qdict_get_int(info, "delivered"), ==, 1);

    /* Handled, EOI while still asserted: sent again */
    guest_ack(x, vi0, bp.port);
    eoi = (struct physdev_eoi) { .irq = m.pirq };
    g_assert_cmpint(PHYSDEV(x, PHYSDEVOP_eoi, eoi), ==, 0);
    g_assert_true(pending(x, bp.port));
    g_assert_cmpuint(upcall_pending(x, vi0), ==, 1);

    /* Handled, the line falls, EOI: nothing */
    guest_ack(x, vi0, bp.port);
    intx_line(x, false);
    g_assert_cmpint(PHYSDEV(x, PHYSDEVOP_eoi, eoi), ==, 0);
    g_assert_false(pending(x, bp.port));

    /* The next rising edge is a new event */
    intx_line(x, true);
    g_assert_true(pending(x, bp.port));
    qobject_unref(info);
    info = pirq_info(x, m.pirq);
    g_assert_cmpint(qdict_get_int(info, "delivered"), ==, 2);
    intx_line(x, false);

    /* Unmapped: the line goes to the IOAPIC again */
    g_assert_cmpint(close_port(x, bp.port), ==, 0);
    g_assert_cmpint(unmap_pirq(x, m.pirq), ==, 0);
    g_assert_cmpint(PHYSDEV(x, PHYSDEVOP_eoi, eoi), ==, -ENOENT);
    intx_line(x, true);
    g_assert_true(qtest_get_irq(x->qts, gsi));

    /* Bad input: no such GSI */
    m = (struct physdev_map_pirq) { .domid = DOMID_SELF,
                                    .type = MAP_PIRQ_TYPE_GSI,
                                    .index = 24, .pirq = -1 };
    g_assert_cmpint(PHYSDEV(x, PHYSDEVOP_map_pirq, m), ==, -EINVAL);
    xen_stop(x);
}

/*
 * The GSI and PCI INTx callback types (HVM_PARAM_CALLBACK_IRQ): the
 * line is asserted with upcall_pending and deasserted once the guest has
 * cleared it (looked at every poll-ns); a PCI INTx callback shares the
 * device's line, which stays up while the device holds it.
 */
static void test_callback_gsi_and_intx(void)
{
    Xen *x = xen_intx(1);
    int gsi = intx_gsi(x);
    int cb_gsi = gsi == 20 ? 21 : 20;       /* another PCI line */
    uint64_t vi0 = vcpu_info_of(x, 0);
    uint32_t ipi = bind_ipi(x, 0);
    int64_t period = poll_ns(x);

    /* GSI type */
    g_assert_cmpint(set_param(x, HVM_PARAM_CALLBACK_IRQ,
                              HVM_CALLBACK(HVM_PARAM_CALLBACK_TYPE_GSI,
                                           cb_gsi)), ==, 0);
    g_assert_false(qtest_get_irq(x->qts, cb_gsi));
    g_assert_cmpint(send_port(x, ipi), ==, 0);
    g_assert_true(qtest_get_irq(x->qts, cb_gsi));
    g_assert_false(lapic_irr_has(x->qts, 0, CALLBACK_VECTOR));
    qtest_clock_step(x->qts, period);
    g_assert_true(qtest_get_irq(x->qts, cb_gsi));   /* still pending */
    guest_ack(x, vi0, ipi);
    g_assert_true(qtest_get_irq(x->qts, cb_gsi));   /* not yet seen */
    qtest_clock_step(x->qts, period);
    g_assert_false(qtest_get_irq(x->qts, cb_gsi));
    g_assert_cmpint(vcpu_stat(x, 0, "upcalls"), ==, 1);

    /* PCI INTx type: msix-testdev's INTA, the device's own line */
    g_assert_cmpint(set_param(x, HVM_PARAM_CALLBACK_IRQ,
                              HVM_CALLBACK(HVM_PARAM_CALLBACK_TYPE_PCI_INTX,
                                           TDEV_DEVFN << 8 | 0)), ==, 0);
    g_assert_cmpint(send_port(x, ipi), ==, 0);
    g_assert_true(qtest_get_irq(x->qts, gsi));
    g_assert_false(qtest_get_irq(x->qts, cb_gsi));
    guest_ack(x, vi0, ipi);
    qtest_clock_step(x->qts, period);
    g_assert_false(qtest_get_irq(x->qts, gsi));

    /* Shared: the device asserts too; the line is their OR */
    g_assert_cmpint(send_port(x, ipi), ==, 0);
    intx_line(x, true);
    guest_ack(x, vi0, ipi);
    qtest_clock_step(x->qts, period);
    g_assert_true(qtest_get_irq(x->qts, gsi));      /* the device's */
    intx_line(x, false);
    g_assert_false(qtest_get_irq(x->qts, gsi));
    g_assert_cmpint(send_port(x, ipi), ==, 0);
    intx_line(x, true);
    intx_line(x, false);                            /* the event's */
    g_assert_true(qtest_get_irq(x->qts, gsi));
    guest_ack(x, vi0, ipi);
    qtest_clock_step(x->qts, period);
    g_assert_false(qtest_get_irq(x->qts, gsi));
    xen_stop(x);
}

/*
 * Migration with an event pending on a masked port and a dom0-style pirq
 * bound with its event pending: saved to a file, loaded into a second
 * QEMU, nothing is lost.  The port states and bits, the upcall state, the
 * model's irq descriptors and the owned entry come across; unmasking
 * raises the upcall there, and the device's next message takes the same
 * vector_irq -> irq -> pirq -> port path.
 */
static void test_migration(void)
{
    g_autofree char *dir = g_dir_make_tmp("xen-evtchn-XXXXXX", NULL);
    g_autofree char *uri = g_strdup_printf("file:%s/state", dir);
    g_autofree char *state = g_strdup_printf("%s/state", dir);
    g_autofree char *args = xen_args(2, 0, DOM0_DEVICES " -incoming defer");
    Xen *x = xen_dom0(2);
    Xen *d = g_new0(Xen, 1);
    uint64_t vi0 = vcpu_info_of(x, 0);
    g_autoptr(QDict) before = NULL, after = NULL;
    struct evtchn_bind_pirq bp;
    struct evtchn_unmask um;
    uint32_t ipi, data;
    int pirq;

    ipi = bind_ipi(x, 0);
    g_assert_cmpint(map_msix(x, MAP_PIRQ_TYPE_MSI, TDEV_DEVFN, 3,
                             msix_table_bar(x), &pirq), ==, 0);
    bp = (struct evtchn_bind_pirq) { .pirq = pirq };
    g_assert_cmpint(EVTCHN(x, EVTCHNOP_bind_pirq, bp), ==, 0);
    raise_vector(x, 3);                         /* pending, upcall raised */
    set_mask(x, ipi, true);
    g_assert_cmpint(send_port(x, ipi), ==, 0);  /* pending, masked */
    g_assert_true(pending(x, bp.port));
    g_assert_true(pending(x, ipi));
    g_assert_cmpint(vcpu_stat(x, 0, "upcalls"), ==, 1);
    before = irq_desc_of(x, pirq);
    data = msix_entry_readl(x->dev, 3, PCI_MSIX_ENTRY_DATA);

    d->qs = boot("%s", args);
    d->qts = d->qs->qts;
    migrate_through_file(x->qts, d->qts, uri);
    d->arg = x->arg;
    d->shinfo = x->shinfo;
    d->dev = qpci_device_find(d->qs->pcibus, TDEV_DEVFN);
    msix_copy_mapping(d->dev, x->dev);
    d->bar = x->bar;
    xen_stop(x);

    /* Port states, pending and mask bits, upcall state */
    g_assert_cmpuint(port_status(d, ipi, NULL).status, ==, EVTCHNSTAT_ipi);
    g_assert_cmpuint(port_status(d, bp.port, NULL).status, ==,
                     EVTCHNSTAT_pirq);
    g_assert_cmpuint(port_status(d, bp.port, NULL).u.pirq, ==, pirq);
    {
        g_autoptr(QDict) e = event_info(d, ipi);
        g_assert_true(qdict_get_bool(e, "pending"));
        g_assert_true(qdict_get_bool(e, "masked"));
    }
    g_assert_cmpuint(upcall_pending(d, vi0), ==, 1);
    g_assert_cmpint(vcpu_stat(d, 0, "upcalls"), ==, 1);
    g_assert_true(vcpu_stat(d, 0, "asserted"));

    /* The model's state: same irq, CPU, vector, count; entry still owned */
    after = irq_desc_of(d, pirq);
    g_assert(after);
    g_assert_true(qobject_is_equal(QOBJECT(before), QOBJECT(after)));
    g_assert_cmpint(vector_irq(d, qdict_get_int(after, "cpu"),
                               qdict_get_int(after, "vector")), ==,
                    qdict_get_int(after, "irq"));
    msix_entry_writel(d->dev, 3, PCI_MSIX_ENTRY_DATA, 0x55);
    g_assert_cmphex(msix_entry_readl(d->dev, 3, PCI_MSIX_ENTRY_DATA), ==,
                    data);

    /* The guest handles the pirq event; unmasking the IPI raises it */
    guest_ack(d, vi0, bp.port);
    g_assert_true(pending(d, ipi));
    um = (struct evtchn_unmask) { .port = ipi };
    g_assert_cmpint(EVTCHN(d, EVTCHNOP_unmask, um), ==, 0);
    g_assert_cmpuint(upcall_pending(d, vi0), ==, 1);
    g_assert_cmpint(vcpu_stat(d, 0, "upcalls"), ==, 2);
    guest_ack(d, vi0, ipi);

    /* The device's next message takes the same path */
    raise_vector(d, 3);
    g_assert_true(pending(d, bp.port));
    g_assert_cmpint(vcpu_stat(d, 0, "upcalls"), ==, 3);
    {
        g_autoptr(QDict) p = pirq_info(d, pirq);
        g_assert_cmpstr(qdict_get_str(p, "source"), ==, "dom0-msix");
        g_assert_cmpint(qdict_get_int(p, "delivered"), ==, 2);
    }
    xen_stop(d);
    unlink(state);
    rmdir(dir);
}

/* ------------------------------------------------------- under KVM */

/*
 * Whether this host's KVM can run QEMU's Xen emulation: kvm_xen_init()
 * needs KVM_CAP_XEN_HVM with these flags.
 */
static bool host_kvm_has_xen(void)
{
    const int need = KVM_XEN_HVM_CONFIG_HYPERCALL_MSR |
                     KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL |
                     KVM_XEN_HVM_CONFIG_SHARED_INFO;
    int fd, caps;

    if (!qtest_has_accel("kvm")) {
        return false;
    }
    fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        return false;
    }
    caps = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_XEN_HVM);
    close(fd);
    return caps > 0 && (caps & need) == need;
}

/*
 * The event-channel checks again under `-accel kvm,xen-version=...`,
 * where KVM's XenEmuAccelOps and exit path serve the same model: the
 * results must not change.  (The upcall and clock-stepping checks are
 * the TCG/qtest backend's and stay under qtest.)  Skipped, saying so,
 * where the host's KVM has no Xen support.
 */
static void test_under_kvm(gconstpointer data)
{
    GTestFunc fn = data;

    if (!host_kvm_has_xen()) {
        g_test_skip("this host's KVM has no Xen HVM support "
                    "(KVM_CAP_XEN_HVM with hypercall interception and "
                    "shared_info): not run under -accel kvm,xen-version");
        return;
    }
    xen_accel = "kvm";
    fn();
    xen_accel = "qtest";
}

/*
 * `make bench` workload (scripts/irqlab-bench), run only with -m perf:
 * IRQLAB_BENCH_RAISES (default 2000) messages from msix-testdev's entry 1
 * (RAISE), by the route IRQLAB_BENCH_PATH names, on one machine with
 * Xen emulation and xen-physirq, so every route passes the same
 * interceptors:
 *
 *   lapic      a fixed message to APIC 0, vector 0x40: the direct path;
 *   hvm-pirq   a pirq-encoded message, bound port, callback vector upcall;
 *   dom0-pirq  the model's message: vector_irq -> irq -> pirq -> port ->
 *              upcall.
 *
 * After each Xen event the guest's handler runs (pending, selector and
 * upcall_pending cleared), so that every event takes the whole path to
 * the upcall.  Prints the route, the events and the host time spent in
 * the RAISE writes alone (one qtest round trip each, the message's whole
 * path inside it; the handler's round trips are not counted); the script
 * counts instructions with callgrind inside msix_notify().
 */
static void bench_delivery(void)
{
    const char *path = g_getenv("IRQLAB_BENCH_PATH") ?: "lapic";
    const char *raises = g_getenv("IRQLAB_BENCH_RAISES");
    int n = raises ? atoi(raises) : 2000;
    Xen *x = xen_dom0(1);
    uint64_t vi0 = vcpu_info_of(x, 0);
    uint32_t port = 0;
    gint64 t0, spent = 0;
    int i;

    if (!strcmp(path, "lapic")) {
        msix_entry_set(x->dev, 1, 0xfee00000, 0x40);
        msix_entry_mask(x->dev, 1, false);
        set_msix_enable(x, true);
    } else {
        struct evtchn_bind_pirq bp;
        int pirq;

        if (!strcmp(path, "hvm-pirq")) {
            set_msix_enable(x, true);
            pirq = get_free_pirq(x);
            msix_entry_pirq(x, 1, pirq, true);
        } else {
            g_assert_cmpstr(path, ==, "dom0-pirq");
            g_assert_cmpint(map_msix(x, MAP_PIRQ_TYPE_MSI, TDEV_DEVFN, 1,
                                     msix_table_bar(x), &pirq), ==, 0);
        }
        bp = (struct evtchn_bind_pirq) { .pirq = pirq };
        g_assert_cmpint(EVTCHN(x, EVTCHNOP_bind_pirq, bp), ==, 0);
        port = bp.port;
    }

    for (i = 0; i < n; i++) {
        t0 = g_get_monotonic_time();
        raise_vector(x, 1);
        spent += g_get_monotonic_time() - t0;
        if (port) {
            guest_ack(x, vi0, port);
        }
    }
    g_test_message("path %s events %d seconds %.3f", path, n,
                   spent / (double)G_USEC_PER_SEC);
    if (port) {
        g_assert_cmpint(vcpu_stat(x, 0, "upcalls"), ==, n);
    } else {
        g_assert_cmpint(msix_query_counter(x->qts, TDEV_ID, 1, "sent"), ==,
                        n);
        g_assert_true(lapic_irr_has(x->qts, 0, 0x40));
    }
    xen_stop(x);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    qtest_add_func("/xen/port-and-version", test_port_and_version);
    qtest_add_func("/xen/evtchn/states", test_port_states);
    qtest_add_func("/xen/evtchn/exhaustion", test_exhaustion);
    qtest_add_func("/xen/evtchn/delivery", test_event_delivery);
    qtest_add_func("/xen/upcall/callback-vector-resend",
                   test_callback_vector_resend);
    qtest_add_func("/xen/upcall/vcpu-vector", test_vcpu_upcall_vector);
    qtest_add_func("/xen/pirq/hvm-msix", test_hvm_pirq_msix);
    qtest_add_func("/xen/pirq/dom0-msix", test_dom0_msix);
    qtest_add_func("/xen/pirq/dom0-msi", test_dom0_msi);
    qtest_add_func("/xen/pirq/dom0-msix-errors", test_dom0_msix_errors);
    qtest_add_func("/xen/pirq/gsi", test_gsi_pirq);
    qtest_add_func("/xen/upcall/callback-gsi-and-intx",
                   test_callback_gsi_and_intx);
    qtest_add_func("/xen/migration", test_migration);
    qtest_add_data_func("/xen/kvm/port-and-version", test_port_and_version,
                        test_under_kvm);
    qtest_add_data_func("/xen/kvm/evtchn/states", test_port_states,
                        test_under_kvm);
    qtest_add_data_func("/xen/kvm/evtchn/exhaustion", test_exhaustion,
                        test_under_kvm);
    if (g_test_perf()) {
        qtest_add_func("/xen/bench/delivery", bench_delivery);
    }
    return g_test_run();
}
