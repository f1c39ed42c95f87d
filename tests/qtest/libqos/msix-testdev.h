/*
 * libqos driver for msix-testdev: its qgraph node, and a host driver for
 * its NVMe-style queue pairs (admin queue, I/O queue pairs, commands,
 * completions with a phase bit).  The driver also runs nvme's admin
 * queue, whose layout is the same.  docs/specs/msix-testdev.rst is the
 * contract, include/hw/misc/msix-testdev-regs.h the register map.
 *
 * The node "msix-testdev" consumes "pci-bus", places the device at
 * QMSIX_TESTDEV_DEVFN with the id QMSIX_TESTDEV_ID (for x-query-msix),
 * and produces "pci-device"; its tests get a QMsixTestdev, enabled, its
 * registers mapped, MSI-X not yet enabled.
 *
 * Copyright (c) 2026 irqlab developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef QGRAPH_MSIX_TESTDEV_H
#define QGRAPH_MSIX_TESTDEV_H

#include "qgraph.h"
#include "pci.h"
#include "libqos-malloc.h"
#include "hw/misc/msix-testdev-regs.h"

#define QMSIX_TESTDEV_DEVFN         QPCI_DEVFN(4, 0)
#define QMSIX_TESTDEV_ID            "tdev"

/*
 * The queue sizes the driver sets up: the admin queue pair
 * (qmsix_testdev_enable_admin()) and an I/O queue pair
 * (qmsix_testdev_create_pair())
 */
#define QMSIX_TESTDEV_ADMIN_ENTRIES 8
#define QMSIX_TESTDEV_IO_ENTRIES    4

/* How long the driver waits for a completion, in real time */
#define QMSIX_TESTDEV_WAIT_US       (5 * G_USEC_PER_SEC)

typedef struct QMsixTestdevQueue {
    uint64_t base;
    uint32_t entries;
    uint32_t tail;              /* SQ: next free slot */
    uint32_t head;              /* CQ: next entry to consume */
    bool phase;                 /* CQ: phase of the next new entry */
} QMsixTestdevQueue;

typedef struct QMsixTestdev {
    QOSGraphObject obj;
    QPCIDevice dev;
    QTestState *qts;
    QGuestAllocator *alloc;
    QPCIBar bar;                /* the registers, MSIX_TESTDEV_BAR_REGS */
    uint8_t msix_cap;           /* 0 with msix=off */
    /* queue id -> queue; 0 is the admin pair */
    QMsixTestdevQueue sq[MSIX_TESTDEV_MAX_QUEUES + 1];
    QMsixTestdevQueue cq[MSIX_TESTDEV_MAX_QUEUES + 1];
    uint16_t next_cid;
} QMsixTestdev;

/*
 * For a test that starts its own machine: the device at @devfn of @bus
 * (msix-testdev, or nvme for its admin queue), enabled and its registers
 * mapped, as the node's tests get it.  Free it with g_free().
 */
QMsixTestdev *qmsix_testdev_new(QPCIBus *bus, QGuestAllocator *alloc,
                                int devfn);

/* A 32-bit register in BAR 0 */
uint32_t qmsix_testdev_readl(QMsixTestdev *t, uint32_t reg);
void qmsix_testdev_writel(QMsixTestdev *t, uint32_t reg, uint32_t val);

/*
 * Assert that the last error latched is @code with ERRINFO @info, then
 * clear ERR (a write) for the next check
 */
void qmsix_testdev_expect_err(QMsixTestdev *t, uint32_t code, uint32_t info);

/* qpci_msix_enable(), keeping t->bar valid where the table shares it */
void qmsix_testdev_msix_enable(QMsixTestdev *t);

/* Zeroed guest RAM for a queue of @entries entries of @entry_size bytes */
uint64_t qmsix_testdev_alloc_queue(QMsixTestdev *t, uint32_t entries,
                                   uint32_t entry_size);

/* The admin queue pair set up (AQA, ASQ, ACQ) and CC.EN set: ready */
void qmsix_testdev_enable_admin(QMsixTestdev *t);

/* Queue a command on SQ @sqid without ringing the doorbell; its CID */
uint16_t qmsix_testdev_queue_cmd(QMsixTestdev *t, int sqid, uint8_t opcode,
                                 uint32_t cdw10, uint32_t cdw11,
                                 uint64_t prp1);

/* The SQ tail doorbell of @sqid: every queued command submitted */
void qmsix_testdev_ring_sq(QMsixTestdev *t, int sqid);

/*
 * Wait until the device posts the next completion on CQ @cqid (from a
 * bottom half, or a timer the caller steps), without consuming it.
 */
void qmsix_testdev_wait_cqe(QMsixTestdev *t, int cqid);

/*
 * The next completion on CQ @cqid: waited for, its CID checked against
 * @cid, consumed (CQ head doorbell rung); its status code.
 */
uint32_t qmsix_testdev_reap(QMsixTestdev *t, int cqid, uint16_t cid);

/* A command on queue pair @qid, run to completion; its status code */
uint32_t qmsix_testdev_run_cmd(QMsixTestdev *t, int qid, uint8_t opcode,
                               uint32_t cdw10, uint32_t cdw11,
                               uint64_t prp1);

/* The same on the admin queue pair */
uint32_t qmsix_testdev_admin(QMsixTestdev *t, uint8_t opcode, uint32_t cdw10,
                             uint32_t cdw11, uint64_t prp1);

/* CDW10 of a queue command, CDW11 of CREATE_SQ (msix-testdev.rst) */
static inline uint32_t qmsix_testdev_queue_cdw10(uint32_t qid,
                                                 uint32_t entries)
{
    return qid | (entries - 1) << MSIX_TESTDEV_CDW10_QSIZE_SHIFT;
}

static inline uint32_t qmsix_testdev_sq_cdw11(uint32_t cqid)
{
    return cqid << MSIX_TESTDEV_CDW11_CQID_SHIFT;
}

/*
 * I/O queue pair @qid of @entries entries (QMSIX_TESTDEV_IO_ENTRIES for
 * qmsix_testdev_create_pair()), its CQ on @vector, with interrupts
 * enabled if @ien: CREATE_CQ, then CREATE_SQ, each asserted to succeed.
 */
void qmsix_testdev_create_pair_sized(QMsixTestdev *t, int qid, int vector,
                                     bool ien, uint32_t entries);
void qmsix_testdev_create_pair(QMsixTestdev *t, int qid, int vector,
                               bool ien);

#endif
