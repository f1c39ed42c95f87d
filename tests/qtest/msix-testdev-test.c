/*
 * msix-testdev: migration mid-run, a held message through interrupt
 * remapping, the interrupt storm, and the `make bench` workloads
 *
 * The tests of the device that start machines of their own: a migration
 * source and destination, a machine with intel-iommu's interrupt
 * remapping, a device with storm properties, or nvme next to
 * msix-testdev for `make bench`.
 * The device's other tests run on its qgraph node in qos-test
 * (msix-testdev-qos-test.c); both drive it through libqos/msix-testdev.h.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "libqtest.h"
#include "libqos/pci-pc.h"
#include "libqos/libqos-pc.h"
#include "libqos/msix-testdev.h"
#include "qobject/qdict.h"
#include "standard-headers/linux/pci_regs.h"
#include "hw/i386/intel_iommu_internal.h"
#include "hw/i386/x86-msi.h"
#include "irqlab-migrate.h"
#include "msix-entry.h"
#include "msix-query.h"

/*
 * A q35 machine with @before (options, devices created before it: "" or
 * " -device ...") and @device (its options @props, then @extra) at 04.0
 */
static QOSState *machine_start(const char *before, const char *device,
                               const char *props, const char *extra)
{
    return qtest_pc_boot("-machine q35 -nodefaults%s "
                         "-device %s,id=" QMSIX_TESTDEV_ID ",addr=04.0%s%s",
                         before, device, props, extra);
}

/*
 * msix-testdev with the options @props after @before (machine_start()),
 * and the driver's view of it
 */
static QMsixTestdev *tdev_start(QOSState **qs, const char *before,
                                const char *props)
{
    QMsixTestdev *t;

    *qs = machine_start(before, "msix-testdev", props, "");
    t = qmsix_testdev_new((*qs)->pcibus, &(*qs)->alloc, QMSIX_TESTDEV_DEVFN);
    g_assert_cmphex(qpci_config_readw(&t->dev, PCI_VENDOR_ID), ==,
                    MSIX_TESTDEV_VENDOR_ID);
    g_assert_cmphex(qpci_config_readw(&t->dev, PCI_DEVICE_ID), ==,
                    MSIX_TESTDEV_DEVICE_ID);
    return t;
}

static void tdev_stop(QOSState *qs, QMsixTestdev *t)
{
    g_free(t);
    qtest_shutdown(qs);
}

/* Messages vector @vector sent since reset, as x-query-msix counts them */
static int64_t sent(QMsixTestdev *t, int vector)
{
    return msix_query_counter(t->qts, QMSIX_TESTDEV_ID, vector, "sent");
}

/*
 * Migrate @t's machine, through a file, into a new one (*@dst_qs) with
 * the same devices (@props as tdev_start()'s); the guest's view carried
 * over (the device's mappings and queues: a copy of the driver's state,
 * on the destination's bus).  The destination's device.
 */
static QMsixTestdev *tdev_migrate(QMsixTestdev *t, QOSState **dst_qs,
                                  const char *props)
{
    QMsixTestdev *d;

    *dst_qs = machine_start("", "msix-testdev", props, " -incoming defer");
    migrate_through_file(t->qts, (*dst_qs)->qts);
    d = g_memdup2(t, sizeof(*t));
    d->dev.bus = (*dst_qs)->pcibus;
    d->qts = (*dst_qs)->qts;
    d->alloc = &(*dst_qs)->alloc;
    return d;
}

/*
 * Migration mid-run: with completions held back by completion-delay-ns
 * and a masked vector holding a pending message, save to a file, restore
 * in a second QEMU, and lose nothing: the completions arrive, the pending
 * message goes out on unmask, once.
 */
static void test_migration(void)
{
    const char *props = ",vectors=4,queues=2,completion-delay-ns=1000000";
    const uint32_t io = QMSIX_TESTDEV_IO_ENTRIES;
    QOSState *src_qs, *dst_qs;
    QMsixTestdev *t = tdev_start(&src_qs, "", props);
    QMsixTestdev *d;
    uint64_t msg = guest_alloc(t->alloc, 4);
    uint16_t first, cids[2];

    qmsix_testdev_msix_enable(t);
    msix_entry_program(&t->dev, 1, msg, 0x4d, true);
    qmsix_testdev_enable_admin(t);
    qtest_clock_step(t->qts, 1000000);          /* nothing queued yet */
    t->cq[1] = (QMsixTestdevQueue) {
        .base = qmsix_testdev_alloc_queue(t, io, MSIX_TESTDEV_CQE_SIZE),
        .entries = io, .phase = true,
    };
    t->sq[1] = (QMsixTestdevQueue) {
        .base = qmsix_testdev_alloc_queue(t, io, MSIX_TESTDEV_SQE_SIZE),
        .entries = io,
    };
    first = qmsix_testdev_queue_cmd(t, 0, MSIX_TESTDEV_ADMIN_CREATE_CQ,
                                    qmsix_testdev_queue_cdw10(1, io),
                                    MSIX_TESTDEV_CQ_IEN |
                                    1 << MSIX_TESTDEV_CQ_IV_SHIFT,
                                    t->cq[1].base);
    qmsix_testdev_ring_sq(t, 0);
    qtest_clock_step(t->qts, 1000000);
    g_assert_cmphex(qmsix_testdev_reap(t, 0, first), ==,
                    MSIX_TESTDEV_SC_SUCCESS);
    first = qmsix_testdev_queue_cmd(t, 0, MSIX_TESTDEV_ADMIN_CREATE_SQ,
                                    qmsix_testdev_queue_cdw10(1, io),
                                    qmsix_testdev_sq_cdw11(1),
                                    t->sq[1].base);
    qmsix_testdev_ring_sq(t, 0);
    qtest_clock_step(t->qts, 1000000);
    g_assert_cmphex(qmsix_testdev_reap(t, 0, first), ==,
                    MSIX_TESTDEV_SC_SUCCESS);

    /* One completion with vector 1 masked: pending in the PBA. */
    first = qmsix_testdev_queue_cmd(t, 1, MSIX_TESTDEV_CMD_NOOP, 0, 0, 0);
    qmsix_testdev_ring_sq(t, 1);
    qtest_clock_step(t->qts, 1000000);
    g_assert_cmphex(qmsix_testdev_reap(t, 1, first), ==,
                    MSIX_TESTDEV_SC_SUCCESS);
    g_assert_true(qpci_msix_pending(&t->dev, 1));
    /* Two more submitted, their completions not yet due. */
    cids[0] = qmsix_testdev_queue_cmd(t, 1, MSIX_TESTDEV_CMD_NOOP, 0, 0, 0);
    cids[1] = qmsix_testdev_queue_cmd(t, 1, MSIX_TESTDEV_CMD_NOOP, 0, 0, 0);
    qmsix_testdev_ring_sq(t, 1);

    d = tdev_migrate(t, &dst_qs, props);

    g_assert_true(qpci_msix_pending(&d->dev, 1));
    g_assert_cmphex(qtest_readl(d->qts, msg), ==, 0);
    /*
     * The timer came with its deadline in the source's virtual time;
     * qtest's clock is not migrated and starts again from 0 here.
     */
    qtest_clock_step(d->qts, 100 * 1000000);
    g_assert_cmphex(qmsix_testdev_reap(d, 1, cids[0]), ==,
                    MSIX_TESTDEV_SC_SUCCESS);
    g_assert_cmphex(qmsix_testdev_reap(d, 1, cids[1]), ==,
                    MSIX_TESTDEV_SC_SUCCESS);
    g_assert_cmphex(qtest_readl(d->qts, msg), ==, 0);
    msix_entry_mask(&d->dev, 1, false);
    g_assert_cmphex(qtest_readl(d->qts, msg), ==, 0x4d);
    g_assert_false(qpci_msix_pending(&d->dev, 1));
    g_assert_cmpint(sent(d, 1), ==, 1);
    g_assert_cmphex(qmsix_testdev_readl(d, MSIX_TESTDEV_REG_ERR), ==,
                    MSIX_TESTDEV_ERR_NONE);

    tdev_stop(dst_qs, d);
    tdev_stop(src_qs, t);
}

