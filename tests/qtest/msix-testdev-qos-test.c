/*
 * msix-testdev: queues, completions and interrupts, step by step
 *
 * Drives the device as an NVMe-style driver would (admin queue, I/O
 * queue pairs on distinct vectors, commands, completions with a phase
 * bit) and checks, at each step, guest RAM, the device's registers and
 * what x-query-msix reports.  docs/specs/msix-testdev.rst is the
 * contract; include/hw/misc/msix-testdev-regs.h the register map.
 *
 * Tests of the qgraph node "msix-testdev" (libqos/msix-testdev.h), run by
 * qos-test on every machine with a PCI bus; the options each test gives
 * the device are in msix_testdev_register_tests().  qos-test keeps QEMU
 * running between tests of the same command line and resets the
 * machine, which leaves guest RAM as it was: tests zero the words they
 * expect messages in.  Migration and the `make bench` workloads start
 * their own machines: msix-testdev-test.c.
 *
 * Copyright (c) 2026 irqlab developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/module.h"
#include "libqtest.h"
#include "libqos/qgraph.h"
#include "libqos/msix-testdev.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include "hw/i386/x86-msi.h"
#include "standard-headers/linux/pci_regs.h"
#include "msix-entry.h"
#include "msix-query.h"

/* @bytes of guest RAM for messages, zeroed */
static uint64_t msg_alloc(QMsixTestdev *t, size_t bytes)
{
    uint64_t msg = guest_alloc(t->alloc, bytes);

    qtest_memset(t->qts, msg, 0, bytes);
    return msg;
}

/* Messages vector @vector sent since reset, as x-query-msix counts them */
static int64_t sent(QMsixTestdev *t, int vector)
{
    return msix_query_counter(t->qts, QMSIX_TESTDEV_ID, vector, "sent");
}

/* Bus Master Enable, command register bit 2 */
static void set_bus_master(QMsixTestdev *t, bool on)
{
    uint16_t cmd = qpci_config_readw(&t->dev, PCI_COMMAND);

    qpci_config_writew(&t->dev, PCI_COMMAND,
                       on ? cmd | PCI_COMMAND_MASTER
                          : cmd & ~PCI_COMMAND_MASTER);
}

/*
 * Capability @cap's vector @vector as x-query-msix reports it: its
 * counters sent, held, dropped (none) and dropped-bus-master, and the
 * capability's bus-master flag and dropped-bus-master total.
 */
static void check_counts(QMsixTestdev *t, const char *cap, int vector,
                         int64_t sent, int64_t held, int64_t dropped_bm,
                         bool bus_master)
{
    g_autoptr(QDict) s = msi_query_state(t->qts, QMSIX_TESTDEV_ID, cap);
    QDict *v = msix_query_vector(s, vector);

    g_assert_cmpint(qdict_get_int(v, "sent"), ==, sent);
    g_assert_cmpint(qdict_get_int(v, "held"), ==, held);
    g_assert_cmpint(qdict_get_int(v, "dropped"), ==, 0);
    g_assert_true(qdict_haskey(v, "dropped-bus-master"));
    g_assert_cmpint(qdict_get_int(v, "dropped-bus-master"), ==, dropped_bm);
    g_assert_cmpint(qdict_get_int(s, "dropped-bus-master"), ==, dropped_bm);
    g_assert_cmpint(qdict_get_bool(s, "bus-master"), ==, bus_master);
}

/* The message logged as event @seq: @address, @data */
static void check_logged_message(QMsixTestdev *t, int64_t seq,
                                 uint64_t address, uint32_t data)
{
    g_autoptr(QDict) resp = msix_qmp_ok(t->qts, "x-query-msix-log",
                                        QMSIX_TESTDEV_ID, seq);
    QList *entries = qdict_get_qlist(qdict_get_qdict(resp, "return"),
                                     "entries");
    QDict *ev = qobject_to(QDict, qlist_peek(entries));

    g_assert_cmpuint(qdict_get_int(ev, "address"), ==, address);
    g_assert_cmphex(qdict_get_int(ev, "data"), ==, data);
}

