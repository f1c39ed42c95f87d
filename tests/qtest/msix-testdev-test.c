/*
 * msix-testdev: migration mid-run, a held message through interrupt
 * remapping, and the `make bench` workloads
 *
 * The tests of the device that start machines of their own: a migration
 * source and destination, a machine with intel-iommu's interrupt
 * remapping, or nvme next to msix-testdev for `make bench`.
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

    /*
     * The destination: same devices, the guest's view carried over (the
     * device's mappings and queues: a copy of the driver's state, on the
     * destination's bus).
     */
    dst_qs = machine_start("", "msix-testdev", props, " -incoming defer");
    migrate_through_file(t->qts, dst_qs->qts);
    d = g_memdup2(t, sizeof(*t));
    d->dev.bus = dst_qs->pcibus;
    d->qts = dst_qs->qts;
    d->alloc = &dst_qs->alloc;

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
    if (g_test_perf()) {
        qtest_add_func("/msix-testdev/bench/throughput", bench_throughput);
        qtest_add_func("/msix-testdev/bench/per-command", bench_per_command);
    }

    return g_test_run();
}
