/*
 * libqos driver for msix-testdev (msix-testdev.h)
 *
 * Copyright (c) 2026 irqlab developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "qemu/module.h"
#include "../libqtest.h"
#include "standard-headers/linux/pci_regs.h"
#include "msix-testdev.h"

/* ------------------------------------------------------------ device */

uint32_t qmsix_testdev_readl(QMsixTestdev *t, uint32_t reg)
{
    return qpci_io_readl(&t->dev, t->bar, reg);
}

void qmsix_testdev_writel(QMsixTestdev *t, uint32_t reg, uint32_t val)
{
    qpci_io_writel(&t->dev, t->bar, reg, val);
}

void qmsix_testdev_expect_err(QMsixTestdev *t, uint32_t code, uint32_t info)
{
    g_assert_cmpuint(qmsix_testdev_readl(t, MSIX_TESTDEV_REG_ERR), ==, code);
    g_assert_cmphex(qmsix_testdev_readl(t, MSIX_TESTDEV_REG_ERRINFO), ==,
                    info);
    qmsix_testdev_writel(t, MSIX_TESTDEV_REG_ERR, 0);
    g_assert_cmpuint(qmsix_testdev_readl(t, MSIX_TESTDEV_REG_ERR), ==,
                     MSIX_TESTDEV_ERR_NONE);
}

void qmsix_testdev_msix_enable(QMsixTestdev *t)
{
    uint32_t table = qpci_config_readl(&t->dev, t->msix_cap + PCI_MSIX_TABLE);

    qpci_msix_enable(&t->dev);
    /* libqos maps the table's BAR anew: nvme's is BAR 0, the registers' */
    if ((table & PCI_MSIX_TABLE_BIR) == MSIX_TESTDEV_BAR_REGS) {
        t->bar = t->dev.msix_table_bar;
    }
}

/* ------------------------------------------------------------ queues */

uint64_t qmsix_testdev_alloc_queue(QMsixTestdev *t, uint32_t entries,
                                   uint32_t entry_size)
{
    uint64_t size = ROUND_UP(entries * entry_size, MSIX_TESTDEV_QUEUE_ALIGN);
    uint64_t base = guest_alloc(t->alloc, size + MSIX_TESTDEV_QUEUE_ALIGN);

    base = ROUND_UP(base, MSIX_TESTDEV_QUEUE_ALIGN);
    qtest_memset(t->qts, base, 0, size);
    return base;
}

void qmsix_testdev_enable_admin(QMsixTestdev *t)
{
    const uint32_t n = QMSIX_TESTDEV_ADMIN_ENTRIES;

    t->sq[0] = (QMsixTestdevQueue) {
        .base = qmsix_testdev_alloc_queue(t, n, MSIX_TESTDEV_SQE_SIZE),
        .entries = n,
    };
    t->cq[0] = (QMsixTestdevQueue) {
        .base = qmsix_testdev_alloc_queue(t, n, MSIX_TESTDEV_CQE_SIZE),
        .entries = n, .phase = true,
    };
    qmsix_testdev_writel(t, MSIX_TESTDEV_REG_AQA,
                         (n - 1) | (n - 1) << MSIX_TESTDEV_AQA_ACQS_SHIFT);
    qmsix_testdev_writel(t, MSIX_TESTDEV_REG_ASQ, t->sq[0].base);
    qmsix_testdev_writel(t, MSIX_TESTDEV_REG_ASQ + 4, t->sq[0].base >> 32);
    qmsix_testdev_writel(t, MSIX_TESTDEV_REG_ACQ, t->cq[0].base);
    qmsix_testdev_writel(t, MSIX_TESTDEV_REG_ACQ + 4, t->cq[0].base >> 32);
    qmsix_testdev_writel(t, MSIX_TESTDEV_REG_CC, MSIX_TESTDEV_CC_EN);
    g_assert_cmphex(qmsix_testdev_readl(t, MSIX_TESTDEV_REG_CSTS), ==,
                    MSIX_TESTDEV_CSTS_RDY);
}