/*
 * A held message through interrupt remapping, across MSI-X disabled and
 * enabled again, in the order of writes Linux 6.1 makes when a VFIO user
 * enables a device's MSI-X, disables it and enables it with a larger N
 * (`irqlab run --vfio`, intremap on; docs/guest.rst, "VFIO"): the qos
 * test held-across-reenable-lapic (msix-testdev-qos-test.c), with the
 * entry's message in remappable format and intel-iommu's interrupt
 * remapping table (Intel VT-d 5.1) programmed as Linux's intel_irq_remapping
 * does.  The entry is one only the second enable uses: masked since
 * msix_mask_all() of the first, its message never written, when the
 * device raises it.  In the second enable, early activation in
 * reservation mode (msi_init_virq(), x86_vector_activate()) points the
 * entry's IRTE at MANAGED_IRQ_SHUTDOWN_VECTOR; vfio_msi_set_vector_signal()
 * writes the cached message while the entry is masked; request_irq()
 * activates for real (the IRTE gets the irq's vector), writes the message
 * again and unmasks.  The unmask must send the held message once, and
 * intel-iommu deliver it to the IRTE's vector, not the reservation's.
 */

/* Where the test puts intel-iommu's interrupt remapping table */
#define IRT_SIZE_FIELD      7       /* IRTA.S: 2^(S + 1) = 256 entries */
#define IRT_ENTRIES         (1U << (IRT_SIZE_FIELD + 1))
#define IRT_ALIGN           0x1000  /* IRTA bits 63:12 */
#define HELD_ENTRY          4
#define HELD_IRTE           0x14    /* Linux's handle for that entry */
#define HELD_VECTOR         0x23    /* the irq's vector (x86_vector_activate) */
#define RESERVED_VECTOR     0xef    /* MANAGED_IRQ_SHUTDOWN_VECTOR */
#define TDEV_SID            PCI_DEVFN(4, 0)     /* bus 0: 00:04.0 */

static uint32_t vtd_readl(QTestState *qts, uint64_t reg)
{
    return qtest_readl(qts, Q35_HOST_BRIDGE_IOMMU_ADDR + reg);
}

static void vtd_writel(QTestState *qts, uint64_t reg, uint32_t val)
{
    qtest_writel(qts, Q35_HOST_BRIDGE_IOMMU_ADDR + reg, val);
}

/*
 * Point intel-iommu at an interrupt remapping table in guest RAM, zeroed,
 * and turn remapping on, as intel_setup_irq_remapping() and
 * intel_enable_irq_remapping() do: IRTA (xAPIC mode, EIME clear), Global
 * Command SIRTP, then IRE, each waited for in Global Status.  Returns the
 * table's address.
 */
static uint64_t vtd_ir_enable(QMsixTestdev *t)
{
    uint64_t table = ROUND_UP(guest_alloc(t->alloc, 2 * IRT_ALIGN),
                              IRT_ALIGN);
    uint32_t sts;

    qtest_memset(t->qts, table, 0, IRT_ENTRIES * sizeof(VTD_IR_TableEntry));
    qtest_writeq(t->qts, Q35_HOST_BRIDGE_IOMMU_ADDR + DMAR_IRTA_REG,
                 table | IRT_SIZE_FIELD);
    sts = vtd_readl(t->qts, DMAR_GSTS_REG);
    vtd_writel(t->qts, DMAR_GCMD_REG, sts | VTD_GCMD_SIRTP);
    g_assert_true(vtd_readl(t->qts, DMAR_GSTS_REG) & VTD_GSTS_IRTPS);
    sts = vtd_readl(t->qts, DMAR_GSTS_REG) & ~VTD_GSTS_IRTPS;
    vtd_writel(t->qts, DMAR_GCMD_REG, sts | VTD_GCMD_IRE);
    g_assert_true(vtd_readl(t->qts, DMAR_GSTS_REG) & VTD_GSTS_IRES);
    return table;
}

/*
 * IRTE @index: present, fixed, edge, physical destination APIC ID 0
 * (xAPIC mode: destination ID bits 15:8), @vector, the source-id of
 * msix-testdev validated (SVT 01b, SQ 00b), as Linux's
 * prepare_irte() and set_msi_sid() make it.
 */
