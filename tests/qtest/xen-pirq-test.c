/*
 * Xen pirqs under qtest, step by step: an HVM guest's pirq-encoded MSI-X,
 * dom0-style PHYSDEVOP_map_pirq of MSI-X entries and MSI
 * through the model of Xen's physical IRQ layer (xen-physirq), GSI pirqs
 * with PHYSDEVOP_eoi, migration, and the `make bench` workload.  The
 * device is msix-testdev; Xen's semantics are those of
 * xen/arch/x86/irq.c, physdev.c and xen/common/event_channel.c;
 * docs/xen-model.rst lists the differences.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qobject/qjson.h"
#include "irqlab-migrate.h"
#include "msix-entry.h"
#include "msix-query.h"
#include "xen-qtest.h"

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
    XenGuest *x = xen_tdev(26, 26);
    uint64_t vi0 = xen_vcpu_info(x, 0);
    uint32_t pirq = xen_get_free_pirq(x), unbound = xen_get_free_pirq(x);
    struct evtchn_bind_pirq bp = { .pirq = pirq };
    g_autofree char *irr_before = NULL, *irr_after = NULL;
    g_autoptr(QDict) info = NULL, info2 = NULL, info3 = NULL;
    uint16_t cmd;

    g_assert_cmpuint(pirq, !=, unbound);
    g_assert_cmpuint(unbound, <, 26);
    xen_msix_entry_pirq(x, 1, pirq, true);
    g_assert_cmphex(msix_entry_readl(x->dev, 1, PCI_MSIX_ENTRY_VECTOR_CTRL), ==,
                    PCI_MSIX_ENTRY_CTRL_MASKBIT);

    g_assert_cmpint(XEN_EVTCHN_OP(x, EVTCHNOP_bind_pirq, bp), ==, 0);
    /* unmasked on bind */
    g_assert_cmphex(msix_entry_readl(x->dev, 1, PCI_MSIX_ENTRY_VECTOR_CTRL), ==,
                    0);
    g_assert_cmpuint(xen_port_status(x, bp.port, NULL).status, ==,
                     EVTCHNSTAT_pirq);
    g_assert_cmpuint(xen_port_status(x, bp.port, NULL).u.pirq, ==, pirq);
    /* a second bind of the same pirq */
    g_assert_cmpint(XEN_EVTCHN_OP(x, EVTCHNOP_bind_pirq, bp), ==, -EBUSY);

    xen_raise_vector(x, 1);
    g_assert_true(xen_port_pending(x, bp.port));
    g_assert_cmpuint(xen_upcall_pending(x, vi0), ==, 1);
    info = xen_pirq_info(x, pirq);
    g_assert_cmpstr(qdict_get_str(info, "source"), ==, "msix");
    g_assert_cmpstr(qdict_get_str(info, "device"), ==,
                    "/machine/peripheral/" XEN_TDEV_ID);
    g_assert_cmpint(qdict_get_int(info, "vector"), ==, 1);
    g_assert_cmpint(qdict_get_int(info, "port"), ==, bp.port);
    g_assert_cmpint(qdict_get_int(info, "delivered"), ==, 1);
    g_assert_true(qdict_get_bool(info, "port-pending"));

    /*
     * Bus mastering off: the function sends no message, and its record
     * counts the notify as dropped-bus-master, not sent; but QEMU's Xen
     * emulation takes the message before the bus-master write, as it
     * always has, and still delivers it (docs/msix-instrumentation.rst).
     */
    cmd = qpci_config_readw(x->dev, PCI_COMMAND);
    qpci_config_writew(x->dev, PCI_COMMAND, cmd & ~PCI_COMMAND_MASTER);
    xen_raise_vector(x, 1);
    info3 = xen_pirq_info(x, pirq);
    g_assert_cmpint(qdict_get_int(info3, "delivered"), ==, 2);
    g_assert_cmpint(msix_query_counter(x->qts, XEN_TDEV_ID, 1, "sent"), ==, 1);
    g_assert_cmpint(msix_query_counter(x->qts, XEN_TDEV_ID, 1,
                                       "dropped-bus-master"), ==, 1);
    qpci_config_writew(x->dev, PCI_COMMAND, cmd);

    /* Unbound: claimed and dropped, not sent to the APIC as vector 0 */
    irr_before = lapic_irr(x->qts, unbound);
    xen_msix_entry_pirq(x, 2, unbound, false);
    xen_raise_vector(x, 2);
    irr_after = lapic_irr(x->qts, unbound);
    g_assert_cmpstr(irr_before, ==, irr_after);
    info2 = xen_pirq_info(x, unbound);
    g_assert_cmpint(qdict_get_int(info2, "dropped"), ==, 1);
    g_assert_cmpint(qdict_get_int(info2, "delivered"), ==, 0);

    /* Bad input: pirq beyond the domain's, wrong domain */
    bp = (struct evtchn_bind_pirq) { .pirq = 5000 };
    g_assert_cmpint(XEN_EVTCHN_OP(x, EVTCHNOP_bind_pirq, bp), ==, -EINVAL);
    {
        struct physdev_map_pirq m = { .domid = XEN_QTEST_DOMID + 3,
                                      .type = MAP_PIRQ_TYPE_GSI,
                                      .index = 5, .pirq = -1 };
        g_assert_cmpint(XEN_PHYSDEV_OP(x, PHYSDEVOP_map_pirq, m), ==, -EPERM);
    }
    xen_stop(x);
}

/*
 * The model's mapping of @entry, seen three ways, must agree: its irq
 * descriptor (Xen's irq above the GSIs, a vector of Xen's dynamic range
 * on a CPU), that CPU's vector_irq[], and the MSI-X table entry, read
 * through the BAR and through x-query-msix, holding the compatibility
 * message for that CPU's APIC ID and vector (Xen's msi_compose_msg()),
 * masked.  Returns the descriptor.
 */
