/*
 * msix-testdev: a PCI test device with MSI-X and NVMe-style queue pairs
 *
 * An admin queue pair and up to 2047 I/O queue pairs in guest memory, as
 * NVMe has them: 64-byte submission entries, 16-byte completion entries
 * with a phase bit, doorbells, one interrupt vector per completion queue.
 * Commands only complete (no data moves), so that every step of interrupt
 * setup and delivery can be driven and watched: by qtests, and by a Linux
 * guest driver that allocates vectors the way nvme does.
 *
 * Register map and constants: include/hw/misc/msix-testdev-regs.h.
 * Semantics: docs/specs/msix-testdev.rst.  MSI-X steps are traced, counted
 * and logged by the MSI core (docs/msix-instrumentation.rst), not here.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/cutils.h"
#include "qemu/error-report.h"
#include "qemu/log.h"
#include "qemu/main-loop.h"
#include "qemu/module.h"
#include "qemu/timer.h"
#include "qapi/error.h"
#include "hw/pci/pci_device.h"
#include "hw/pci/msi.h"
#include "hw/pci/msix.h"
#include "hw/pci/pcie.h"
#include "hw/qdev-properties.h"
#include "migration/vmstate.h"
#include "system/dma.h"
#include "hw/misc/msix-testdev-regs.h"
#include "trace.h"

#define TYPE_MSIX_TESTDEV "msix-testdev"
OBJECT_DECLARE_SIMPLE_TYPE(MsixTestdevState, MSIX_TESTDEV)

#define MSIX_TESTDEV_MSI_CAP    0x50
#define MSIX_TESTDEV_MSIX_CAP   0x70
#define MSIX_TESTDEV_PCIE_CAP   0x80

/* One submission or completion queue; slot 0 is the admin queue. */
typedef struct MsixTestdevQueue {
    uint64_t base;
    uint32_t size;              /* entries; 0: the queue does not exist */
    uint32_t head;
    uint32_t tail;
    uint16_t cqid;              /* SQ: its completion queue */
    uint16_t vector;            /* CQ: interrupt vector */
    bool ien;                   /* CQ: interrupts enabled */
    bool phase;                 /* CQ: phase tag of the next entry */
    bool signal;                /* CQ: posted to since its last notify */
} MsixTestdevQueue;

struct MsixTestdevState {
    PCIDevice parent_obj;

    MemoryRegion regs;
    MemoryRegion msix_bar;
    QEMUBH *bh;                 /* runs the queues: completion-delay-ns 0 */
    QEMUTimer *timer;           /* runs the queues after the delay */

    /* properties */
    uint32_t vectors;
    uint32_t queues;
    bool msi;
    bool msix;
    uint64_t completion_delay_ns;
    uint64_t storm_interval_ns;
    uint64_t storm_drop;        /* x-storm-drop: a fault for tests */

    /* registers */
    uint32_t cc;
    uint32_t csts;
    uint32_t aqa;
    uint64_t asq;
    uint64_t acq;
    uint32_t intms;             /* MSI vectors masked by INTMS */
    uint32_t msi_pending;       /* MSI notifies held by INTMS */
    uint32_t err;
    uint32_t errinfo;
    uint32_t errcnt;

    uint32_t nr_slots;          /* queues + 1 */
    MsixTestdevQueue *sq;
    MsixTestdevQueue *cq;

    /*
     * What run_queues() has to look at, so that it does not scan every
     * queue: SQs with commands queued (head != tail), CQs that got
     * completions since their last notify (their .signal), vectors that
     * interrupt-test commands named.  Derived state: rebuilt after load.
     */
    unsigned long *sq_busy;
    unsigned long *cq_signal;
    unsigned long *raise;

    /*
     * The interrupt storm: vectors 0..storm_vectors-1 are raised every
     * storm_interval_ns while their last message has been acknowledged
     * (storm_acked[v] == storm_raised[v]) and they are not paused;
     * storm_total counts the raises of every vector (derived: rebuilt
     * after load).
     */
    QEMUTimer *storm_timer;
    uint32_t storm_vectors;
    uint32_t storm_sel;
    uint64_t storm_total;
    uint64_t *storm_raised;
    uint64_t *storm_acked;
    uint8_t *storm_paused;      /* per vector: STORM_PAUSE, 0 or 1 */
};

/* ------------------------------------------------------------ errors */

/* Latch error @code with its offending value where a driver reads it */
static void latch_error(MsixTestdevState *s, uint32_t code, uint32_t info)
{
    s->err = code;
    s->errinfo = info;
    s->errcnt++;
}

/*
 * Bad guest input (docs/specs/msix-testdev.rst, "Errors"), as hw/nvme's
 * NVME_GUEST_ERR(): the site's own trace event, a guest-error log
 * formatted only when -d guest_errors asks for it, and ERR/ERRINFO
 * latched.  The trace event's arguments are the log's.
 */
