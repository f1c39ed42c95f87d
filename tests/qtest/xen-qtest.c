/*
 * A Xen HVM guest for qtests (xen-qtest.h)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "msix-entry.h"
#include "msix-query.h"
#include "xen-qtest.h"

/* --------------------------------------------------------- hypercalls */

int64_t xen_hcall_on(XenGuest *x, uint32_t vcpu, uint32_t op, uint64_t a0,
                     uint64_t a1, uint64_t a2)
{
    const uint16_t port = XEN_HCALL_PORT_DEFAULT_IOBASE;
    uint64_t args[XEN_HCALL_PORT_NR_ARGS] = { a0, a1, a2 };
    uint64_t lo, hi;

    qtest_outl(x->qts, port + XEN_HCALL_PORT_VCPU, vcpu);
    qtest_outl(x->qts, port + XEN_HCALL_PORT_OP, op);
    for (int i = 0; i < XEN_HCALL_PORT_NR_ARGS; i++) {
        qtest_outl(x->qts, port + XEN_HCALL_PORT_ARG_LO(i), args[i]);
        qtest_outl(x->qts, port + XEN_HCALL_PORT_ARG_HI(i), args[i] >> 32);
    }
    qtest_outl(x->qts, port + XEN_HCALL_PORT_DOORBELL, 1);
    lo = qtest_inl(x->qts, port + XEN_HCALL_PORT_RESULT_LO);
    hi = qtest_inl(x->qts, port + XEN_HCALL_PORT_RESULT_HI);
    return (int64_t)(hi << 32 | lo);
}

int64_t xen_hcall_struct(XenGuest *x, uint32_t op, int cmd, void *buf,
                         size_t len)
{
    int64_t ret;

    qtest_memwrite(x->qts, x->arg, buf, len);
    ret = xen_hcall_on(x, 0, op, cmd, x->arg, 0);
    qtest_memread(x->qts, x->arg, buf, len);
    return ret;
}

int64_t xen_set_param(XenGuest *x, uint32_t index, uint64_t value)
{
    struct xen_hvm_param hp = { .domid = DOMID_SELF, .index = index,
                                .value = value };

    return XEN_HVM_OP(x, HVMOP_set_param, hp);
}

uint32_t xen_alloc_unbound(XenGuest *x)
{
    struct evtchn_alloc_unbound a = { .dom = DOMID_SELF,
                                      .remote_dom = DOMID_SELF };

    g_assert_cmpint(XEN_EVTCHN_OP(x, EVTCHNOP_alloc_unbound, a), ==, 0);
    return a.port;
}

int64_t xen_close_port(XenGuest *x, uint32_t port)
{
    struct evtchn_close c = { .port = port };

    return XEN_EVTCHN_OP(x, EVTCHNOP_close, c);
}

int64_t xen_send_port(XenGuest *x, uint32_t port)
{
    struct evtchn_send s = { .port = port };

    return XEN_EVTCHN_OP(x, EVTCHNOP_send, s);
}

struct evtchn_status xen_port_status(XenGuest *x, uint32_t port, int64_t *ret)
{
    struct evtchn_status st = { .dom = DOMID_SELF, .port = port };
    int64_t r = XEN_EVTCHN_OP(x, EVTCHNOP_status, st);

    if (ret) {
        *ret = r;
    } else {
        g_assert_cmpint(r, ==, 0);
    }
    return st;
}

uint32_t xen_bind_ipi(XenGuest *x, uint32_t vcpu)
{
    struct evtchn_bind_ipi b = { .vcpu = vcpu };

    g_assert_cmpint(XEN_EVTCHN_OP(x, EVTCHNOP_bind_ipi, b), ==, 0);
    return b.port;
}

/* --------------------------------------------- guest memory and state */

static bool shinfo_bit(XenGuest *x, size_t field, uint32_t port)
{
    uint64_t word = qtest_readq(x->qts, x->shinfo + field + port / 64 * 8);

    return word & (1ULL << (port % 64));
}