static QDict *check_mapped(XenGuest *x, int pirq, int entry)
{
    QDict *d = xen_irq_desc(x, pirq);
    g_autoptr(QDict) msix = msix_query_state(x->qts, XEN_TDEV_ID);
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
    g_assert_cmpint(qdict_get_int(d, "devfn"), ==, XEN_TDEV_DEVFN);
    g_assert_cmpstr(qdict_get_str(d, "device"), ==,
                    "/machine/peripheral/" XEN_TDEV_ID);
    g_assert_cmpint(xen_vector_irq(x, cpu, vector), ==, irq);

    addr = msix_entry_address(x->dev, entry);
    data = msix_entry_readl(x->dev, entry, PCI_MSIX_ENTRY_DATA);
    g_assert_cmphex(addr, ==, x86_msi_compose_addr(apic));
    g_assert_cmphex(data, ==, x86_msi_compose_data(vector));
    g_assert_cmphex(qdict_get_int(v, "address"), ==, addr);
    g_assert_cmphex(qdict_get_int(v, "data"), ==, data);
    g_assert_cmpint(qdict_get_int(qdict_get_qdict(v, "decoded"), "dest-id"),
                    ==, apic);
    return d;
}

/*
 * Step by step, Xen maps the device's MSI-X entry for dom0
 * (PHYSDEVOP_map_pirq writes the entry), dom0 binds the pirq, and a
 * message from the device travels do_IRQ: vector_irq[] -> irq -> pirq ->
 * port -> 2-level pending bits -> upcall, never to the local APIC.
 */
static void test_dom0_msix(void)
{
    XenGuest *x = xen_dom0(2);
    uint64_t vi0 = xen_vcpu_info(x, 0);
    uint64_t bar = xen_msix_table_bar(x);
    g_autoptr(QDict) d1 = NULL, d3 = NULL, p3 = NULL, p3b = NULL;
    int pirq1, pirq3, cpu, vector;
    struct evtchn_bind_pirq bp;
    struct evtchn_unmask um;
    struct physdev_eoi eoi;
    struct physdev_irq_status_query q;
    uint32_t data;

    qtest_irq_intercept_out_named(x->qts, "/machine/xen-upcall", "upcall");

    /* PHYSDEVOP_map_pirq: Xen enables MSI-X and programs the entries */
    g_assert_false(xen_msix_enabled(x));
    g_assert_cmpint(xen_map_msix(x, MAP_PIRQ_TYPE_MSI, XEN_TDEV_DEVFN, 1, bar,
                                 &pirq1), ==, 0);
    g_assert_cmpint(xen_map_msix(x, MAP_PIRQ_TYPE_MSI_SEG, XEN_TDEV_DEVFN, 3,
                                 bar, &pirq3), ==, 0);
    g_assert_cmpint(pirq1, >, 0);
    g_assert_cmpint(pirq3, >, 0);
    g_assert_cmpint(pirq1, !=, pirq3);
    g_assert_true(xen_msix_enabled(x));
    d1 = check_mapped(x, pirq1, 1);
    d3 = check_mapped(x, pirq3, 3);
    g_assert_cmpint(qdict_get_int(d1, "irq"), !=, qdict_get_int(d3, "irq"));
    /*
     * Xen's _assign_irq_vector(): the first CPU of the affinity (all
     * CPUs) with a free vector, each vector one priority class above the
     * last one handed out, past the legacy PIC's vectors on CPU 0
     */
    g_assert_cmpint(qdict_get_int(d1, "cpu"), ==, 0);
    g_assert_cmpint(qdict_get_int(d3, "cpu"), ==, 0);
    g_assert_cmphex(qdict_get_int(d1, "vector"), ==, 0x30);
    g_assert_cmphex(qdict_get_int(d3, "vector"), ==, 0x38);
    cpu = qdict_get_int(d3, "cpu");
    vector = qdict_get_int(d3, "vector");
    g_assert_cmphex(msix_entry_readl(x->dev, 3, PCI_MSIX_ENTRY_VECTOR_CTRL), ==,
                    PCI_MSIX_ENTRY_CTRL_MASKBIT);
    p3 = xen_pirq_info(x, pirq3);
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
    g_assert_cmphex(msix_entry_readl(x->dev, 3, PCI_MSIX_ENTRY_VECTOR_CTRL), ==,
                    PCI_MSIX_ENTRY_CTRL_MASKBIT);
    /* ...and a second mapping of it is refused */
    g_assert_cmpint(xen_map_msix(x, MAP_PIRQ_TYPE_MSI, XEN_TDEV_DEVFN, 3, bar,
                                 NULL), ==, -EBUSY);

    /* EVTCHNOP_bind_pirq (Linux's startup_pirq()): Xen unmasks */
    bp = (struct evtchn_bind_pirq) { .pirq = pirq3 };
    g_assert_cmpint(XEN_EVTCHN_OP(x, EVTCHNOP_bind_pirq, bp), ==, 0);
    g_assert_cmpuint(xen_port_status(x, bp.port, NULL).status, ==,
                     EVTCHNSTAT_pirq);
    g_assert_cmpuint(xen_port_status(x, bp.port, NULL).u.pirq, ==, pirq3);
    {
        g_autoptr(QDict) e = xen_event_info(x, bp.port);
        g_assert_cmpstr(qdict_get_str(e, "type"), ==, "pirq");
        g_assert_cmpint(qdict_get_int(e, "target"), ==, pirq3);
    }
    g_assert_cmphex(msix_entry_readl(x->dev, 3, PCI_MSIX_ENTRY_VECTOR_CTRL), ==,
                    0);

    /* The device raises entry 3: do_IRQ -> send_guest_pirq -> upcall */
    g_assert_false(qtest_get_irq(x->qts, 0));
    xen_raise_vector(x, 3);
    g_assert_cmpint(msix_query_counter(x->qts, XEN_TDEV_ID, 3, "sent"), ==, 1);
    g_assert_false(lapic_irr_has(x->qts, cpu, vector));
    d3 = (qobject_unref(d3), xen_irq_desc(x, pirq3));
    g_assert_cmpint(qdict_get_int(d3, "count"), ==, 1);
    p3b = xen_pirq_info(x, pirq3);
    g_assert_cmpint(qdict_get_int(p3b, "delivered"), ==, 1);
    g_assert_cmpint(qdict_get_int(p3b, "dropped"), ==, 0);
    g_assert_true(xen_port_pending(x, bp.port));
    g_assert_cmphex(xen_pending_sel(x, vi0), ==, 1ULL << (bp.port / 64));
    g_assert_cmpuint(xen_upcall_pending(x, vi0), ==, 1);
    g_assert_true(qtest_get_irq(x->qts, 0));
    g_assert_false(lapic_irr_has(x->qts, 0, HYPERVISOR_CALLBACK_VECTOR));
    g_assert_cmpint(xen_vcpu_stat(x, 0, "upcalls"), ==, 1);

    /* Again: no second upcall until the guest clears upcall_pending */
    xen_raise_vector(x, 3);
    g_assert_cmpint(xen_vcpu_stat(x, 0, "upcalls"), ==, 1);
    d3 = (qobject_unref(d3), xen_irq_desc(x, pirq3));
    g_assert_cmpint(qdict_get_int(d3, "count"), ==, 2);
    xen_guest_ack(x, vi0, bp.port);

    /* Port masked: pending only; EVTCHNOP_unmask raises the upcall */
    xen_set_port_mask(x, bp.port, true);
    xen_raise_vector(x, 3);
    g_assert_true(xen_port_pending(x, bp.port));
    g_assert_cmpuint(xen_upcall_pending(x, vi0), ==, 0);
    g_assert_cmpint(xen_vcpu_stat(x, 0, "upcalls"), ==, 1);
    um = (struct evtchn_unmask) { .port = bp.port };
    g_assert_cmpint(XEN_EVTCHN_OP(x, EVTCHNOP_unmask, um), ==, 0);
    g_assert_cmpuint(xen_upcall_pending(x, vi0), ==, 1);
    g_assert_cmpint(xen_vcpu_stat(x, 0, "upcalls"), ==, 2);
    xen_guest_ack(x, vi0, bp.port);

    /* EOI of an edge MSI pirq: nothing to do, no EOI needed */
    eoi = (struct physdev_eoi) { .irq = pirq3 };
    g_assert_cmpint(XEN_PHYSDEV_OP(x, PHYSDEVOP_eoi, eoi), ==, 0);
    q = (struct physdev_irq_status_query) { .irq = pirq3 };
    g_assert_cmpint(XEN_PHYSDEV_OP(x, PHYSDEVOP_irq_status_query, q), ==, 0);
    g_assert_cmpuint(q.flags & XENIRQSTAT_needs_eoi, ==, 0);

    /* Still bound: unmap refused */
    g_assert_cmpint(xen_unmap_pirq(x, pirq3), ==, -EBUSY);

    /* Close: pending cleared, port mask kept, the entry masked again */
    xen_set_port_mask(x, bp.port, true);
    xen_raise_vector(x, 3);
    g_assert_true(xen_port_pending(x, bp.port));
    g_assert_cmpint(xen_close_port(x, bp.port), ==, 0);
    g_assert_false(xen_port_pending(x, bp.port));
    g_assert_true(xen_port_masked(x, bp.port));
    g_assert_cmphex(msix_entry_readl(x->dev, 3, PCI_MSIX_ENTRY_VECTOR_CTRL), ==,
                    PCI_MSIX_ENTRY_CTRL_MASKBIT);
    xen_raise_vector(x, 3);                 /* held in the PBA */
    g_assert_true(msix_query_flag(x->qts, XEN_TDEV_ID, 3, "pending"));
    xen_set_port_mask(x, bp.port, false);

    /* Unmap: the irq, its vector and the entry are released */
    g_assert_cmpint(xen_unmap_pirq(x, pirq3), ==, 0);
    g_assert_null(xen_irq_desc(x, pirq3));
    g_assert_cmpint(xen_vector_irq(x, cpu, vector), ==, -1);
    g_assert_null(xen_pirq_info(x, pirq3));
    g_assert_cmphex(msix_entry_readl(x->dev, 3, PCI_MSIX_ENTRY_VECTOR_CTRL), ==,
                    PCI_MSIX_ENTRY_CTRL_MASKBIT);
    msix_entry_writel(x->dev, 3, PCI_MSIX_ENTRY_DATA, 0x55);
    g_assert_cmphex(msix_entry_readl(x->dev, 3, PCI_MSIX_ENTRY_DATA), ==,
                    0x55);
    g_assert_true(xen_msix_enabled(x));    /* entry 1 is mapped */
    g_assert_cmpint(xen_unmap_pirq(x, pirq3), ==, -ENOENT);
    g_assert_cmpint(xen_unmap_pirq(x, pirq1), ==, 0);
    g_assert_false(xen_msix_enabled(x));   /* the last one went */
    xen_stop(x);
}

