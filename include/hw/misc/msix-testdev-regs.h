/*
 * msix-testdev: PCI identity, register map, queue entries, status codes
 *
 * The one place these constants are written.  The device model
 * (hw/misc/msix-testdev.c), its qtests and the Linux guest driver all
 * include this file, so it holds macros only: no types, no QEMU headers.
 * docs/specs/msix-testdev.rst says what each register and command does.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef MSIX_TESTDEV_REGS_H
#define MSIX_TESTDEV_REGS_H

/* PCI identity: Red Hat's range for experimental devices (pci-ids.rst) */
#define MSIX_TESTDEV_VENDOR_ID          0x1af4
#define MSIX_TESTDEV_DEVICE_ID          0x10f0
#define MSIX_TESTDEV_REVISION           0x01
/* Class 0xff: "device does not fit any defined class"; nothing binds it. */
#define MSIX_TESTDEV_CLASS              0xff00

/* BARs */
#define MSIX_TESTDEV_BAR_REGS           0       /* registers, doorbells */
#define MSIX_TESTDEV_BAR_REGS_SIZE      0x8000
#define MSIX_TESTDEV_BAR_MSIX           4       /* MSI-X table and PBA */
#define MSIX_TESTDEV_BAR_MSIX_SIZE      0x10000
#define MSIX_TESTDEV_MSIX_TABLE         0x0000  /* offset in BAR 4 */
#define MSIX_TESTDEV_MSIX_PBA           0x8000  /* after 2048 entries */

/* Limits */
#define MSIX_TESTDEV_MAX_VECTORS        2048
#define MSIX_TESTDEV_MAX_QUEUES         2047    /* I/O queue pairs */
#define MSIX_TESTDEV_MAX_QUEUE_ENTRIES  4096
#define MSIX_TESTDEV_MIN_QUEUE_ENTRIES  2
#define MSIX_TESTDEV_QUEUE_ALIGN        4096    /* queue base alignment */
#define MSIX_TESTDEV_MSI_VECTORS        32      /* MSI capability */
/* storm-interval-ns: from one storm tick to the next, virtual time */
#define MSIX_TESTDEV_STORM_INTERVAL_MIN     1000
#define MSIX_TESTDEV_STORM_INTERVAL_MAX     1000000000
#define MSIX_TESTDEV_STORM_INTERVAL_DEFAULT 100000