bool xen_port_pending(XenGuest *x, uint32_t port)
{
    return shinfo_bit(x, offsetof(struct shared_info, evtchn_pending), port);
}

bool xen_port_masked(XenGuest *x, uint32_t port)
{
    return shinfo_bit(x, offsetof(struct shared_info, evtchn_mask), port);
}

void xen_set_port_mask(XenGuest *x, uint32_t port, bool on)
{
    uint64_t a = x->shinfo + offsetof(struct shared_info, evtchn_mask) +
                 port / 64 * 8;
    uint64_t w = qtest_readq(x->qts, a);

    qtest_writeq(x->qts, a, on ? w | 1ULL << (port % 64)
                               : w & ~(1ULL << (port % 64)));
}

uint64_t xen_vcpu_info(XenGuest *x, uint32_t vcpu)
{
    return x->shinfo + vcpu * sizeof(struct vcpu_info);
}

uint8_t xen_upcall_pending(XenGuest *x, uint64_t vi)
{
    return qtest_readb(x->qts,
                       vi + offsetof(struct vcpu_info, evtchn_upcall_pending));
}

uint64_t xen_pending_sel(XenGuest *x, uint64_t vi)
{
    return qtest_readq(x->qts,
                       vi + offsetof(struct vcpu_info, evtchn_pending_sel));
}

void xen_guest_ack(XenGuest *x, uint64_t vi, uint32_t port)
{
    uint64_t a = x->shinfo + offsetof(struct shared_info, evtchn_pending) +
                 port / 64 * 8;

    qtest_writeb(x->qts,
                 vi + offsetof(struct vcpu_info, evtchn_upcall_pending), 0);
    qtest_writeq(x->qts, vi + offsetof(struct vcpu_info, evtchn_pending_sel),
                 0);
    qtest_writeq(x->qts, a, qtest_readq(x->qts, a) & ~(1ULL << (port % 64)));
}

int64_t xen_poll_ns(XenGuest *x)
{
    g_autoptr(QDict) r = qtest_qmp(x->qts, "{'execute': 'qom-get', "
                                   "'arguments': {'path': '/machine/xen-upcall',"
                                   " 'property': 'poll-ns'}}");

    return qdict_get_int(r, "return");
}

QDict *xen_irqs(XenGuest *x)
{
    return qtest_qmp_assert_success_ref(x->qts,
                                        "{'execute': 'x-query-xen-irqs'}");
}