/*
 * The same for a multi-message MSI capability (MAP_PIRQ_TYPE_MULTI_MSI,
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
    XenGuest *x = xen_domain(2, 0, "-device xen-physirq "
                             "-device msix-testdev,id=" XEN_TDEV_ID
                             ",addr=04.0,msix=off");
    uint64_t vi0 = xen_vcpu_info(x, 0);
    struct physdev_map_pirq m = {
        .domid = DOMID_SELF, .type = MAP_PIRQ_TYPE_MULTI_MSI, .index = -1,
        .pirq = -1, .devfn = XEN_TDEV_DEVFN, .entry_nr = 4,
    };
    struct evtchn_bind_pirq bp;
    g_autoptr(QDict) d0 = NULL;
    g_autoptr(QDict) desc = NULL;
    int64_t cpu, base;
    uint16_t flags;
    uint8_t cap;
    int i;

    x->dev = qpci_device_find(x->qs->pcibus, XEN_TDEV_DEVFN);
    g_assert(x->dev);
    qpci_device_enable(x->dev);
    x->bar = qpci_iomap(x->dev, MSIX_TESTDEV_BAR_REGS, NULL);
    cap = qpci_find_capability(x->dev, PCI_CAP_ID_MSI, 0);

    g_assert_cmpint(XEN_PHYSDEV_OP(x, PHYSDEVOP_map_pirq, m), ==, 0);
    g_assert_cmpint(m.entry_nr, ==, 4);
    d0 = xen_irq_desc(x, m.pirq);
    g_assert(d0);
    cpu = qdict_get_int(d0, "cpu");
    base = qdict_get_int(d0, "vector");
    g_assert_cmpint(base % 4, ==, 0);
    for (i = 0; i < 4; i++) {
        g_autoptr(QDict) d = xen_irq_desc(x, m.pirq + i);
        g_autoptr(QDict) p = xen_pirq_info(x, m.pirq + i);

        g_assert(d);
        g_assert_cmpstr(qdict_get_str(d, "source"), ==, "dom0-msi");
        g_assert_cmpint(qdict_get_int(d, "entry"), ==, i);
        g_assert_cmpint(qdict_get_int(d, "cpu"), ==, cpu);
        g_assert_cmpint(qdict_get_int(d, "vector"), ==, base + i);
        g_assert_cmpint(xen_vector_irq(x, cpu, base + i), ==,
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
                    ==, x86_msi_compose_addr(qdict_get_int(d0, "apic-id")));
    g_assert_cmphex(qpci_config_readw(x->dev, cap + PCI_MSI_DATA_64), ==,
                    x86_msi_compose_data(base));
    /* ...owned: the guest's writes are ignored */
    qpci_config_writew(x->dev, cap + PCI_MSI_DATA_64, 0x55);
    qpci_config_writew(x->dev, cap + PCI_MSI_FLAGS,
                       flags & ~PCI_MSI_FLAGS_ENABLE);
    g_assert_cmphex(qpci_config_readw(x->dev, cap + PCI_MSI_DATA_64), ==,
                    x86_msi_compose_data(base));
    g_assert_cmphex(qpci_config_readw(x->dev, cap + PCI_MSI_FLAGS), ==,
                    flags);

    /* Vector 2 of the block: pirq + 2's port; vector 1: unbound, dropped */
    bp = (struct evtchn_bind_pirq) { .pirq = m.pirq + 2 };
    g_assert_cmpint(XEN_EVTCHN_OP(x, EVTCHNOP_bind_pirq, bp), ==, 0);
    xen_raise_vector(x, 2);
    g_assert_true(xen_port_pending(x, bp.port));
    g_assert_cmpuint(xen_upcall_pending(x, vi0), ==, 1);
    g_assert_false(lapic_irr_has(x->qts, cpu, base + 2));
    xen_raise_vector(x, 1);
    {
        g_autoptr(QDict) p1 = xen_pirq_info(x, m.pirq + 1);
        g_autoptr(QDict) p2 = xen_pirq_info(x, m.pirq + 2);

        g_assert_cmpint(qdict_get_int(p1, "dropped"), ==, 1);
        g_assert_cmpint(qdict_get_int(p2, "delivered"), ==, 1);
    }
    g_assert_false(lapic_irr_has(x->qts, cpu, base + 1));

    /* Unmapped through the first pirq only, once no port is bound */
    g_assert_cmpint(xen_unmap_pirq(x, m.pirq + 2), ==, -EBUSY);
    g_assert_cmpint(xen_unmap_pirq(x, m.pirq), ==, -EBUSY);
    g_assert_cmpint(xen_close_port(x, bp.port), ==, 0);
    g_assert_cmpint(xen_unmap_pirq(x, m.pirq), ==, 0);
    for (i = 0; i < 4; i++) {
        g_assert_null(xen_irq_desc(x, m.pirq + i));
        g_assert_null(xen_pirq_info(x, m.pirq + i));
        g_assert_cmpint(xen_vector_irq(x, cpu, base + i), ==, -1);
    }
    g_assert_false(qpci_config_readw(x->dev, cap + PCI_MSI_FLAGS) &
                   PCI_MSI_FLAGS_ENABLE);
    qpci_config_writew(x->dev, cap + PCI_MSI_DATA_64, 0x55);
    g_assert_cmphex(qpci_config_readw(x->dev, cap + PCI_MSI_DATA_64), ==,
                    0x55);

    /* MAP_PIRQ_TYPE_MSI without a table_base: one vector */
    m = (struct physdev_map_pirq) { .domid = DOMID_SELF,
                                    .type = MAP_PIRQ_TYPE_MSI, .index = -1,
                                    .pirq = -1, .devfn = XEN_TDEV_DEVFN };
    g_assert_cmpint(XEN_PHYSDEV_OP(x, PHYSDEVOP_map_pirq, m), ==, 0);
    g_assert_cmpint(m.entry_nr, ==, 1);
    g_assert_cmpint(qpci_config_readw(x->dev, cap + PCI_MSI_FLAGS) &
                    PCI_MSI_FLAGS_QSIZE, ==, 0);
    desc = xen_irq_desc(x, m.pirq);
    g_assert_nonnull(desc);
    /* ...and a second mapping of the capability is refused */
    m.pirq = -1;
    g_assert_cmpint(XEN_PHYSDEV_OP(x, PHYSDEVOP_map_pirq, m), ==, -EBUSY);
    xen_stop(x);
}