static void vtd_irte_set(QMsixTestdev *t, uint64_t table, uint16_t index,
                         uint8_t vector)
{
    VTD_IR_TableEntry e = { .data = { 0, 0 } };
    uint64_t addr = table + index * sizeof(e);

    e.irte.present = 1;
    e.irte.vector = vector;
    e.irte.dest_id = 0;         /* APIC ID 0, in bits 15:8 */
    e.irte.source_id = TDEV_SID;
    e.irte.sid_vtype = VTD_SVT_ALL;
    qtest_writeq(t->qts, addr, e.data[0]);
    qtest_writeq(t->qts, addr + 8, e.data[1]);
}

/* The remappable-format address of @handle with SHV, as Linux's compose */
static uint64_t remap_msi_addr(uint16_t handle)
{
    return X86_MSI_ADDR_BASE_LO | X86_MSI_ADDR_INT_MODE_REMAP |
           X86_MSI_ADDR_SUB_VALID |
           ((uint32_t)handle << X86_MSI_ADDR_INDEX_L_SHIFT &
            X86_MSI_ADDR_INDEX_L_MASK) |
           (handle >> X86_MSI_INDEX_H_SHIFT ? X86_MSI_ADDR_INDEX_H : 0);
}

/* Nothing in CPU 0's IRR, the device's entry still pending, not sent */
static void check_still_held(QMsixTestdev *t, int64_t sent0)
{
    g_assert_true(qpci_msix_pending(&t->dev, HELD_ENTRY));
    g_assert_cmpint(sent(t, HELD_ENTRY), ==, sent0);
    g_assert_false(lapic_irr_has(t->qts, 0, HELD_VECTOR));
    g_assert_false(lapic_irr_has(t->qts, 0, RESERVED_VECTOR));
}

static void test_held_across_reenable_remapped(void)
{
    const uint16_t ctrl_on = PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL;
    const uint64_t addr = remap_msi_addr(HELD_IRTE);
    QOSState *qs;
    QMsixTestdev *t = tdev_start(&qs, " -device intel-iommu,intremap=on",
                                 ",vectors=9,queues=8");
    uint8_t ctrl = t->msix_cap + PCI_MSIX_FLAGS;
    uint64_t table = vtd_ir_enable(t);
    int nvec = qpci_msix_table_size(&t->dev);
    int64_t seq, sent0;

    g_assert_cmphex(x86_msi_irte_index(addr), ==, HELD_IRTE);

    /* Enable 1 (msix_capability_init()): every entry masked. */
    qmsix_testdev_msix_enable(t);
    qpci_config_writew(&t->dev, ctrl, ctrl_on);
    for (int i = 0; i < nvec; i++) {
        msix_entry_mask(&t->dev, i, true);
    }
    qpci_config_writew(&t->dev, ctrl, PCI_MSIX_FLAGS_ENABLE);
    g_assert_cmphex(msix_entry_address(&t->dev, HELD_ENTRY), ==, 0);
    sent0 = sent(t, HELD_ENTRY);

    /* The RAISE: held, its entry masked with no message yet */
    qmsix_testdev_writel(t, MSIX_TESTDEV_REG_RAISE, HELD_ENTRY);
    check_still_held(t, sent0);
    g_assert_cmpint(msix_query_counter(t->qts, QMSIX_TESTDEV_ID, HELD_ENTRY,
                                       "held"), ==, 1);

    /* Disable 1 (pci_msix_shutdown()): ENABLE cleared */
    qpci_config_writew(&t->dev, ctrl, 0);

    /*
     * Enable 2: msix_capability_init() with early activation in
     * reservation mode (the IRTE on the reservation vector), then
     * msix_mask_all(), MASKALL cleared.
     */
    qpci_config_writew(&t->dev, ctrl, ctrl_on);
    vtd_irte_set(t, table, HELD_IRTE, RESERVED_VECTOR);
    msix_entry_set(&t->dev, HELD_ENTRY, addr, 0);
    for (int i = 0; i < nvec; i++) {
        msix_entry_mask(&t->dev, i, true);
    }
    qpci_config_writew(&t->dev, ctrl, PCI_MSIX_FLAGS_ENABLE);
    check_still_held(t, sent0);

    /* vfio_msi_set_vector_signal(): the cached message, entry masked */
    msix_entry_set(&t->dev, HELD_ENTRY, addr, 0);
    check_still_held(t, sent0);

    /*
     * request_irq(): irq_activate() (the IRTE gets the irq's vector; the
     * message is written again), then irq_startup() unmasks.
     */
    vtd_irte_set(t, table, HELD_IRTE, HELD_VECTOR);
    msix_entry_set(&t->dev, HELD_ENTRY, addr, 0);
    check_still_held(t, sent0);
    seq = msix_log_next_seq(t->qts, QMSIX_TESTDEV_ID);
    msix_entry_mask(&t->dev, HELD_ENTRY, false);

    g_assert_true(lapic_irr_has(t->qts, 0, HELD_VECTOR));
    g_assert_false(lapic_irr_has(t->qts, 0, RESERVED_VECTOR));
    g_assert_false(qpci_msix_pending(&t->dev, HELD_ENTRY));
    g_assert_cmpint(sent(t, HELD_ENTRY), ==, sent0 + 1);
    /* No fault recorded: the IRTE was present and the source-id matched */
    g_assert_cmphex(vtd_readl(t->qts, DMAR_FSTS_REG), ==, 0);
    msix_expect_unmask_sends(t->qts, QMSIX_TESTDEV_ID, seq, HELD_ENTRY);

    tdev_stop(qs, t);
}

/*
 * The interrupt storm (REG_STORM): vectors 0..N-1 raised every
 * storm-interval-ns of virtual time, each only while none of its messages
 * is in flight (raised == acked), STORM_ACK re-arming it.  The tests
 * storm 4 of the device's 8 vectors, each entry aimed at its own word of
 * guest RAM, and compare the device's counters (STORM_SEL, STORM_RAISED,
 * STORM_ACKED) with what the MSI core saw (x-query-msix).
 */
#define STORM_PROPS     ",vectors=8"
#define STORM_VECTORS   4
#define STORM_NS        MSIX_TESTDEV_STORM_INTERVAL_DEFAULT
#define STORM_DATA(v)   (0x40 + (v))