static void test_identity_and_defaults(void *obj, void *data,
                                       QGuestAllocator *alloc)
{
    QMsixTestdev *t = obj;
    uint64_t cap = qmsix_testdev_readl(t, MSIX_TESTDEV_REG_CAP) |
                   (uint64_t)qmsix_testdev_readl(t, MSIX_TESTDEV_REG_CAP + 4)
                   << 32;

    g_assert_cmphex(qpci_config_readw(&t->dev, PCI_VENDOR_ID), ==,
                    MSIX_TESTDEV_VENDOR_ID);
    g_assert_cmphex(qpci_config_readw(&t->dev, PCI_DEVICE_ID), ==,
                    MSIX_TESTDEV_DEVICE_ID);
    g_assert_cmphex(qpci_config_readw(&t->dev, PCI_CLASS_DEVICE), ==,
                    MSIX_TESTDEV_CLASS);
    g_assert_cmpuint(cap & MSIX_TESTDEV_CAP_MQES_MASK, ==,
                     MSIX_TESTDEV_MAX_QUEUE_ENTRIES - 1);
    g_assert_cmpuint(cap >> MSIX_TESTDEV_CAP_NQ_SHIFT &
                     MSIX_TESTDEV_CAP_NQ_MASK, ==, 8);
    g_assert_cmpuint((cap >> MSIX_TESTDEV_CAP_NV_SHIFT &
                      MSIX_TESTDEV_CAP_NV_MASK) + 1, ==, 9);
    g_assert_cmphex(qmsix_testdev_readl(t, MSIX_TESTDEV_REG_VS), ==,
                    MSIX_TESTDEV_VERSION);
    g_assert_cmphex(qmsix_testdev_readl(t, MSIX_TESTDEV_REG_CSTS), ==, 0);
    g_assert_cmphex(qmsix_testdev_readl(t, MSIX_TESTDEV_REG_ERR), ==,
                    MSIX_TESTDEV_ERR_NONE);
    g_assert_cmpuint(qpci_msix_table_size(&t->dev), ==, 9);

    /* 32 MSI vectors offered, one enabled: x-query-msix lists all 32. */
    {
        g_autoptr(QDict) msi = msi_query_state(t->qts, QMSIX_TESTDEV_ID,
                                               "msi");

        g_assert_cmpint(qdict_get_int(msi, "table-size"), ==,
                        MSIX_TESTDEV_MSI_VECTORS);
        g_assert_false(qdict_get_bool(msix_query_vector(msi, 31), "used"));
    }
}

/*
 * NVMe-like bring-up: admin queue, N pairs on distinct vectors, each
 * vector aimed at its own word of guest RAM; a batch of commands on every
 * SQ, one doorbell each: every completion lands with the right phase, and
 * each vector gets exactly one message for its batch.  Then enough
 * batches to wrap each CQ, so the phase flips.
 */