/*
 * Bad input to the dom0-style path gets Xen's errnos, and nothing is
 * mapped; without the model, MSI types are -EINVAL as for any HVM domain.
 */
static void test_dom0_msix_errors(void)
{
    XenGuest *x = xen_dom0(1);
    uint64_t bar = xen_msix_table_bar(x);
    uint8_t cap = qpci_find_capability(x->dev, PCI_CAP_ID_MSIX, 0);
    int size = (qpci_config_readw(x->dev, cap + PCI_MSIX_FLAGS) &
                PCI_MSIX_FLAGS_QSIZE) + 1;
    struct physdev_map_pirq m = {
        .domid = XEN_QTEST_DOMID + 3, .type = MAP_PIRQ_TYPE_MSI, .index = -1,
        .pirq = -1, .devfn = XEN_TDEV_DEVFN, .table_base = bar,
    };
    struct physdev_eoi eoi = { .irq = 0x80000000u };
    struct physdev_irq_status_query q = { .irq = 0x80000000u };

    g_assert_cmpint(XEN_PHYSDEV_OP(x, PHYSDEVOP_map_pirq, m), ==, -EPERM);
    m = (struct physdev_map_pirq) {
        .domid = DOMID_SELF, .type = MAP_PIRQ_TYPE_MSI, .index = 5,
        .pirq = -1, .devfn = XEN_TDEV_DEVFN, .table_base = bar,
    };
    g_assert_cmpint(XEN_PHYSDEV_OP(x, PHYSDEVOP_map_pirq, m), ==, -EINVAL);
    g_assert_cmpint(xen_map_msix(x, MAP_PIRQ_TYPE_MSI, XEN_TDEV_DEVFN, size,
                                 bar, NULL), ==, -EINVAL);
    g_assert_cmpint(xen_map_msix(x, MAP_PIRQ_TYPE_MSI, XEN_TDEV_DEVFN, -1, bar,
                                 NULL), ==, -EINVAL);
    g_assert_cmpint(xen_map_msix(x, MAP_PIRQ_TYPE_MSI, QPCI_DEVFN(5, 0), 0, bar,
                                 NULL), ==, -ENODEV);
    g_assert_cmpint(xen_map_msix(x, MAP_PIRQ_TYPE_MSI, 0x1234, 0, bar, NULL),
                    ==, -ENODEV);
    g_assert_cmpint(xen_map_msix(x, MAP_PIRQ_TYPE_MULTI_MSI, XEN_TDEV_DEVFN,
                                 0, bar, NULL), ==, -EINVAL);
    /* multi-message MSI: a power of two up to 32, new pirqs only */
    {
        static const struct { int nvec, pirq; } bad[] = {
            { 0, -1 }, { 3, -1 }, { 64, -1 }, { 2, 100 },
        };

        for (int i = 0; i < ARRAY_SIZE(bad); i++) {
            m = (struct physdev_map_pirq) {
                .domid = DOMID_SELF, .type = MAP_PIRQ_TYPE_MULTI_MSI,
                .index = -1, .pirq = bad[i].pirq, .devfn = XEN_TDEV_DEVFN,
                .entry_nr = bad[i].nvec,
            };
            g_assert_cmpint(XEN_PHYSDEV_OP(x, PHYSDEVOP_map_pirq, m), ==,
                            -EINVAL);
        }
    }
    {
        g_autoptr(QDict) info = xen_irqs(x);
        g_assert_true(qlist_empty(qdict_get_qlist(info, "irqs")));
        g_assert_true(qlist_empty(qdict_get_qlist(info, "pirqs")));
    }
    g_assert_false(xen_msix_enabled(x));
    /* pirqs beyond the domain's */
    g_assert_cmpint(XEN_PHYSDEV_OP(x, PHYSDEVOP_eoi, eoi), ==, -EINVAL);
    g_assert_cmpint(XEN_PHYSDEV_OP(x, PHYSDEVOP_irq_status_query, q), ==,
                    -EINVAL);
    xen_stop(x);

    x = xen_tdev(1, 0);
    g_assert_cmpint(xen_map_msix(x, MAP_PIRQ_TYPE_MSI, XEN_TDEV_DEVFN, 0,
                                 xen_msix_table_bar(x), NULL), ==, -EINVAL);
    {
        g_autoptr(QDict) info = xen_irqs(x);
        g_assert_false(qdict_haskey(info, "irqs"));
    }
    xen_stop(x);
}