#define GUEST_ERR(s, code, info, trace, fmt, ...)                          \
    do {                                                                  \
        (trace_##trace)(__VA_ARGS__);                                     \
        qemu_log_mask(LOG_GUEST_ERROR, "%s: " #trace ": " fmt "\n",       \
                      TYPE_MSIX_TESTDEV, ## __VA_ARGS__);                  \
        latch_error(s, code, info);                                       \
    } while (0)

/* -------------------------------------------------------- interrupts */

static bool cq_outstanding(MsixTestdevQueue *cq)
{
    return cq->size && cq->ien && cq->head != cq->tail;
}

/*
 * INTx, as NVMe: asserted while a completion queue with interrupts
 * enabled holds entries the host has not consumed (head != tail), unless
 * INTMS bit 0 masks it.
 */
static void update_intx(MsixTestdevState *s)
{
    PCIDevice *pci = PCI_DEVICE(s);
    bool level = false;

    if (!msix_enabled(pci) && !msi_enabled(pci) &&
        !(s->intms & MSIX_TESTDEV_INTMS_INTX)) {
        for (uint32_t i = 0; i < s->nr_slots && !level; i++) {
            level = cq_outstanding(&s->cq[i]);
        }
    }
    pci_set_irq(pci, level);
}

/* The MSI vector that stands for @vector: modulo the vectors enabled */
static unsigned msi_vector_of(PCIDevice *pci, unsigned vector)
{
    return vector % msi_nr_vectors_allocated(pci);
}

/* Signal interrupt vector @vector by whatever the guest enabled. */
static void notify_vector(MsixTestdevState *s, unsigned vector)
{
    PCIDevice *pci = PCI_DEVICE(s);

    if (msix_enabled(pci)) {
        trace_msix_testdev_notify(vector, "msix");
        msix_notify(pci, vector);
    } else if (msi_enabled(pci)) {
        unsigned v = msi_vector_of(pci, vector);

        if (s->intms & BIT(v)) {
            trace_msix_testdev_notify(v, "msi held by INTMS");
            s->msi_pending |= BIT(v);
        } else {
            trace_msix_testdev_notify(v, "msi");
            msi_notify(pci, v);
        }
    } else {
        trace_msix_testdev_notify(vector, "intx");
        update_intx(s);
    }
}

/* ------------------------------------------------------------- storm */

static bool storm_in_flight(MsixTestdevState *s, uint32_t vector)
{
    return s->storm_raised[vector] != s->storm_acked[vector];
}

/*
 * The storm's tick: raise each storming vector that has no message in
 * flight, then tick again an interval later.  One message in flight per
 * vector, re-armed only when the guest takes it (STORM_TAKE, STORM_ACK),
 * is what lets the guest count every message: two messages of a vector
 * in flight at once could merge in the local APIC's IRR, which nobody
 * counts.
 */
static void storm_tick(void *opaque)
{
    MsixTestdevState *s = opaque;

    for (uint32_t v = 0; v < s->storm_vectors; v++) {
        if (storm_in_flight(s, v) || s->storm_paused[v]) {
            continue;
        }
        s->storm_raised[v]++;
        if (++s->storm_total == s->storm_drop) {
            /* The fault: the device believes it sent this one. */
            trace_msix_testdev_storm_drop(v, s->storm_raised[v]);
            continue;
        }
        notify_vector(s, v);
    }
    if (s->storm_vectors) {
        timer_mod(s->storm_timer, qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL) +
                                  s->storm_interval_ns);
    }
}

static void storm_set(MsixTestdevState *s, uint32_t vectors)
{
    trace_msix_testdev_storm(s->storm_vectors, vectors);
    s->storm_vectors = vectors;
    if (!vectors) {
        timer_del(s->storm_timer);
    } else if (!timer_pending(s->storm_timer)) {
        timer_mod(s->storm_timer, qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL));
    }
}

/* STORM_ACK: the guest took @vector's message; a stray ack is ignored. */
static void storm_ack(MsixTestdevState *s, uint32_t vector)
{
    bool in_flight = storm_in_flight(s, vector);

    trace_msix_testdev_storm_ack(vector, in_flight);
    if (in_flight) {
        s->storm_acked[vector]++;
    }
}

/*
 * Whether @vector's message in flight is held: pending in the PBA (or,
 * under MSI, held by INTMS), so not sent yet.
 */
static bool storm_held(MsixTestdevState *s, uint32_t vector)
{
    PCIDevice *pci = PCI_DEVICE(s);

    if (msix_enabled(pci)) {
        return msix_is_pending(pci, vector);
    }
    return msi_enabled(pci) &&
           (s->msi_pending & BIT(msi_vector_of(pci, vector)));
}

/*
 * A read of STORM_TAKE(@vector), by the vector's interrupt handler: take
 * the message in flight if it was sent (1); 0 if none was, which makes
 * the handler's call a spurious one (Linux's msi_set_affinity() says a
 * handler must cope with those) and leaves a held message held.
 */
static uint32_t storm_take(MsixTestdevState *s, uint32_t vector)
{
    bool sent = storm_in_flight(s, vector) && !storm_held(s, vector);

    trace_msix_testdev_storm_take(vector, sent);
    if (sent) {
        s->storm_acked[vector]++;
    }
    return sent;
}

static void storm_reset(MsixTestdevState *s)
{
    timer_del(s->storm_timer);
    s->storm_vectors = 0;
    s->storm_sel = 0;
    s->storm_total = 0;
    memset(s->storm_raised, 0, s->vectors * sizeof(*s->storm_raised));
    memset(s->storm_acked, 0, s->vectors * sizeof(*s->storm_acked));
    memset(s->storm_paused, 0, s->vectors);
}

/* ------------------------------------------------------------ queues */

static MsixTestdevQueue *sq_of(MsixTestdevState *s, uint32_t qid)
{
    return qid < s->nr_slots && s->sq[qid].size ? &s->sq[qid] : NULL;
}

static MsixTestdevQueue *cq_of(MsixTestdevState *s, uint32_t qid)
{
    return qid < s->nr_slots && s->cq[qid].size ? &s->cq[qid] : NULL;
}

static bool cq_full(MsixTestdevQueue *cq)
{
    return (cq->tail + 1) % cq->size == cq->head;
}

/* Post a completion; false if it could not be written (CSTS.CFS set). */
static bool post_completion(MsixTestdevState *s, uint16_t cqid, uint16_t sqid,
                            uint16_t cid, uint32_t status, uint32_t dw0)
{
    MsixTestdevQueue *cq = &s->cq[cqid];
    uint8_t cqe[MSIX_TESTDEV_CQE_SIZE] = { 0 };
    uint32_t dw3 = cid | (cq->phase ? MSIX_TESTDEV_CQE_PHASE : 0) |
                   status << MSIX_TESTDEV_CQE_STATUS_SHIFT;

    stl_le_p(cqe + MSIX_TESTDEV_CQE_DW0, dw0);
    stl_le_p(cqe + MSIX_TESTDEV_CQE_SQ,
             s->sq[sqid].head |
             (uint32_t)sqid << MSIX_TESTDEV_CQE_SQID_SHIFT);
    stl_le_p(cqe + MSIX_TESTDEV_CQE_STATUS, dw3);
    if (pci_dma_write(PCI_DEVICE(s), cq->base + cq->tail * sizeof(cqe), cqe,
                      sizeof(cqe)) != MEMTX_OK) {
        GUEST_ERR(s, MSIX_TESTDEV_ERR_DMA, cqid, msix_testdev_err_cqe_write,
                  "CQ %u: no completion written at 0x%" PRIx64,
                  cqid, (uint64_t)(cq->base + cq->tail * sizeof(cqe)));
        s->csts |= MSIX_TESTDEV_CSTS_CFS;
        return false;
    }
    trace_msix_testdev_completion(cqid, sqid, cid, status, cq->tail,
                                  cq->phase);
    if (++cq->tail == cq->size) {
        cq->tail = 0;
        cq->phase = !cq->phase;
    }
    cq->signal = true;
    set_bit(cqid, s->cq_signal);
    return true;
}