QDict *xen_irqs_find(XenGuest *x, const char *list, const char *key,
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

int64_t xen_vcpu_stat(XenGuest *x, uint32_t vcpu, const char *key)
{
    g_autoptr(QDict) v = xen_irqs_find(x, "vcpus", "vcpu", vcpu);

    g_assert(v);
    if (qobject_type(qdict_get(v, key)) == QTYPE_QBOOL) {
        return qdict_get_bool(v, key);
    }
    return qdict_get_int(v, key);
}

QDict *xen_pirq_info(XenGuest *x, uint32_t pirq)
{
    return xen_irqs_find(x, "pirqs", "pirq", pirq);
}

QDict *xen_event_info(XenGuest *x, uint32_t port)
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

QOSState * G_GNUC_PRINTF(1, 2) xen_boot(const char *fmt, ...)
{
    QOSState *qs;
    va_list ap;

    va_start(ap, fmt);
    qs = qtest_pc_vboot(fmt, ap);
    va_end(ap);
    return qs;
}

const char *xen_accel = "qtest";

char *xen_args(int smp, int pirqs, const char *extra)
{
    g_autofree char *max_pirq = pirqs ?
        g_strdup_printf(",xen-evtchn-max-pirq=%d", pirqs) : g_strdup("");

    return g_strdup_printf("-machine q35 -nodefaults -smp %d "
                           "-accel %s,xen-version=%d%s "
                           "-device xen-hypercall-port %s",
                           smp, xen_accel, XEN_QTEST_VERSION, max_pirq,
                           extra ?: "");
}

XenGuest *xen_start(int smp, int pirqs, const char *extra)
{
    XenGuest *x = g_new0(XenGuest, 1);
    g_autofree char *args = xen_args(smp, pirqs, extra);

    x->qs = xen_boot("%s", args);
    x->qts = x->qs->qts;
    g_assert_cmphex(qtest_inl(x->qts, XEN_HCALL_PORT_DEFAULT_IOBASE +
                              XEN_HCALL_PORT_ID), ==, XEN_HCALL_PORT_ID_VALUE);
    x->arg = guest_alloc(&x->qs->alloc, 4096);
    x->shinfo = ROUND_UP(guest_alloc(&x->qs->alloc, 2 * 4096), 4096);
    return x;
}

XenGuest *xen_domain(int smp, int pirqs, const char *extra)
{
    XenGuest *x = xen_start(smp, pirqs, extra);
    struct xen_add_to_physmap xatp = {
        .domid = DOMID_SELF, .space = XENMAPSPACE_shared_info, .idx = 0,
        .gpfn = x->shinfo >> 12,
    };

    g_assert_cmpint(xen_hcall_struct(x, __HYPERVISOR_memory_op,
                                     XENMEM_add_to_physmap, &xatp,
                                     sizeof(xatp)), ==, 0);
    g_assert_cmpint(xen_set_param(x, HVM_PARAM_CALLBACK_IRQ,
                                  XEN_CALLBACK_VIA(
                                      HVM_PARAM_CALLBACK_TYPE_VECTOR,
                                      HYPERVISOR_CALLBACK_VECTOR)), ==, 0);
    return x;
}

void xen_stop(XenGuest *x)
{
    g_free(x->dev);
    qtest_shutdown(x->qs);
    g_free(x);
}

/* ------------------------------------------------------ pirqs (MSI-X) */

XenGuest *xen_tdev(int smp, int pirqs)
{
    XenGuest *x = xen_domain(smp, pirqs,
                             "-device msix-testdev,id=" XEN_TDEV_ID
                             ",addr=04.0");

    x->dev = qpci_device_find(x->qs->pcibus, XEN_TDEV_DEVFN);
    g_assert(x->dev);
    qpci_device_enable(x->dev);
    x->bar = qpci_iomap(x->dev, MSIX_TESTDEV_BAR_REGS, NULL);
    qpci_msix_enable(x->dev);
    return x;
}

void xen_msix_entry_pirq(XenGuest *x, int v, uint32_t pirq, bool masked)
{
    msix_entry_program(x->dev, v, x86_msi_compose_xen_pirq_addr(pirq), 0,
                       masked);
}

void xen_raise_vector(XenGuest *x, int v)
{
    qpci_io_writel(x->dev, x->bar, MSIX_TESTDEV_REG_RAISE, v);
}

uint32_t xen_get_free_pirq(XenGuest *x)
{
    struct physdev_get_free_pirq g = { .type = MAP_PIRQ_TYPE_MSI };

    g_assert_cmpint(XEN_PHYSDEV_OP(x, PHYSDEVOP_get_free_pirq, g), ==, 0);
    return g.pirq;
}

/* ------------------------------ dom0-style MSI-X (PHYSDEVOP_map_pirq) */

void xen_set_msix_enable(XenGuest *x, bool on)
{
    uint8_t cap = qpci_find_capability(x->dev, PCI_CAP_ID_MSIX, 0);
    uint16_t ctrl = qpci_config_readw(x->dev, cap + PCI_MSIX_FLAGS);

    qpci_config_writew(x->dev, cap + PCI_MSIX_FLAGS,
                       on ? ctrl | PCI_MSIX_FLAGS_ENABLE
                          : ctrl & ~PCI_MSIX_FLAGS_ENABLE);
}

XenGuest *xen_dom0(int smp)
{
    XenGuest *x = xen_domain(smp, 0, XEN_DOM0_DEVICES);

    x->dev = qpci_device_find(x->qs->pcibus, XEN_TDEV_DEVFN);
    g_assert(x->dev);
    qpci_device_enable(x->dev);
    x->bar = qpci_iomap(x->dev, MSIX_TESTDEV_BAR_REGS, NULL);
    qpci_msix_enable(x->dev);           /* maps the table for the test */
    xen_set_msix_enable(x, false);
    return x;
}

uint64_t xen_msix_table_bar(XenGuest *x)
{
    int reg = PCI_BASE_ADDRESS_0 + 4 * MSIX_TESTDEV_BAR_MSIX;

    return (qpci_config_readl(x->dev, reg) & PCI_BASE_ADDRESS_MEM_MASK) |
           (uint64_t)qpci_config_readl(x->dev, reg + 4) << 32;
}

int64_t xen_map_msix(XenGuest *x, int type, int devfn, int entry,
                     uint64_t table_base, int *pirq)
{
    struct physdev_map_pirq m = {
        .domid = DOMID_SELF, .type = type, .index = -1, .pirq = -1,
        .bus = 0, .devfn = devfn, .entry_nr = entry,
        .table_base = table_base,
    };
    int64_t ret = XEN_PHYSDEV_OP(x, PHYSDEVOP_map_pirq, m);

    if (pirq) {
        *pirq = m.pirq;
    }
    return ret;
}

int64_t xen_unmap_pirq(XenGuest *x, int pirq)
{
    struct physdev_unmap_pirq u = { .domid = DOMID_SELF, .pirq = pirq };

    return XEN_PHYSDEV_OP(x, PHYSDEVOP_unmap_pirq, u);
}

QDict *xen_irq_desc(XenGuest *x, int pirq)
{
    return xen_irqs_find(x, "irqs", "pirq", pirq);
}

int64_t xen_vector_irq(XenGuest *x, int64_t cpu, int64_t vector)
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

bool xen_msix_enabled(XenGuest *x)
{
    g_autoptr(QDict) st = msix_query_state(x->qts, XEN_TDEV_ID);

    return qdict_get_bool(st, "enabled");
}

/* -------------------------------------- GSIs: msix-testdev's INTx line */

XenGuest *xen_intx(int smp)
{
    XenGuest *x = xen_domain(smp, 0, "-device msix-testdev,id=" XEN_TDEV_ID
                             ",addr=04.0,msix=off,msi=off");
    uint64_t sq = ROUND_UP(guest_alloc(&x->qs->alloc, 2 * 4096), 4096);
    uint64_t cq = ROUND_UP(guest_alloc(&x->qs->alloc, 2 * 4096), 4096);
    uint8_t sqe[MSIX_TESTDEV_SQE_SIZE] = { 0 };
    gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    QPCIBar b;

    qtest_irq_intercept_in(x->qts, "ioapic");
    x->dev = qpci_device_find(x->qs->pcibus, XEN_TDEV_DEVFN);
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

void xen_intx_line(XenGuest *x, bool high)
{
    qpci_io_writel(x->dev, x->bar, high ? MSIX_TESTDEV_REG_INTMC
                                        : MSIX_TESTDEV_REG_INTMS, 1);
}

int xen_intx_gsi(XenGuest *x)
{
    int gsi, found = -1;

    xen_intx_line(x, true);
    for (gsi = 0; gsi < 24; gsi++) {
        if (qtest_get_irq(x->qts, gsi)) {
            g_assert_cmpint(found, ==, -1);
            found = gsi;
        }
    }
    g_assert_cmpint(found, >=, 16);         /* a PCI interrupt line */
    xen_intx_line(x, false);
    g_assert_false(qtest_get_irq(x->qts, found));
    return found;
}
