/*
 * msix-testdev: queues, completions and interrupts, step by step
 *
 * Drives the device as an NVMe-style driver would (admin queue, I/O
 * queue pairs on distinct vectors, commands, completions with a phase
 * bit) and checks, at each step, guest RAM, the device's registers and
 * what x-query-msix reports.  docs/specs/msix-testdev.rst is the
 * contract; include/hw/misc/msix-testdev-regs.h the register map.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "libqtest.h"
#include "libqos/pci-pc.h"
#include "libqos/libqos-pc.h"
#include "libqos/libqos-malloc.h"
#include "qobject/qdict.h"
#include "standard-headers/linux/pci_regs.h"
#include "hw/misc/msix-testdev-regs.h"
#include "irqlab-migrate.h"
#include "msix-query.h"

#define TDEV_DEVFN      QPCI_DEVFN(4, 0)
#define TDEV_ID         "tdev"
#define ADMIN_ENTRIES   8
#define IO_ENTRIES      4
#define WAIT_US         (5 * G_USEC_PER_SEC)

typedef struct Queue {
    uint64_t base;
    uint32_t entries;
    uint32_t tail;              /* SQ: next free slot */
    uint32_t head;              /* CQ: next entry to consume */
    bool phase;                 /* CQ: phase of the next new entry */
} Queue;

typedef struct Tdev {
    QOSState *qs;
    QTestState *qts;
    QPCIDevice *dev;
    QPCIBar bar;
    uint8_t msix_cap;
    Queue sq[MSIX_TESTDEV_MAX_QUEUES + 1];
    Queue cq[MSIX_TESTDEV_MAX_QUEUES + 1];
    uint16_t next_cid;
} Tdev;

/* ------------------------------------------------------------ device */

static uint32_t rd(Tdev *t, uint32_t reg)
{
    return qpci_io_readl(t->dev, t->bar, reg);
}

static void wr(Tdev *t, uint32_t reg, uint32_t val)
{
    qpci_io_writel(t->dev, t->bar, reg, val);
}

static uint64_t alloc_queue(Tdev *t, uint32_t entries, uint32_t entry_size)
{
    uint64_t size = ROUND_UP(entries * entry_size, MSIX_TESTDEV_QUEUE_ALIGN);
    uint64_t base = guest_alloc(&t->qs->alloc,
                                size + MSIX_TESTDEV_QUEUE_ALIGN);

    base = ROUND_UP(base, MSIX_TESTDEV_QUEUE_ALIGN);
    qtest_memset(t->qts, base, 0, size);
    return base;
}

/* @device (its options, then ",id=..."), found at 04.0 */
static Tdev *device_start(const char *device, const char *props)
{
    Tdev *t = g_new0(Tdev, 1);

    t->qs = qtest_pc_boot("-machine q35 -nodefaults "
                          "-device %s,id=" TDEV_ID ",addr=04.0%s",
                          device, props);
    t->qts = t->qs->qts;
    t->dev = qpci_device_find(t->qs->pcibus, TDEV_DEVFN);
    g_assert(t->dev);
    qpci_device_enable(t->dev);
    t->bar = qpci_iomap(t->dev, MSIX_TESTDEV_BAR_REGS, NULL);
    t->msix_cap = qpci_find_capability(t->dev, PCI_CAP_ID_MSIX, 0);
    return t;
}

static Tdev *tdev_start(const char *props)
{
    Tdev *t = device_start("msix-testdev", props);

    g_assert_cmphex(qpci_config_readw(t->dev, PCI_VENDOR_ID), ==,
                    MSIX_TESTDEV_VENDOR_ID);
    g_assert_cmphex(qpci_config_readw(t->dev, PCI_DEVICE_ID), ==,
                    MSIX_TESTDEV_DEVICE_ID);
    return t;
}

static void tdev_stop(Tdev *t)
{
    g_free(t->dev);
    qtest_shutdown(t->qs);
    g_free(t);
}

/* MSI-X on, function unmasked, entry @v pointed at @addr with @data. */
static void msix_on(Tdev *t)
{
    uint32_t table = qpci_config_readl(t->dev, t->msix_cap + PCI_MSIX_TABLE);

    qpci_msix_enable(t->dev);
    /* libqos maps the table's BAR anew: nvme's is BAR 0, the registers' */
    if ((table & PCI_MSIX_TABLE_BIR) == MSIX_TESTDEV_BAR_REGS) {
        t->bar = t->dev->msix_table_bar;
    }
}

static void msix_entry(Tdev *t, int v, uint64_t addr, uint32_t data,
                       bool masked)
{
    msix_entry_set(t->dev, v, addr, data);
    msix_entry_mask(t->dev, v, masked);
}

/* ------------------------------------------------------------ queues */