static void delete_queue(MsixTestdevQueue *q)
{
    memset(q, 0, sizeof(*q));
}

/* Create queue @qid (CDW10 15:0) of CDW10 31:16 + 1 entries at @base. */
static uint32_t check_new_queue(MsixTestdevState *s, MsixTestdevQueue *tbl,
                                uint32_t cdw10, uint64_t base)
{
    uint32_t qid = cdw10 & MSIX_TESTDEV_CDW10_QID_MASK;
    uint32_t size = (cdw10 >> MSIX_TESTDEV_CDW10_QSIZE_SHIFT) + 1;

    if (qid == 0 || qid > s->queues || tbl[qid].size) {
        return MSIX_TESTDEV_SC_INVALID_QID;
    }
    if (size < MSIX_TESTDEV_MIN_QUEUE_ENTRIES ||
        size > MSIX_TESTDEV_MAX_QUEUE_ENTRIES) {
        return MSIX_TESTDEV_SC_INVALID_QSIZE;
    }
    if (!base || base % MSIX_TESTDEV_QUEUE_ALIGN) {
        return MSIX_TESTDEV_SC_INVALID_FIELD;
    }
    return MSIX_TESTDEV_SC_SUCCESS;
}

/* Execute one command from SQ @sqid; returns the completion status. */
static uint32_t execute(MsixTestdevState *s, uint16_t sqid,
                        const uint8_t *sqe, unsigned *raise)
{
    uint8_t opcode = ldl_le_p(sqe + MSIX_TESTDEV_SQE_CDW0) &
                     MSIX_TESTDEV_CDW0_OPCODE_MASK;
    uint32_t cdw10 = ldl_le_p(sqe + MSIX_TESTDEV_SQE_CDW10);
    uint32_t cdw11 = ldl_le_p(sqe + MSIX_TESTDEV_SQE_CDW11);
    uint64_t prp1 = ldq_le_p(sqe + MSIX_TESTDEV_SQE_PRP1);
    uint32_t qid = cdw10 & MSIX_TESTDEV_CDW10_QID_MASK, sc;

    switch (opcode) {
    case MSIX_TESTDEV_CMD_NOOP:
        return MSIX_TESTDEV_SC_SUCCESS;
    case MSIX_TESTDEV_CMD_IRQ_TEST:     /* the vector in the queue id field */
        if (qid >= s->vectors) {
            return MSIX_TESTDEV_SC_INVALID_VECTOR;
        }
        *raise = qid;
        return MSIX_TESTDEV_SC_SUCCESS;
    }
    if (sqid != 0) {
        return MSIX_TESTDEV_SC_INVALID_OPCODE;  /* admin commands only */
    }

    switch (opcode) {
    case MSIX_TESTDEV_ADMIN_CREATE_CQ: {
        uint32_t vector = cdw11 >> MSIX_TESTDEV_CQ_IV_SHIFT;

        sc = check_new_queue(s, s->cq, cdw10, prp1);
        if (sc) {
            return sc;
        }
        if (vector >= s->vectors) {
            return MSIX_TESTDEV_SC_INVALID_VECTOR;
        }
        s->cq[qid] = (MsixTestdevQueue) {
            .base = prp1,
            .size = (cdw10 >> MSIX_TESTDEV_CDW10_QSIZE_SHIFT) + 1,
            .phase = true,
            .vector = vector, .ien = cdw11 & MSIX_TESTDEV_CQ_IEN,
        };
        return MSIX_TESTDEV_SC_SUCCESS;
    }
    case MSIX_TESTDEV_ADMIN_CREATE_SQ: {
        uint32_t cqid = cdw11 >> MSIX_TESTDEV_CDW11_CQID_SHIFT;

        sc = check_new_queue(s, s->sq, cdw10, prp1);
        if (sc) {
            return sc;
        }
        if (cqid == 0 || !cq_of(s, cqid)) {
            return MSIX_TESTDEV_SC_CQ_INVALID;
        }
        s->sq[qid] = (MsixTestdevQueue) {
            .base = prp1,
            .size = (cdw10 >> MSIX_TESTDEV_CDW10_QSIZE_SHIFT) + 1,
            .cqid = cqid,
        };
        return MSIX_TESTDEV_SC_SUCCESS;
    }
    case MSIX_TESTDEV_ADMIN_DELETE_SQ:
        if (qid == 0 || !sq_of(s, qid)) {
            return MSIX_TESTDEV_SC_INVALID_QID;
        }
        delete_queue(&s->sq[qid]);
        return MSIX_TESTDEV_SC_SUCCESS;
    case MSIX_TESTDEV_ADMIN_DELETE_CQ:
        if (qid == 0 || !cq_of(s, qid)) {
            return MSIX_TESTDEV_SC_INVALID_QID;
        }
        for (uint32_t i = 1; i < s->nr_slots; i++) {
            if (s->sq[i].size && s->sq[i].cqid == qid) {
                return MSIX_TESTDEV_SC_INVALID_DELETE;
            }
        }
        delete_queue(&s->cq[qid]);
        update_intx(s);
        return MSIX_TESTDEV_SC_SUCCESS;
    default:
        return MSIX_TESTDEV_SC_INVALID_OPCODE;
    }
}

/*
 * Run every submission queue: fetch each command the host queued, execute
 * it, post its completion; then notify each completion queue that got
 * completions once (one message per batch), and the vectors that
 * interrupt-test commands named.  An SQ whose CQ is full waits for the
 * host to move that CQ's head.
 */