/* msix-testdev with @props, MSI-X on, entries 0..3 unmasked at *@msg */
static QMsixTestdev *storm_start(QOSState **qs, const char *props,
                                 uint64_t *msg)
{
    QMsixTestdev *t = tdev_start(qs, "", props);

    *msg = guest_alloc(t->alloc, 4 * STORM_VECTORS);
    qmsix_testdev_msix_enable(t);
    for (int v = 0; v < STORM_VECTORS; v++) {
        msix_entry_program(&t->dev, v, *msg + 4 * v, STORM_DATA(v), false);
    }
    return t;
}

/* Vector @v's STORM_RAISED or STORM_ACKED (@reg), selected by STORM_SEL */
static uint64_t storm_count(QMsixTestdev *t, uint32_t reg, int v)
{
    qmsix_testdev_writel(t, MSIX_TESTDEV_REG_STORM_SEL, v);
    return qpci_io_readq(&t->dev, t->bar, reg);
}

/*
 * Writing STORM starts the storm at once: its first tick is due now, run
 * by 1 ns of virtual time (qtest refuses a step of 0); an interval later
 * than it should be, it would not run.
 */
static void storm_first_tick(QMsixTestdev *t)
{
    qtest_clock_step(t->qts, 1);
}

/* storm_start() with the default properties, the storm on, its first tick */
static QMsixTestdev *storm_running(QOSState **qs, uint64_t *msg)
{
    QMsixTestdev *t = storm_start(qs, STORM_PROPS, msg);

    qmsix_testdev_writel(t, MSIX_TESTDEV_REG_STORM, STORM_VECTORS);
    storm_first_tick(t);
    return t;
}

static void storm_ack(QMsixTestdev *t, int v)
{
    qmsix_testdev_writel(t, MSIX_TESTDEV_REG_STORM_ACK, v);
}

/* Vector @v raised @raised times, acknowledged @acked, sent @nsent */
static void expect_storm(QMsixTestdev *t, int v, uint64_t raised,
                         uint64_t acked, int64_t nsent)
{
    g_test_message("vector %d: raised %" PRIu64 " acked %" PRIu64
                   " sent %" PRId64 "?", v, raised, acked, nsent);
    g_assert_cmpuint(storm_count(t, MSIX_TESTDEV_REG_STORM_RAISED, v), ==,
                     raised);
    g_assert_cmpuint(storm_count(t, MSIX_TESTDEV_REG_STORM_ACKED, v), ==,
                     acked);
    g_assert_cmpint(sent(t, v), ==, nsent);
}

/*
 * Whether every raise of vector @v is accounted for: sent, held pending
 * or dropped by the MSI core (x-query-msix).  Asserts the device's own
 * side: acked + in flight (0 or 1) == raised.
 */
static bool storm_accounted(QMsixTestdev *t, int v)
{
    g_autoptr(QDict) s = msix_query_state(t->qts, QMSIX_TESTDEV_ID);
    QDict *q = msix_query_vector(s, v);
    uint64_t raised = storm_count(t, MSIX_TESTDEV_REG_STORM_RAISED, v);
    uint64_t acked = storm_count(t, MSIX_TESTDEV_REG_STORM_ACKED, v);

    g_assert_cmpuint(acked, <=, raised);
    g_assert_cmpuint(raised - acked, <=, 1);
    return raised == qdict_get_int(q, "sent") + qdict_get_bool(q, "pending") +
                     qdict_get_int(q, "dropped");
}

/*
 * basic: STORM=4 raises vectors 0..3 at once (no interval first), then
 * never again while the message is in flight: one message per vector
 * until its ACK, which re-arms that vector alone at the next tick.  A
 * stray ACK (nothing in flight) counts nothing, or it would leave acked
 * ahead of raised; STORM=0 stops the raising.
 */
static void test_storm_basic(void)
{
    QOSState *qs;
    uint64_t msg;
    QMsixTestdev *t = storm_start(&qs, STORM_PROPS, &msg);

    qmsix_testdev_writel(t, MSIX_TESTDEV_REG_STORM, STORM_VECTORS);
    g_assert_cmpuint(qmsix_testdev_readl(t, MSIX_TESTDEV_REG_STORM), ==,
                     STORM_VECTORS);
    storm_first_tick(t);
    for (int v = 0; v < STORM_VECTORS; v++) {
        expect_storm(t, v, 1, 0, 1);
        g_assert_cmphex(qtest_readl(t->qts, msg + 4 * v), ==, STORM_DATA(v));
    }
    qtest_clock_step(t->qts, 3 * STORM_NS);
    for (int v = 0; v < STORM_VECTORS; v++) {
        expect_storm(t, v, 1, 0, 1);
    }

    storm_ack(t, 1);
    qtest_clock_step(t->qts, STORM_NS);
    for (int v = 0; v < STORM_VECTORS; v++) {
        expect_storm(t, v, v == 1 ? 2 : 1, v == 1, v == 1 ? 2 : 1);
    }

    /* Stray: vector 5 (not storming), vector 1's second ACK */
    storm_ack(t, 5);
    storm_ack(t, 1);
    storm_ack(t, 1);
    expect_storm(t, 5, 0, 0, 0);
    expect_storm(t, 1, 2, 2, 2);
    qtest_clock_step(t->qts, STORM_NS);
    expect_storm(t, 1, 3, 2, 3);
    g_assert_cmpuint(qmsix_testdev_readl(t, MSIX_TESTDEV_REG_ERRCNT), ==, 0);

    qmsix_testdev_writel(t, MSIX_TESTDEV_REG_STORM, 0);
    g_assert_cmpuint(qmsix_testdev_readl(t, MSIX_TESTDEV_REG_STORM), ==, 0);
    for (int v = 0; v < STORM_VECTORS; v++) {
        storm_ack(t, v);
    }
    qtest_clock_step(t->qts, 3 * STORM_NS);
    for (int v = 0; v < STORM_VECTORS; v++) {
        uint64_t n = v == 1 ? 3 : 1;

        expect_storm(t, v, n, n, n);
    }
    tdev_stop(qs, t);
}

/*
 * pause: STORM_PAUSE keeps one vector from being raised again (as a
 * driver quiesces a queue whose CPUs go offline) while the others go on;
 * its message in flight stays in flight until acknowledged, and
 * STORM_RESUME lets the next tick raise it.
 */