static void enable_admin(Tdev *t)
{
    t->sq[0] = (Queue) { .base = alloc_queue(t, ADMIN_ENTRIES,
                                             MSIX_TESTDEV_SQE_SIZE),
                         .entries = ADMIN_ENTRIES };
    t->cq[0] = (Queue) { .base = alloc_queue(t, ADMIN_ENTRIES,
                                             MSIX_TESTDEV_CQE_SIZE),
                         .entries = ADMIN_ENTRIES, .phase = true };
    wr(t, MSIX_TESTDEV_REG_AQA, (ADMIN_ENTRIES - 1) |
       (ADMIN_ENTRIES - 1) << MSIX_TESTDEV_AQA_ACQS_SHIFT);
    wr(t, MSIX_TESTDEV_REG_ASQ, t->sq[0].base);
    wr(t, MSIX_TESTDEV_REG_ASQ + 4, t->sq[0].base >> 32);
    wr(t, MSIX_TESTDEV_REG_ACQ, t->cq[0].base);
    wr(t, MSIX_TESTDEV_REG_ACQ + 4, t->cq[0].base >> 32);
    wr(t, MSIX_TESTDEV_REG_CC, MSIX_TESTDEV_CC_EN);
    g_assert_cmphex(rd(t, MSIX_TESTDEV_REG_CSTS), ==, MSIX_TESTDEV_CSTS_RDY);
}

/* Queue a command on SQ @sqid without ringing the doorbell; its CID. */
static uint16_t queue_cmd(Tdev *t, int sqid, uint8_t opcode, uint32_t cdw10,
                          uint32_t cdw11, uint64_t prp1)
{
    Queue *sq = &t->sq[sqid];
    uint8_t sqe[MSIX_TESTDEV_SQE_SIZE] = { 0 };
    uint16_t cid = t->next_cid++;

    stl_le_p(sqe + MSIX_TESTDEV_SQE_CDW0,
             opcode | (uint32_t)cid << MSIX_TESTDEV_CDW0_CID_SHIFT);
    stq_le_p(sqe + MSIX_TESTDEV_SQE_PRP1, prp1);
    stl_le_p(sqe + MSIX_TESTDEV_SQE_CDW10, cdw10);
    stl_le_p(sqe + MSIX_TESTDEV_SQE_CDW11, cdw11);
    qtest_memwrite(t->qts, sq->base + sq->tail * sizeof(sqe), sqe,
                   sizeof(sqe));
    sq->tail = (sq->tail + 1) % sq->entries;
    return cid;
}

static void ring_sq(Tdev *t, int sqid)
{
    wr(t, MSIX_TESTDEV_SQ_TAIL_DB(sqid), t->sq[sqid].tail);
}

/*
 * Wait for the next completion on CQ @cqid (the device posts from a
 * bottom half, or a timer the caller steps), check its CID and phase,
 * consume it and return its status.  The CQ head doorbell is rung.
 */
static uint32_t reap(Tdev *t, int cqid, uint16_t cid)
{
    Queue *cq = &t->cq[cqid];
    uint64_t at = cq->base + cq->head * MSIX_TESTDEV_CQE_SIZE;
    gint64 end = g_get_monotonic_time() + WAIT_US;
    uint32_t dw3;

    do {
        dw3 = qtest_readl(t->qts, at + MSIX_TESTDEV_CQE_STATUS);
        g_assert_cmpint(g_get_monotonic_time(), <, end);
    } while (!!(dw3 & MSIX_TESTDEV_CQE_PHASE) != cq->phase);

    g_assert_cmphex(dw3 & MSIX_TESTDEV_CQE_CID_MASK, ==, cid);
    if (++cq->head == cq->entries) {
        cq->head = 0;
        cq->phase = !cq->phase;
    }
    wr(t, MSIX_TESTDEV_CQ_HEAD_DB(cqid), cq->head);
    return dw3 >> MSIX_TESTDEV_CQE_STATUS_SHIFT;
}

/* A command on queue pair @qid, run to completion; its status. */
static uint32_t run_cmd(Tdev *t, int qid, uint8_t opcode, uint32_t cdw10,
                        uint32_t cdw11, uint64_t prp1)
{
    uint16_t cid = queue_cmd(t, qid, opcode, cdw10, cdw11, prp1);

    ring_sq(t, qid);
    return reap(t, qid, cid);
}

/* An admin command, run to completion; its status. */
static uint32_t admin(Tdev *t, uint8_t opcode, uint32_t cdw10, uint32_t cdw11,
                      uint64_t prp1)
{
    return run_cmd(t, 0, opcode, cdw10, cdw11, prp1);
}

/* I/O queue pair @qid of @entries entries on vector @vector. */
/* CDW10 of a queue command, CDW11 of CREATE_SQ (docs/specs/msix-testdev.rst) */
static uint32_t queue_cdw10(uint32_t qid, uint32_t entries)
{
    return qid | (entries - 1) << MSIX_TESTDEV_CDW10_QSIZE_SHIFT;
}

static uint32_t sq_cdw11(uint32_t cqid)
{
    return cqid << MSIX_TESTDEV_CDW11_CQID_SHIFT;
}