static void run_queues(MsixTestdevState *s)
{
    PCIDevice *pci = PCI_DEVICE(s);
    unsigned long id;

    if (!(s->csts & MSIX_TESTDEV_CSTS_RDY)) {
        return;
    }
    for (id = find_first_bit(s->sq_busy, s->nr_slots); id < s->nr_slots;
         id = find_next_bit(s->sq_busy, s->nr_slots, id + 1)) {
        MsixTestdevQueue *sq = &s->sq[id];

        while (sq->size && sq->head != sq->tail &&
               !(s->csts & MSIX_TESTDEV_CSTS_CFS)) {
            MsixTestdevQueue *cq = &s->cq[sq->cqid];
            uint8_t sqe[MSIX_TESTDEV_SQE_SIZE];
            uint32_t status;
            uint16_t cid = MSIX_TESTDEV_CID_NONE;
            unsigned vector = UINT_MAX;

            if (!cq->size || cq_full(cq)) {
                break;
            }
            if (pci_dma_read(pci, sq->base + sq->head * sizeof(sqe), sqe,
                             sizeof(sqe)) != MEMTX_OK) {
                GUEST_ERR(s, MSIX_TESTDEV_ERR_DMA, id,
                          msix_testdev_err_sqe_read,
                          "SQ %u: no command read at 0x%" PRIx64,
                          (unsigned)id,
                          (uint64_t)(sq->base + sq->head * sizeof(sqe)));
                status = MSIX_TESTDEV_SC_DATA_TRANSFER;
            } else {
                uint32_t cdw0 = ldl_le_p(sqe + MSIX_TESTDEV_SQE_CDW0);

                cid = cdw0 >> MSIX_TESTDEV_CDW0_CID_SHIFT;
                trace_msix_testdev_command(id, cid,
                                           cdw0 &
                                           MSIX_TESTDEV_CDW0_OPCODE_MASK,
                                           ldl_le_p(sqe +
                                                    MSIX_TESTDEV_SQE_CDW10),
                                           ldl_le_p(sqe +
                                                    MSIX_TESTDEV_SQE_CDW11));
                status = execute(s, id, sqe, &vector);
            }
            sq->head = (sq->head + 1) % sq->size;
            if (!post_completion(s, sq->cqid, id, cid, status, 0)) {
                break;
            }
            if (vector != UINT_MAX) {
                set_bit(vector, s->raise);
            }
        }
        if (!sq->size || sq->head == sq->tail) {
            clear_bit(id, s->sq_busy);
        }
    }
    for (id = find_first_bit(s->cq_signal, s->nr_slots); id < s->nr_slots;
         id = find_next_bit(s->cq_signal, s->nr_slots, id + 1)) {
        MsixTestdevQueue *cq = &s->cq[id];

        clear_bit(id, s->cq_signal);
        cq->signal = false;
        if (cq->ien) {
            notify_vector(s, cq->vector);
        }
    }
    for (id = find_first_bit(s->raise, s->vectors); id < s->vectors;
         id = find_next_bit(s->raise, s->vectors, id + 1)) {
        clear_bit(id, s->raise);
        notify_vector(s, id);
    }
    update_intx(s);
}

static void run_queues_cb(void *opaque)
{
    run_queues(opaque);
}

/* Doorbells start the queues from a bottom half or after the delay. */
static void kick(MsixTestdevState *s)
{
    if (!s->completion_delay_ns) {
        qemu_bh_schedule(s->bh);
    } else if (!timer_pending(s->timer)) {
        timer_mod(s->timer, qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL) +
                            s->completion_delay_ns);
    }
}

static void doorbell(MsixTestdevState *s, hwaddr addr, uint32_t val)
{
    uint32_t index = (addr - MSIX_TESTDEV_REG_DOORBELLS) /
                     MSIX_TESTDEV_DB_STRIDE;
    uint32_t qid = index / 2;
    bool is_cq = index & 1;
    MsixTestdevQueue *q = is_cq ? cq_of(s, qid) : sq_of(s, qid);

    trace_msix_testdev_doorbell(is_cq ? "CQ head" : "SQ tail", qid, val);
    if (!(s->csts & MSIX_TESTDEV_CSTS_RDY)) {
        GUEST_ERR(s, MSIX_TESTDEV_ERR_NOT_ENABLED, addr,
                  msix_testdev_err_db_disabled,
                  "doorbell 0x%" PRIx64 " written while not ready",
                  (uint64_t)addr);
        return;
    }
    if (!q) {
        GUEST_ERR(s, MSIX_TESTDEV_ERR_DB_QUEUE, addr,
                  msix_testdev_err_db_queue,
                  "doorbell 0x%" PRIx64 " of %s %u, which does not exist",
                  (uint64_t)addr, is_cq ? "CQ" : "SQ", qid);
        return;
    }
    if (val >= q->size) {
        GUEST_ERR(s, MSIX_TESTDEV_ERR_DB_VALUE, val,
                  msix_testdev_err_db_beyond,
                  "%s %u doorbell %u beyond its %u entries",
                  is_cq ? "CQ" : "SQ", qid, val, q->size);
        return;
    }
    if (is_cq) {
        bool was_full = cq_full(q);

        /* The host consumes what was posted: the head may not pass the tail */
        if ((val + q->size - q->head) % q->size >
            (q->tail + q->size - q->head) % q->size) {
            GUEST_ERR(s, MSIX_TESTDEV_ERR_DB_VALUE, val,
                      msix_testdev_err_cq_head,
                      "CQ %u head %u past its tail %u", qid, val, q->tail);
            return;
        }
        q->head = val;
        update_intx(s);
        if (was_full) {
            kick(s);                    /* an SQ may be waiting for room */
        }
    } else {
        q->tail = val;
        set_bit(qid, s->sq_busy);
        kick(s);
    }
}

/* ------------------------------------------------------- controller */

static void disable(MsixTestdevState *s)
{
    qemu_bh_cancel(s->bh);
    timer_del(s->timer);
    for (uint32_t i = 0; i < s->nr_slots; i++) {
        delete_queue(&s->sq[i]);
        delete_queue(&s->cq[i]);
    }
    bitmap_zero(s->sq_busy, s->nr_slots);
    bitmap_zero(s->cq_signal, s->nr_slots);
    bitmap_zero(s->raise, s->vectors);
    s->csts = 0;
    s->msi_pending = 0;
    update_intx(s);
}