/*
 * A GSI pirq (PHYSDEVOP_map_pirq, MAP_PIRQ_TYPE_GSI): the level line's
 * rising edge is an event on the bound port and bypasses the IOAPIC;
 * PHYSDEVOP_eoi re-sends the event while the line is still asserted,
 * and only then; unmapped, the line reaches the IOAPIC again.
 */
static void test_gsi_pirq(void)
{
    XenGuest *x = xen_intx(1);
    int gsi = xen_intx_gsi(x);
    uint64_t vi0 = xen_vcpu_info(x, 0);
    struct physdev_map_pirq m = { .domid = DOMID_SELF,
                                  .type = MAP_PIRQ_TYPE_GSI,
                                  .index = gsi, .pirq = -1 };
    struct physdev_irq_status_query q;
    struct physdev_eoi eoi;
    struct evtchn_bind_pirq bp;
    g_autoptr(QDict) info = NULL;

    g_assert_cmpint(XEN_PHYSDEV_OP(x, PHYSDEVOP_map_pirq, m), ==, 0);
    info = xen_pirq_info(x, m.pirq);
    g_assert_cmpstr(qdict_get_str(info, "source"), ==, "gsi");
    g_assert_cmpint(qdict_get_int(info, "gsi"), ==, gsi);
    q = (struct physdev_irq_status_query) { .irq = m.pirq };
    g_assert_cmpint(XEN_PHYSDEV_OP(x, PHYSDEVOP_irq_status_query, q), ==, 0);
    g_assert_cmpuint(q.flags & XENIRQSTAT_needs_eoi, ==,
                     XENIRQSTAT_needs_eoi);
    bp = (struct evtchn_bind_pirq) { .pirq = m.pirq };
    g_assert_cmpint(XEN_EVTCHN_OP(x, EVTCHNOP_bind_pirq, bp), ==, 0);

    /* The line rises: an event, and the IOAPIC does not see it */
    xen_intx_line(x, true);
    g_assert_true(xen_port_pending(x, bp.port));
    g_assert_cmpuint(xen_upcall_pending(x, vi0), ==, 1);
    g_assert_false(qtest_get_irq(x->qts, gsi));
    qobject_unref(info);
    info = xen_pirq_info(x, m.pirq);
    g_assert_cmpint(qdict_get_int(info, "delivered"), ==, 1);

    /* Handled, EOI while still asserted: sent again */
    xen_guest_ack(x, vi0, bp.port);
    eoi = (struct physdev_eoi) { .irq = m.pirq };
    g_assert_cmpint(XEN_PHYSDEV_OP(x, PHYSDEVOP_eoi, eoi), ==, 0);
    g_assert_true(xen_port_pending(x, bp.port));
    g_assert_cmpuint(xen_upcall_pending(x, vi0), ==, 1);

    /* Handled, the line falls, EOI: nothing */
    xen_guest_ack(x, vi0, bp.port);
    xen_intx_line(x, false);
    g_assert_cmpint(XEN_PHYSDEV_OP(x, PHYSDEVOP_eoi, eoi), ==, 0);
    g_assert_false(xen_port_pending(x, bp.port));

    /* The next rising edge is a new event */
    xen_intx_line(x, true);
    g_assert_true(xen_port_pending(x, bp.port));
    qobject_unref(info);
    info = xen_pirq_info(x, m.pirq);
    g_assert_cmpint(qdict_get_int(info, "delivered"), ==, 2);
    xen_intx_line(x, false);

    /* Unmapped: the line goes to the IOAPIC again */
    g_assert_cmpint(xen_close_port(x, bp.port), ==, 0);
    g_assert_cmpint(xen_unmap_pirq(x, m.pirq), ==, 0);
    g_assert_cmpint(XEN_PHYSDEV_OP(x, PHYSDEVOP_eoi, eoi), ==, -ENOENT);
    xen_intx_line(x, true);
    g_assert_true(qtest_get_irq(x->qts, gsi));

    /* Bad input: no such GSI */
    m = (struct physdev_map_pirq) { .domid = DOMID_SELF,
                                    .type = MAP_PIRQ_TYPE_GSI,
                                    .index = 24, .pirq = -1 };
    g_assert_cmpint(XEN_PHYSDEV_OP(x, PHYSDEVOP_map_pirq, m), ==, -EINVAL);
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
    g_autofree char *args = xen_args(2, 0, XEN_DOM0_DEVICES " -incoming defer");
    XenGuest *x = xen_dom0(2);
    XenGuest *d = g_new0(XenGuest, 1);
    uint64_t vi0 = xen_vcpu_info(x, 0);
    g_autoptr(QDict) before = NULL, after = NULL;
    struct evtchn_bind_pirq bp;
    struct evtchn_unmask um;
    uint32_t ipi, data;
    int pirq;

    ipi = xen_bind_ipi(x, 0);
    g_assert_cmpint(xen_map_msix(x, MAP_PIRQ_TYPE_MSI, XEN_TDEV_DEVFN, 3,
                                 xen_msix_table_bar(x), &pirq), ==, 0);
    bp = (struct evtchn_bind_pirq) { .pirq = pirq };
    g_assert_cmpint(XEN_EVTCHN_OP(x, EVTCHNOP_bind_pirq, bp), ==, 0);
    xen_raise_vector(x, 3);                         /* pending, upcall raised */
    xen_set_port_mask(x, ipi, true);
    g_assert_cmpint(xen_send_port(x, ipi), ==, 0);  /* pending, masked */
    g_assert_true(xen_port_pending(x, bp.port));
    g_assert_true(xen_port_pending(x, ipi));
    g_assert_cmpint(xen_vcpu_stat(x, 0, "upcalls"), ==, 1);
    before = xen_irq_desc(x, pirq);
    data = msix_entry_readl(x->dev, 3, PCI_MSIX_ENTRY_DATA);

    d->qs = xen_boot("%s", args);
    d->qts = d->qs->qts;
    migrate_through_file(x->qts, d->qts);
    d->arg = x->arg;
    d->shinfo = x->shinfo;
    d->dev = qpci_device_find(d->qs->pcibus, XEN_TDEV_DEVFN);
    msix_copy_mapping(d->dev, x->dev);
    d->bar = x->bar;
    xen_stop(x);

    /* Port states, pending and mask bits, upcall state */
    g_assert_cmpuint(xen_port_status(d, ipi, NULL).status, ==, EVTCHNSTAT_ipi);
    g_assert_cmpuint(xen_port_status(d, bp.port, NULL).status, ==,
                     EVTCHNSTAT_pirq);
    g_assert_cmpuint(xen_port_status(d, bp.port, NULL).u.pirq, ==, pirq);
    {
        g_autoptr(QDict) e = xen_event_info(d, ipi);
        g_assert_true(qdict_get_bool(e, "pending"));
        g_assert_true(qdict_get_bool(e, "masked"));
    }
    g_assert_cmpuint(xen_upcall_pending(d, vi0), ==, 1);
    g_assert_cmpint(xen_vcpu_stat(d, 0, "upcalls"), ==, 1);
    g_assert_true(xen_vcpu_stat(d, 0, "asserted"));

    /* The model's state: same irq, CPU, vector, count; entry still owned */
    after = xen_irq_desc(d, pirq);
    g_assert(after);
    g_assert_true(qobject_is_equal(QOBJECT(before), QOBJECT(after)));
    g_assert_cmpint(xen_vector_irq(d, qdict_get_int(after, "cpu"),
                                   qdict_get_int(after, "vector")), ==,
                    qdict_get_int(after, "irq"));
    msix_entry_writel(d->dev, 3, PCI_MSIX_ENTRY_DATA, 0x55);
    g_assert_cmphex(msix_entry_readl(d->dev, 3, PCI_MSIX_ENTRY_DATA), ==,
                    data);

    /* The guest handles the pirq event; unmasking the IPI raises it */
    xen_guest_ack(d, vi0, bp.port);
    g_assert_true(xen_port_pending(d, ipi));
    um = (struct evtchn_unmask) { .port = ipi };
    g_assert_cmpint(XEN_EVTCHN_OP(d, EVTCHNOP_unmask, um), ==, 0);
    g_assert_cmpuint(xen_upcall_pending(d, vi0), ==, 1);
    g_assert_cmpint(xen_vcpu_stat(d, 0, "upcalls"), ==, 2);
    xen_guest_ack(d, vi0, ipi);

    /* The device's next message takes the same path */
    xen_raise_vector(d, 3);
    g_assert_true(xen_port_pending(d, bp.port));
    g_assert_cmpint(xen_vcpu_stat(d, 0, "upcalls"), ==, 3);
    {
        g_autoptr(QDict) p = xen_pirq_info(d, pirq);
        g_assert_cmpstr(qdict_get_str(p, "source"), ==, "dom0-msix");
        g_assert_cmpint(qdict_get_int(p, "delivered"), ==, 2);
    }
    xen_stop(d);
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
    XenGuest *x = xen_dom0(1);
    uint64_t vi0 = xen_vcpu_info(x, 0);
    uint32_t port = 0;
    gint64 t0, spent = 0;
    int i;

    if (!strcmp(path, "lapic")) {
        msix_entry_set(x->dev, 1, x86_msi_compose_addr(0),
                       X86_MSI_DATA_VECTOR(0x40));
        msix_entry_mask(x->dev, 1, false);
        xen_set_msix_enable(x, true);
    } else {
        struct evtchn_bind_pirq bp;
        int pirq;

        if (!strcmp(path, "hvm-pirq")) {
            xen_set_msix_enable(x, true);
            pirq = xen_get_free_pirq(x);
            xen_msix_entry_pirq(x, 1, pirq, true);
        } else {
            g_assert_cmpstr(path, ==, "dom0-pirq");
            g_assert_cmpint(xen_map_msix(x, MAP_PIRQ_TYPE_MSI, XEN_TDEV_DEVFN,
                                         1, xen_msix_table_bar(x), &pirq),
                            ==, 0);
        }
        bp = (struct evtchn_bind_pirq) { .pirq = pirq };
        g_assert_cmpint(XEN_EVTCHN_OP(x, EVTCHNOP_bind_pirq, bp), ==, 0);
        port = bp.port;
    }

    for (i = 0; i < n; i++) {
        t0 = g_get_monotonic_time();
        xen_raise_vector(x, 1);
        spent += g_get_monotonic_time() - t0;
        if (port) {
            xen_guest_ack(x, vi0, port);
        }
    }
    g_test_message("path %s events %d seconds %.3f", path, n,
                   spent / (double)G_USEC_PER_SEC);
    if (port) {
        g_assert_cmpint(xen_vcpu_stat(x, 0, "upcalls"), ==, n);
    } else {
        g_assert_cmpint(msix_query_counter(x->qts, XEN_TDEV_ID, 1, "sent"), ==,
                        n);
        g_assert_true(lapic_irr_has(x->qts, 0, 0x40));
    }
    xen_stop(x);
}