static void test_storm_pause(void)
{
    QOSState *qs;
    uint64_t msg;
    QMsixTestdev *t = storm_running(&qs, &msg);

    qmsix_testdev_writel(t, MSIX_TESTDEV_REG_STORM_PAUSE, 2);
    for (int v = 0; v < STORM_VECTORS; v++) {
        storm_ack(t, v);
    }
    qtest_clock_step(t->qts, STORM_NS);
    for (int v = 0; v < STORM_VECTORS; v++) {
        expect_storm(t, v, v == 2 ? 1 : 2, 1, v == 2 ? 1 : 2);
    }

    qmsix_testdev_writel(t, MSIX_TESTDEV_REG_STORM_RESUME, 2);
    qtest_clock_step(t->qts, STORM_NS);
    expect_storm(t, 2, 2, 1, 2);
    g_assert_cmpuint(qmsix_testdev_readl(t, MSIX_TESTDEV_REG_ERRCNT), ==, 0);

    /* A vector beyond the table: an error, nothing paused */
    qmsix_testdev_writel(t, MSIX_TESTDEV_REG_STORM_PAUSE, 8);
    g_assert_cmpuint(qmsix_testdev_readl(t, MSIX_TESTDEV_REG_ERR), ==,
                     MSIX_TESTDEV_ERR_STORM_VECTOR);
    g_assert_cmpuint(qmsix_testdev_readl(t, MSIX_TESTDEV_REG_ERRINFO), ==, 8);
    tdev_stop(qs, t);
}

static uint32_t storm_take(QMsixTestdev *t, int v)
{
    return qmsix_testdev_readl(t, MSIX_TESTDEV_STORM_TAKE(v));
}

/*
 * take: a handler's read of STORM_TAKE takes a message only once it was
 * sent.  A second read (a spurious handler call) takes nothing; a
 * message held by its mask is not taken either, so it cannot be taken
 * twice once unmasked, as an ACK there would (the device raising again
 * while the first is still pending would merge the two in the PBA).
 */
static void test_storm_take(void)
{
    QOSState *qs;
    uint64_t msg;
    QMsixTestdev *t = storm_running(&qs, &msg);

    g_assert_cmpuint(storm_take(t, 1), ==, 1);
    g_assert_cmpuint(storm_take(t, 1), ==, 0);
    expect_storm(t, 1, 1, 1, 1);

    /* Raised again while masked: held, and not taken */
    msix_entry_mask(&t->dev, 1, true);
    qtest_clock_step(t->qts, STORM_NS);
    expect_storm(t, 1, 2, 1, 1);
    g_assert_true(qpci_msix_pending(&t->dev, 1));
    g_assert_cmpuint(storm_take(t, 1), ==, 0);
    qtest_clock_step(t->qts, 3 * STORM_NS);
    expect_storm(t, 1, 2, 1, 1);

    /* Unmasked: sent, then taken once */
    msix_entry_mask(&t->dev, 1, false);
    g_assert_cmpuint(storm_take(t, 1), ==, 1);
    g_assert_cmpuint(storm_take(t, 1), ==, 0);
    expect_storm(t, 1, 2, 2, 2);
    g_assert_cmpuint(qmsix_testdev_readl(t, MSIX_TESTDEV_REG_ERRCNT), ==, 0);

    /* A vector beyond the table: an error, reads 0 */
    g_assert_cmpuint(storm_take(t, 8), ==, 0);
    g_assert_cmpuint(qmsix_testdev_readl(t, MSIX_TESTDEV_REG_ERR), ==,
                     MSIX_TESTDEV_ERR_STORM_VECTOR);
    g_assert_cmpuint(qmsix_testdev_readl(t, MSIX_TESTDEV_REG_ERRINFO), ==, 8);
    tdev_stop(qs, t);
}

/*
 * masked: a raise of a masked vector is held in the PBA, not lost and
 * not sent; unmasking drains it (never a PBA write).  First vector 2's
 * own mask bit, then the function mask over all four at once.
 */