static void enable(MsixTestdevState *s)
{
    uint32_t asqs = (s->aqa & MSIX_TESTDEV_AQA_ASQS_MASK) + 1;
    uint32_t acqs = ((s->aqa >> MSIX_TESTDEV_AQA_ACQS_SHIFT) &
                     MSIX_TESTDEV_AQA_ACQS_MASK) + 1;

    if (asqs < MSIX_TESTDEV_MIN_QUEUE_ENTRIES ||
        acqs < MSIX_TESTDEV_MIN_QUEUE_ENTRIES ||
        !s->asq || s->asq % MSIX_TESTDEV_QUEUE_ALIGN ||
        !s->acq || s->acq % MSIX_TESTDEV_QUEUE_ALIGN) {
        GUEST_ERR(s, MSIX_TESTDEV_ERR_ADMIN_QUEUES, 0,
                  msix_testdev_err_admin_queues,
                  "enabled with invalid admin queues: AQA 0x%x ASQ 0x%"
                  PRIx64 " ACQ 0x%" PRIx64, s->aqa, s->asq, s->acq);
        return;
    }
    s->sq[0] = (MsixTestdevQueue) { .base = s->asq, .size = asqs };
    s->cq[0] = (MsixTestdevQueue) {
        .base = s->acq, .size = acqs, .phase = true, .ien = true,
    };
    s->csts = MSIX_TESTDEV_CSTS_RDY;
}

/* --------------------------------------------------------- registers */

static uint64_t cap_value(MsixTestdevState *s)
{
    return (uint64_t)(MSIX_TESTDEV_MAX_QUEUE_ENTRIES - 1) |
           (uint64_t)s->queues << MSIX_TESTDEV_CAP_NQ_SHIFT |
           (uint64_t)(s->vectors - 1) << MSIX_TESTDEV_CAP_NV_SHIFT;
}

/*
 * Where @addr, @size is a valid access: the 64-bit value it addresses
 * (*@reg64) and the shift of the part accessed, or false.  CAP, ASQ,
 * ACQ, STORM_RAISED and STORM_ACKED take 8-byte accesses and 4-byte ones
 * to either half; the rest, 4-byte accesses.
 */
static bool decode_access(hwaddr addr, unsigned size, hwaddr *reg,
                          unsigned *shift)
{
    hwaddr base = addr & ~7ULL;
    bool is64 = base == MSIX_TESTDEV_REG_CAP || base == MSIX_TESTDEV_REG_ASQ ||
                base == MSIX_TESTDEV_REG_ACQ ||
                base == MSIX_TESTDEV_REG_STORM_RAISED ||
                base == MSIX_TESTDEV_REG_STORM_ACKED;

    if (is64 && ((size == 8 && addr == base) || (size == 4 && !(addr & 3)))) {
        *reg = base;
        *shift = (addr - base) * 8;
        return true;
    }
    *reg = addr;
    *shift = 0;
    return size == 4 && !(addr & 3) && !is64;
}

static uint64_t regs_read(void *opaque, hwaddr addr, unsigned size)
{
    MsixTestdevState *s = opaque;
    uint64_t val = 0;
    hwaddr reg;
    unsigned shift;

    if (!decode_access(addr, size, &reg, &shift)) {
        GUEST_ERR(s, MSIX_TESTDEV_ERR_REG_ACCESS, addr,
                  msix_testdev_err_read_size,
                  "bad %u-byte read at 0x%" PRIx64, size, (uint64_t)addr);
        return 0;
    }
    switch (reg) {
    case MSIX_TESTDEV_REG_CAP:
        val = cap_value(s);
        break;
    case MSIX_TESTDEV_REG_VS:
        val = MSIX_TESTDEV_VERSION;
        break;
    case MSIX_TESTDEV_REG_INTMS:
    case MSIX_TESTDEV_REG_INTMC:
        val = s->intms;
        break;
    case MSIX_TESTDEV_REG_CC:
        val = s->cc;
        break;
    case MSIX_TESTDEV_REG_CSTS:
        val = s->csts;
        break;
    case MSIX_TESTDEV_REG_AQA:
        val = s->aqa;
        break;
    case MSIX_TESTDEV_REG_ASQ:
        val = s->asq;
        break;
    case MSIX_TESTDEV_REG_ACQ:
        val = s->acq;
        break;
    case MSIX_TESTDEV_REG_ERR:
        val = s->err;
        break;
    case MSIX_TESTDEV_REG_ERRINFO:
        val = s->errinfo;
        break;
    case MSIX_TESTDEV_REG_ERRCNT:
        val = s->errcnt;
        break;
    case MSIX_TESTDEV_REG_STORM:
        val = s->storm_vectors;
        break;
    case MSIX_TESTDEV_REG_STORM_SEL:
        val = s->storm_sel;
        break;
    case MSIX_TESTDEV_REG_STORM_RAISED:
        val = s->storm_raised[s->storm_sel];
        break;
    case MSIX_TESTDEV_REG_STORM_ACKED:
        val = s->storm_acked[s->storm_sel];
        break;
    default:
        if (reg >= MSIX_TESTDEV_REG_STORM_TAKE) {
            uint32_t v = (reg - MSIX_TESTDEV_REG_STORM_TAKE) / 4;

            if (v >= s->vectors) {
                GUEST_ERR(s, MSIX_TESTDEV_ERR_STORM_VECTOR, v,
                          msix_testdev_err_storm,
                          "0x%" PRIx64 ": %" PRIu64 " beyond %u vectors",
                          (uint64_t)reg, (uint64_t)v, s->vectors);
                return 0;
            }
            val = storm_take(s, v);
            break;
        }
        if (reg >= MSIX_TESTDEV_REG_DOORBELLS) {
            break;                      /* doorbells read as 0 */
        }
        GUEST_ERR(s, MSIX_TESTDEV_ERR_REG_ACCESS, addr,
                  msix_testdev_err_read_none,
                  "read of no register at 0x%" PRIx64, (uint64_t)addr);
        return 0;
    }
    val = size == 8 ? val : (uint32_t)(val >> shift);
    trace_msix_testdev_reg_read(addr, size, val);
    return val;
}

static void write64_part(uint64_t *reg, unsigned shift, unsigned size,
                         uint64_t val)
{
    uint64_t mask = size == 8 ? UINT64_MAX : 0xffffffffULL << shift;

    *reg = (*reg & ~mask) | ((val << shift) & mask);
}