/* msix-testdev's event log from @since on (x-query-msix-log; new ref.) */
static QDict *msix_log_since(XenGuest *x, int64_t since)
{
    QDict *rsp = qtest_qmp(x->qts, "{'execute': 'x-query-msix-log', "
                           "'arguments': {'device': %s, 'since': %" PRId64
                           "}}", XEN_TDEV_ID, since);
    QDict *log = qobject_ref(qdict_get_qdict(rsp, "return"));

    qobject_unref(rsp);
    return log;
}

/* pci_msix_clear_and_set_ctrl(): dom0's write of MSI-X's message control */
static void msix_control(XenGuest *x, uint8_t cap, uint16_t clear, uint16_t set)
{
    uint16_t ctrl = qpci_config_readw(x->dev, cap + PCI_MSIX_FLAGS);

    qpci_config_writew(x->dev, cap + PCI_MSIX_FLAGS, (ctrl & ~clear) | set);
}

/*
 * Linux 6.1's PV dom0 flow for one MSI-X allocation, replayed through the
 * model so that `irqlab run --dom0` can set what the model writes beside
 * what Debian's Xen 4.17 wrote in the same run (docs/xen-dom0.rst).  In
 * order: msix_capability_init() sets ENABLE and MASKALL (a config write,
 * which Xen performs for a PV dom0), xen_initdom_setup_msi_irqs() maps
 * each entry (PHYSDEVOP_map_pirq, MAP_PIRQ_TYPE_MSI_SEG with the table's
 * BAR) and msix_capability_init() clears MASKALL; request_irq() ->
 * __startup_pirq() binds each pirq (EVTCHNOP_bind_pirq); the irq's
 * affinity moves its port (set_affinity_irq() -> EVTCHNOP_bind_vcpu);
 * the device sends its messages; free_irq() -> shutdown_pirq() closes
 * each port (EVTCHNOP_close), pci_free_irq_vectors() clears ENABLE
 * (pci_msix_shutdown()) and xen_teardown_msi_irqs() unmaps each pirq
 * (PHYSDEVOP_unmap_pirq).
 *
 * The plan, a GKeyFile named by $XEN_PIRQ_REPLAY_PLAN (group "dom0":
 * smp, and per entry from 0 its port's vCPU "vcpus" and the messages the
 * device sends "messages"; "close", the order the driver frees its
 * vectors in, entry order by default; "unload_vcpus" and
 * "unload_messages", each port's vCPU and the messages sent while the
 * driver unloads, before the ports close: a port moved there, -1 where
 * none); without one, three entries, the second moved to vCPU 1, two
 * messages each.  $XEN_PIRQ_REPLAY_LOG names a file for
 * the device's event log from the first mapping on, as JSON: {"loaded":
 * x-query-msix-log's return value once the messages are sent,
 * "unloaded": the events after those}, the two moments at which the
 * harness queries the real run.
 */
