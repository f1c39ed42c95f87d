/*
 * Xen event channels and upcalls under qtest, step by step
 *
 * QEMU's Xen HVM emulation runs here with `-accel qtest,xen-version=...`;
 * hypercalls go through the hypercall test port
 * (docs/specs/xen-hypercall-port.rst) with the structs of Xen's public
 * headers in guest RAM (the guest's side is xen-qtest.c; pirqs are
 * xen-pirq-test's).  Each test checks what a Xen guest would see
 * (shared_info's 2-level bitmaps, vcpu_info, the local APIC's IRR) and
 * what the monitor reports (xen-event-list, x-query-xen-irqs).  The
 * semantics are Xen's: xen/common/event_channel.c, event_2l.c,
 * xen/arch/x86/hvm/irq.c; docs/xen-model.rst lists the differences.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <sys/ioctl.h>
#include <linux/kvm.h>
#include "msix-query.h"
#include "xen-qtest.h"

/*
 * The test port answers; xen_version reports the configured version and
 * the HVM features; what the model does not have returns -ENOSYS; bad
 * vCPU and struct addresses return errors.
 */
/*
 * Guest resets: each one rebinds QEMU's xenstore to one interdomain port
 * and maps its reserved grant again (xen_xenstore_reset()), without
 * leaking the grant handle of the last one, which generic-fuzz-xen-msix
 * found (patches/hw-xen-reset-grant-handle-leak.patch): `make
 * check-sanitizers` runs this under LeakSanitizer.
 */
static void test_reset(void)
{
    XenGuest *x = xen_start(1, 0, NULL);

    for (int i = 0; i < 3; i++) {
        g_autoptr(QDict) resp = NULL;
        QListEntry *e;
        int to_qemu = 0;

        qtest_system_reset(x->qts);
        resp = qtest_qmp(x->qts, "{'execute': 'xen-event-list'}");
        QLIST_FOREACH_ENTRY(qdict_get_qlist(resp, "return"), e) {
            QDict *p = qobject_to(QDict, qlist_entry_obj(e));

            if (g_str_equal(qdict_get_str(p, "type"), "interdomain") &&
                g_str_equal(qdict_get_str(p, "remote-domain"), "qemu")) {
                to_qemu++;
            }
        }
        g_assert_cmpint(to_qemu, ==, 1);
    }
    g_assert_cmphex(xen_hcall_on(x, 0, __HYPERVISOR_xen_version,
                                 XENVER_version, 0, 0), ==, XEN_QTEST_VERSION);
    xen_stop(x);
}