static void regs_write(void *opaque, hwaddr addr, uint64_t val, unsigned size)
{
    MsixTestdevState *s = opaque;
    hwaddr reg;
    unsigned shift;

    trace_msix_testdev_reg_write(addr, size, val);
    if (!decode_access(addr, size, &reg, &shift)) {
        GUEST_ERR(s, MSIX_TESTDEV_ERR_REG_ACCESS, addr,
                  msix_testdev_err_write_size,
                  "bad %u-byte write at 0x%" PRIx64, size, (uint64_t)addr);
        return;
    }
    if (reg >= MSIX_TESTDEV_REG_DOORBELLS &&
        reg < MSIX_TESTDEV_REG_STORM_TAKE) {
        doorbell(s, reg, val);
        return;
    }
    switch (reg) {
    case MSIX_TESTDEV_REG_INTMS:
        s->intms |= val;
        update_intx(s);
        break;
    case MSIX_TESTDEV_REG_INTMC: {
        uint32_t release = s->msi_pending & val;

        s->intms &= ~val;
        s->msi_pending &= ~release;
        for (unsigned v = 0; release; v++, release >>= 1) {
            if (release & 1) {
                notify_vector(s, v);
            }
        }
        update_intx(s);
        break;
    }
    case MSIX_TESTDEV_REG_CC:
        if ((val ^ s->cc) & MSIX_TESTDEV_CC_EN) {
            trace_msix_testdev_enable(val & MSIX_TESTDEV_CC_EN);
            if (val & MSIX_TESTDEV_CC_EN) {
                enable(s);
            } else {
                disable(s);
            }
        }
        s->cc = val & MSIX_TESTDEV_CC_EN;
        break;
    case MSIX_TESTDEV_REG_AQA:
        s->aqa = val & (MSIX_TESTDEV_AQA_ASQS_MASK |
                        MSIX_TESTDEV_AQA_ACQS_MASK <<
                        MSIX_TESTDEV_AQA_ACQS_SHIFT);
        break;
    case MSIX_TESTDEV_REG_ASQ:
        write64_part(&s->asq, shift, size, val);
        break;
    case MSIX_TESTDEV_REG_ACQ:
        write64_part(&s->acq, shift, size, val);
        break;
    case MSIX_TESTDEV_REG_ERR:
        s->err = MSIX_TESTDEV_ERR_NONE;
        s->errinfo = 0;
        break;
    case MSIX_TESTDEV_REG_RAISE:
        if (val >= s->vectors) {
            GUEST_ERR(s, MSIX_TESTDEV_ERR_RAISE_VECTOR, val,
                      msix_testdev_err_raise,
                      "RAISE of vector %" PRIu64 " of %u", (uint64_t)val,
                      s->vectors);
            break;
        }
        notify_vector(s, val);
        break;
    case MSIX_TESTDEV_REG_STORM:
    case MSIX_TESTDEV_REG_STORM_ACK:
    case MSIX_TESTDEV_REG_STORM_SEL:
    case MSIX_TESTDEV_REG_STORM_PAUSE:
    case MSIX_TESTDEV_REG_STORM_RESUME:
        /* STORM counts vectors, the others name one. */
        if (val > s->vectors ||
            (val == s->vectors && reg != MSIX_TESTDEV_REG_STORM)) {
            GUEST_ERR(s, MSIX_TESTDEV_ERR_STORM_VECTOR, val,
                      msix_testdev_err_storm,
                      "0x%" PRIx64 ": %" PRIu64 " beyond %u vectors",
                      (uint64_t)reg, (uint64_t)val, s->vectors);
        } else if (reg == MSIX_TESTDEV_REG_STORM) {
            storm_set(s, val);
        } else if (reg == MSIX_TESTDEV_REG_STORM_ACK) {
            storm_ack(s, val);
        } else if (reg != MSIX_TESTDEV_REG_STORM_SEL) {
            s->storm_paused[val] = reg == MSIX_TESTDEV_REG_STORM_PAUSE;
            trace_msix_testdev_storm_pause(val, s->storm_paused[val]);
        } else {
            s->storm_sel = val;
        }
        break;
    default:
        GUEST_ERR(s, MSIX_TESTDEV_ERR_REG_ACCESS, addr,
                  msix_testdev_err_write_ro,
                  "write of a read-only or no register at 0x%" PRIx64,
                  (uint64_t)addr);
        break;
    }
}

static const MemoryRegionOps regs_ops = {
    .read = regs_read,
    .write = regs_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    /* Every access reaches us, so that bad ones are reported, not lost. */
    .valid = { .min_access_size = 1, .max_access_size = 8,
               .unaligned = true },
    .impl = { .min_access_size = 1, .max_access_size = 8,
              .unaligned = true },
};

/* ------------------------------------------------------------- device */

/* Function Level Reset: the Express capability's Initiate FLR bit. */
static void msix_testdev_write_config(PCIDevice *pci, uint32_t addr,
                                      uint32_t val, int len)
{
    pci_default_write_config(pci, addr, val, len);
    pcie_cap_flr_write_config(pci, addr, val, len);
}