uint16_t qmsix_testdev_queue_cmd(QMsixTestdev *t, int sqid, uint8_t opcode,
                                 uint32_t cdw10, uint32_t cdw11,
                                 uint64_t prp1)
{
    QMsixTestdevQueue *sq = &t->sq[sqid];
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

void qmsix_testdev_ring_sq(QMsixTestdev *t, int sqid)
{
    qmsix_testdev_writel(t, MSIX_TESTDEV_SQ_TAIL_DB(sqid), t->sq[sqid].tail);
}

/* The status dword of CQ @cqid's entry at its head */
static uint64_t cqe_status_addr(QMsixTestdev *t, int cqid)
{
    QMsixTestdevQueue *cq = &t->cq[cqid];

    return cq->base + cq->head * MSIX_TESTDEV_CQE_SIZE +
           MSIX_TESTDEV_CQE_STATUS;
}

void qmsix_testdev_wait_cqe(QMsixTestdev *t, int cqid)
{
    uint64_t at = cqe_status_addr(t, cqid);
    gint64 end = g_get_monotonic_time() + QMSIX_TESTDEV_WAIT_US;

    while (!!(qtest_readl(t->qts, at) & MSIX_TESTDEV_CQE_PHASE) !=
           t->cq[cqid].phase) {
        g_assert_cmpint(g_get_monotonic_time(), <, end);
    }
}

uint32_t qmsix_testdev_reap(QMsixTestdev *t, int cqid, uint16_t cid)
{
    QMsixTestdevQueue *cq = &t->cq[cqid];
    uint32_t dw3;

    qmsix_testdev_wait_cqe(t, cqid);
    dw3 = qtest_readl(t->qts, cqe_status_addr(t, cqid));
    g_assert_cmphex(dw3 & MSIX_TESTDEV_CQE_CID_MASK, ==, cid);
    if (++cq->head == cq->entries) {
        cq->head = 0;
        cq->phase = !cq->phase;
    }
    qmsix_testdev_writel(t, MSIX_TESTDEV_CQ_HEAD_DB(cqid), cq->head);
    return dw3 >> MSIX_TESTDEV_CQE_STATUS_SHIFT;
}

uint32_t qmsix_testdev_run_cmd(QMsixTestdev *t, int qid, uint8_t opcode,
                               uint32_t cdw10, uint32_t cdw11,
                               uint64_t prp1)
{
    uint16_t cid = qmsix_testdev_queue_cmd(t, qid, opcode, cdw10, cdw11,
                                           prp1);

    qmsix_testdev_ring_sq(t, qid);
    return qmsix_testdev_reap(t, qid, cid);
}

uint32_t qmsix_testdev_admin(QMsixTestdev *t, uint8_t opcode, uint32_t cdw10,
                             uint32_t cdw11, uint64_t prp1)
{
    return qmsix_testdev_run_cmd(t, 0, opcode, cdw10, cdw11, prp1);
}

void qmsix_testdev_create_pair_sized(QMsixTestdev *t, int qid, int vector,
                                     bool ien, uint32_t entries)
{
    t->cq[qid] = (QMsixTestdevQueue) {
        .base = qmsix_testdev_alloc_queue(t, entries, MSIX_TESTDEV_CQE_SIZE),
        .entries = entries, .phase = true,
    };
    t->sq[qid] = (QMsixTestdevQueue) {
        .base = qmsix_testdev_alloc_queue(t, entries, MSIX_TESTDEV_SQE_SIZE),
        .entries = entries,
    };
    g_assert_cmphex(qmsix_testdev_admin(t, MSIX_TESTDEV_ADMIN_CREATE_CQ,
                                        qmsix_testdev_queue_cdw10(qid,
                                                                  entries),
                                        (ien ? MSIX_TESTDEV_CQ_IEN : 0) |
                                        vector << MSIX_TESTDEV_CQ_IV_SHIFT,
                                        t->cq[qid].base), ==,
                    MSIX_TESTDEV_SC_SUCCESS);
    g_assert_cmphex(qmsix_testdev_admin(t, MSIX_TESTDEV_ADMIN_CREATE_SQ,
                                        qmsix_testdev_queue_cdw10(qid,
                                                                  entries),
                                        qmsix_testdev_sq_cdw11(qid),
                                        t->sq[qid].base), ==,
                    MSIX_TESTDEV_SC_SUCCESS);
}

void qmsix_testdev_create_pair(QMsixTestdev *t, int qid, int vector,
                               bool ien)
{
    qmsix_testdev_create_pair_sized(t, qid, vector, ien,
                                    QMSIX_TESTDEV_IO_ENTRIES);
}

/* -------------------------------------------------------------- node */

static void *qmsix_testdev_get_driver(void *obj, const char *interface)
{
    QMsixTestdev *t = obj;

    if (!g_strcmp0(interface, "pci-device")) {
        return &t->dev;
    }
    fprintf(stderr, "%s not present in msix-testdev\n", interface);
    g_assert_not_reached();
}

static void qmsix_testdev_start_hw(QOSGraphObject *obj)
{
    QMsixTestdev *t = container_of(obj, QMsixTestdev, obj);

    qpci_device_enable(&t->dev);
    t->bar = qpci_iomap(&t->dev, MSIX_TESTDEV_BAR_REGS, NULL);
    t->msix_cap = qpci_find_capability(&t->dev, PCI_CAP_ID_MSIX, 0);
}

static QMsixTestdev *qmsix_testdev_init(QPCIBus *bus, QGuestAllocator *alloc,
                                        QPCIAddress *addr)
{
    QMsixTestdev *t = g_new0(QMsixTestdev, 1);

    qpci_device_init(&t->dev, bus, addr);
    t->qts = bus->qts;
    t->alloc = alloc;
    t->obj.get_driver = qmsix_testdev_get_driver;
    t->obj.start_hw = qmsix_testdev_start_hw;
    return t;
}

static void *qmsix_testdev_create(void *pci_bus, QGuestAllocator *alloc,
                                  void *addr)
{
    return &qmsix_testdev_init(pci_bus, alloc, addr)->obj;
}

QMsixTestdev *qmsix_testdev_new(QPCIBus *bus, QGuestAllocator *alloc,
                                int devfn)
{
    QPCIAddress addr = { .devfn = devfn };
    QMsixTestdev *t = qmsix_testdev_init(bus, alloc, &addr);

    g_assert_cmphex(qpci_config_readw(&t->dev, PCI_VENDOR_ID), !=, 0xffff);
    qmsix_testdev_start_hw(&t->obj);
    return t;
}

static void qmsix_testdev_register_nodes(void)
{
    QOSGraphEdgeOptions opts = {
        .extra_device_opts = "addr=04.0,id=" QMSIX_TESTDEV_ID,
    };

    add_qpci_address(&opts, &(QPCIAddress) {
        .devfn = QMSIX_TESTDEV_DEVFN,
        .vendor_id = MSIX_TESTDEV_VENDOR_ID,
        .device_id = MSIX_TESTDEV_DEVICE_ID,
    });
    qos_node_create_driver("msix-testdev", qmsix_testdev_create);
    qos_node_consumes("msix-testdev", "pci-bus", &opts);
    qos_node_produces("msix-testdev", "pci-device");
}

libqos_init(qmsix_testdev_register_nodes);