static void test_port_and_version(void)
{
    XenGuest *x = xen_start(2, 0, NULL);
    struct xen_feature_info fi = { .submap_idx = 0 };

    g_assert_cmphex(xen_hcall_on(x, 0, __HYPERVISOR_xen_version, XENVER_version,
                                 0, 0), ==, XEN_QTEST_VERSION);
    g_assert_cmpint(xen_hcall_struct(x, __HYPERVISOR_xen_version,
                                     XENVER_get_features, &fi, sizeof(fi)),
                    ==, 0);
    g_assert_true(fi.submap & (1U << XENFEAT_hvm_callback_vector));
    g_assert_true(fi.submap & (1U << XENFEAT_hvm_pirqs));
    g_assert_cmpint(xen_hcall_on(x, 0, __HYPERVISOR_set_trap_table, 0, 0, 0),
                    ==, -ENOSYS);
    /* FIFO event channels are not emulated: guests fall back to 2-level */
    g_assert_cmpint(xen_hcall_on(x, 0, __HYPERVISOR_event_channel_op,
                                 EVTCHNOP_init_control, x->arg, 0),
                    ==, -ENOSYS);
    /* A vCPU that does not exist */
    g_assert_cmpint(xen_hcall_on(x, 7, __HYPERVISOR_xen_version, XENVER_version,
                                 0, 0), ==, -EINVAL);
    /* A struct beyond guest RAM */
    g_assert_cmpint(xen_hcall_on(x, 0, __HYPERVISOR_event_channel_op,
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
    XenGuest *x = xen_domain(2, 0, NULL);
    struct evtchn_status st;
    struct evtchn_bind_interdomain bi;
    struct evtchn_bind_virq bv;
    struct evtchn_bind_vcpu bc;
    uint32_t a, ipi, virq, local;
    int64_t ret;

    /* Port 0 is reserved: never allocated, never a valid argument */
    xen_port_status(x, 0, &ret);
    g_assert_cmpint(ret, ==, -EINVAL);

    /* Lowest free: every port below the first allocation is in use */
    a = xen_alloc_unbound(x);
    g_assert_cmpuint(a, >, 0);
    for (uint32_t p = 1; p < a; p++) {
        g_autoptr(QDict) e = xen_event_info(x, p);
        g_assert_nonnull(e);
    }
    g_assert_cmpuint(xen_alloc_unbound(x), ==, a + 1);
    g_assert_cmpuint(xen_alloc_unbound(x), ==, a + 2);
    g_assert_cmpint(xen_close_port(x, a + 1), ==, 0);
    g_assert_cmpuint(xen_alloc_unbound(x), ==, a + 1);

    /* unbound, remote domain = ourselves */
    st = xen_port_status(x, a, NULL);
    g_assert_cmpuint(st.status, ==, EVTCHNSTAT_unbound);
    g_assert_cmpuint(st.u.unbound.dom, ==, XEN_QTEST_DOMID);

    /* interdomain to ourselves: both ends point at each other */
    bi = (struct evtchn_bind_interdomain) { .remote_dom = DOMID_SELF,
                                            .remote_port = a };
    g_assert_cmpint(XEN_EVTCHN_OP(x, EVTCHNOP_bind_interdomain, bi), ==, 0);
    local = bi.local_port;
    g_assert_cmpuint(local, ==, a + 3);
    st = xen_port_status(x, a, NULL);
    g_assert_cmpuint(st.status, ==, EVTCHNSTAT_interdomain);
    g_assert_cmpuint(st.u.interdomain.port, ==, local);
    st = xen_port_status(x, local, NULL);
    g_assert_cmpuint(st.status, ==, EVTCHNSTAT_interdomain);
    g_assert_cmpuint(st.u.interdomain.port, ==, a);
    /* binding an already bound port again */
    g_assert_cmpint(XEN_EVTCHN_OP(x, EVTCHNOP_bind_interdomain, bi), ==,
                    -EINVAL);

    /* ipi on vCPU 1 */
    ipi = xen_bind_ipi(x, 1);
    st = xen_port_status(x, ipi, NULL);
    g_assert_cmpuint(st.status, ==, EVTCHNSTAT_ipi);
    g_assert_cmpuint(st.vcpu, ==, 1);

    /* a per-vCPU virq */
    bv = (struct evtchn_bind_virq) { .virq = VIRQ_DEBUG, .vcpu = 1 };
    g_assert_cmpint(XEN_EVTCHN_OP(x, EVTCHNOP_bind_virq, bv), ==, 0);
    virq = bv.port;
    st = xen_port_status(x, virq, NULL);
    g_assert_cmpuint(st.status, ==, EVTCHNSTAT_virq);
    g_assert_cmpuint(st.u.virq, ==, VIRQ_DEBUG);
    g_assert_cmpuint(st.vcpu, ==, 1);
    /* a global virq must be bound on vCPU 0 */
    bv = (struct evtchn_bind_virq) { .virq = VIRQ_CON_RING, .vcpu = 1 };
    g_assert_cmpint(XEN_EVTCHN_OP(x, EVTCHNOP_bind_virq, bv), ==, -EINVAL);

    /* bind_vcpu moves an interdomain port, not an ipi */
    bc = (struct evtchn_bind_vcpu) { .port = local, .vcpu = 1 };
    g_assert_cmpint(XEN_EVTCHN_OP(x, EVTCHNOP_bind_vcpu, bc), ==, 0);
    g_assert_cmpuint(xen_port_status(x, local, NULL).vcpu, ==, 1);
    bc = (struct evtchn_bind_vcpu) { .port = ipi, .vcpu = 0 };
    g_assert_cmpint(XEN_EVTCHN_OP(x, EVTCHNOP_bind_vcpu, bc), ==, -EINVAL);
    bc = (struct evtchn_bind_vcpu) { .port = local, .vcpu = 5 };
    g_assert_cmpint(XEN_EVTCHN_OP(x, EVTCHNOP_bind_vcpu, bc), ==, -ENOENT);

    /* close: the other end of an interdomain pair is unbound again */
    g_assert_cmpint(xen_close_port(x, local), ==, 0);
    g_assert_cmpuint(xen_port_status(x, local, NULL).status, ==,
                     EVTCHNSTAT_closed);
    g_assert_cmpuint(xen_port_status(x, a, NULL).status, ==,
                     EVTCHNSTAT_unbound);

    /* bad input: wrong domain, port beyond the 2-level limit, vCPU */
    st = (struct evtchn_status) { .dom = XEN_QTEST_DOMID + 5, .port = a };
    g_assert_cmpint(XEN_EVTCHN_OP(x, EVTCHNOP_status, st), ==, -ESRCH);
    xen_port_status(x, EVTCHN_2L_NR_CHANNELS, &ret);
    g_assert_cmpint(ret, ==, -EINVAL);
    {
        struct evtchn_bind_ipi b = { .vcpu = 9 };
        g_assert_cmpint(XEN_EVTCHN_OP(x, EVTCHNOP_bind_ipi, b), ==, -ENOENT);
    }
    g_assert_cmpint(xen_close_port(x, EVTCHN_2L_NR_CHANNELS + 1), ==, -EINVAL);

    /* the monitor's bad input: an error, and nothing else happens */
    for (int i = 0; i < 2; i++) {
        uint32_t bad = i ? EVTCHN_2L_NR_CHANNELS + 4 : 0;
        g_autofree char *want = g_strdup_printf("Invalid port %u", bad);
        g_autoptr(QDict) r = qtest_qmp(x->qts, "{'execute': 'xen-event-inject',"
                                       " 'arguments': {'port': %u}}", bad);

        g_assert_cmpstr(qdict_get_str(qdict_get_qdict(r, "error"), "desc"),
                        ==, want);
    }
    g_assert_cmpuint(xen_port_status(x, a, NULL).status, ==,
                     EVTCHNSTAT_unbound);
    xen_stop(x);
}

/*
 * Exhaustion at the 2-level limit, and the status of every port (the XTF
 * event channel cases: allocate all, status of each, close all).
 */
static void test_exhaustion(void)
{
    XenGuest *x = xen_domain(2, 0, NULL);
    uint32_t first = xen_alloc_unbound(x), p = first, last;
    struct evtchn_alloc_unbound a = { .dom = DOMID_SELF,
                                      .remote_dom = DOMID_SELF };

    while ((p = xen_alloc_unbound(x)) < EVTCHN_2L_NR_CHANNELS - 1) {
        g_assert_cmpuint(p, >, first);
    }
    last = p;
    g_assert_cmpuint(last, ==, EVTCHN_2L_NR_CHANNELS - 1);
    g_assert_cmpint(XEN_EVTCHN_OP(x, EVTCHNOP_alloc_unbound, a), ==, -ENOSPC);

    for (p = first; p <= last; p++) {
        struct evtchn_status st = xen_port_status(x, p, NULL);
        g_assert_cmpuint(st.status, ==, EVTCHNSTAT_unbound);
        g_assert_cmpint(xen_close_port(x, p), ==, 0);
        g_assert_cmpuint(xen_port_status(x, p, NULL).status, ==,
                         EVTCHNSTAT_closed);
    }
    g_assert_cmpuint(xen_alloc_unbound(x), ==, first);
    xen_stop(x);
}

/*
 * One event, 2-level: pending bit, selector bit, upcall_pending, and one
 * upcall on its 0->1 edge only; a masked port only records pending,
 * EVTCHNOP_unmask re-raises it; close clears pending and keeps the mask.
 */
static void test_event_delivery(void)
{
    XenGuest *x = xen_domain(2, 0, NULL);
    uint64_t vi0 = xen_vcpu_info(x, 0), vi1 = xen_vcpu_info(x, 1);
    uint32_t ipi, a, local;
    struct evtchn_unmask um;
    struct evtchn_bind_interdomain bi;
    struct evtchn_bind_vcpu bc;

    qtest_irq_intercept_out_named(x->qts, "/machine/xen-upcall", "upcall");
    ipi = xen_bind_ipi(x, 0);
    g_assert_false(xen_port_pending(x, ipi));
    g_assert_false(lapic_irr_has(x->qts, 0, HYPERVISOR_CALLBACK_VECTOR));
    g_assert_false(qtest_get_irq(x->qts, 0));

    g_assert_cmpint(xen_send_port(x, ipi), ==, 0);
    g_assert_true(xen_port_pending(x, ipi));
    g_assert_cmphex(xen_pending_sel(x, vi0), ==, 1ULL << (ipi / 64));
    g_assert_cmpuint(xen_upcall_pending(x, vi0), ==, 1);
    /* The global vector is taken at interrupt acceptance, not the LAPIC */
    g_assert_false(lapic_irr_has(x->qts, 0, HYPERVISOR_CALLBACK_VECTOR));
    g_assert_true(qtest_get_irq(x->qts, 0));
    g_assert_cmpint(xen_vcpu_stat(x, 0, "upcalls"), ==, 1);
    {
        g_autoptr(QDict) e = xen_event_info(x, ipi);
        g_assert_true(qdict_get_bool(e, "pending"));
        g_assert_false(qdict_get_bool(e, "masked"));
    }

    /* Again: already pending, no second upcall */
    g_assert_cmpint(xen_send_port(x, ipi), ==, 0);
    g_assert_cmpint(xen_vcpu_stat(x, 0, "upcalls"), ==, 1);

    /* Still no upcall while upcall_pending stays set, even for a new bit */
    a = xen_alloc_unbound(x);
    bi = (struct evtchn_bind_interdomain) { .remote_dom = DOMID_SELF,
                                            .remote_port = a };
    g_assert_cmpint(XEN_EVTCHN_OP(x, EVTCHNOP_bind_interdomain, bi), ==, 0);
    local = bi.local_port;
    g_assert_cmpint(xen_send_port(x, a), ==, 0);        /* sets @local */
    g_assert_true(xen_port_pending(x, local));
    g_assert_cmpint(xen_vcpu_stat(x, 0, "upcalls"), ==, 1);

    /* The guest handles both; the next event is a new upcall */
    xen_guest_ack(x, vi0, ipi);
    xen_guest_ack(x, vi0, local);
    g_assert_cmpint(xen_send_port(x, ipi), ==, 0);
    g_assert_cmpint(xen_vcpu_stat(x, 0, "upcalls"), ==, 2);
    xen_guest_ack(x, vi0, ipi);

    /* Masked: pending only */
    xen_set_port_mask(x, ipi, true);
    g_assert_cmpint(xen_send_port(x, ipi), ==, 0);
    g_assert_true(xen_port_pending(x, ipi));
    g_assert_cmpuint(xen_upcall_pending(x, vi0), ==, 0);
    g_assert_cmphex(xen_pending_sel(x, vi0), ==, 0);
    g_assert_cmpint(xen_vcpu_stat(x, 0, "upcalls"), ==, 2);
    {
        g_autoptr(QDict) e = xen_event_info(x, ipi);
        g_assert_true(qdict_get_bool(e, "pending"));
        g_assert_true(qdict_get_bool(e, "masked"));
    }

    /* EVTCHNOP_unmask re-raises the pending event */
    um = (struct evtchn_unmask) { .port = ipi };
    g_assert_cmpint(XEN_EVTCHN_OP(x, EVTCHNOP_unmask, um), ==, 0);
    g_assert_false(xen_port_masked(x, ipi));
    g_assert_cmpuint(xen_upcall_pending(x, vi0), ==, 1);
    g_assert_cmpint(xen_vcpu_stat(x, 0, "upcalls"), ==, 3);
    xen_guest_ack(x, vi0, ipi);

    /* Close: pending cleared, mask kept */
    xen_set_port_mask(x, ipi, true);
    g_assert_cmpint(xen_send_port(x, ipi), ==, 0);
    g_assert_true(xen_port_pending(x, ipi));
    g_assert_cmpint(xen_close_port(x, ipi), ==, 0);
    g_assert_false(xen_port_pending(x, ipi));
    g_assert_true(xen_port_masked(x, ipi));
    xen_set_port_mask(x, ipi, false);

    /* bind_vcpu moves delivery: the event lands in vCPU 1's vcpu_info */
    bc = (struct evtchn_bind_vcpu) { .port = local, .vcpu = 1 };
    g_assert_cmpint(XEN_EVTCHN_OP(x, EVTCHNOP_bind_vcpu, bc), ==, 0);
    g_assert_cmpint(xen_send_port(x, a), ==, 0);
    g_assert_cmpuint(xen_upcall_pending(x, vi1), ==, 1);
    g_assert_cmphex(xen_pending_sel(x, vi1), ==, 1ULL << (local / 64));
    g_assert_cmpuint(xen_upcall_pending(x, vi0), ==, 0);
    g_assert_cmpint(xen_vcpu_stat(x, 1, "upcalls"), ==, 1);
    g_assert_true(qtest_get_irq(x->qts, 1));
    g_assert_false(lapic_irr_has(x->qts, 1, HYPERVISOR_CALLBACK_VECTOR));
    xen_stop(x);
}

/*
 * The global callback vector is not a local APIC interrupt: Xen injects
 * it at VM entry while upcall_pending stays set (hvm_vcpu_has_pending_irq()),
 * and the x86 CPU takes it at interrupt acceptance.  Under qtest no vCPU
 * runs, so nothing ever takes it: no IRR bit, no injection counted, no
 * re-send; the upcall GPIO stays high until the guest clears
 * upcall_pending and then drops.  (xen-tcg-test's guest takes it.)
 */
static void test_callback_vector_not_lapic(void)
{
    XenGuest *x = xen_domain(2, 0, NULL);
    uint64_t vi0 = xen_vcpu_info(x, 0);
    uint32_t ipi = xen_bind_ipi(x, 0);
    int64_t poll = xen_poll_ns(x);

    qtest_irq_intercept_out_named(x->qts, "/machine/xen-upcall", "upcall");
    g_assert_cmpint(xen_send_port(x, ipi), ==, 0);
    g_assert_true(qtest_get_irq(x->qts, 0));
    qtest_clock_step(x->qts, 10 * poll);
    g_assert_true(qtest_get_irq(x->qts, 0));
    g_assert_false(lapic_irr_has(x->qts, 0, HYPERVISOR_CALLBACK_VECTOR));
    g_assert_cmpint(xen_vcpu_stat(x, 0, "injections"), ==, 0);
    g_assert_cmpint(xen_vcpu_stat(x, 0, "upcalls"), ==, 1);

    xen_guest_ack(x, vi0, ipi);
    qtest_clock_step(x->qts, poll);
    g_assert_false(qtest_get_irq(x->qts, 0));
    g_assert_cmpint(xen_vcpu_stat(x, 0, "asserted"), ==, 0);
    g_assert_false(lapic_irr_has(x->qts, 0, HYPERVISOR_CALLBACK_VECTOR));
    xen_stop(x);
}

/*
 * HVMOP_set_evtchn_upcall_vector and VCPUOP_register_vcpu_info: the
 * per-vCPU vector reaches that vCPU's local APIC once, on the edge, and
 * the event lands in the registered vcpu_info.
 */
static void test_vcpu_upcall_vector(void)
{
    XenGuest *x = xen_domain(2, 0, NULL);
    uint64_t vi1 = guest_alloc(&x->qs->alloc, 4096);
    struct vcpu_register_vcpu_info rvi = { .mfn = vi1 >> 12,
                                           .offset = vi1 & 0xfff };
    struct xen_hvm_evtchn_upcall_vector up = { .vcpu = 1, .vector = 0xe0 };
    uint32_t ipi;

    qtest_memset(x->qts, vi1, 0, 64);
    qtest_memwrite(x->qts, x->arg, &rvi, sizeof(rvi));
    g_assert_cmpint(xen_hcall_on(x, 1, __HYPERVISOR_vcpu_op,
                                 VCPUOP_register_vcpu_info, 1, x->arg), ==, 0);
    g_assert_cmpint(XEN_HVM_OP(x, HVMOP_set_evtchn_upcall_vector, up), ==, 0);

    ipi = xen_bind_ipi(x, 1);
    g_assert_cmpint(xen_send_port(x, ipi), ==, 0);
    g_assert_cmpuint(xen_upcall_pending(x, vi1), ==, 1);
    g_assert_cmpuint(xen_upcall_pending(x, xen_vcpu_info(x, 1)), ==, 0);
    g_assert_true(lapic_irr_has(x->qts, 1, 0xe0));
    g_assert_false(lapic_irr_has(x->qts, 1, HYPERVISOR_CALLBACK_VECTOR));
    g_assert_false(lapic_irr_has(x->qts, 0, 0xe0));
    g_assert_cmpint(xen_vcpu_stat(x, 1, "injections"), ==, 1);
    /* edge only: not sent again while upcall_pending stays set */
    qtest_clock_step(x->qts, 5 * xen_poll_ns(x));
    g_assert_cmpint(xen_vcpu_stat(x, 1, "injections"), ==, 1);

    /* Bad input, with Xen's errors */
    up = (struct xen_hvm_evtchn_upcall_vector) { .vcpu = 1, .vector = 0x0f };
    g_assert_cmpint(XEN_HVM_OP(x, HVMOP_set_evtchn_upcall_vector, up), ==,
                    -EINVAL);
    up = (struct xen_hvm_evtchn_upcall_vector) { .vcpu = 9, .vector = 0xe0 };
    g_assert_cmpint(XEN_HVM_OP(x, HVMOP_set_evtchn_upcall_vector, up), ==,
                    -ENOENT);
    rvi = (struct vcpu_register_vcpu_info) { .mfn = vi1 >> 12,
                                             .offset = 4096 - 32 };
    qtest_memwrite(x->qts, x->arg, &rvi, sizeof(rvi));
    g_assert_cmpint(xen_hcall_on(x, 0, __HYPERVISOR_vcpu_op,
                                 VCPUOP_register_vcpu_info, 0, x->arg), ==,
                    -EINVAL);
    rvi = (struct vcpu_register_vcpu_info) { .mfn = 0xfffff000ULL };
    qtest_memwrite(x->qts, x->arg, &rvi, sizeof(rvi));
    g_assert_cmpint(xen_hcall_on(x, 0, __HYPERVISOR_vcpu_op,
                                 VCPUOP_register_vcpu_info, 0, x->arg), ==,
                    -EINVAL);
    g_assert_cmpint(xen_hcall_on(x, 0, __HYPERVISOR_vcpu_op,
                                 VCPUOP_register_vcpu_info, 9, x->arg), ==,
                    -ENOENT);
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
    XenGuest *x = xen_intx(1);
    int gsi = xen_intx_gsi(x);
    int cb_gsi = gsi == 20 ? 21 : 20;       /* another PCI line */
    uint64_t vi0 = xen_vcpu_info(x, 0);
    uint32_t ipi = xen_bind_ipi(x, 0);
    int64_t period = xen_poll_ns(x);

    /* GSI type */
    g_assert_cmpint(xen_set_param(x, HVM_PARAM_CALLBACK_IRQ,
                                  XEN_CALLBACK_VIA(HVM_PARAM_CALLBACK_TYPE_GSI,
                                                   cb_gsi)), ==, 0);
    g_assert_false(qtest_get_irq(x->qts, cb_gsi));
    g_assert_cmpint(xen_send_port(x, ipi), ==, 0);
    g_assert_true(qtest_get_irq(x->qts, cb_gsi));
    g_assert_false(lapic_irr_has(x->qts, 0, HYPERVISOR_CALLBACK_VECTOR));
    qtest_clock_step(x->qts, period);
    g_assert_true(qtest_get_irq(x->qts, cb_gsi));   /* still pending */
    xen_guest_ack(x, vi0, ipi);
    g_assert_true(qtest_get_irq(x->qts, cb_gsi));   /* not yet seen */
    qtest_clock_step(x->qts, period);
    g_assert_false(qtest_get_irq(x->qts, cb_gsi));
    g_assert_cmpint(xen_vcpu_stat(x, 0, "upcalls"), ==, 1);

    /* PCI INTx type: msix-testdev's INTA, the device's own line */
    g_assert_cmpint(xen_set_param(x, HVM_PARAM_CALLBACK_IRQ,
                                  XEN_CALLBACK_VIA(
                                      HVM_PARAM_CALLBACK_TYPE_PCI_INTX,
                                      XEN_TDEV_DEVFN << 8 | 0)), ==, 0);
    g_assert_cmpint(xen_send_port(x, ipi), ==, 0);
    g_assert_true(qtest_get_irq(x->qts, gsi));
    g_assert_false(qtest_get_irq(x->qts, cb_gsi));
    xen_guest_ack(x, vi0, ipi);
    qtest_clock_step(x->qts, period);
    g_assert_false(qtest_get_irq(x->qts, gsi));

    /* Shared: the device asserts too; the line is their OR */
    g_assert_cmpint(xen_send_port(x, ipi), ==, 0);
    xen_intx_line(x, true);
    xen_guest_ack(x, vi0, ipi);
    qtest_clock_step(x->qts, period);
    g_assert_true(qtest_get_irq(x->qts, gsi));      /* the device's */
    xen_intx_line(x, false);
    g_assert_false(qtest_get_irq(x->qts, gsi));
    g_assert_cmpint(xen_send_port(x, ipi), ==, 0);
    xen_intx_line(x, true);
    xen_intx_line(x, false);                            /* the event's */
    g_assert_true(qtest_get_irq(x->qts, gsi));
    xen_guest_ack(x, vi0, ipi);
    qtest_clock_step(x->qts, period);
    g_assert_false(qtest_get_irq(x->qts, gsi));
    xen_stop(x);
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

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    qtest_add_func("/xen/port-and-version", test_port_and_version);
    qtest_add_func("/xen/reset", test_reset);
    qtest_add_func("/xen/evtchn/states", test_port_states);
    qtest_add_func("/xen/evtchn/exhaustion", test_exhaustion);
    qtest_add_func("/xen/evtchn/delivery", test_event_delivery);
    qtest_add_func("/xen/upcall/callback-vector-not-lapic",
                   test_callback_vector_not_lapic);
    qtest_add_func("/xen/upcall/vcpu-vector", test_vcpu_upcall_vector);
    qtest_add_func("/xen/upcall/callback-gsi-and-intx",
                   test_callback_gsi_and_intx);
    qtest_add_data_func("/xen/kvm/port-and-version", test_port_and_version,
                        test_under_kvm);
    qtest_add_data_func("/xen/kvm/evtchn/states", test_port_states,
                        test_under_kvm);
    qtest_add_data_func("/xen/kvm/evtchn/exhaustion", test_exhaustion,
                        test_under_kvm);
    return g_test_run();
}