static void msix_testdev_realize(PCIDevice *pci, Error **errp)
{
    MsixTestdevState *s = MSIX_TESTDEV(pci);

    if (s->vectors < 1 || s->vectors > MSIX_TESTDEV_MAX_VECTORS) {
        error_setg(errp, "vectors must be 1 to %u, not %u",
                   MSIX_TESTDEV_MAX_VECTORS, s->vectors);
        return;
    }
    if (s->queues < 1 || s->queues > MSIX_TESTDEV_MAX_QUEUES) {
        error_setg(errp, "queues must be 1 to %u, not %u",
                   MSIX_TESTDEV_MAX_QUEUES, s->queues);
        return;
    }
    if (s->storm_interval_ns < MSIX_TESTDEV_STORM_INTERVAL_MIN ||
        s->storm_interval_ns > MSIX_TESTDEV_STORM_INTERVAL_MAX) {
        error_setg(errp, "storm-interval-ns must be %u to %u, not %" PRIu64,
                   MSIX_TESTDEV_STORM_INTERVAL_MIN,
                   MSIX_TESTDEV_STORM_INTERVAL_MAX, s->storm_interval_ns);
        return;
    }

    pci->config[PCI_INTERRUPT_PIN] = 1;
    memory_region_init_io(&s->regs, OBJECT(s), &regs_ops, s,
                          "msix-testdev-regs", MSIX_TESTDEV_BAR_REGS_SIZE);
    pci_register_bar(pci, MSIX_TESTDEV_BAR_REGS,
                     PCI_BASE_ADDRESS_SPACE_MEMORY, &s->regs);

    /* A PCI Express endpoint, as nvme is; QEMU plugs it into pc too. */
    pcie_endpoint_cap_init(pci, MSIX_TESTDEV_PCIE_CAP);
    pcie_cap_flr_init(pci);
    if (s->msi && msi_init(pci, MSIX_TESTDEV_MSI_CAP,
                           MSIX_TESTDEV_MSI_VECTORS, true, false, errp)) {
        return;
    }
    if (s->msix) {
        memory_region_init(&s->msix_bar, OBJECT(s), "msix-testdev-msix",
                           MSIX_TESTDEV_BAR_MSIX_SIZE);
        if (msix_init(pci, s->vectors, &s->msix_bar, MSIX_TESTDEV_BAR_MSIX,
                      MSIX_TESTDEV_MSIX_TABLE, &s->msix_bar,
                      MSIX_TESTDEV_BAR_MSIX, MSIX_TESTDEV_MSIX_PBA,
                      MSIX_TESTDEV_MSIX_CAP, errp)) {
            msi_uninit(pci);
            return;
        }
        pci_register_bar(pci, MSIX_TESTDEV_BAR_MSIX,
                         PCI_BASE_ADDRESS_SPACE_MEMORY |
                         PCI_BASE_ADDRESS_MEM_TYPE_64, &s->msix_bar);
        for (uint32_t v = 0; v < s->vectors; v++) {
            msix_vector_use(pci, v);
        }
    }

    s->nr_slots = s->queues + 1;
    s->sq = g_new0(MsixTestdevQueue, s->nr_slots);
    s->cq = g_new0(MsixTestdevQueue, s->nr_slots);
    s->sq_busy = bitmap_new(s->nr_slots);
    s->cq_signal = bitmap_new(s->nr_slots);
    s->raise = bitmap_new(s->vectors);
    s->bh = qemu_bh_new_guarded(run_queues_cb, s,
                                &DEVICE(s)->mem_reentrancy_guard);
    s->timer = timer_new_ns(QEMU_CLOCK_VIRTUAL, run_queues_cb, s);
    s->storm_timer = timer_new_ns(QEMU_CLOCK_VIRTUAL, storm_tick, s);
    s->storm_raised = g_new0(uint64_t, s->vectors);
    s->storm_acked = g_new0(uint64_t, s->vectors);
    s->storm_paused = g_new0(uint8_t, s->vectors);
}

static void msix_testdev_exit(PCIDevice *pci)
{
    MsixTestdevState *s = MSIX_TESTDEV(pci);

    qemu_bh_delete(s->bh);
    timer_free(s->timer);
    timer_free(s->storm_timer);
    g_free(s->storm_raised);
    g_free(s->storm_acked);
    g_free(s->storm_paused);
    g_free(s->sq);
    g_free(s->cq);
    g_free(s->sq_busy);
    g_free(s->cq_signal);
    g_free(s->raise);
    if (s->msix) {
        msix_unuse_all_vectors(pci);
        msix_uninit(pci, &s->msix_bar, &s->msix_bar);
    }
    msi_uninit(pci);
}

/* Reset and FLR: every register to its documented default. */
static void msix_testdev_reset_hold(Object *obj, ResetType type)
{
    MsixTestdevState *s = MSIX_TESTDEV(obj);

    disable(s);
    s->cc = 0;
    s->aqa = 0;
    s->asq = 0;
    s->acq = 0;
    s->intms = 0;
    s->err = MSIX_TESTDEV_ERR_NONE;
    s->errinfo = 0;
    s->errcnt = 0;
    storm_reset(s);
}

static bool queue_valid(MsixTestdevState *s, MsixTestdevQueue *q, bool is_sq)
{
    return !q->size ||
           (q->size >= MSIX_TESTDEV_MIN_QUEUE_ENTRIES &&
            q->size <= MSIX_TESTDEV_MAX_QUEUE_ENTRIES &&
            q->head < q->size && q->tail < q->size &&
            (is_sq ? q->cqid < s->nr_slots && s->cq[q->cqid].size
                   : q->vector < s->vectors));
}

static int msix_testdev_post_load(void *opaque, int version_id)
{
    MsixTestdevState *s = opaque;

    for (uint32_t i = 0; i < s->nr_slots; i++) {
        if (!queue_valid(s, &s->sq[i], true) ||
            !queue_valid(s, &s->cq[i], false)) {
            error_report("%s: inconsistent queue %u in the migration stream",
                         TYPE_MSIX_TESTDEV, i);
            return -EINVAL;
        }
    }
    for (uint32_t i = 0; i < s->nr_slots; i++) {
        if (s->sq[i].size && s->sq[i].head != s->sq[i].tail) {
            set_bit(i, s->sq_busy);
        }
        if (s->cq[i].signal) {
            set_bit(i, s->cq_signal);
        }
    }
    if (!bitmap_empty(s->sq_busy, s->nr_slots) && !timer_pending(s->timer)) {
        kick(s);
    }
    update_intx(s);
    return 0;
}

static const VMStateDescription vmstate_msix_testdev_queue = {
    .name = "msix-testdev-queue",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT64(base, MsixTestdevQueue),
        VMSTATE_UINT32(size, MsixTestdevQueue),
        VMSTATE_UINT32(head, MsixTestdevQueue),
        VMSTATE_UINT32(tail, MsixTestdevQueue),
        VMSTATE_UINT16(cqid, MsixTestdevQueue),
        VMSTATE_UINT16(vector, MsixTestdevQueue),
        VMSTATE_BOOL(ien, MsixTestdevQueue),
        VMSTATE_BOOL(phase, MsixTestdevQueue),
        VMSTATE_BOOL(signal, MsixTestdevQueue),
        VMSTATE_END_OF_LIST()
    },
};

static bool msix_testdev_storm_needed(void *opaque)
{
    MsixTestdevState *s = opaque;

    return s->storm_vectors || s->storm_total || s->storm_sel ||
           !buffer_is_zero(s->storm_paused, s->vectors);
}