static void test_storm_masked(void)
{
    QOSState *qs;
    uint64_t msg;
    QMsixTestdev *t = storm_running(&qs, &msg);
    uint8_t ctrl = t->msix_cap + PCI_MSIX_FLAGS;


    msix_entry_mask(&t->dev, 2, true);
    storm_ack(t, 2);
    qtest_clock_step(t->qts, STORM_NS);
    expect_storm(t, 2, 2, 1, 1);
    g_assert_cmpint(msix_query_counter(t->qts, QMSIX_TESTDEV_ID, 2, "held"),
                    ==, 1);
    g_assert_true(qpci_msix_pending(&t->dev, 2));
    msix_entry_mask(&t->dev, 2, false);
    expect_storm(t, 2, 2, 1, 2);
    g_assert_false(qpci_msix_pending(&t->dev, 2));

    /* Function mask: vector 2 is one raise ahead of the others */
    for (int v = 0; v < STORM_VECTORS; v++) {
        storm_ack(t, v);
    }
    qpci_config_writew(&t->dev, ctrl,
                       PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
    qtest_clock_step(t->qts, STORM_NS);
    for (int v = 0; v < STORM_VECTORS; v++) {
        uint64_t n = v == 2 ? 3 : 2;

        expect_storm(t, v, n, n - 1, n - 1);
        g_assert_true(qpci_msix_pending(&t->dev, v));
    }
    qpci_config_writew(&t->dev, ctrl, PCI_MSIX_FLAGS_ENABLE);
    for (int v = 0; v < STORM_VECTORS; v++) {
        uint64_t n = v == 2 ? 3 : 2;

        expect_storm(t, v, n, n - 1, n);
        g_assert_false(qpci_msix_pending(&t->dev, v));
    }
    tdev_stop(qs, t);
}

static void check_storm_accounted(QMsixTestdev *t)
{
    for (int v = 0; v < STORM_VECTORS; v++) {
        g_assert_true(storm_accounted(t, v));
    }
}

/*
 * accounting: through acks, masks, unmasks and STORM changes, every raise
 * of every vector stays accounted for (storm_accounted()): none sent
 * twice, none lost, never two in flight.
 */
static void test_storm_accounting(void)
{
    QOSState *qs;
    uint64_t msg;
    QMsixTestdev *t = storm_running(&qs, &msg);
    uint8_t ctrl = t->msix_cap + PCI_MSIX_FLAGS;

    msix_entry_mask(&t->dev, 1, true);
    storm_ack(t, 0);
    storm_ack(t, 1);
    qtest_clock_step(t->qts, STORM_NS);
    check_storm_accounted(t);

    /* Vectors 2 and 3 leave the storm, then are acknowledged */
    qmsix_testdev_writel(t, MSIX_TESTDEV_REG_STORM, 2);
    storm_ack(t, 2);
    storm_ack(t, 3);
    qtest_clock_step(t->qts, 3 * STORM_NS);
    check_storm_accounted(t);

    msix_entry_mask(&t->dev, 1, false);
    storm_ack(t, 0);
    storm_ack(t, 1);
    qpci_config_writew(&t->dev, ctrl,
                       PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
    qtest_clock_step(t->qts, STORM_NS);
    check_storm_accounted(t);
    qmsix_testdev_writel(t, MSIX_TESTDEV_REG_STORM, 3);
    qtest_clock_step(t->qts, STORM_NS);
    check_storm_accounted(t);
    qpci_config_writew(&t->dev, ctrl, PCI_MSIX_FLAGS_ENABLE);
    check_storm_accounted(t);
    for (int v = 0; v < 3; v++) {
        storm_ack(t, v);
    }
    qtest_clock_step(t->qts, STORM_NS);
    check_storm_accounted(t);

    /* Not vacuous: the sequence above raised these */
    expect_storm(t, 0, 4, 3, 4);
    expect_storm(t, 1, 4, 3, 4);
    expect_storm(t, 2, 3, 2, 3);
    expect_storm(t, 3, 1, 1, 1);
    tdev_stop(qs, t);
}

/*
 * drop: x-storm-drop=3 loses the third raise (vector 2's first): counted
 * raised, never sent nor pending, so vector 2 stays in flight while the
 * others go on; storm_accounted() must catch exactly that vector.
 */
static void test_storm_drop(void)
{
    QOSState *qs;
    uint64_t msg;
    QMsixTestdev *t = storm_start(&qs, STORM_PROPS ",x-storm-drop=3", &msg);

    qmsix_testdev_writel(t, MSIX_TESTDEV_REG_STORM, STORM_VECTORS);
    storm_first_tick(t);
    expect_storm(t, 2, 1, 0, 0);
    g_assert_false(qpci_msix_pending(&t->dev, 2));
    for (int v = 0; v < STORM_VECTORS; v++) {
        if (v != 2) {
            storm_ack(t, v);
        }
    }
    qtest_clock_step(t->qts, STORM_NS);
    for (int v = 0; v < STORM_VECTORS; v++) {
        if (v == 2) {
            expect_storm(t, v, 1, 0, 0);
        } else {
            expect_storm(t, v, 2, 1, 2);
        }
        g_assert_cmpint(storm_accounted(t, v), ==, v != 2);
    }
    tdev_stop(qs, t);
}

/*
 * bad input: STORM beyond the vectors, ACK or SEL of no vector latch
 * ERR_STORM_VECTOR with the value and change nothing; the limits
 * themselves are accepted; a 2-byte access is ERR_REG_ACCESS.
 */
static void test_storm_bad_input(void)
{
    QOSState *qs;
    uint64_t msg;
    QMsixTestdev *t = storm_start(&qs, STORM_PROPS, &msg);
    const uint32_t nvec = 8;

    qmsix_testdev_writel(t, MSIX_TESTDEV_REG_STORM, 2);
    storm_first_tick(t);
    qmsix_testdev_writel(t, MSIX_TESTDEV_REG_STORM_SEL, 1);

    qmsix_testdev_writel(t, MSIX_TESTDEV_REG_STORM, nvec + 1);
    qmsix_testdev_expect_err(t, MSIX_TESTDEV_ERR_STORM_VECTOR, nvec + 1);
    g_assert_cmpuint(qmsix_testdev_readl(t, MSIX_TESTDEV_REG_STORM), ==, 2);
    storm_ack(t, nvec);
    qmsix_testdev_expect_err(t, MSIX_TESTDEV_ERR_STORM_VECTOR, nvec);
    qmsix_testdev_writel(t, MSIX_TESTDEV_REG_STORM_SEL, nvec);
    qmsix_testdev_expect_err(t, MSIX_TESTDEV_ERR_STORM_VECTOR, nvec);
    g_assert_cmpuint(qmsix_testdev_readl(t, MSIX_TESTDEV_REG_STORM_SEL), ==,
                     1);
    qpci_io_writew(&t->dev, t->bar, MSIX_TESTDEV_REG_STORM, 1);
    qmsix_testdev_expect_err(t, MSIX_TESTDEV_ERR_REG_ACCESS,
                             MSIX_TESTDEV_REG_STORM);
    g_assert_cmpuint(qmsix_testdev_readl(t, MSIX_TESTDEV_REG_STORM), ==, 2);
    g_assert_cmpuint(qmsix_testdev_readl(t, MSIX_TESTDEV_REG_ERRCNT), ==, 4);
    expect_storm(t, 0, 1, 0, 1);
    expect_storm(t, 1, 1, 0, 1);

    /* The limits: STORM = vectors, ACK and SEL = vectors - 1 */
    qmsix_testdev_writel(t, MSIX_TESTDEV_REG_STORM, nvec);
    g_assert_cmpuint(qmsix_testdev_readl(t, MSIX_TESTDEV_REG_STORM), ==,
                     nvec);
    storm_ack(t, nvec - 1);
    qmsix_testdev_writel(t, MSIX_TESTDEV_REG_STORM_SEL, nvec - 1);
    g_assert_cmpuint(qmsix_testdev_readl(t, MSIX_TESTDEV_REG_STORM_SEL), ==,
                     nvec - 1);
    g_assert_cmpuint(qmsix_testdev_readl(t, MSIX_TESTDEV_REG_ERRCNT), ==, 4);
    tdev_stop(qs, t);
}

/*
 * storm-interval-ns out of its range refused when the device is created,
 * with the error saying why; the limits themselves accepted.  Through
 * device_add, as for x-msi-log-size (msix-instrumentation-test.c): the
 * same realize as -device's.
 */
static void test_storm_bad_interval(void)
{
    static const struct {
        uint64_t ns;
        bool ok;
    } cases[] = {
        { 0, false },
        { 2000000000, false },
        { MSIX_TESTDEV_STORM_INTERVAL_MIN - 1, false },
        { MSIX_TESTDEV_STORM_INTERVAL_MAX + 1, false },
        { MSIX_TESTDEV_STORM_INTERVAL_MIN, true },
        { MSIX_TESTDEV_STORM_INTERVAL_MAX, true },
    };
    QTestState *qts = qtest_init("-machine pc -nodefaults");

    for (int i = 0; i < ARRAY_SIZE(cases); i++) {
        g_autofree char *id = g_strdup_printf("tdev%d", i);
        g_autofree char *want = NULL;
        QDict *resp = qtest_qmp(qts, "{'execute': 'device_add', "
                                "'arguments': {'driver': 'msix-testdev', "
                                "'id': %s, 'storm-interval-ns': %" PRIu64
                                "}}", id, cases[i].ns);

        if (cases[i].ok) {
            g_assert_true(qdict_haskey(resp, "return"));
        } else {
            want = g_strdup_printf("storm-interval-ns must be %u to %u, "
                                   "not %" PRIu64,
                                   MSIX_TESTDEV_STORM_INTERVAL_MIN,
                                   MSIX_TESTDEV_STORM_INTERVAL_MAX,
                                   cases[i].ns);
            g_assert_cmpstr(qdict_get_str(qdict_get_qdict(resp, "error"),
                                          "desc"), ==, want);
        }
        qobject_unref(resp);
    }
    qtest_quit(qts);
}

/*
 * migration: the storm comes across: STORM, SEL and the counters read the
 * same on the destination; vector 0's message, in flight unacknowledged,
 * is not raised again, vector 1's, held pending by its mask, goes out on
 * unmask there; ACKs re-arm and the migrated timer keeps ticking.  The
 * destination's x-query-msix counts from 0 (docs/msix-instrumentation.rst).
 */
static void test_storm_migration(void)
{
    QOSState *src_qs, *dst_qs;
    uint64_t msg;
    QMsixTestdev *t = storm_start(&src_qs, STORM_PROPS, &msg);
    QMsixTestdev *d;

    qmsix_testdev_writel(t, MSIX_TESTDEV_REG_STORM, 2);
    storm_first_tick(t);
    msix_entry_mask(&t->dev, 1, true);
    storm_ack(t, 1);
    qtest_clock_step(t->qts, STORM_NS);
    g_assert_true(qpci_msix_pending(&t->dev, 1));
    qtest_writel(t->qts, msg + 4, 0);
    qmsix_testdev_writel(t, MSIX_TESTDEV_REG_STORM_SEL, 1);

    d = tdev_migrate(t, &dst_qs, STORM_PROPS);
    g_assert_cmpuint(qmsix_testdev_readl(d, MSIX_TESTDEV_REG_STORM), ==, 2);
    g_assert_cmpuint(qmsix_testdev_readl(d, MSIX_TESTDEV_REG_STORM_SEL), ==,
                     1);
    /* The source's deadline, in its virtual time: long past after this */
    qtest_clock_step(d->qts, 100 * STORM_NS);
    expect_storm(d, 0, 1, 0, 0);
    expect_storm(d, 1, 2, 1, 0);
    g_assert_true(qpci_msix_pending(&d->dev, 1));

    msix_entry_mask(&d->dev, 1, false);
    g_assert_cmphex(qtest_readl(d->qts, msg + 4), ==, STORM_DATA(1));
    g_assert_false(qpci_msix_pending(&d->dev, 1));
    expect_storm(d, 1, 2, 1, 1);

    storm_ack(d, 0);
    storm_ack(d, 1);
    qtest_clock_step(d->qts, STORM_NS);
    expect_storm(d, 0, 2, 1, 1);
    expect_storm(d, 1, 3, 2, 2);
    g_assert_cmpuint(qmsix_testdev_readl(d, MSIX_TESTDEV_REG_ERRCNT), ==, 0);

    tdev_stop(dst_qs, d);
    tdev_stop(src_qs, t);
}

/* A storm under way, a vector acknowledged and raised again, SEL set */
static void storm_dirty(QMsixTestdev *t)
{
    qmsix_testdev_writel(t, MSIX_TESTDEV_REG_STORM, STORM_VECTORS);
    storm_first_tick(t);
    storm_ack(t, 1);
    qtest_clock_step(t->qts, STORM_NS);
    g_assert_cmpuint(storm_count(t, MSIX_TESTDEV_REG_STORM_RAISED, 1), ==, 2);
    qmsix_testdev_writel(t, MSIX_TESTDEV_REG_STORM_SEL, 2);
}

/* After a reset: the device enabled again, its storm stopped and zeroed */
static void expect_storm_reset(QMsixTestdev *t)
{
    qpci_device_enable(&t->dev);
    t->bar = qpci_iomap(&t->dev, MSIX_TESTDEV_BAR_REGS, NULL);
    g_assert_cmpuint(qmsix_testdev_readl(t, MSIX_TESTDEV_REG_STORM), ==, 0);
    g_assert_cmpuint(qmsix_testdev_readl(t, MSIX_TESTDEV_REG_STORM_SEL), ==,
                     0);
    qtest_clock_step(t->qts, 3 * STORM_NS);
    for (int v = 0; v < STORM_VECTORS; v++) {
        g_assert_cmpuint(storm_count(t, MSIX_TESTDEV_REG_STORM_RAISED, v),
                         ==, 0);
        g_assert_cmpuint(storm_count(t, MSIX_TESTDEV_REG_STORM_ACKED, v),
                         ==, 0);
    }
}

/*
 * reset: system_reset and FLR each stop the storm and zero STORM, SEL and
 * the counters; stepping afterwards raises nothing.
 */
static void test_storm_reset(void)
{
    QOSState *qs;
    uint64_t msg;
    QMsixTestdev *t = storm_start(&qs, STORM_PROPS, &msg);
    uint8_t exp = qpci_find_capability(&t->dev, PCI_CAP_ID_EXP, 0);

    storm_dirty(t);
    qobject_unref(qtest_qmp(t->qts, "{'execute': 'system_reset'}"));
    qtest_qmp_eventwait(t->qts, "RESET");
    expect_storm_reset(t);

    g_assert_cmphex(exp, !=, 0);
    storm_dirty(t);
    qpci_config_writew(&t->dev, exp + PCI_EXP_DEVCTL,
                       qpci_config_readw(&t->dev, exp + PCI_EXP_DEVCTL) |
                       PCI_EXP_DEVCTL_BCR_FLR);
    expect_storm_reset(t);
    tdev_stop(qs, t);
}

/*
 * `make bench` workloads (scripts/irqlab-bench), run only with -m perf.
 *
 * throughput: IRQLAB_BENCH_QUEUES pairs of 64 entries, each vector aimed at
 * its own word of RAM; IRQLAB_BENCH_ROUNDS (default 400 / queues) rounds of
 * a full batch (63 no-op commands) on every SQ, one doorbell each, then
 * every completion reaped.  Prints completions and messages per second of
 * host time; the device runs from bottom halves, with no guest CPU, so
 * TCG's speed does not enter, but qtest's round trips (one per command
 * written and per completion read) dominate.
 */
static int env_int(const char *name, int dflt)
{
    const char *v = g_getenv(name);

    return v ? atoi(v) : dflt;
}

static void bench_throughput(void)
{
    enum { ENTRIES = 64, BATCH = ENTRIES - 1 };
    int queues = env_int("IRQLAB_BENCH_QUEUES", 8);
    int rounds = env_int("IRQLAB_BENCH_ROUNDS", MAX(1, 400 / queues));
    QOSState *qs;
    QMsixTestdev *t = tdev_start(&qs, "", ",vectors=65,queues=64");
    uint64_t msg = guest_alloc(t->alloc, 4 * (queues + 1));
    g_autoptr(QDict) s = NULL;
    int64_t messages = 0;
    gint64 t0;
    double secs;

    qmsix_testdev_msix_enable(t);
    qmsix_testdev_enable_admin(t);
    for (int q = 1; q <= queues; q++) {
        msix_entry_program(&t->dev, q, msg + 4 * q, q, false);
        qmsix_testdev_create_pair_sized(t, q, q, true, ENTRIES);
    }
    t0 = g_get_monotonic_time();
    for (int r = 0; r < rounds; r++) {
        for (int q = 1; q <= queues; q++) {
            for (int i = 0; i < BATCH; i++) {
                qmsix_testdev_queue_cmd(t, q, MSIX_TESTDEV_CMD_NOOP, 0, 0, 0);
            }
            qmsix_testdev_ring_sq(t, q);
        }
        for (int q = 1; q <= queues; q++) {
            for (int i = 0; i < BATCH; i++) {
                uint16_t cid = (t->next_cid - (queues - q + 1) * BATCH + i);

                g_assert_cmphex(qmsix_testdev_reap(t, q, cid), ==,
                                MSIX_TESTDEV_SC_SUCCESS);
            }
        }
    }
    secs = (g_get_monotonic_time() - t0) / (double)G_USEC_PER_SEC;
    s = msix_query_state(t->qts, QMSIX_TESTDEV_ID);
    for (int q = 1; q <= queues; q++) {
        messages += qdict_get_int(msix_query_vector(s, q), "sent");
    }
    g_test_message("queues %d completions %d messages %" PRId64
                   " seconds %.3f", queues, rounds * queues * BATCH,
                   messages, secs);
    tdev_stop(qs, t);
}

/*
 * per-command: IRQLAB_BENCH_COMMANDS commands, one at a time, on the admin
 * queue, each completion notifying MSI-X vector 0 into guest RAM: no-ops
 * on msix-testdev, or (IRQLAB_BENCH_DEVICE=nvme) Get Features (Number of
 * Queues) on QEMU's nvme, whose admin queue has the same layout.
 */
static void bench_per_command(void)
{
    bool nvme = !g_strcmp0(g_getenv("IRQLAB_BENCH_DEVICE"), "nvme");
    int n = env_int("IRQLAB_BENCH_COMMANDS", 1000);
    QOSState *qs;
    QMsixTestdev *t;
    uint64_t msg;
    uint8_t opcode = nvme ? 0x0a : MSIX_TESTDEV_CMD_NOOP;  /* Get Features */
    uint32_t cdw10 = nvme ? 0x07 : 0;                  /* Number of Queues */

    if (nvme) {
        qs = machine_start("", "nvme", ",serial=irqlab", "");
        t = qmsix_testdev_new(qs->pcibus, &qs->alloc, QMSIX_TESTDEV_DEVFN);
    } else {
        t = tdev_start(&qs, "", ",vectors=65,queues=64");
    }
    msg = guest_alloc(t->alloc, 4);
    qmsix_testdev_msix_enable(t);
    msix_entry_program(&t->dev, 0, msg, 0x99, false);
    qmsix_testdev_enable_admin(t);
    for (int i = 0; i < n; i++) {
        qtest_writel(t->qts, msg, 0);
        g_assert_cmphex(qmsix_testdev_admin(t, opcode, cdw10, 0, 0), ==, 0);
        g_assert_cmphex(qtest_readl(t->qts, msg), ==, 0x99);
    }
    g_test_message("device %s commands %d", nvme ? "nvme" : "msix-testdev",
                   n);
    tdev_stop(qs, t);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    qtest_add_func("/msix-testdev/migration", test_migration);
    qtest_add_func("/msix-testdev/held-across-reenable-remapped",
                   test_held_across_reenable_remapped);
    qtest_add_func("/msix-testdev/storm/basic", test_storm_basic);
    qtest_add_func("/msix-testdev/storm/pause", test_storm_pause);
    qtest_add_func("/msix-testdev/storm/take", test_storm_take);
    qtest_add_func("/msix-testdev/storm/masked", test_storm_masked);
    qtest_add_func("/msix-testdev/storm/accounting", test_storm_accounting);
    qtest_add_func("/msix-testdev/storm/drop", test_storm_drop);
    qtest_add_func("/msix-testdev/storm/bad-input", test_storm_bad_input);
    qtest_add_func("/msix-testdev/storm/bad-interval",
                   test_storm_bad_interval);
    qtest_add_func("/msix-testdev/storm/migration", test_storm_migration);
    qtest_add_func("/msix-testdev/storm/reset", test_storm_reset);
    if (g_test_perf()) {
        qtest_add_func("/msix-testdev/bench/throughput", bench_throughput);
        qtest_add_func("/msix-testdev/bench/per-command", bench_per_command);
    }

    return g_test_run();
}