static void create_pair_sized(Tdev *t, int qid, int vector, bool ien,
                              uint32_t entries)
{
    t->cq[qid] = (Queue) { .base = alloc_queue(t, entries,
                                               MSIX_TESTDEV_CQE_SIZE),
                           .entries = entries, .phase = true };
    t->sq[qid] = (Queue) { .base = alloc_queue(t, entries,
                                               MSIX_TESTDEV_SQE_SIZE),
                           .entries = entries };
    g_assert_cmphex(admin(t, MSIX_TESTDEV_ADMIN_CREATE_CQ,
                          queue_cdw10(qid, entries),
                          (ien ? MSIX_TESTDEV_CQ_IEN : 0) |
                          vector << MSIX_TESTDEV_CQ_IV_SHIFT,
                          t->cq[qid].base), ==, MSIX_TESTDEV_SC_SUCCESS);
    g_assert_cmphex(admin(t, MSIX_TESTDEV_ADMIN_CREATE_SQ,
                          queue_cdw10(qid, entries), sq_cdw11(qid),
                          t->sq[qid].base), ==, MSIX_TESTDEV_SC_SUCCESS);
}

static void create_pair(Tdev *t, int qid, int vector, bool ien)
{
    create_pair_sized(t, qid, vector, ien, IO_ENTRIES);
}

static int64_t sent(Tdev *t, int vector)
{
    return msix_query_counter(t->qts, TDEV_ID, vector, "sent");
}

/* ------------------------------------------------------------- tests */

static void test_identity_and_defaults(void)
{
    Tdev *t = tdev_start(",vectors=9,queues=8");
    uint64_t cap = rd(t, MSIX_TESTDEV_REG_CAP) |
                   (uint64_t)rd(t, MSIX_TESTDEV_REG_CAP + 4) << 32;

    g_assert_cmphex(qpci_config_readw(t->dev, PCI_CLASS_DEVICE), ==,
                    MSIX_TESTDEV_CLASS);
    g_assert_cmpuint(cap & MSIX_TESTDEV_CAP_MQES_MASK, ==,
                     MSIX_TESTDEV_MAX_QUEUE_ENTRIES - 1);
    g_assert_cmpuint(cap >> MSIX_TESTDEV_CAP_NQ_SHIFT &
                     MSIX_TESTDEV_CAP_NQ_MASK, ==, 8);
    g_assert_cmpuint((cap >> MSIX_TESTDEV_CAP_NV_SHIFT &
                      MSIX_TESTDEV_CAP_NV_MASK) + 1, ==, 9);
    g_assert_cmphex(rd(t, MSIX_TESTDEV_REG_VS), ==, MSIX_TESTDEV_VERSION);
    g_assert_cmphex(rd(t, MSIX_TESTDEV_REG_CSTS), ==, 0);
    g_assert_cmphex(rd(t, MSIX_TESTDEV_REG_ERR), ==, MSIX_TESTDEV_ERR_NONE);
    g_assert_cmpuint(qpci_msix_table_size(t->dev), ==, 9);

    /* 32 MSI vectors offered, one enabled: x-query-msix lists all 32. */
    {
        g_autoptr(QDict) msi = msi_query_state(t->qts, TDEV_ID, "msi");

        g_assert_cmpint(qdict_get_int(msi, "table-size"), ==,
                        MSIX_TESTDEV_MSI_VECTORS);
        g_assert_false(qdict_get_bool(msix_query_vector(msi, 31), "used"));
    }
    tdev_stop(t);
}

/*
 * NVMe-like bring-up: admin queue, N pairs on distinct vectors, each
 * vector aimed at its own word of guest RAM; a batch of commands on every
 * SQ, one doorbell each: every completion lands with the right phase, and
 * each vector gets exactly one message for its batch.  Then enough
 * batches to wrap each CQ, so the phase flips.
 */
static void test_bringup(void)
{
    enum { PAIRS = 4, BATCHES = 3, PER_BATCH = IO_ENTRIES - 1 };
    Tdev *t = tdev_start(",vectors=9,queues=8");
    uint64_t msg = guest_alloc(&t->qs->alloc, 4 * (PAIRS + 1));
    uint16_t cids[PAIRS + 1][PER_BATCH];

    msix_on(t);
    enable_admin(t);
    for (int q = 1; q <= PAIRS; q++) {
        msix_entry(t, q, msg + 4 * q, 0xa000 + q, false);
        create_pair(t, q, q, true);
    }
    for (int b = 1; b <= BATCHES; b++) {
        for (int q = 1; q <= PAIRS; q++) {
            for (int i = 0; i < PER_BATCH; i++) {
                cids[q][i] = queue_cmd(t, q, MSIX_TESTDEV_CMD_NOOP, 0, 0, 0);
            }
            ring_sq(t, q);
        }
        for (int q = 1; q <= PAIRS; q++) {
            for (int i = 0; i < PER_BATCH; i++) {
                g_assert_cmphex(reap(t, q, cids[q][i]), ==,
                                MSIX_TESTDEV_SC_SUCCESS);
            }
            g_assert_cmphex(qtest_readl(t->qts, msg + 4 * q), ==,
                            0xa000 + q);
            g_assert_cmpint(sent(t, q), ==, b);
        }
    }
    /*
     * 9 completions on 4-entry CQs: the device wrote every slot with
     * phase 1, then with phase 0, then slot 0 with phase 1 again.
     */
    for (int q = 1; q <= PAIRS; q++) {
        for (int slot = 0; slot < IO_ENTRIES; slot++) {
            uint32_t dw3 = qtest_readl(t->qts, t->cq[q].base +
                                       slot * MSIX_TESTDEV_CQE_SIZE +
                                       MSIX_TESTDEV_CQE_STATUS);

            g_assert_cmpint(!!(dw3 & MSIX_TESTDEV_CQE_PHASE), ==, slot == 0);
        }
    }
    g_assert_cmpint(sent(t, 0), ==, 0);     /* admin vector: not enabled */
    g_assert_cmphex(rd(t, MSIX_TESTDEV_REG_ERR), ==, MSIX_TESTDEV_ERR_NONE);
    tdev_stop(t);
}