/* A stream whose counts no device could have made is refused. */
static int msix_testdev_storm_post_load(void *opaque, int version_id)
{
    MsixTestdevState *s = opaque;

    if (s->storm_vectors > s->vectors || s->storm_sel >= s->vectors) {
        error_report("%s: storm of %u vectors, SEL %u, in the migration "
                     "stream of a device with %u", TYPE_MSIX_TESTDEV,
                     s->storm_vectors, s->storm_sel, s->vectors);
        return -EINVAL;
    }
    s->storm_total = 0;
    for (uint32_t v = 0; v < s->vectors; v++) {
        if (s->storm_acked[v] > s->storm_raised[v] ||
            s->storm_raised[v] - s->storm_acked[v] > 1 ||
            s->storm_paused[v] > 1) {
            error_report("%s: vector %u raised %" PRIu64 " times, "
                         "acknowledged %" PRIu64 ", paused %u in the "
                         "migration stream", TYPE_MSIX_TESTDEV, v,
                         s->storm_raised[v], s->storm_acked[v],
                         s->storm_paused[v]);
            return -EINVAL;
        }
        s->storm_total += s->storm_raised[v];
    }
    if (s->storm_vectors && !timer_pending(s->storm_timer)) {
        storm_set(s, s->storm_vectors);
    }
    return 0;
}

static const VMStateDescription vmstate_msix_testdev_storm = {
    .name = TYPE_MSIX_TESTDEV "/storm",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = msix_testdev_storm_needed,
    .post_load = msix_testdev_storm_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32_EQUAL(vectors, MsixTestdevState, NULL),
        VMSTATE_UINT32(storm_vectors, MsixTestdevState),
        VMSTATE_UINT32(storm_sel, MsixTestdevState),
        VMSTATE_VARRAY_UINT32(storm_raised, MsixTestdevState, vectors, 0,
                              vmstate_info_uint64, uint64_t),
        VMSTATE_VARRAY_UINT32(storm_acked, MsixTestdevState, vectors, 0,
                              vmstate_info_uint64, uint64_t),
        VMSTATE_VARRAY_UINT32(storm_paused, MsixTestdevState, vectors, 0,
                              vmstate_info_uint8, uint8_t),
        VMSTATE_TIMER_PTR(storm_timer, MsixTestdevState),
        VMSTATE_END_OF_LIST()
    },
};

static const VMStateDescription vmstate_msix_testdev = {
    .name = TYPE_MSIX_TESTDEV,
    .version_id = 1,
    .minimum_version_id = 1,
    .post_load = msix_testdev_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_PCI_DEVICE(parent_obj, MsixTestdevState),
        VMSTATE_MSIX(parent_obj, MsixTestdevState),
        VMSTATE_UINT32(cc, MsixTestdevState),
        VMSTATE_UINT32(csts, MsixTestdevState),
        VMSTATE_UINT32(aqa, MsixTestdevState),
        VMSTATE_UINT64(asq, MsixTestdevState),
        VMSTATE_UINT64(acq, MsixTestdevState),
        VMSTATE_UINT32(intms, MsixTestdevState),
        VMSTATE_UINT32(msi_pending, MsixTestdevState),
        VMSTATE_UINT32(err, MsixTestdevState),
        VMSTATE_UINT32(errinfo, MsixTestdevState),
        VMSTATE_UINT32(errcnt, MsixTestdevState),
        VMSTATE_UINT32_EQUAL(nr_slots, MsixTestdevState, NULL),
        VMSTATE_STRUCT_VARRAY_POINTER_UINT32(sq, MsixTestdevState, nr_slots,
                                             vmstate_msix_testdev_queue,
                                             MsixTestdevQueue),
        VMSTATE_STRUCT_VARRAY_POINTER_UINT32(cq, MsixTestdevState, nr_slots,
                                             vmstate_msix_testdev_queue,
                                             MsixTestdevQueue),
        VMSTATE_TIMER_PTR(timer, MsixTestdevState),
        VMSTATE_END_OF_LIST()
    },
    .subsections = (const VMStateDescription * const []) {
        &vmstate_msix_testdev_storm,
        NULL
    },
};

static const Property msix_testdev_props[] = {
    DEFINE_PROP_UINT32("vectors", MsixTestdevState, vectors, 65),
    DEFINE_PROP_UINT32("queues", MsixTestdevState, queues, 64),
    DEFINE_PROP_BOOL("msi", MsixTestdevState, msi, true),
    DEFINE_PROP_BOOL("msix", MsixTestdevState, msix, true),
    DEFINE_PROP_UINT64("completion-delay-ns", MsixTestdevState,
                       completion_delay_ns, 0),
    DEFINE_PROP_UINT64("storm-interval-ns", MsixTestdevState,
                       storm_interval_ns, MSIX_TESTDEV_STORM_INTERVAL_DEFAULT),
    /* Storm message N (1: the first, of any vector) is lost: a fault. */
    DEFINE_PROP_UINT64("x-storm-drop", MsixTestdevState, storm_drop, 0),
};

static void msix_testdev_class_init(ObjectClass *oc, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(oc);
    PCIDeviceClass *pc = PCI_DEVICE_CLASS(oc);
    ResettableClass *rc = RESETTABLE_CLASS(oc);

    pc->realize = msix_testdev_realize;
    pc->exit = msix_testdev_exit;
    pc->config_write = msix_testdev_write_config;
    pc->vendor_id = MSIX_TESTDEV_VENDOR_ID;
    pc->device_id = MSIX_TESTDEV_DEVICE_ID;
    pc->revision = MSIX_TESTDEV_REVISION;
    pc->class_id = MSIX_TESTDEV_CLASS;
    rc->phases.hold = msix_testdev_reset_hold;
    dc->desc = "MSI-X test device with NVMe-style queue pairs";
    dc->vmsd = &vmstate_msix_testdev;
    device_class_set_props(dc, msix_testdev_props);
    set_bit(DEVICE_CATEGORY_MISC, dc->categories);
}

static const TypeInfo msix_testdev_types[] = {
    {
        .name = TYPE_MSIX_TESTDEV,
        .parent = TYPE_PCI_DEVICE,
        .instance_size = sizeof(MsixTestdevState),
        .class_init = msix_testdev_class_init,
        .interfaces = (InterfaceInfo[]) {
            { INTERFACE_PCIE_DEVICE },
            { },
        },
    },
};

DEFINE_TYPES(msix_testdev_types)