/* Registers in BAR 0: 32-bit accesses, 64-bit ones also for CAP/ASQ/ACQ */
#define MSIX_TESTDEV_REG_CAP            0x00    /* RO, 64-bit */
#define   MSIX_TESTDEV_CAP_MQES_MASK    0xffffULL  /* max entries - 1 */
#define   MSIX_TESTDEV_CAP_NQ_SHIFT     16         /* I/O queue pairs */
#define   MSIX_TESTDEV_CAP_NQ_MASK      0xffffULL
#define   MSIX_TESTDEV_CAP_NV_SHIFT     32         /* MSI-X vectors - 1 */
#define   MSIX_TESTDEV_CAP_NV_MASK      0xfffULL
#define   MSIX_TESTDEV_CAP_DSTRD_SHIFT  48         /* stride 4 << DSTRD */
#define MSIX_TESTDEV_REG_VS             0x08    /* RO: version 1.0 */
#define   MSIX_TESTDEV_VERSION          0x00010000
#define MSIX_TESTDEV_REG_INTMS          0x0c    /* RW1S: mask MSI vectors */
#define   MSIX_TESTDEV_INTMS_INTX       (1u << 0)  /* also masks INTx */
#define MSIX_TESTDEV_REG_INTMC          0x10    /* RW1C: unmask them */
#define MSIX_TESTDEV_REG_CC             0x14    /* RW: controller config */
#define   MSIX_TESTDEV_CC_EN            (1u << 0)
#define MSIX_TESTDEV_REG_CSTS           0x1c    /* RO: controller status */
#define   MSIX_TESTDEV_CSTS_RDY         (1u << 0)
#define   MSIX_TESTDEV_CSTS_CFS         (1u << 1)  /* a completion was lost */
#define MSIX_TESTDEV_REG_AQA            0x24    /* RW: admin queue sizes */
#define   MSIX_TESTDEV_AQA_ASQS_MASK    0xfffu     /* SQ entries - 1 */
#define   MSIX_TESTDEV_AQA_ACQS_SHIFT   16         /* CQ entries - 1 */
#define   MSIX_TESTDEV_AQA_ACQS_MASK    0xfffu
#define MSIX_TESTDEV_REG_ASQ            0x28    /* RW, 64-bit: admin SQ */
#define MSIX_TESTDEV_REG_ACQ            0x30    /* RW, 64-bit: admin CQ */
#define MSIX_TESTDEV_REG_ERR            0x38    /* last error; writes clear */
#define MSIX_TESTDEV_REG_ERRINFO        0x3c    /* RO: its offending value */
#define MSIX_TESTDEV_REG_ERRCNT         0x40    /* RO: errors since reset */
#define MSIX_TESTDEV_REG_RAISE          0x44    /* WO: notify vector N */
/* The interrupt storm: one message in flight per vector, ACK re-arms it */
#define MSIX_TESTDEV_REG_STORM          0x48    /* RW: storm vectors 0..N-1 */
#define MSIX_TESTDEV_REG_STORM_ACK      0x4c    /* WO: vector N was taken */
#define MSIX_TESTDEV_REG_STORM_SEL      0x50    /* RW: vector of the counts */
#define MSIX_TESTDEV_REG_STORM_RAISED   0x58    /* RO, 64-bit: SEL's raises */
#define MSIX_TESTDEV_REG_STORM_ACKED    0x60    /* RO, 64-bit: SEL's acks */
#define MSIX_TESTDEV_REG_STORM_PAUSE    0x68    /* WO: stop raising vector N */
#define MSIX_TESTDEV_REG_STORM_RESUME   0x6c    /* WO: raise vector N again */
#define MSIX_TESTDEV_REG_DOORBELLS      0x1000
/* RO: read to take vector N's storm message, if it was sent (1), or 0 */
#define MSIX_TESTDEV_REG_STORM_TAKE     0x6000
#define MSIX_TESTDEV_STORM_TAKE(v)      (MSIX_TESTDEV_REG_STORM_TAKE + 4 * (v))
#define MSIX_TESTDEV_DB_STRIDE          4       /* CAP.DSTRD = 0 */
#define MSIX_TESTDEV_SQ_TAIL_DB(qid)    (MSIX_TESTDEV_REG_DOORBELLS + \
                                         (2 * (qid)) * MSIX_TESTDEV_DB_STRIDE)
#define MSIX_TESTDEV_CQ_HEAD_DB(qid)    (MSIX_TESTDEV_REG_DOORBELLS + \
                                         (2 * (qid) + 1) * \
                                         MSIX_TESTDEV_DB_STRIDE)

/* ERR: what the last bad input was; ERRINFO says which (in brackets) */
#define MSIX_TESTDEV_ERR_NONE           0
#define MSIX_TESTDEV_ERR_REG_ACCESS     1   /* bad register access [offset] */
#define MSIX_TESTDEV_ERR_NOT_ENABLED    2   /* doorbell, CC.EN clear [offset] */
#define MSIX_TESTDEV_ERR_DB_QUEUE       3   /* no such queue [offset] */
#define MSIX_TESTDEV_ERR_DB_VALUE       4   /* beyond queue or tail [value] */
#define MSIX_TESTDEV_ERR_RAISE_VECTOR   5   /* no such vector [vector] */
#define MSIX_TESTDEV_ERR_ADMIN_QUEUES   6   /* CC.EN, bad AQA/ASQ/ACQ [0] */
#define MSIX_TESTDEV_ERR_DMA            7   /* queue entry lost [queue id] */
#define MSIX_TESTDEV_ERR_STORM_VECTOR   8   /* STORM* beyond vectors [value] */