static void test_dom0_replay(void)
{
    const char *plan_file = g_getenv("XEN_PIRQ_REPLAY_PLAN");
    const char *log_file = g_getenv("XEN_PIRQ_REPLAY_LOG");
    g_autoptr(GKeyFile) plan = g_key_file_new();
    g_autoptr(GError) err = NULL;
    g_autofree int *vcpus = NULL, *messages = NULL, *close = NULL;
    g_autofree int *unload_vcpus = NULL, *unload_messages = NULL;
    gsize nr = 3, nr_messages = 3, nr_close = 0, nr_unload = 0;
    int smp = 2;
    XenGuest *x;
    uint64_t bar;
    uint8_t cap;
    g_autofree int *pirqs = NULL;
    g_autofree uint32_t *ports = NULL;
    g_autoptr(QDict) loaded = NULL;
    int64_t since;

    if (plan_file) {
        g_assert_true(g_key_file_load_from_file(plan, plan_file,
                                                G_KEY_FILE_NONE, &err));
        smp = g_key_file_get_integer(plan, "dom0", "smp", &err);
        g_assert_no_error(err);
        vcpus = g_key_file_get_integer_list(plan, "dom0", "vcpus", &nr, &err);
        g_assert_no_error(err);
        messages = g_key_file_get_integer_list(plan, "dom0", "messages",
                                               &nr_messages, &err);
        g_assert_no_error(err);
        g_assert_cmpuint(nr, ==, nr_messages);
        if (g_key_file_has_key(plan, "dom0", "close", NULL)) {
            close = g_key_file_get_integer_list(plan, "dom0", "close",
                                                &nr_close, &err);
            g_assert_no_error(err);
            g_assert_cmpuint(nr_close, ==, nr);
        }
        if (g_key_file_has_key(plan, "dom0", "unload_vcpus", NULL)) {
            unload_vcpus = g_key_file_get_integer_list(
                plan, "dom0", "unload_vcpus", &nr_unload, &err);
            g_assert_no_error(err);
            g_assert_cmpuint(nr_unload, ==, nr);
            unload_messages = g_key_file_get_integer_list(
                plan, "dom0", "unload_messages", &nr_unload, &err);
            g_assert_no_error(err);
            g_assert_cmpuint(nr_unload, ==, nr);
        }
    } else {
        vcpus = g_new0(int, nr);
        vcpus[1] = 1;
        messages = g_new(int, nr);
        for (gsize i = 0; i < nr; i++) {
            messages[i] = 2;
        }
    }
    pirqs = g_new(int, nr);
    ports = g_new(uint32_t, nr);

    x = xen_dom0(smp);
    bar = xen_msix_table_bar(x);
    cap = qpci_find_capability(x->dev, PCI_CAP_ID_MSIX, 0);
    qtest_irq_intercept_out_named(x->qts, "/machine/xen-upcall", "upcall");

    since = msix_log_next_seq(x->qts, XEN_TDEV_ID);
    msix_control(x, cap, 0, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
    for (gsize i = 0; i < nr; i++) {
        g_assert_cmpint(xen_map_msix(x, MAP_PIRQ_TYPE_MSI_SEG,
                                     XEN_TDEV_DEVFN, i, bar, &pirqs[i]),
                        ==, 0);
    }
    msix_control(x, cap, PCI_MSIX_FLAGS_MASKALL, 0);
    for (gsize i = 0; i < nr; i++) {
        struct evtchn_bind_pirq bp = { .pirq = pirqs[i] };

        g_assert_cmpint(XEN_EVTCHN_OP(x, EVTCHNOP_bind_pirq, bp), ==, 0);
        ports[i] = bp.port;
    }
    for (gsize i = 0; i < nr; i++) {
        struct evtchn_bind_vcpu bv = { .port = ports[i], .vcpu = vcpus[i] };

        if (vcpus[i]) {
            g_assert_cmpint(XEN_EVTCHN_OP(x, EVTCHNOP_bind_vcpu, bv), ==, 0);
        }
    }
    for (gsize i = 0; i < nr; i++) {
        for (int k = 0; k < messages[i]; k++) {
            xen_raise_vector(x, i);
            xen_guest_ack(x, xen_vcpu_info(x, vcpus[i]), ports[i]);
        }
        g_assert_cmpint(msix_query_counter(x->qts, XEN_TDEV_ID, i, "sent"), ==,
                        messages[i]);
    }
    for (gsize i = 0; i < nr; i++) {
        /* A message after EVTCHNOP_bind_vcpu moved the irq with the port */
        g_autoptr(QDict) desc = xen_irq_desc(x, pirqs[i]);

        if (messages[i]) {
            g_assert_cmpint(qdict_get_int(desc, "cpu"), ==, vcpus[i]);
        }
    }
    loaded = msix_log_since(x, since);
    since = qdict_get_int(loaded, "next-seq");
    for (gsize i = 0; i < nr_unload; i++) {
        struct evtchn_bind_vcpu bv = { .port = ports[i],
                                       .vcpu = unload_vcpus[i] };

        if (unload_vcpus[i] >= 0) {
            g_assert_cmpint(XEN_EVTCHN_OP(x, EVTCHNOP_bind_vcpu, bv), ==, 0);
            vcpus[i] = unload_vcpus[i];
        }
        for (int k = 0; k < unload_messages[i]; k++) {
            xen_raise_vector(x, i);
            xen_guest_ack(x, xen_vcpu_info(x, vcpus[i]), ports[i]);
        }
    }
    for (gsize i = 0; i < nr; i++) {
        gsize e = close ? close[i] : i;

        g_assert_cmpuint(e, <, nr);
        g_assert_cmpint(xen_close_port(x, ports[e]), ==, 0);
    }
    msix_control(x, cap, PCI_MSIX_FLAGS_ENABLE, 0);
    for (gsize i = 0; i < nr; i++) {
        g_assert_cmpint(xen_unmap_pirq(x, pirqs[i]), ==, 0);
    }
    g_assert_false(xen_msix_enabled(x));

    if (log_file) {
        g_autoptr(QDict) out = qdict_new();
        g_autoptr(GString) json = NULL;

        qdict_put(out, "loaded", qobject_ref(loaded));
        qdict_put(out, "unloaded", msix_log_since(x, since));
        json = qobject_to_json_pretty(QOBJECT(out), true);
        g_assert_true(g_file_set_contents(log_file, json->str, json->len,
                                          &err));
    }
    xen_stop(x);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    qtest_add_func("/xen/pirq/hvm-msix", test_hvm_pirq_msix);
    qtest_add_func("/xen/pirq/dom0-msix", test_dom0_msix);
    qtest_add_func("/xen/pirq/dom0-msi", test_dom0_msi);
    qtest_add_func("/xen/pirq/dom0-msix-errors", test_dom0_msix_errors);
    qtest_add_func("/xen/pirq/dom0-replay", test_dom0_replay);
    qtest_add_func("/xen/pirq/gsi", test_gsi_pirq);
    qtest_add_func("/xen/migration", test_migration);
    if (g_test_perf()) {
        qtest_add_func("/xen/bench/delivery", bench_delivery);
    }
    return g_test_run();
}