/*
 * A masked vector: the completion is posted, the PBA bit set, no message;
 * unmasking sends it and clears the bit.  The function mask likewise.  A
 * CQ created without interrupts enabled never signals.
 */
static void test_masks_and_ien(void)
{
    Tdev *t = tdev_start(",vectors=9,queues=8");
    uint64_t msg = guest_alloc(&t->qs->alloc, 4);

    msix_on(t);
    enable_admin(t);
    msix_entry(t, 1, msg, 0x5a, true);
    create_pair(t, 1, 1, true);
    create_pair(t, 2, 2, false);
    msix_entry(t, 2, msg, 0x5b, false);

    g_assert_cmphex(run_cmd(t, 1, MSIX_TESTDEV_CMD_NOOP, 0, 0, 0), ==,
                    MSIX_TESTDEV_SC_SUCCESS);
    g_assert_cmphex(qtest_readl(t->qts, msg), ==, 0);
    g_assert_true(qpci_msix_pending(t->dev, 1));
    g_assert_cmpint(sent(t, 1), ==, 0);
    msix_entry_mask(t->dev, 1, false);
    g_assert_cmphex(qtest_readl(t->qts, msg), ==, 0x5a);
    g_assert_false(qpci_msix_pending(t->dev, 1));
    g_assert_cmpint(sent(t, 1), ==, 1);

    qtest_writel(t->qts, msg, 0);
    qpci_config_writew(t->dev, t->msix_cap + PCI_MSIX_FLAGS,
                       PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
    g_assert_cmphex(run_cmd(t, 1, MSIX_TESTDEV_CMD_NOOP, 0, 0, 0), ==,
                    MSIX_TESTDEV_SC_SUCCESS);
    g_assert_cmphex(qtest_readl(t->qts, msg), ==, 0);
    g_assert_true(qpci_msix_pending(t->dev, 1));
    qpci_config_writew(t->dev, t->msix_cap + PCI_MSIX_FLAGS,
                       PCI_MSIX_FLAGS_ENABLE);
    g_assert_cmphex(qtest_readl(t->qts, msg), ==, 0x5a);
    g_assert_false(qpci_msix_pending(t->dev, 1));

    /* IEN clear: completions, never a message, never pending. */
    qtest_writel(t->qts, msg, 0);
    for (int i = 0; i < 2 * IO_ENTRIES; i++) {
        g_assert_cmphex(run_cmd(t, 2, MSIX_TESTDEV_CMD_NOOP, 0, 0, 0), ==,
                        MSIX_TESTDEV_SC_SUCCESS);
    }
    g_assert_cmphex(qtest_readl(t->qts, msg), ==, 0);
    g_assert_false(qpci_msix_pending(t->dev, 2));
    g_assert_cmpint(sent(t, 2), ==, 0);
    tdev_stop(t);
}

/*
 * 2048 vectors: each raised once through RAISE, then once through an
 * interrupt-test command, each to its own word of guest RAM; the counts
 * are exact.
 */
static void test_2048_vectors(void)
{
    Tdev *t = tdev_start(",vectors=2048,queues=1");
    uint64_t msg = guest_alloc(&t->qs->alloc, 4 * 2048);
    g_autoptr(QDict) s = NULL;

    qtest_memset(t->qts, msg, 0, 4 * 2048);
    msix_on(t);
    g_assert_cmpuint(qpci_msix_table_size(t->dev), ==, 2048);
    for (int v = 0; v < 2048; v++) {
        msix_entry(t, v, msg + 4 * v, v + 1, false);
    }
    for (int v = 0; v < 2048; v++) {
        wr(t, MSIX_TESTDEV_REG_RAISE, v);
    }
    enable_admin(t);
    for (int v = 0; v < 2048; v++) {
        g_assert_cmphex(admin(t, MSIX_TESTDEV_CMD_IRQ_TEST, v, 0, 0), ==,
                        MSIX_TESTDEV_SC_SUCCESS);
    }
    for (int v = 0; v < 2048; v++) {
        g_assert_cmphex(qtest_readl(t->qts, msg + 4 * v), ==, v + 1);
    }
    s = msix_query_state(t->qts, TDEV_ID);
    for (int v = 0; v < 2048; v++) {
        /* vector 0 is also the admin CQ's: one more per admin command */
        g_assert_cmpint(qdict_get_int(msix_query_vector(s, v), "sent"), ==,
                        v == 0 ? 2 + 2048 : 2);
    }
    g_assert_cmphex(rd(t, MSIX_TESTDEV_REG_ERR), ==, MSIX_TESTDEV_ERR_NONE);
    tdev_stop(t);
}

/* With MSI-X off: MSI; with both off, INTx (PCI status bit 3). */
static void test_msi_and_intx(void)
{
    Tdev *t = tdev_start(",msix=off,vectors=4,queues=2");
    uint64_t msg = guest_alloc(&t->qs->alloc, 4);
    uint8_t cap = qpci_find_capability(t->dev, PCI_CAP_ID_MSI, 0);
    uint16_t cid;

    g_assert_cmphex(t->msix_cap, ==, 0);
    qpci_config_writel(t->dev, cap + PCI_MSI_ADDRESS_LO, msg);
    qpci_config_writel(t->dev, cap + PCI_MSI_ADDRESS_HI, msg >> 32);
    qpci_config_writew(t->dev, cap + PCI_MSI_DATA_64, 0x77);
    qpci_config_writew(t->dev, cap + PCI_MSI_FLAGS,
                       qpci_config_readw(t->dev, cap + PCI_MSI_FLAGS) |
                       PCI_MSI_FLAGS_ENABLE);
    enable_admin(t);
    g_assert_cmphex(run_cmd(t, 0, MSIX_TESTDEV_CMD_NOOP, 0, 0, 0), ==,
                    MSIX_TESTDEV_SC_SUCCESS);
    g_assert_cmphex(qtest_readl(t->qts, msg), ==, 0x77);

    /* INTMS holds MSI vector 0; INTMC releases it. */
    qtest_writel(t->qts, msg, 0);
    wr(t, MSIX_TESTDEV_REG_INTMS, 1);
    wr(t, MSIX_TESTDEV_REG_RAISE, 0);
    g_assert_cmphex(qtest_readl(t->qts, msg), ==, 0);
    wr(t, MSIX_TESTDEV_REG_INTMC, 1);
    g_assert_cmphex(qtest_readl(t->qts, msg), ==, 0x77);
    tdev_stop(t);

    t = tdev_start(",msix=off,msi=off,queues=2");
    g_assert_false(qpci_config_readw(t->dev, PCI_STATUS) &
                   PCI_STATUS_INTERRUPT);
    enable_admin(t);
    cid = queue_cmd(t, 0, MSIX_TESTDEV_CMD_NOOP, 0, 0, 0);
    ring_sq(t, 0);
    {
        /* level while the completion is unconsumed */
        Queue *cq = &t->cq[0];
        uint64_t at = cq->base + MSIX_TESTDEV_CQE_STATUS;
        gint64 end = g_get_monotonic_time() + WAIT_US;

        while (!(qtest_readl(t->qts, at) & MSIX_TESTDEV_CQE_PHASE)) {
            g_assert_cmpint(g_get_monotonic_time(), <, end);
        }
    }
    g_assert_true(qpci_config_readw(t->dev, PCI_STATUS) &
                  PCI_STATUS_INTERRUPT);
    g_assert_cmphex(reap(t, 0, cid), ==, MSIX_TESTDEV_SC_SUCCESS);
    g_assert_false(qpci_config_readw(t->dev, PCI_STATUS) &
                   PCI_STATUS_INTERRUPT);
    tdev_stop(t);
}

/* Each bad input: its error, and the device still works afterwards. */
static void expect_err(Tdev *t, uint32_t code, uint32_t info)
{
    g_assert_cmpuint(rd(t, MSIX_TESTDEV_REG_ERR), ==, code);
    g_assert_cmphex(rd(t, MSIX_TESTDEV_REG_ERRINFO), ==, info);
    wr(t, MSIX_TESTDEV_REG_ERR, 0);
    g_assert_cmpuint(rd(t, MSIX_TESTDEV_REG_ERR), ==, MSIX_TESTDEV_ERR_NONE);
}

static void test_bad_input(void)
{
    Tdev *t = tdev_start(",vectors=4,queues=2");
    uint64_t unmapped = 0xf00000000ULL;     /* above RAM, no device */

    /* Before enable */
    wr(t, MSIX_TESTDEV_SQ_TAIL_DB(0), 1);
    expect_err(t, MSIX_TESTDEV_ERR_NOT_ENABLED, MSIX_TESTDEV_SQ_TAIL_DB(0));
    wr(t, MSIX_TESTDEV_REG_CC, MSIX_TESTDEV_CC_EN);     /* AQA etc. zero */
    expect_err(t, MSIX_TESTDEV_ERR_ADMIN_QUEUES, 0);
    g_assert_cmphex(rd(t, MSIX_TESTDEV_REG_CSTS), ==, 0);
    wr(t, MSIX_TESTDEV_REG_CC, 0);

    /* Register accesses */
    qpci_io_writeb(t->dev, t->bar, MSIX_TESTDEV_REG_CC, 1);
    expect_err(t, MSIX_TESTDEV_ERR_REG_ACCESS, MSIX_TESTDEV_REG_CC);
    qpci_io_writel(t->dev, t->bar, MSIX_TESTDEV_REG_CC + 2, 1);
    expect_err(t, MSIX_TESTDEV_ERR_REG_ACCESS, MSIX_TESTDEV_REG_CC + 2);
    wr(t, MSIX_TESTDEV_REG_VS, 1);
    expect_err(t, MSIX_TESTDEV_ERR_REG_ACCESS, MSIX_TESTDEV_REG_VS);
    g_assert_cmphex(rd(t, MSIX_TESTDEV_REG_VS), ==, MSIX_TESTDEV_VERSION);
    rd(t, 0x18);
    expect_err(t, MSIX_TESTDEV_ERR_REG_ACCESS, 0x18);
    wr(t, MSIX_TESTDEV_REG_RAISE, 4);
    expect_err(t, MSIX_TESTDEV_ERR_RAISE_VECTOR, 4);

    enable_admin(t);
    /* Doorbells */
    wr(t, MSIX_TESTDEV_SQ_TAIL_DB(2), 0);
    expect_err(t, MSIX_TESTDEV_ERR_DB_QUEUE, MSIX_TESTDEV_SQ_TAIL_DB(2));
    wr(t, MSIX_TESTDEV_SQ_TAIL_DB(0), ADMIN_ENTRIES);
    expect_err(t, MSIX_TESTDEV_ERR_DB_VALUE, ADMIN_ENTRIES);

    /* Commands */
    g_assert_cmphex(admin(t, 0x7f, 0, 0, 0), ==,
                    MSIX_TESTDEV_SC_INVALID_OPCODE);
    g_assert_cmphex(admin(t, MSIX_TESTDEV_ADMIN_CREATE_CQ,
                          queue_cdw10(3, IO_ENTRIES), 0, 0x100000), ==,
                    MSIX_TESTDEV_SC_INVALID_QID);
    g_assert_cmphex(admin(t, MSIX_TESTDEV_ADMIN_CREATE_CQ,
                          1 | (1u << 30), 0, 0x100000), ==,
                    MSIX_TESTDEV_SC_INVALID_QSIZE);
    g_assert_cmphex(admin(t, MSIX_TESTDEV_ADMIN_CREATE_CQ,
                          queue_cdw10(1, IO_ENTRIES), 0, 0x100010), ==,
                    MSIX_TESTDEV_SC_INVALID_FIELD);
    g_assert_cmphex(admin(t, MSIX_TESTDEV_ADMIN_CREATE_CQ,
                          queue_cdw10(1, IO_ENTRIES),
                          4 << MSIX_TESTDEV_CQ_IV_SHIFT, 0x100000), ==,
                    MSIX_TESTDEV_SC_INVALID_VECTOR);
    g_assert_cmphex(admin(t, MSIX_TESTDEV_ADMIN_CREATE_SQ,
                          queue_cdw10(1, IO_ENTRIES), sq_cdw11(1),
                          0x100000), ==,
                    MSIX_TESTDEV_SC_CQ_INVALID);
    g_assert_cmphex(admin(t, MSIX_TESTDEV_CMD_IRQ_TEST, 4, 0, 0), ==,
                    MSIX_TESTDEV_SC_INVALID_VECTOR);
    create_pair(t, 1, 1, true);
    g_assert_cmphex(admin(t, MSIX_TESTDEV_ADMIN_DELETE_CQ, 1, 0, 0), ==,
                    MSIX_TESTDEV_SC_INVALID_DELETE);
    g_assert_cmphex(run_cmd(t, 1, MSIX_TESTDEV_ADMIN_CREATE_CQ, 2, 0, 0), ==,
                    MSIX_TESTDEV_SC_INVALID_OPCODE);
    g_assert_cmphex(rd(t, MSIX_TESTDEV_REG_ERR), ==, MSIX_TESTDEV_ERR_NONE);

    /* A CQ head moved past what the device posted */
    wr(t, MSIX_TESTDEV_CQ_HEAD_DB(1), (t->cq[1].head + 1) % IO_ENTRIES);
    expect_err(t, MSIX_TESTDEV_ERR_DB_VALUE, (t->cq[1].head + 1) % IO_ENTRIES);

    /* DMA: a command from an SQ the host placed in no memory */
    g_assert_cmphex(admin(t, MSIX_TESTDEV_ADMIN_CREATE_SQ,
                          queue_cdw10(2, IO_ENTRIES), sq_cdw11(1),
                          unmapped), ==,
                    MSIX_TESTDEV_SC_SUCCESS);
    wr(t, MSIX_TESTDEV_SQ_TAIL_DB(2), 1);
    g_assert_cmphex(reap(t, 1, MSIX_TESTDEV_CID_NONE), ==,
                    MSIX_TESTDEV_SC_DATA_TRANSFER);
    expect_err(t, MSIX_TESTDEV_ERR_DMA, 2);

    /* ... and it still works */
    g_assert_cmphex(admin(t, MSIX_TESTDEV_CMD_NOOP, 0, 0, 0), ==,
                    MSIX_TESTDEV_SC_SUCCESS);
    g_assert_cmpuint(rd(t, MSIX_TESTDEV_REG_ERRCNT), ==, 11);   /* above */
    tdev_stop(t);
}

/* Reset and FLR: every register back to its documented default. */
static void check_defaults(Tdev *t)
{
    g_assert_cmphex(rd(t, MSIX_TESTDEV_REG_CC), ==, 0);
    g_assert_cmphex(rd(t, MSIX_TESTDEV_REG_CSTS), ==, 0);
    g_assert_cmphex(rd(t, MSIX_TESTDEV_REG_AQA), ==, 0);
    g_assert_cmphex(rd(t, MSIX_TESTDEV_REG_ASQ), ==, 0);
    g_assert_cmphex(rd(t, MSIX_TESTDEV_REG_ACQ), ==, 0);
    g_assert_cmphex(rd(t, MSIX_TESTDEV_REG_INTMS), ==, 0);
    g_assert_cmphex(rd(t, MSIX_TESTDEV_REG_ERR), ==, 0);
    g_assert_cmphex(rd(t, MSIX_TESTDEV_REG_ERRINFO), ==, 0);
    g_assert_cmphex(rd(t, MSIX_TESTDEV_REG_ERRCNT), ==, 0);
}

static void dirty_registers(Tdev *t)
{
    enable_admin(t);
    wr(t, MSIX_TESTDEV_REG_INTMS, 3);
    wr(t, MSIX_TESTDEV_REG_RAISE, 1000);    /* latch an error */
    g_assert_cmpuint(rd(t, MSIX_TESTDEV_REG_ERRCNT), ==, 1);
}

static void test_reset_and_flr(void)
{
    Tdev *t = tdev_start(",vectors=4,queues=2");
    uint8_t exp = qpci_find_capability(t->dev, PCI_CAP_ID_EXP, 0);

    dirty_registers(t);
    qobject_unref(qtest_qmp(t->qts, "{'execute': 'system_reset'}"));
    qtest_qmp_eventwait(t->qts, "RESET");
    qpci_device_enable(t->dev);
    t->bar = qpci_iomap(t->dev, MSIX_TESTDEV_BAR_REGS, NULL);
    check_defaults(t);

    /* FLR through the PCI Express capability */
    g_assert_cmphex(exp, !=, 0);
    dirty_registers(t);
    qpci_config_writew(t->dev, exp + PCI_EXP_DEVCTL,
                       qpci_config_readw(t->dev, exp + PCI_EXP_DEVCTL) |
                       PCI_EXP_DEVCTL_BCR_FLR);
    qpci_device_enable(t->dev);
    t->bar = qpci_iomap(t->dev, MSIX_TESTDEV_BAR_REGS, NULL);
    check_defaults(t);
    tdev_stop(t);
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
    g_autofree char *dir = g_dir_make_tmp("msix-testdev-XXXXXX", NULL);
    g_autofree char *uri = g_strdup_printf("file:%s/state", dir);
    g_autofree char *state = g_strdup_printf("%s/state", dir);
    Tdev *t = tdev_start(props);
    Tdev *d = g_new0(Tdev, 1);
    uint64_t msg = guest_alloc(&t->qs->alloc, 4);
    uint16_t first, cids[2];

    msix_on(t);
    msix_entry(t, 1, msg, 0x4d, true);
    enable_admin(t);
    qtest_clock_step(t->qts, 1000000);          /* nothing queued yet */
    t->cq[1] = (Queue) { .base = alloc_queue(t, IO_ENTRIES,
                                             MSIX_TESTDEV_CQE_SIZE),
                         .entries = IO_ENTRIES, .phase = true };
    t->sq[1] = (Queue) { .base = alloc_queue(t, IO_ENTRIES,
                                             MSIX_TESTDEV_SQE_SIZE),
                         .entries = IO_ENTRIES };
    first = queue_cmd(t, 0, MSIX_TESTDEV_ADMIN_CREATE_CQ,
                      queue_cdw10(1, IO_ENTRIES),
                      MSIX_TESTDEV_CQ_IEN | 1 << MSIX_TESTDEV_CQ_IV_SHIFT,
                      t->cq[1].base);
    ring_sq(t, 0);
    qtest_clock_step(t->qts, 1000000);
    g_assert_cmphex(reap(t, 0, first), ==, MSIX_TESTDEV_SC_SUCCESS);
    first = queue_cmd(t, 0, MSIX_TESTDEV_ADMIN_CREATE_SQ,
                      queue_cdw10(1, IO_ENTRIES), sq_cdw11(1), t->sq[1].base);
    ring_sq(t, 0);
    qtest_clock_step(t->qts, 1000000);
    g_assert_cmphex(reap(t, 0, first), ==, MSIX_TESTDEV_SC_SUCCESS);

    /* One completion with vector 1 masked: pending in the PBA. */
    first = queue_cmd(t, 1, MSIX_TESTDEV_CMD_NOOP, 0, 0, 0);
    ring_sq(t, 1);
    qtest_clock_step(t->qts, 1000000);
    g_assert_cmphex(reap(t, 1, first), ==, MSIX_TESTDEV_SC_SUCCESS);
    g_assert_true(qpci_msix_pending(t->dev, 1));
    /* Two more submitted, their completions not yet due. */
    cids[0] = queue_cmd(t, 1, MSIX_TESTDEV_CMD_NOOP, 0, 0, 0);
    cids[1] = queue_cmd(t, 1, MSIX_TESTDEV_CMD_NOOP, 0, 0, 0);
    ring_sq(t, 1);

    /* The destination: same devices, the guest's view carried over. */
    d->qs = qtest_pc_boot("-machine q35 -nodefaults -device msix-testdev,id="
                          TDEV_ID ",addr=04.0%s -incoming defer", props);
    d->qts = d->qs->qts;
    migrate_through_file(t->qts, d->qts, uri);
    d->dev = qpci_device_find(d->qs->pcibus, TDEV_DEVFN);
    msix_copy_mapping(d->dev, t->dev);
    d->bar = t->bar;
    memcpy(d->sq, t->sq, sizeof(d->sq));
    memcpy(d->cq, t->cq, sizeof(d->cq));

    g_assert_true(qpci_msix_pending(d->dev, 1));
    g_assert_cmphex(qtest_readl(d->qts, msg), ==, 0);
    /*
     * The timer came with its deadline in the source's virtual time;
     * qtest's clock is not migrated and starts again from 0 here.
     */
    qtest_clock_step(d->qts, 100 * 1000000);
    g_assert_cmphex(reap(d, 1, cids[0]), ==, MSIX_TESTDEV_SC_SUCCESS);
    g_assert_cmphex(reap(d, 1, cids[1]), ==, MSIX_TESTDEV_SC_SUCCESS);
    g_assert_cmphex(qtest_readl(d->qts, msg), ==, 0);
    msix_entry_mask(d->dev, 1, false);
    g_assert_cmphex(qtest_readl(d->qts, msg), ==, 0x4d);
    g_assert_false(qpci_msix_pending(d->dev, 1));
    g_assert_cmpint(sent(d, 1), ==, 1);
    g_assert_cmphex(rd(d, MSIX_TESTDEV_REG_ERR), ==, MSIX_TESTDEV_ERR_NONE);

    tdev_stop(d);
    tdev_stop(t);
    unlink(state);
    rmdir(dir);
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
    Tdev *t = tdev_start(",vectors=65,queues=64");
    uint64_t msg = guest_alloc(&t->qs->alloc, 4 * (queues + 1));
    g_autoptr(QDict) s = NULL;
    int64_t messages = 0;
    gint64 t0;
    double secs;

    msix_on(t);
    enable_admin(t);
    for (int q = 1; q <= queues; q++) {
        msix_entry(t, q, msg + 4 * q, q, false);
        create_pair_sized(t, q, q, true, ENTRIES);
    }
    t0 = g_get_monotonic_time();
    for (int r = 0; r < rounds; r++) {
        for (int q = 1; q <= queues; q++) {
            for (int i = 0; i < BATCH; i++) {
                queue_cmd(t, q, MSIX_TESTDEV_CMD_NOOP, 0, 0, 0);
            }
            ring_sq(t, q);
        }
        for (int q = 1; q <= queues; q++) {
            for (int i = 0; i < BATCH; i++) {
                uint16_t cid = (t->next_cid - (queues - q + 1) * BATCH + i);

                g_assert_cmphex(reap(t, q, cid), ==, MSIX_TESTDEV_SC_SUCCESS);
            }
        }
    }
    secs = (g_get_monotonic_time() - t0) / (double)G_USEC_PER_SEC;
    s = msix_query_state(t->qts, TDEV_ID);
    for (int q = 1; q <= queues; q++) {
        messages += qdict_get_int(msix_query_vector(s, q), "sent");
    }
    g_test_message("queues %d completions %d messages %" PRId64
                   " seconds %.3f", queues, rounds * queues * BATCH,
                   messages, secs);
    tdev_stop(t);
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
    Tdev *t = nvme ? device_start("nvme", ",serial=irqlab")
                   : tdev_start(",vectors=65,queues=64");
    uint64_t msg = guest_alloc(&t->qs->alloc, 4);
    uint8_t opcode = nvme ? 0x0a : MSIX_TESTDEV_CMD_NOOP;  /* Get Features */
    uint32_t cdw10 = nvme ? 0x07 : 0;                  /* Number of Queues */

    msix_on(t);
    msix_entry(t, 0, msg, 0x99, false);
    enable_admin(t);
    for (int i = 0; i < n; i++) {
        qtest_writel(t->qts, msg, 0);
        g_assert_cmphex(admin(t, opcode, cdw10, 0, 0), ==, 0);
        g_assert_cmphex(qtest_readl(t->qts, msg), ==, 0x99);
    }
    g_test_message("device %s commands %d", nvme ? "nvme" : "msix-testdev",
                   n);
    tdev_stop(t);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    qtest_add_func("/msix-testdev/identity", test_identity_and_defaults);
    qtest_add_func("/msix-testdev/bringup", test_bringup);
    qtest_add_func("/msix-testdev/masks-and-ien", test_masks_and_ien);
    qtest_add_func("/msix-testdev/2048-vectors", test_2048_vectors);
    qtest_add_func("/msix-testdev/msi-and-intx", test_msi_and_intx);
    qtest_add_func("/msix-testdev/bad-input", test_bad_input);
    qtest_add_func("/msix-testdev/reset-and-flr", test_reset_and_flr);
    qtest_add_func("/msix-testdev/migration", test_migration);
    if (g_test_perf()) {
        qtest_add_func("/msix-testdev/bench/throughput", bench_throughput);
        qtest_add_func("/msix-testdev/bench/per-command", bench_per_command);
    }

    return g_test_run();
}