static void test_bringup(void *obj, void *data, QGuestAllocator *alloc)
{
    enum { PAIRS = 4, BATCHES = 3, PER_BATCH = QMSIX_TESTDEV_IO_ENTRIES - 1 };
    QMsixTestdev *t = obj;
    uint64_t msg = msg_alloc(t, 4 * (PAIRS + 1));
    uint16_t cids[PAIRS + 1][PER_BATCH];

    qmsix_testdev_msix_enable(t);
    qmsix_testdev_enable_admin(t);
    for (int q = 1; q <= PAIRS; q++) {
        msix_entry_program(&t->dev, q, msg + 4 * q, 0xa000 + q, false);
        qmsix_testdev_create_pair(t, q, q, true);
    }
    for (int b = 1; b <= BATCHES; b++) {
        for (int q = 1; q <= PAIRS; q++) {
            for (int i = 0; i < PER_BATCH; i++) {
                cids[q][i] = qmsix_testdev_queue_cmd(t, q,
                                                     MSIX_TESTDEV_CMD_NOOP,
                                                     0, 0, 0);
            }
            qmsix_testdev_ring_sq(t, q);
        }
        for (int q = 1; q <= PAIRS; q++) {
            for (int i = 0; i < PER_BATCH; i++) {
                g_assert_cmphex(qmsix_testdev_reap(t, q, cids[q][i]), ==,
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
        for (int slot = 0; slot < QMSIX_TESTDEV_IO_ENTRIES; slot++) {
            uint32_t dw3 = qtest_readl(t->qts, t->cq[q].base +
                                       slot * MSIX_TESTDEV_CQE_SIZE +
                                       MSIX_TESTDEV_CQE_STATUS);

            g_assert_cmpint(!!(dw3 & MSIX_TESTDEV_CQE_PHASE), ==, slot == 0);
        }
    }
    g_assert_cmpint(sent(t, 0), ==, 0);     /* admin vector: not enabled */
    g_assert_cmphex(qmsix_testdev_readl(t, MSIX_TESTDEV_REG_ERR), ==,
                    MSIX_TESTDEV_ERR_NONE);
}

/*
 * A masked vector: the completion is posted, the PBA bit set, no message;
 * unmasking sends it and clears the bit.  The function mask likewise.  A
 * CQ created without interrupts enabled never signals.
 */
static void test_masks_and_ien(void *obj, void *data, QGuestAllocator *alloc)
{
    QMsixTestdev *t = obj;
    uint64_t msg = msg_alloc(t, 4);

    qmsix_testdev_msix_enable(t);
    qmsix_testdev_enable_admin(t);
    msix_entry_program(&t->dev, 1, msg, 0x5a, true);
    qmsix_testdev_create_pair(t, 1, 1, true);
    qmsix_testdev_create_pair(t, 2, 2, false);
    msix_entry_program(&t->dev, 2, msg, 0x5b, false);

    g_assert_cmphex(qmsix_testdev_run_cmd(t, 1, MSIX_TESTDEV_CMD_NOOP,
                                          0, 0, 0), ==,
                    MSIX_TESTDEV_SC_SUCCESS);
    g_assert_cmphex(qtest_readl(t->qts, msg), ==, 0);
    g_assert_true(qpci_msix_pending(&t->dev, 1));
    g_assert_cmpint(sent(t, 1), ==, 0);
    msix_entry_mask(&t->dev, 1, false);
    g_assert_cmphex(qtest_readl(t->qts, msg), ==, 0x5a);
    g_assert_false(qpci_msix_pending(&t->dev, 1));
    g_assert_cmpint(sent(t, 1), ==, 1);

    qtest_writel(t->qts, msg, 0);
    qpci_config_writew(&t->dev, t->msix_cap + PCI_MSIX_FLAGS,
                       PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
    g_assert_cmphex(qmsix_testdev_run_cmd(t, 1, MSIX_TESTDEV_CMD_NOOP,
                                          0, 0, 0), ==,
                    MSIX_TESTDEV_SC_SUCCESS);
    g_assert_cmphex(qtest_readl(t->qts, msg), ==, 0);
    g_assert_true(qpci_msix_pending(&t->dev, 1));
    qpci_config_writew(&t->dev, t->msix_cap + PCI_MSIX_FLAGS,
                       PCI_MSIX_FLAGS_ENABLE);
    g_assert_cmphex(qtest_readl(t->qts, msg), ==, 0x5a);
    g_assert_false(qpci_msix_pending(&t->dev, 1));

    /* IEN clear: completions, never a message, never pending. */
    qtest_writel(t->qts, msg, 0);
    for (int i = 0; i < 2 * QMSIX_TESTDEV_IO_ENTRIES; i++) {
        g_assert_cmphex(qmsix_testdev_run_cmd(t, 2, MSIX_TESTDEV_CMD_NOOP,
                                              0, 0, 0), ==,
                        MSIX_TESTDEV_SC_SUCCESS);
    }
    g_assert_cmphex(qtest_readl(t->qts, msg), ==, 0);
    g_assert_false(qpci_msix_pending(&t->dev, 2));
    g_assert_cmpint(sent(t, 2), ==, 0);
}

/*
 * 2048 vectors: each raised once through RAISE, then once through an
 * interrupt-test command, each to its own word of guest RAM; the counts
 * are exact.
 */
static void test_2048_vectors(void *obj, void *data, QGuestAllocator *alloc)
{
    QMsixTestdev *t = obj;
    uint64_t msg = msg_alloc(t, 4 * 2048);
    g_autoptr(QDict) s = NULL;

    qmsix_testdev_msix_enable(t);
    g_assert_cmpuint(qpci_msix_table_size(&t->dev), ==, 2048);
    for (int v = 0; v < 2048; v++) {
        msix_entry_program(&t->dev, v, msg + 4 * v, v + 1, false);
    }
    for (int v = 0; v < 2048; v++) {
        qmsix_testdev_writel(t, MSIX_TESTDEV_REG_RAISE, v);
    }
    qmsix_testdev_enable_admin(t);
    for (int v = 0; v < 2048; v++) {
        g_assert_cmphex(qmsix_testdev_admin(t, MSIX_TESTDEV_CMD_IRQ_TEST, v,
                                            0, 0), ==,
                        MSIX_TESTDEV_SC_SUCCESS);
    }
    for (int v = 0; v < 2048; v++) {
        g_assert_cmphex(qtest_readl(t->qts, msg + 4 * v), ==, v + 1);
    }
    s = msix_query_state(t->qts, QMSIX_TESTDEV_ID);
    for (int v = 0; v < 2048; v++) {
        /* vector 0 is also the admin CQ's: one more per admin command */
        g_assert_cmpint(qdict_get_int(msix_query_vector(s, v), "sent"), ==,
                        v == 0 ? 2 + 2048 : 2);
    }
    g_assert_cmphex(qmsix_testdev_readl(t, MSIX_TESTDEV_REG_ERR), ==,
                    MSIX_TESTDEV_ERR_NONE);
}

/* With MSI-X off: MSI enabled, one vector, its message @data to @msg */
static void msi_enable(QMsixTestdev *t, uint64_t msg, uint16_t data)
{
    uint8_t cap = qpci_find_capability(&t->dev, PCI_CAP_ID_MSI, 0);

    g_assert_cmphex(t->msix_cap, ==, 0);
    qpci_config_writel(&t->dev, cap + PCI_MSI_ADDRESS_LO, msg);
    qpci_config_writel(&t->dev, cap + PCI_MSI_ADDRESS_HI, msg >> 32);
    qpci_config_writew(&t->dev, cap + PCI_MSI_DATA_64, data);
    qpci_config_writew(&t->dev, cap + PCI_MSI_FLAGS,
                       qpci_config_readw(&t->dev, cap + PCI_MSI_FLAGS) |
                       PCI_MSI_FLAGS_ENABLE);
}

/* With MSI-X off: MSI; INTMS holds MSI vector 0, INTMC releases it. */
static void test_msi(void *obj, void *data, QGuestAllocator *alloc)
{
    QMsixTestdev *t = obj;
    uint64_t msg = msg_alloc(t, 4);

    msi_enable(t, msg, 0x77);
    qmsix_testdev_enable_admin(t);
    g_assert_cmphex(qmsix_testdev_run_cmd(t, 0, MSIX_TESTDEV_CMD_NOOP,
                                          0, 0, 0), ==,
                    MSIX_TESTDEV_SC_SUCCESS);
    g_assert_cmphex(qtest_readl(t->qts, msg), ==, 0x77);

    qtest_writel(t->qts, msg, 0);
    qmsix_testdev_writel(t, MSIX_TESTDEV_REG_INTMS, 1);
    qmsix_testdev_writel(t, MSIX_TESTDEV_REG_RAISE, 0);
    g_assert_cmphex(qtest_readl(t->qts, msg), ==, 0);
    qmsix_testdev_writel(t, MSIX_TESTDEV_REG_INTMC, 1);
    g_assert_cmphex(qtest_readl(t->qts, msg), ==, 0x77);
}

/*
 * Bus mastering off: a function sends no MSI or MSI-X message (PCIe Base
 * 7.5.1.1.3, Bus Master Enable).  A raised vector writes nothing, sets no
 * PBA bit and is counted and logged as dropped-bus-master, with the
 * message it did not send, not as sent.  A vector held while masked and
 * unmasked with bus mastering still off is lost the same way: QEMU clears
 * its PBA bit (docs/msix-instrumentation.rst).  Bus mastering on again:
 * nothing dropped comes back, and the next raise is sent.
 */
static void test_bus_master_off(void *obj, void *data, QGuestAllocator *alloc)
{
    QMsixTestdev *t = obj;
    uint64_t msg = msg_alloc(t, 4);
    g_autofree char *info = NULL;
    int64_t seq;

    qmsix_testdev_msix_enable(t);
    msix_entry_program(&t->dev, 1, msg, 0x61, false);
    set_bus_master(t, false);
    seq = msix_log_next_seq(t->qts, QMSIX_TESTDEV_ID);

    qmsix_testdev_writel(t, MSIX_TESTDEV_REG_RAISE, 1);
    g_assert_cmphex(qtest_readl(t->qts, msg), ==, 0);
    g_assert_false(qpci_msix_pending(&t->dev, 1));
    check_counts(t, "msix", 1, 0, 0, 1, false);
    check_logged_message(t, seq, msg, 0x61);
    seq = msix_expect_log(t->qts, QMSIX_TESTDEV_ID, seq, (MsixEvent[]) {
        { "dropped-bus-master", 1, MSIX_LOG_ABSENT, MSIX_LOG_ABSENT,
          MSIX_LOG_ABSENT },
    }, 1);

    /* Masked: held in the PBA as ever.  Unmasked: the PBA bit goes. */
    msix_entry_mask(&t->dev, 1, true);
    qmsix_testdev_writel(t, MSIX_TESTDEV_REG_RAISE, 1);
    g_assert_true(qpci_msix_pending(&t->dev, 1));
    msix_entry_mask(&t->dev, 1, false);
    g_assert_false(qpci_msix_pending(&t->dev, 1));
    g_assert_cmphex(qtest_readl(t->qts, msg), ==, 0);
    check_counts(t, "msix", 1, 0, 1, 2, false);
    seq = msix_expect_log(t->qts, QMSIX_TESTDEV_ID, seq, (MsixEvent[]) {
        { "table-write", 1, 3, 0, 1 },
        { "mask", 1, MSIX_LOG_ABSENT, MSIX_LOG_ABSENT, MSIX_LOG_ABSENT },
        { "held", 1, MSIX_LOG_ABSENT, MSIX_LOG_ABSENT, MSIX_LOG_ABSENT },
        { "pending-set", 1, MSIX_LOG_ABSENT, MSIX_LOG_ABSENT,
          MSIX_LOG_ABSENT },
        { "table-write", 1, 3, 1, 0 },
        { "unmask", 1, MSIX_LOG_ABSENT, MSIX_LOG_ABSENT, MSIX_LOG_ABSENT },
        { "pending-clear", 1, MSIX_LOG_ABSENT, MSIX_LOG_ABSENT,
          MSIX_LOG_ABSENT },
        { "dropped-bus-master", 1, MSIX_LOG_ABSENT, MSIX_LOG_ABSENT,
          MSIX_LOG_ABSENT },
    }, 8);

    info = qtest_hmp(t->qts, "info msix " QMSIX_TESTDEV_ID);
    g_test_message("info msix " QMSIX_TESTDEV_ID ": %s", info);
    g_assert_nonnull(strstr(info, "MSI-X enabled, 9 entries, "
                                  "bus master disabled"));
    g_assert_nonnull(strstr(info, "  dropped-bus-master: 2 (vec 1: 2)"));

    set_bus_master(t, true);
    g_assert_cmphex(qtest_readl(t->qts, msg), ==, 0);
    qmsix_testdev_writel(t, MSIX_TESTDEV_REG_RAISE, 1);
    g_assert_cmphex(qtest_readl(t->qts, msg), ==, 0x61);
    check_counts(t, "msix", 1, 1, 1, 2, true);
    msix_expect_log(t->qts, QMSIX_TESTDEV_ID, seq, (MsixEvent[]) {
        { "message", 1, MSIX_LOG_ABSENT, MSIX_LOG_ABSENT, MSIX_LOG_ABSENT },
    }, 1);
}

/* The same for MSI: vector 0 raised with bus mastering off, then on */
static void test_msi_bus_master_off(void *obj, void *data,
                                    QGuestAllocator *alloc)
{
    QMsixTestdev *t = obj;
    uint64_t msg = msg_alloc(t, 4);
    int64_t seq;

    msi_enable(t, msg, 0x78);
    set_bus_master(t, false);
    seq = msix_log_next_seq(t->qts, QMSIX_TESTDEV_ID);
    qmsix_testdev_writel(t, MSIX_TESTDEV_REG_RAISE, 0);
    g_assert_cmphex(qtest_readl(t->qts, msg), ==, 0);
    check_counts(t, "msi", 0, 0, 0, 1, false);
    check_logged_message(t, seq, msg, 0x78);
    seq = msi_expect_log(t->qts, QMSIX_TESTDEV_ID, "msi", seq,
                         (MsixEvent[]) {
        { "dropped-bus-master", 0, MSIX_LOG_ABSENT, MSIX_LOG_ABSENT,
          MSIX_LOG_ABSENT },
    }, 1);

    set_bus_master(t, true);
    qmsix_testdev_writel(t, MSIX_TESTDEV_REG_RAISE, 0);
    g_assert_cmphex(qtest_readl(t->qts, msg), ==, 0x78);
    check_counts(t, "msi", 0, 1, 0, 1, true);
    msi_expect_log(t->qts, QMSIX_TESTDEV_ID, "msi", seq, (MsixEvent[]) {
        { "message", 0, MSIX_LOG_ABSENT, MSIX_LOG_ABSENT, MSIX_LOG_ABSENT },
    }, 1);
}

/* The entry the held-message tests hold a message in */
#define HELD_VECTOR     4

/* Whether the message @data to @address has arrived where it goes */
typedef bool (*ArrivedFn)(QMsixTestdev *t, uint64_t address, uint32_t data);

/* A word of guest RAM, zeroed: the message's data once written */
static bool arrived_in_ram(QMsixTestdev *t, uint64_t address, uint32_t data)
{
    uint32_t val = qtest_readl(t->qts, address);

    if (val) {
        g_assert_cmphex(val, ==, data);
    }
    return val != 0;
}

/* CPU 0's local APIC: the vector in its IRR */
static bool arrived_in_lapic(QMsixTestdev *t, uint64_t address,
                             uint32_t data)
{
    g_assert_cmpuint(x86_msi_dest_id(address), ==, 0);
    return lapic_irr_has(t->qts, 0, x86_msi_vector(data));
}

/*
 * A message held while its entry is masked, across MSI-X disabled and
 * enabled again in the order of writes VFIO's host driver makes (Linux's
 * msix_capability_init()): Message Control ENABLE|MASKALL, the entry's
 * message written, MASKALL cleared; the entry stays masked and nothing is
 * sent until the driver unmasks it.  The pending bit survives all of it,
 * and the unmask sends the message exactly once and clears the bit.  The
 * PBA is only read.
 */
static void check_held_across_reenable(QMsixTestdev *t, uint64_t address,
                                       uint32_t data, ArrivedFn arrived)
{
    uint8_t ctrl = t->msix_cap + PCI_MSIX_FLAGS;
    int64_t seq, sent0;

    set_bus_master(t, true);
    qmsix_testdev_msix_enable(t);
    msix_entry_program(&t->dev, HELD_VECTOR, address, data, true);
    g_assert_false(arrived(t, address, data));
    sent0 = sent(t, HELD_VECTOR);
    seq = msix_log_next_seq(t->qts, QMSIX_TESTDEV_ID);

    qmsix_testdev_writel(t, MSIX_TESTDEV_REG_RAISE, HELD_VECTOR);
    g_assert_true(qpci_msix_pending(&t->dev, HELD_VECTOR));
    g_assert_false(arrived(t, address, data));
    g_assert_cmpint(sent(t, HELD_VECTOR), ==, sent0);
    g_assert_cmpint(msix_query_counter(t->qts, QMSIX_TESTDEV_ID, HELD_VECTOR,
                                       "held"), ==, 1);
    seq = msix_expect_log(t->qts, QMSIX_TESTDEV_ID, seq, (MsixEvent[]) {
        { "held", HELD_VECTOR, MSIX_LOG_ABSENT, MSIX_LOG_ABSENT,
          MSIX_LOG_ABSENT },
        { "pending-set", HELD_VECTOR, MSIX_LOG_ABSENT, MSIX_LOG_ABSENT,
          MSIX_LOG_ABSENT },
    }, 2);

    qpci_config_writew(&t->dev, ctrl, 0);
    qpci_config_writew(&t->dev, ctrl,
                       PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
    msix_entry_set(&t->dev, HELD_VECTOR, address, data);
    qpci_config_writew(&t->dev, ctrl, PCI_MSIX_FLAGS_ENABLE);
    g_assert_true(qpci_msix_pending(&t->dev, HELD_VECTOR));
    g_assert_false(arrived(t, address, data));
    g_assert_cmpint(sent(t, HELD_VECTOR), ==, sent0);
    seq = msix_expect_log(t->qts, QMSIX_TESTDEV_ID, seq, (MsixEvent[]) {
        { "control", MSIX_LOG_ABSENT, MSIX_LOG_ABSENT,
          PCI_MSIX_FLAGS_ENABLE, 0 },
        { "control", MSIX_LOG_ABSENT, MSIX_LOG_ABSENT, 0,
          PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL },
        { "table-write", HELD_VECTOR, 0, (uint32_t)address,
          (uint32_t)address },
        { "table-write", HELD_VECTOR, 1, address >> 32, address >> 32 },
        { "table-write", HELD_VECTOR, 2, data, data },
        { "programmed", HELD_VECTOR, MSIX_LOG_ABSENT, MSIX_LOG_ABSENT,
          MSIX_LOG_ABSENT },
        { "control", MSIX_LOG_ABSENT, MSIX_LOG_ABSENT,
          PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL,
          PCI_MSIX_FLAGS_ENABLE },
    }, 7);

    msix_entry_mask(&t->dev, HELD_VECTOR, false);
    g_assert_true(arrived(t, address, data));
    g_assert_false(qpci_msix_pending(&t->dev, HELD_VECTOR));
    g_assert_false(msix_query_flag(t->qts, QMSIX_TESTDEV_ID, HELD_VECTOR,
                                   "pending"));
    g_assert_cmpint(sent(t, HELD_VECTOR), ==, sent0 + 1);
    check_logged_message(t, seq + 3, address, data);
    msix_expect_unmask_sends(t->qts, QMSIX_TESTDEV_ID, seq, HELD_VECTOR);
}

/* ... to a word of guest RAM (a memory-format message) */
static void test_held_across_reenable(void *obj, void *data,
                                      QGuestAllocator *alloc)
{
    QMsixTestdev *t = obj;
    uint64_t msg = msg_alloc(t, 4);

    check_held_across_reenable(t, msg, 0x64, arrived_in_ram);
    g_assert_cmphex(qtest_readl(t->qts, msg), ==, 0x64);
}

/* ... to CPU 0's local APIC, vector 0x23: in its IRR after the unmask */
static void test_held_across_reenable_lapic(void *obj, void *data,
                                            QGuestAllocator *alloc)
{
    QMsixTestdev *t = obj;

    check_held_across_reenable(t, x86_msi_compose_addr(0),
                               x86_msi_compose_data(0x23), arrived_in_lapic);
    g_assert_true(lapic_irr_has(t->qts, 0, 0x23));
    g_assert_false(lapic_irr_has(t->qts, 0, 0x24));
}

/*
 * With MSI-X and MSI off: INTx (PCI status bit 3), level while the
 * completion is unconsumed.
 */
static void test_intx(void *obj, void *data, QGuestAllocator *alloc)
{
    QMsixTestdev *t = obj;
    uint16_t cid;

    g_assert_false(qpci_config_readw(&t->dev, PCI_STATUS) &
                   PCI_STATUS_INTERRUPT);
    qmsix_testdev_enable_admin(t);
    cid = qmsix_testdev_queue_cmd(t, 0, MSIX_TESTDEV_CMD_NOOP, 0, 0, 0);
    qmsix_testdev_ring_sq(t, 0);
    qmsix_testdev_wait_cqe(t, 0);
    g_assert_true(qpci_config_readw(&t->dev, PCI_STATUS) &
                  PCI_STATUS_INTERRUPT);
    g_assert_cmphex(qmsix_testdev_reap(t, 0, cid), ==,
                    MSIX_TESTDEV_SC_SUCCESS);
    g_assert_false(qpci_config_readw(&t->dev, PCI_STATUS) &
                   PCI_STATUS_INTERRUPT);
}

/* Each bad input: its error, and the device still works afterwards. */
static void test_bad_input(void *obj, void *data, QGuestAllocator *alloc)
{
    const uint32_t io = QMSIX_TESTDEV_IO_ENTRIES;
    QMsixTestdev *t = obj;
    uint64_t unmapped = 0xf00000000ULL;     /* above RAM, no device */

    /* Before enable */
    qmsix_testdev_writel(t, MSIX_TESTDEV_SQ_TAIL_DB(0), 1);
    qmsix_testdev_expect_err(t, MSIX_TESTDEV_ERR_NOT_ENABLED,
                             MSIX_TESTDEV_SQ_TAIL_DB(0));
    /* AQA etc. zero */
    qmsix_testdev_writel(t, MSIX_TESTDEV_REG_CC, MSIX_TESTDEV_CC_EN);
    qmsix_testdev_expect_err(t, MSIX_TESTDEV_ERR_ADMIN_QUEUES, 0);
    g_assert_cmphex(qmsix_testdev_readl(t, MSIX_TESTDEV_REG_CSTS), ==, 0);
    qmsix_testdev_writel(t, MSIX_TESTDEV_REG_CC, 0);

    /* Register accesses */
    qpci_io_writeb(&t->dev, t->bar, MSIX_TESTDEV_REG_CC, 1);
    qmsix_testdev_expect_err(t, MSIX_TESTDEV_ERR_REG_ACCESS,
                             MSIX_TESTDEV_REG_CC);
    qpci_io_writel(&t->dev, t->bar, MSIX_TESTDEV_REG_CC + 2, 1);
    qmsix_testdev_expect_err(t, MSIX_TESTDEV_ERR_REG_ACCESS,
                             MSIX_TESTDEV_REG_CC + 2);
    qmsix_testdev_writel(t, MSIX_TESTDEV_REG_VS, 1);
    qmsix_testdev_expect_err(t, MSIX_TESTDEV_ERR_REG_ACCESS,
                             MSIX_TESTDEV_REG_VS);
    g_assert_cmphex(qmsix_testdev_readl(t, MSIX_TESTDEV_REG_VS), ==,
                    MSIX_TESTDEV_VERSION);
    qmsix_testdev_readl(t, 0x18);
    qmsix_testdev_expect_err(t, MSIX_TESTDEV_ERR_REG_ACCESS, 0x18);
    qmsix_testdev_writel(t, MSIX_TESTDEV_REG_RAISE, 4);
    qmsix_testdev_expect_err(t, MSIX_TESTDEV_ERR_RAISE_VECTOR, 4);

    qmsix_testdev_enable_admin(t);
    /* Doorbells */
    qmsix_testdev_writel(t, MSIX_TESTDEV_SQ_TAIL_DB(2), 0);
    qmsix_testdev_expect_err(t, MSIX_TESTDEV_ERR_DB_QUEUE,
                             MSIX_TESTDEV_SQ_TAIL_DB(2));
    qmsix_testdev_writel(t, MSIX_TESTDEV_SQ_TAIL_DB(0),
                         QMSIX_TESTDEV_ADMIN_ENTRIES);
    qmsix_testdev_expect_err(t, MSIX_TESTDEV_ERR_DB_VALUE,
                             QMSIX_TESTDEV_ADMIN_ENTRIES);

    /* Commands */
    g_assert_cmphex(qmsix_testdev_admin(t, 0x7f, 0, 0, 0), ==,
                    MSIX_TESTDEV_SC_INVALID_OPCODE);
    g_assert_cmphex(qmsix_testdev_admin(t, MSIX_TESTDEV_ADMIN_CREATE_CQ,
                                        qmsix_testdev_queue_cdw10(3, io), 0,
                                        0x100000), ==,
                    MSIX_TESTDEV_SC_INVALID_QID);
    g_assert_cmphex(qmsix_testdev_admin(t, MSIX_TESTDEV_ADMIN_CREATE_CQ,
                                        1 | (1u << 30), 0, 0x100000), ==,
                    MSIX_TESTDEV_SC_INVALID_QSIZE);
    g_assert_cmphex(qmsix_testdev_admin(t, MSIX_TESTDEV_ADMIN_CREATE_CQ,
                                        qmsix_testdev_queue_cdw10(1, io), 0,
                                        0x100010), ==,
                    MSIX_TESTDEV_SC_INVALID_FIELD);
    g_assert_cmphex(qmsix_testdev_admin(t, MSIX_TESTDEV_ADMIN_CREATE_CQ,
                                        qmsix_testdev_queue_cdw10(1, io),
                                        4 << MSIX_TESTDEV_CQ_IV_SHIFT,
                                        0x100000), ==,
                    MSIX_TESTDEV_SC_INVALID_VECTOR);
    g_assert_cmphex(qmsix_testdev_admin(t, MSIX_TESTDEV_ADMIN_CREATE_SQ,
                                        qmsix_testdev_queue_cdw10(1, io),
                                        qmsix_testdev_sq_cdw11(1),
                                        0x100000), ==,
                    MSIX_TESTDEV_SC_CQ_INVALID);
    g_assert_cmphex(qmsix_testdev_admin(t, MSIX_TESTDEV_CMD_IRQ_TEST, 4,
                                        0, 0), ==,
                    MSIX_TESTDEV_SC_INVALID_VECTOR);
    qmsix_testdev_create_pair(t, 1, 1, true);
    g_assert_cmphex(qmsix_testdev_admin(t, MSIX_TESTDEV_ADMIN_DELETE_CQ, 1,
                                        0, 0), ==,
                    MSIX_TESTDEV_SC_INVALID_DELETE);
    g_assert_cmphex(qmsix_testdev_run_cmd(t, 1, MSIX_TESTDEV_ADMIN_CREATE_CQ,
                                          2, 0, 0), ==,
                    MSIX_TESTDEV_SC_INVALID_OPCODE);
    g_assert_cmphex(qmsix_testdev_readl(t, MSIX_TESTDEV_REG_ERR), ==,
                    MSIX_TESTDEV_ERR_NONE);

    /* A CQ head moved past what the device posted */
    qmsix_testdev_writel(t, MSIX_TESTDEV_CQ_HEAD_DB(1),
                         (t->cq[1].head + 1) % io);
    qmsix_testdev_expect_err(t, MSIX_TESTDEV_ERR_DB_VALUE,
                             (t->cq[1].head + 1) % io);

    /* DMA: a command from an SQ the host placed in no memory */
    g_assert_cmphex(qmsix_testdev_admin(t, MSIX_TESTDEV_ADMIN_CREATE_SQ,
                                        qmsix_testdev_queue_cdw10(2, io),
                                        qmsix_testdev_sq_cdw11(1),
                                        unmapped), ==,
                    MSIX_TESTDEV_SC_SUCCESS);
    qmsix_testdev_writel(t, MSIX_TESTDEV_SQ_TAIL_DB(2), 1);
    g_assert_cmphex(qmsix_testdev_reap(t, 1, MSIX_TESTDEV_CID_NONE), ==,
                    MSIX_TESTDEV_SC_DATA_TRANSFER);
    qmsix_testdev_expect_err(t, MSIX_TESTDEV_ERR_DMA, 2);

    /* ... and it still works */
    g_assert_cmphex(qmsix_testdev_admin(t, MSIX_TESTDEV_CMD_NOOP, 0, 0, 0),
                    ==, MSIX_TESTDEV_SC_SUCCESS);
    /* the 11 errors above */
    g_assert_cmpuint(qmsix_testdev_readl(t, MSIX_TESTDEV_REG_ERRCNT), ==, 11);
}

/* Reset and FLR: every register back to its documented default. */
static void check_defaults(QMsixTestdev *t)
{
    g_assert_cmphex(qmsix_testdev_readl(t, MSIX_TESTDEV_REG_CC), ==, 0);
    g_assert_cmphex(qmsix_testdev_readl(t, MSIX_TESTDEV_REG_CSTS), ==, 0);
    g_assert_cmphex(qmsix_testdev_readl(t, MSIX_TESTDEV_REG_AQA), ==, 0);
    g_assert_cmphex(qmsix_testdev_readl(t, MSIX_TESTDEV_REG_ASQ), ==, 0);
    g_assert_cmphex(qmsix_testdev_readl(t, MSIX_TESTDEV_REG_ACQ), ==, 0);
    g_assert_cmphex(qmsix_testdev_readl(t, MSIX_TESTDEV_REG_INTMS), ==, 0);
    g_assert_cmphex(qmsix_testdev_readl(t, MSIX_TESTDEV_REG_ERR), ==, 0);
    g_assert_cmphex(qmsix_testdev_readl(t, MSIX_TESTDEV_REG_ERRINFO), ==, 0);
    g_assert_cmphex(qmsix_testdev_readl(t, MSIX_TESTDEV_REG_ERRCNT), ==, 0);
}

static void dirty_registers(QMsixTestdev *t)
{
    qmsix_testdev_enable_admin(t);
    qmsix_testdev_writel(t, MSIX_TESTDEV_REG_INTMS, 3);
    qmsix_testdev_writel(t, MSIX_TESTDEV_REG_RAISE, 1000); /* latch an error */
    g_assert_cmpuint(qmsix_testdev_readl(t, MSIX_TESTDEV_REG_ERRCNT), ==, 1);
}

static void test_reset_and_flr(void *obj, void *data, QGuestAllocator *alloc)
{
    QMsixTestdev *t = obj;
    uint8_t exp = qpci_find_capability(&t->dev, PCI_CAP_ID_EXP, 0);

    dirty_registers(t);
    qobject_unref(qtest_qmp(t->qts, "{'execute': 'system_reset'}"));
    qtest_qmp_eventwait(t->qts, "RESET");
    qpci_device_enable(&t->dev);
    t->bar = qpci_iomap(&t->dev, MSIX_TESTDEV_BAR_REGS, NULL);
    check_defaults(t);

    /* FLR through the PCI Express capability */
    g_assert_cmphex(exp, !=, 0);
    dirty_registers(t);
    qpci_config_writew(&t->dev, exp + PCI_EXP_DEVCTL,
                       qpci_config_readw(&t->dev, exp + PCI_EXP_DEVCTL) |
                       PCI_EXP_DEVCTL_BCR_FLR);
    qpci_device_enable(&t->dev);
    t->bar = qpci_iomap(&t->dev, MSIX_TESTDEV_BAR_REGS, NULL);
    check_defaults(t);
}

static void msix_testdev_register_tests(void)
{
    QOSGraphTestOptions nine_vectors = {
        .edge.extra_device_opts = "vectors=9,queues=8",
    };
    QOSGraphTestOptions four_vectors = {
        .edge.extra_device_opts = "vectors=4,queues=2",
    };
    QOSGraphTestOptions msi_only = {
        .edge.extra_device_opts = "msix=off,vectors=4,queues=2",
    };

    qos_add_test("identity", "msix-testdev", test_identity_and_defaults,
                 &nine_vectors);
    qos_add_test("bringup", "msix-testdev", test_bringup, &nine_vectors);
    qos_add_test("masks-and-ien", "msix-testdev", test_masks_and_ien,
                 &nine_vectors);
    qos_add_test("2048-vectors", "msix-testdev", test_2048_vectors,
                 &(QOSGraphTestOptions) {
                     .edge.extra_device_opts = "vectors=2048,queues=1",
                 });
    qos_add_test("bus-master-off", "msix-testdev", test_bus_master_off,
                 &nine_vectors);
    qos_add_test("msi", "msix-testdev", test_msi, &msi_only);
    qos_add_test("msi-bus-master-off", "msix-testdev",
                 test_msi_bus_master_off, &msi_only);
    qos_add_test("held-across-reenable", "msix-testdev",
                 test_held_across_reenable, &nine_vectors);
    if (!strcmp(qtest_get_arch(), "i386") ||
        !strcmp(qtest_get_arch(), "x86_64")) {
        qos_add_test("held-across-reenable-lapic", "msix-testdev",
                     test_held_across_reenable_lapic, &nine_vectors);
    }
    qos_add_test("intx", "msix-testdev", test_intx, &(QOSGraphTestOptions) {
                     .edge.extra_device_opts = "msix=off,msi=off,queues=2",
                 });
    qos_add_test("bad-input", "msix-testdev", test_bad_input, &four_vectors);
    qos_add_test("reset-and-flr", "msix-testdev", test_reset_and_flr,
                 &four_vectors);
}

libqos_init(msix_testdev_register_tests);