/* Submission queue entry: 64 bytes, little endian */
#define MSIX_TESTDEV_SQE_SIZE           64
#define MSIX_TESTDEV_SQE_CDW0           0       /* 7:0 opcode, 31:16 CID */
#define   MSIX_TESTDEV_CDW0_OPCODE_MASK 0xffu
#define   MSIX_TESTDEV_CDW0_CID_SHIFT   16
#define MSIX_TESTDEV_SQE_PRP1           24      /* 64-bit: queue base */
#define MSIX_TESTDEV_SQE_CDW10          40
#define MSIX_TESTDEV_SQE_CDW11          44
/* CDW10 of the queue commands: 15:0 queue id, 31:16 entries - 1 */
#define   MSIX_TESTDEV_CDW10_QID_MASK   0xffffu
#define   MSIX_TESTDEV_CDW10_QSIZE_SHIFT 16
#define   MSIX_TESTDEV_CDW11_CQID_SHIFT 16     /* CREATE_SQ: 31:16 CQ id */

/* Completion queue entry: 16 bytes, little endian */
#define MSIX_TESTDEV_CQE_SIZE           16
#define MSIX_TESTDEV_CQE_DW0            0       /* command specific */
#define MSIX_TESTDEV_CQE_SQ             8       /* 15:0 SQ head, 31:16 SQ id */
#define   MSIX_TESTDEV_CQE_SQHD_MASK    0xffffu
#define   MSIX_TESTDEV_CQE_SQID_SHIFT   16
#define MSIX_TESTDEV_CQE_STATUS         12      /* 15:0 CID, 16 P, 31:17 SC */
#define   MSIX_TESTDEV_CQE_CID_MASK     0xffffu
#define   MSIX_TESTDEV_CQE_PHASE        (1u << 16)
#define   MSIX_TESTDEV_CQE_STATUS_SHIFT 17

/* Commands.  Create: CDW10 15:0 queue id, 31:16 entries - 1. */
#define MSIX_TESTDEV_ADMIN_DELETE_SQ    0x00    /* CDW10 15:0 queue id */
#define MSIX_TESTDEV_ADMIN_CREATE_SQ    0x01    /* CDW11 31:16 CQ id */
#define MSIX_TESTDEV_ADMIN_DELETE_CQ    0x04    /* CDW10 15:0 queue id */
#define MSIX_TESTDEV_ADMIN_CREATE_CQ    0x05    /* CDW11 1 IEN, 31:16 IV */
#define   MSIX_TESTDEV_CQ_IEN           (1u << 1)
#define   MSIX_TESTDEV_CQ_IV_SHIFT      16
#define MSIX_TESTDEV_CMD_NOOP           0xc0    /* admin and I/O */
#define MSIX_TESTDEV_CMD_IRQ_TEST       0xc1    /* also raise CDW10 15:0 */

/* The CID of the CQE for an SQE the device could not read */
#define MSIX_TESTDEV_CID_NONE           0xffff

/* Completion status (NVMe's: type in 10:8, code in 7:0) */
#define MSIX_TESTDEV_SC_SUCCESS         0x000
#define MSIX_TESTDEV_SC_INVALID_OPCODE  0x001
#define MSIX_TESTDEV_SC_INVALID_FIELD   0x002
#define MSIX_TESTDEV_SC_DATA_TRANSFER   0x004
#define MSIX_TESTDEV_SC_CQ_INVALID      0x100
#define MSIX_TESTDEV_SC_INVALID_QID     0x101
#define MSIX_TESTDEV_SC_INVALID_QSIZE   0x102
#define MSIX_TESTDEV_SC_INVALID_VECTOR  0x108
#define MSIX_TESTDEV_SC_INVALID_DELETE  0x10c

#endif
