// SPDX-License-Identifier: GPL-2.0
/*
 * msix_testdev: Linux driver for QEMU's msix-testdev test device
 *
 * The device (docs/specs/msix-testdev.rst in irqlab) has NVMe's interrupt
 * model: an admin queue pair, I/O queue pairs, one interrupt vector per
 * completion queue, commands that do nothing but complete.  This driver
 * sets it up the way drivers/nvme/host/pci.c does, so that a stock kernel
 * allocates, programs and takes its vectors exactly as it would an NVMe
 * controller's:
 *
 *  - pci_alloc_irq_vectors_affinity() with PCI_IRQ_AFFINITY and one
 *    pre-vector: vector 0 (admin) keeps the default affinity, vectors
 *    1..n are managed and spread over the CPUs;
 *  - I/O queue pair q on vector q, created through admin commands, and
 *    driven from the first CPU of its vector's affinity mask.
 *
 * Per-vector interrupt counts and the CPUs each handler ran on are shown
 * in debugfs, next to what the workload submitted and completed:
 *
 *   /sys/kernel/debug/msix_testdev/<pci name>/run      write K: K no-op
 *                                                      commands per queue
 *   /sys/kernel/debug/msix_testdev/<pci name>/queues
 *   /sys/kernel/debug/msix_testdev/<pci name>/vectors
 *   /sys/kernel/debug/msix_testdev/<pci name>/storm    storm commands:
 *                                                      start, stop, mask V,
 *                                                      maskall
 *   /sys/kernel/debug/msix_testdev/<pci name>/storm_counts
 *
 * Commands go one at a time on each queue (submit, wait for its
 * completion, next), so that every command costs exactly one message on
 * its vector and the counts can be checked against the device's.
 *
 * The storm (the device's STORM registers) raises every vector again as
 * soon as the handler has taken the last message (STORM_TAKE), while other
 * CPUs mask and unmask entries, toggle the function mask (the storm
 * file's commands), move vector 0 and take CPUs offline (user space:
 * guest/init).  Each vector's handler calls, acknowledgements and the
 * device's own counts are then compared (storm_counts).
 *
 * Register map and command set: hw/misc/msix-testdev-regs.h, shared with
 * the device model; nothing in it is repeated here.
 *
 * This is Linux code: it follows the kernel's coding style
 * (Documentation/process/coding-style.rst: tabs, 100 columns, no braces
 * around single statements) and its licence, GPL-2.0, not QEMU's;
 * QEMU's scripts/checkpatch.pl does not apply to it.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cpu.h>
#include <linux/cpumask.h>
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/dma-mapping.h>
#include <linux/interrupt.h>
#include <linux/io.h>
#include <linux/io-64-nonatomic-lo-hi.h>
#include <linux/irq.h>
#include <linux/jiffies.h>
#include <linux/kernel_stat.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>

#include "hw/misc/msix-testdev-regs.h"


/* Queue sizes are the driver's choice; NVMe's admin queue has 32 entries. */
#define MSIX_TESTDEV_DRV_ADMIN_DEPTH	32
#define MSIX_TESTDEV_DRV_IO_DEPTH	64

/* How long "storm stop" waits for the last message of every vector */
#define MSIX_TESTDEV_DRV_STORM_DRAIN_MS		5000
/* How long a storm "mask" or "maskall" command holds the mask (us) */
#define MSIX_TESTDEV_DRV_STORM_MASK_US		200

/* CC.EN and CSTS.RDY take effect at once in QEMU; allow for slower ones. */
#define MSIX_TESTDEV_DRV_READY_TIMEOUT_MS	1000

static unsigned int max_queues;
module_param(max_queues, uint, 0444);
MODULE_PARM_DESC(max_queues,
		 "Limit on I/O queue pairs (0: one per online CPU, capped by the device)");

static unsigned int timeout_ms = 10000;
module_param(timeout_ms, uint, 0644);
MODULE_PARM_DESC(timeout_ms, "How long to wait for one command (ms)");

static struct dentry *msix_testdev_debugfs_root;
static enum cpuhp_state tdev_cpuhp_state;	/* tdev_cpu_online/offline() */

struct msix_testdev;

/* A submission/completion queue pair; qid 0 is the admin pair. */
struct msix_testdev_queue {
	struct msix_testdev *tdev;
	u16 qid;
	u16 depth;
	unsigned int vector;		/* index for pci_irq_vector() */
	bool created;			/* I/O pair exists on the device */

	void *sq;			/* depth SQEs */
	dma_addr_t sq_dma;
	void *cq;			/* depth CQEs */
	dma_addr_t cq_dma;
	void __iomem *sq_db;
	void __iomem *cq_db;

	/*
	 * One command in flight per queue: @lock is held from submission
	 * to completion (or timeout).  The interrupt handler completes
	 * @done when the CQE with @cid arrives; a CQE for an older CID (one
	 * that timed out) only moves the CQ head.  @cid_lock makes claiming
	 * a command (handler) and giving up on it (timeout) exclusive.
	 */
	struct mutex lock;
	spinlock_t cid_lock;
	struct completion done;
	u16 sq_tail;
	u16 sq_head;			/* as the last CQE said */
	u16 next_cid;
	u16 cid;			/* MSIX_TESTDEV_CID_NONE: none */
	u16 status;

	/* Only the interrupt handler of @vector touches these. */
	u16 cq_head;
	bool cq_phase;

	unsigned long submitted;
	unsigned long completed;

	/* The CPUs the queue was mapped from, and the one it runs on. */
	cpumask_var_t cpus;
	int cpu;

	/* "run" on this queue: submitted from @cpu by @work */
	struct work_struct work;
	unsigned int run_count;
	int run_result;
};

/*
 * An allocated interrupt vector.  With a single vector (MSI without
 * multi-message, or INTx) the admin pair and I/O pair 1 share vector 0,
 * as nvme's do; otherwise each vector has one queue pair.
 */
#define MSIX_TESTDEV_DRV_QUEUES_PER_VECTOR	2

struct msix_testdev_vector {
	struct msix_testdev *tdev;
	unsigned int index;
	int irq;
	bool requested;
	unsigned int nr_queues;
	struct msix_testdev_queue *queues[MSIX_TESTDEV_DRV_QUEUES_PER_VECTOR];

	atomic_long_t interrupts;	/* handler calls */
	cpumask_var_t handler_cpus;	/* CPUs the handler ran on */

	/* The storm; the handler's fields are written by the handler only. */
	long storm_base;		/* interrupts when the storm started */
	unsigned long storm_spurious;	/* handler calls that took nothing */
	unsigned long storm_replays;	/* ...made by handle_edge_irq()'s loop */
	int storm_last_cpu;		/* the last call's CPU... */
	unsigned long storm_last_sum;	/* ...and its kstat.irqs_sum */
	unsigned long storm_outside;	/* handled outside the affinity */
	int storm_outside_cpu;		/* the first such CPU, -1: none */
	cpumask_var_t storm_prev;	/* effective affinity, last call */
	atomic_long_t storm_masks;	/* "mask" commands done */
	atomic_long_t storm_skipped;	/* ...not done: irq shut down */
	bool storm_paused;		/* STORM_PAUSE: its CPUs went offline */
	unsigned long storm_pauses;
};

struct msix_testdev {
	struct pci_dev *pdev;
	void __iomem *bar;
	u64 cap;

	unsigned int nr_vectors;
	struct msix_testdev_vector *vectors;
	unsigned int nr_queues;		/* admin + I/O */
	struct msix_testdev_queue *queues;

	struct dentry *debugfs;
	struct mutex run_lock;		/* one "run" at a time */

	bool storming;			/* the handler takes (STORM_TAKE) */
	struct mutex storm_lock;	/* start, stop, the counts, maskall,
					 * pause and resume */
	unsigned long storm_maskalls;	/* "maskall" commands done */
	struct hlist_node cpuhp_node;	/* tdev_cpuhp_state's instance */
	bool cpuhp_added;
};

/* ------------------------------------------------------------ registers */

static u32 tdev_readl(struct msix_testdev *tdev, u32 reg)
{
	return readl(tdev->bar + reg);
}

static void tdev_writel(struct msix_testdev *tdev, u32 reg, u32 val)
{
	writel(val, tdev->bar + reg);
}

static unsigned int tdev_cap_nq(struct msix_testdev *tdev)
{
	return (tdev->cap >> MSIX_TESTDEV_CAP_NQ_SHIFT) &
	       MSIX_TESTDEV_CAP_NQ_MASK;
}

static unsigned int tdev_cap_nv(struct msix_testdev *tdev)
{
	return ((tdev->cap >> MSIX_TESTDEV_CAP_NV_SHIFT) &
		MSIX_TESTDEV_CAP_NV_MASK) + 1;
}

static void tdev_report_error(struct msix_testdev *tdev, const char *what)
{
	dev_err(&tdev->pdev->dev,
		"%s: CSTS 0x%x ERR %u ERRINFO 0x%x ERRCNT %u\n", what,
		tdev_readl(tdev, MSIX_TESTDEV_REG_CSTS),
		tdev_readl(tdev, MSIX_TESTDEV_REG_ERR),
		tdev_readl(tdev, MSIX_TESTDEV_REG_ERRINFO),
		tdev_readl(tdev, MSIX_TESTDEV_REG_ERRCNT));
}

static int tdev_wait_ready(struct msix_testdev *tdev, bool ready)
{
	unsigned long end = jiffies +
		msecs_to_jiffies(MSIX_TESTDEV_DRV_READY_TIMEOUT_MS);

	for (;;) {
		u32 csts = tdev_readl(tdev, MSIX_TESTDEV_REG_CSTS);

		if (!!(csts & MSIX_TESTDEV_CSTS_RDY) == ready)
			return 0;
		if (time_after(jiffies, end))
			return -ENODEV;
		usleep_range(100, 1000);
	}
}

/* CC.EN 1 -> 0: the device deletes every queue and clears CSTS. */
static int tdev_disable_ctrl(struct msix_testdev *tdev)
{
	tdev_writel(tdev, MSIX_TESTDEV_REG_CC, 0);
	return tdev_wait_ready(tdev, false);
}

/* CC.EN 0 -> 1: the device takes the admin queues from AQA/ASQ/ACQ. */
static int tdev_enable_ctrl(struct msix_testdev *tdev)
{
	struct msix_testdev_queue *aq = &tdev->queues[0];
	int ret;

	tdev_writel(tdev, MSIX_TESTDEV_REG_AQA, (aq->depth - 1) |
		    (aq->depth - 1) << MSIX_TESTDEV_AQA_ACQS_SHIFT);
	lo_hi_writeq(aq->sq_dma, tdev->bar + MSIX_TESTDEV_REG_ASQ);
	lo_hi_writeq(aq->cq_dma, tdev->bar + MSIX_TESTDEV_REG_ACQ);
	tdev_writel(tdev, MSIX_TESTDEV_REG_CC, MSIX_TESTDEV_CC_EN);
	ret = tdev_wait_ready(tdev, true);
	if (ret)
		tdev_report_error(tdev, "controller did not become ready");
	return ret;
}

/* --------------------------------------------------------------- queues */

static int tdev_alloc_queue(struct msix_testdev *tdev, u16 qid, u16 depth,
			    unsigned int vector)
{
	struct msix_testdev_queue *q = &tdev->queues[qid];
	struct device *dev = &tdev->pdev->dev;

	q->tdev = tdev;
	q->qid = qid;
	q->depth = depth;
	q->vector = vector;
	q->cq_phase = true;	/* a new CQ starts with phase tag 1 */
	mutex_init(&q->lock);
	spin_lock_init(&q->cid_lock);
	q->cid = MSIX_TESTDEV_CID_NONE;
	init_completion(&q->done);
	if (!zalloc_cpumask_var(&q->cpus, GFP_KERNEL))
		return -ENOMEM;

	/* dma_alloc_coherent() aligns to the page, as QUEUE_ALIGN asks. */
	BUILD_BUG_ON(MSIX_TESTDEV_QUEUE_ALIGN > PAGE_SIZE);
	q->sq = dma_alloc_coherent(dev, depth * MSIX_TESTDEV_SQE_SIZE,
				   &q->sq_dma, GFP_KERNEL);
	q->cq = dma_alloc_coherent(dev, depth * MSIX_TESTDEV_CQE_SIZE,
				   &q->cq_dma, GFP_KERNEL);
	if (!q->sq || !q->cq)
		return -ENOMEM;
	q->sq_db = tdev->bar + MSIX_TESTDEV_SQ_TAIL_DB(qid);
	q->cq_db = tdev->bar + MSIX_TESTDEV_CQ_HEAD_DB(qid);
	return 0;
}

static void tdev_free_queue(struct msix_testdev_queue *q)
{
	struct device *dev = &q->tdev->pdev->dev;

	if (q->cq)
		dma_free_coherent(dev, q->depth * MSIX_TESTDEV_CQE_SIZE,
				  q->cq, q->cq_dma);
	if (q->sq)
		dma_free_coherent(dev, q->depth * MSIX_TESTDEV_SQE_SIZE,
				  q->sq, q->sq_dma);
	free_cpumask_var(q->cpus);
}

/*
 * Consume every new CQE of @q (phase tag = the phase we expect), waking
 * the submitter of the command it completes, and ring the CQ head
 * doorbell once.  Called only from the handler of q's vector, which the
 * IRQ core never runs on two CPUs at once.
 */
static bool tdev_process_cq(struct msix_testdev_queue *q)
{
	bool found = false;

	for (;;) {
		void *cqe = q->cq + q->cq_head * MSIX_TESTDEV_CQE_SIZE;
		u32 dw3 = le32_to_cpu(READ_ONCE(*(__le32 *)
					(cqe + MSIX_TESTDEV_CQE_STATUS)));
		u16 cid;

		if (!!(dw3 & MSIX_TESTDEV_CQE_PHASE) != q->cq_phase)
			break;
		/* The rest of the entry is read after its phase tag. */
		dma_rmb();
		found = true;
		WRITE_ONCE(q->sq_head, le32_to_cpu(*(__le32 *)
					(cqe + MSIX_TESTDEV_CQE_SQ)) &
				   MSIX_TESTDEV_CQE_SQHD_MASK);
		WRITE_ONCE(q->completed, q->completed + 1);
		/*
		 * One command is in flight per queue: a CQE with its CID, or
		 * with CID_NONE (the device could not read the SQE), is its
		 * completion.  Any other is a late one for a command that timed
		 * out; with nothing in flight, nothing is waiting for it.
		 */
		cid = dw3 & MSIX_TESTDEV_CQE_CID_MASK;
		spin_lock(&q->cid_lock);
		if (q->cid != MSIX_TESTDEV_CID_NONE &&
		    (cid == q->cid || cid == MSIX_TESTDEV_CID_NONE)) {
			q->status = dw3 >> MSIX_TESTDEV_CQE_STATUS_SHIFT;
			q->cid = MSIX_TESTDEV_CID_NONE;
			complete(&q->done);
		}
		spin_unlock(&q->cid_lock);
		if (++q->cq_head == q->depth) {
			q->cq_head = 0;
			q->cq_phase = !q->cq_phase;
		}
	}
	if (found)
		writel(q->cq_head, q->cq_db);
	return found;
}

/*
 * The handler during the storm: take the vector's message (STORM_TAKE),
 * so the device raises it again, and see that the CPU is in the vector's
 * effective affinity.  Whether it took a message.
 *
 * A call that takes nothing is a spurious one: Linux makes those,
 * msi_set_affinity() says, when moving a vector races with an interrupt
 * of the same vector number on the old CPU.  A call can also be a replay:
 * when the interrupt arrives on another CPU while this one runs the
 * handler, handle_edge_irq() there only marks it pending, uncounted, and
 * here calls the handler again; the CPU's kstat.irqs_sum, which every
 * counted interrupt bumps, has then not moved since the last call.  The
 * affinity is the delivery's, which a replay does not show.  Linux moves
 * a non-remapped MSI in the acknowledgement of the next interrupt on the
 * old CPU (irq_move_irq()), so the handler of that one interrupt runs
 * where the affinity was: last call's mask.
 */
static bool tdev_storm_message(struct msix_testdev_vector *vec, int irq)
{
	struct msix_testdev *tdev = vec->tdev;
	const struct cpumask *eff =
		irq_data_get_effective_affinity_mask(irq_get_irq_data(irq));
	unsigned int cpu = raw_smp_processor_id();
	unsigned long sum = this_cpu_read(kstat.irqs_sum);
	bool taken = readl(tdev->bar + MSIX_TESTDEV_STORM_TAKE(vec->index));
	bool replay = cpu == vec->storm_last_cpu && sum == vec->storm_last_sum;

	vec->storm_last_cpu = cpu;
	vec->storm_last_sum = sum;
	if (!taken)
		vec->storm_spurious++;
	if (replay) {
		vec->storm_replays++;
	} else if (!cpumask_test_cpu(cpu, eff) &&
		   !cpumask_test_cpu(cpu, vec->storm_prev)) {
		if (!vec->storm_outside++)
			vec->storm_outside_cpu = cpu;
	}
	cpumask_copy(vec->storm_prev, eff);
	return taken;
}

static irqreturn_t tdev_irq(int irq, void *data)
{
	struct msix_testdev_vector *vec = data;
	bool found = false;
	unsigned int i;

	atomic_long_inc(&vec->interrupts);
	cpumask_set_cpu(raw_smp_processor_id(), vec->handler_cpus);
	if (READ_ONCE(vec->tdev->storming))
		found = tdev_storm_message(vec, irq);
	for (i = 0; i < vec->nr_queues; i++)
		found |= tdev_process_cq(vec->queues[i]);
	/* INTx may be shared with other devices: say whether it was ours. */
	return found ? IRQ_HANDLED : IRQ_NONE;
}

/*
 * Submit one command on @q and wait for its completion; its status
 * (SC_*), or -ETIMEDOUT, or -EBUSY if the SQ is full.
 */
static int tdev_submit_sync(struct msix_testdev_queue *q, u8 opcode,
			    u32 cdw10, u32 cdw11, u64 prp1)
{
	void *sqe;
	u16 cid;
	int ret;

	mutex_lock(&q->lock);
	/* Full only if commands timed out and the device kept them. */
	if ((q->sq_tail + 1) % q->depth == READ_ONCE(q->sq_head)) {
		mutex_unlock(&q->lock);
		return -EBUSY;
	}
	cid = q->next_cid++;
	if (cid == MSIX_TESTDEV_CID_NONE)
		cid = q->next_cid++;
	spin_lock_irq(&q->cid_lock);
	q->cid = cid;
	spin_unlock_irq(&q->cid_lock);

	sqe = q->sq + q->sq_tail * MSIX_TESTDEV_SQE_SIZE;
	memset(sqe, 0, MSIX_TESTDEV_SQE_SIZE);
	*(__le32 *)(sqe + MSIX_TESTDEV_SQE_CDW0) =
		cpu_to_le32(opcode | (u32)cid << MSIX_TESTDEV_CDW0_CID_SHIFT);
	*(__le64 *)(sqe + MSIX_TESTDEV_SQE_PRP1) = cpu_to_le64(prp1);
	*(__le32 *)(sqe + MSIX_TESTDEV_SQE_CDW10) = cpu_to_le32(cdw10);
	*(__le32 *)(sqe + MSIX_TESTDEV_SQE_CDW11) = cpu_to_le32(cdw11);
	if (++q->sq_tail == q->depth)
		q->sq_tail = 0;
	WRITE_ONCE(q->submitted, q->submitted + 1);
	/* writel() orders the SQE in memory before the doorbell. */
	writel(q->sq_tail, q->sq_db);

	ret = -ETIMEDOUT;
	if (!wait_for_completion_timeout(&q->done,
					 msecs_to_jiffies(timeout_ms))) {
		spin_lock_irq(&q->cid_lock);
		if (q->cid == cid) {
			/* Should its CQE still come, it is only consumed. */
			q->cid = MSIX_TESTDEV_CID_NONE;
		} else {
			/* The handler claimed it meanwhile: @done is set. */
			WARN_ON_ONCE(!try_wait_for_completion(&q->done));
			ret = q->status;
		}
		spin_unlock_irq(&q->cid_lock);
	} else {
		ret = q->status;
	}
	mutex_unlock(&q->lock);
	return ret;
}

static int tdev_admin(struct msix_testdev *tdev, u8 opcode, u32 cdw10,
		      u32 cdw11, u64 prp1, const char *what)
{
	int ret = tdev_submit_sync(&tdev->queues[0], opcode, cdw10, cdw11,
				   prp1);

	if (ret > 0)
		dev_err(&tdev->pdev->dev, "%s: status 0x%x\n", what, ret);
	else if (ret)
		dev_err(&tdev->pdev->dev, "%s: %pe\n", what, ERR_PTR(ret));
	if (ret) {
		tdev_report_error(tdev, what);
		ret = ret < 0 ? ret : -EIO;
	}
	return ret;
}

/* As NVMe: the CQ first (with its vector), then the SQ that posts to it. */
static int tdev_create_io_queue(struct msix_testdev_queue *q)
{
	struct msix_testdev *tdev = q->tdev;
	u32 cdw10 = q->qid |
		    (u32)(q->depth - 1) << MSIX_TESTDEV_CDW10_QSIZE_SHIFT;
	int ret;

	ret = tdev_admin(tdev, MSIX_TESTDEV_ADMIN_CREATE_CQ, cdw10,
			 MSIX_TESTDEV_CQ_IEN |
			 q->vector << MSIX_TESTDEV_CQ_IV_SHIFT,
			 q->cq_dma, "create CQ");
	if (ret)
		return ret;
	ret = tdev_admin(tdev, MSIX_TESTDEV_ADMIN_CREATE_SQ, cdw10,
			 (u32)q->qid << MSIX_TESTDEV_CDW11_CQID_SHIFT, q->sq_dma,
			 "create SQ");
	if (ret) {
		tdev_admin(tdev, MSIX_TESTDEV_ADMIN_DELETE_CQ, q->qid, 0, 0,
			   "delete CQ");
		return ret;
	}
	q->created = true;
	return 0;
}

static void tdev_delete_io_queue(struct msix_testdev_queue *q)
{
	struct msix_testdev *tdev = q->tdev;

	if (!q->created)
		return;
	tdev_admin(tdev, MSIX_TESTDEV_ADMIN_DELETE_SQ, q->qid, 0, 0,
		   "delete SQ");
	tdev_admin(tdev, MSIX_TESTDEV_ADMIN_DELETE_CQ, q->qid, 0, 0,
		   "delete CQ");
	q->created = false;
}

/* --------------------------------------------------------------- vectors */

/*
 * As nvme_setup_irqs(): vector 0 for the admin queue with the default
 * affinity (a pre-vector), one managed vector per I/O queue spread over
 * the CPUs; MSI-X, else MSI, else INTx.  Returns the vectors allocated.
 */
static int tdev_alloc_vectors(struct msix_testdev *tdev,
			      unsigned int nr_io_queues)
{
	struct irq_affinity affd = { .pre_vectors = 1 };

	return pci_alloc_irq_vectors_affinity(tdev->pdev, 1, nr_io_queues + 1,
					      PCI_IRQ_ALL_TYPES |
					      PCI_IRQ_AFFINITY, &affd);
}

/*
 * The CPUs a queue on @vector serves: its affinity mask (all CPUs for the
 * pre-vector); it runs on the first of them that is online.
 */
static void tdev_map_queue(struct msix_testdev_queue *q)
{
	const struct cpumask *mask;

	mask = pci_irq_get_affinity(q->tdev->pdev, q->vector);
	cpumask_copy(q->cpus, mask ? mask : cpu_possible_mask);
	q->cpu = cpumask_first_and(q->cpus, cpu_online_mask);
	if (q->cpu >= nr_cpu_ids)
		q->cpu = cpumask_first(q->cpus);
}

static int tdev_request_vector(struct msix_testdev_vector *vec)
{
	struct pci_dev *pdev = vec->tdev->pdev;
	int ret;

	/* nvme names its vectors nvme<N>q<qid>; the admin one is q0 */
	if (vec->index == 0)
		ret = pci_request_irq(pdev, 0, tdev_irq, NULL, vec,
				      KBUILD_MODNAME "-admin");
	else
		ret = pci_request_irq(pdev, vec->index, tdev_irq, NULL, vec,
				      KBUILD_MODNAME "-q%u", vec->index);
	if (ret) {
		dev_err(&pdev->dev, "cannot request vector %u (irq %d): %d\n",
			vec->index, vec->irq, ret);
		return ret;
	}
	vec->requested = true;
	return 0;
}

static void tdev_free_vectors(struct msix_testdev *tdev)
{
	unsigned int i;

	if (!tdev->nr_vectors)
		return;
	for (i = 0; tdev->vectors && i < tdev->nr_vectors; i++) {
		struct msix_testdev_vector *vec = &tdev->vectors[i];

		if (vec->requested)
			pci_free_irq(tdev->pdev, i, vec);
		free_cpumask_var(vec->handler_cpus);
		free_cpumask_var(vec->storm_prev);
	}
	kfree(tdev->vectors);
	tdev->vectors = NULL;
	tdev->nr_vectors = 0;
	/*
	 * free_irq() masked each entry at shutdown; this masks them all once
	 * more and clears MSI-X Enable (pci_msix_shutdown()), or MSI's.
	 */
	pci_free_irq_vectors(tdev->pdev);
}

/* ------------------------------------------------------------- workload */

static int tdev_run_queue(struct msix_testdev_queue *q, unsigned int count)
{
	unsigned int i;
	int ret;

	for (i = 0; i < count; i++) {
		ret = tdev_submit_sync(q, MSIX_TESTDEV_CMD_NOOP, 0, 0, 0);
		if (ret == -ETIMEDOUT)
			return ret;
		if (ret < 0) {
			dev_err(&q->tdev->pdev->dev,
				"queue %u: submission queue full\n", q->qid);
			return -EIO;
		}
		if (ret) {
			dev_err(&q->tdev->pdev->dev,
				"queue %u: no-op failed, status 0x%x\n",
				q->qid, ret);
			return -EIO;
		}
	}
	return 0;
}

static void tdev_run_work(struct work_struct *work)
{
	struct msix_testdev_queue *q =
		container_of(work, struct msix_testdev_queue, work);

	q->run_result = tdev_run_queue(q, q->run_count);
}

/*
 * K no-ops on every queue: each I/O queue from the CPU it is mapped to
 * (a bound work item there), all at once; the admin queue from the
 * writer, meanwhile.  -ETIMEDOUT first, then -EIO.
 */
static int tdev_run(struct msix_testdev *tdev, unsigned int count)
{
	int ret, result;
	unsigned int i;

	mutex_lock(&tdev->run_lock);
	/* Keep each queue's CPU online until its work item has run. */
	cpus_read_lock();
	for (i = 1; i < tdev->nr_queues; i++) {
		struct msix_testdev_queue *q = &tdev->queues[i];
		int cpu = q->cpu;

		if (!cpu_online(cpu))
			cpu = cpumask_any_and(q->cpus, cpu_online_mask);
		if (cpu >= nr_cpu_ids)
			cpu = cpumask_any(cpu_online_mask);
		q->run_count = count;
		q->run_result = 0;
		queue_work_on(cpu, system_wq, &q->work);
	}
	result = tdev_run_queue(&tdev->queues[0], count);
	for (i = 1; i < tdev->nr_queues; i++) {
		flush_work(&tdev->queues[i].work);
		ret = tdev->queues[i].run_result;
		if (ret == -ETIMEDOUT || (ret && !result))
			result = ret;
	}
	cpus_read_unlock();
	mutex_unlock(&tdev->run_lock);
	return result;
}

/* -------------------------------------------------------------- debugfs */

static ssize_t run_write(struct file *file, const char __user *buf,
			 size_t len, loff_t *ppos)
{
	struct msix_testdev *tdev = file->private_data;
	unsigned int count;
	int ret;

	ret = kstrtouint_from_user(buf, len, 0, &count);
	if (ret)
		return ret;
	ret = tdev_run(tdev, count);
	return ret ? ret : len;
}

static const struct file_operations run_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.write = run_write,
	.llseek = noop_llseek,
};

static int queues_show(struct seq_file *m, void *unused)
{
	struct msix_testdev *tdev = m->private;
	unsigned int i;

	seq_puts(m, "qid cpus vector irq submitted completed\n");
	for (i = 0; i < tdev->nr_queues; i++) {
		struct msix_testdev_queue *q = &tdev->queues[i];

		seq_printf(m, "%u %*pbl %u %d %lu %lu\n", q->qid,
			   cpumask_pr_args(q->cpus), q->vector,
			   tdev->vectors[q->vector].irq,
			   READ_ONCE(q->submitted), READ_ONCE(q->completed));
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(queues);

static int vectors_show(struct seq_file *m, void *unused)
{
	struct msix_testdev *tdev = m->private;
	unsigned int i;

	seq_puts(m, "vector irq interrupts cpus\n");
	for (i = 0; i < tdev->nr_vectors; i++) {
		struct msix_testdev_vector *vec = &tdev->vectors[i];

		seq_printf(m, "%u %d %lu ", i, vec->irq,
			   atomic_long_read(&vec->interrupts));
		if (cpumask_empty(vec->handler_cpus))
			seq_puts(m, "-\n");
		else
			seq_printf(m, "%*pbl\n",
				   cpumask_pr_args(vec->handler_cpus));
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(vectors);

/* ---------------------------------------------------------------- storm */

/* The device's count @reg (STORM_RAISED, STORM_ACKED) of @vector */
static u64 tdev_storm_count(struct msix_testdev *tdev, unsigned int vector,
			    u32 reg)
{
	lockdep_assert_held(&tdev->storm_lock);
	tdev_writel(tdev, MSIX_TESTDEV_REG_STORM_SEL, vector);
	return lo_hi_readq(tdev->bar + reg);
}

static int tdev_storm_start(struct msix_testdev *tdev)
{
	unsigned int i;

	if (tdev->storming)
		return -EBUSY;
	for (i = 0; i < tdev->nr_vectors; i++) {
		struct msix_testdev_vector *vec = &tdev->vectors[i];

		/* disable_irq() then masks the entry at once, not lazily. */
		irq_set_status_flags(vec->irq, IRQ_DISABLE_UNLAZY);
		vec->storm_base = atomic_long_read(&vec->interrupts);
		cpumask_copy(vec->storm_prev, irq_data_get_effective_affinity_mask(
				     irq_get_irq_data(vec->irq)));
	}
	WRITE_ONCE(tdev->storming, true);
	tdev_writel(tdev, MSIX_TESTDEV_REG_STORM, tdev->nr_vectors);
	dev_info(&tdev->pdev->dev, "storm on %u vectors\n", tdev->nr_vectors);
	return 0;
}

/*
 * Stop raising, then wait for every vector's last message: once acked,
 * nothing is in flight.  The handler keeps acknowledging (storming stays
 * set) until the driver lets go of the device.
 */
static int tdev_storm_stop(struct msix_testdev *tdev)
{
	unsigned long end = jiffies +
		msecs_to_jiffies(MSIX_TESTDEV_DRV_STORM_DRAIN_MS);
	unsigned int i = 0;

	if (!tdev->storming)
		return -EINVAL;
	tdev_writel(tdev, MSIX_TESTDEV_REG_STORM, 0);
	while (i < tdev->nr_vectors) {
		if (tdev_storm_count(tdev, i, MSIX_TESTDEV_REG_STORM_RAISED) ==
		    tdev_storm_count(tdev, i, MSIX_TESTDEV_REG_STORM_ACKED)) {
			i++;
			continue;
		}
		if (time_after(jiffies, end)) {
			/* The storm file shows which; the host checks it. */
			dev_warn(&tdev->pdev->dev,
				 "storm stopped with vector %u in flight\n", i);
			return 0;
		}
		msleep(1);
	}
	dev_info(&tdev->pdev->dev, "storm stopped, every message taken\n");
	return 0;
}

/*
 * "mask V": mask vector V's entry and unmask it again (disable_irq(),
 * enable_irq()), as a driver quiescing one queue does.  Not on a managed
 * vector Linux shut down because its CPUs went offline: enabling one is a
 * driver bug (__irq_startup_managed() warns).  Holding the CPU hotplug
 * lock keeps it from shutting down meanwhile.
 */
static int tdev_storm_mask(struct msix_testdev *tdev, unsigned int vector)
{
	struct msix_testdev_vector *vec;

	if (vector >= tdev->nr_vectors)
		return -EINVAL;
	vec = &tdev->vectors[vector];
	cpus_read_lock();
	if (irqd_is_managed_and_shutdown(irq_get_irq_data(vec->irq))) {
		atomic_long_inc(&vec->storm_skipped);
	} else {
		disable_irq(vec->irq);
		usleep_range(MSIX_TESTDEV_DRV_STORM_MASK_US,
			     2 * MSIX_TESTDEV_DRV_STORM_MASK_US);
		enable_irq(vec->irq);
		atomic_long_inc(&vec->storm_masks);
	}
	cpus_read_unlock();
	return 0;
}

/*
 * "maskall": set the function mask (MSI-X Message Control bit 14) and
 * clear it again; what the device held meanwhile is sent at the clear.
 */
static int tdev_storm_maskall(struct msix_testdev *tdev)
{
	struct pci_dev *pdev = tdev->pdev;
	u16 ctrl;

	if (!pdev->msix_enabled)
		return -EINVAL;
	/*
	 * Keep CPUs from coming online meanwhile: on AMD family 0xf-0x16
	 * (QEMU's default qemu64) each one runs early_init_amd()'s lockless
	 * read_pci_config(0, 0x18, 0, 0x68), which can move the shared 0xCF8
	 * address latch between our type 1 address and data accesses: we
	 * would read 0xffff, or our write would go to 00:18.0 and be lost.
	 */
	cpus_read_lock();
	mutex_lock(&tdev->storm_lock);
	pci_read_config_word(pdev, pdev->msix_cap + PCI_MSIX_FLAGS, &ctrl);
	pci_write_config_word(pdev, pdev->msix_cap + PCI_MSIX_FLAGS,
			      ctrl | PCI_MSIX_FLAGS_MASKALL);
	usleep_range(MSIX_TESTDEV_DRV_STORM_MASK_US,
		     2 * MSIX_TESTDEV_DRV_STORM_MASK_US);
	pci_write_config_word(pdev, pdev->msix_cap + PCI_MSIX_FLAGS, ctrl);
	tdev->storm_maskalls++;
	mutex_unlock(&tdev->storm_lock);
	cpus_read_unlock();
	return 0;
}

/*
 * Whether @cpu is the last online CPU of managed vector @vec's affinity:
 * going offline, it makes Linux shut the vector down
 * (irq_migrate_all_off_this_cpu()).
 */
static bool tdev_last_cpu_of(struct msix_testdev_vector *vec,
			     unsigned int cpu)
{
	struct irq_data *d = irq_get_irq_data(vec->irq);
	const struct cpumask *aff = irq_data_get_affinity_mask(d);
	unsigned int c;

	if (!irqd_affinity_is_managed(d) || !cpumask_test_cpu(cpu, aff))
		return false;
	for_each_cpu_and(c, aff, cpu_online_mask)
		if (c != cpu)
			return false;
	return true;
}

/*
 * CPU @cpu is going offline (CPUHP_AP_ONLINE_DYN, on @cpu, before its
 * interrupts move away): quiesce the storm on each managed vector it is
 * the last CPU of, as blk-mq quiesces a queue (blk_mq_hctx_notify_offline()):
 * stop raising it and wait until its message in flight was taken.
 * Linux then shuts the vector down with nothing in flight; a message sent
 * just before would sit in the dying CPU's IRR, which fixup_irqs() does
 * not retrigger for a vector already shut down, and be lost.
 */
static int tdev_cpu_offline(unsigned int cpu, struct hlist_node *node)
{
	struct msix_testdev *tdev = hlist_entry_safe(node, struct msix_testdev,
						     cpuhp_node);
	unsigned long end = jiffies +
		msecs_to_jiffies(MSIX_TESTDEV_DRV_STORM_DRAIN_MS);
	unsigned int i;

	if (!READ_ONCE(tdev->storming))
		return 0;
	mutex_lock(&tdev->storm_lock);
	for (i = 0; i < tdev->nr_vectors; i++) {
		struct msix_testdev_vector *vec = &tdev->vectors[i];

		if (vec->storm_paused || !tdev_last_cpu_of(vec, cpu))
			continue;
		tdev_writel(tdev, MSIX_TESTDEV_REG_STORM_PAUSE, i);
		vec->storm_paused = true;
		vec->storm_pauses++;
		while (tdev_storm_count(tdev, i, MSIX_TESTDEV_REG_STORM_RAISED) !=
		       tdev_storm_count(tdev, i, MSIX_TESTDEV_REG_STORM_ACKED)) {
			if (time_after(jiffies, end)) {
				dev_warn(&tdev->pdev->dev,
					 "CPU %u going offline with vector %u's message in flight\n",
					 cpu, i);
				break;
			}
			msleep(1);
		}
	}
	mutex_unlock(&tdev->storm_lock);
	return 0;
}

/* CPU @cpu is back: Linux restarted its managed vectors; storm them. */
static int tdev_cpu_online(unsigned int cpu, struct hlist_node *node)
{
	struct msix_testdev *tdev = hlist_entry_safe(node, struct msix_testdev,
						     cpuhp_node);
	unsigned int i;

	mutex_lock(&tdev->storm_lock);
	for (i = 0; i < tdev->nr_vectors; i++) {
		struct msix_testdev_vector *vec = &tdev->vectors[i];

		if (vec->storm_paused &&
		    cpumask_test_cpu(cpu, irq_data_get_affinity_mask(
					     irq_get_irq_data(vec->irq)))) {
			tdev_writel(tdev, MSIX_TESTDEV_REG_STORM_RESUME, i);
			vec->storm_paused = false;
		}
	}
	mutex_unlock(&tdev->storm_lock);
	return 0;
}

/* Commands: "start", "stop", "mask V", "maskall" */
static ssize_t storm_write(struct file *file, const char __user *ubuf,
			   size_t len, loff_t *ppos)
{
	struct msix_testdev *tdev = file->private_data;
	unsigned int vector;
	char buf[32];
	int ret;

	if (len >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = '\0';
	strim(buf);
	if (!strcmp(buf, "start") || !strcmp(buf, "stop")) {
		mutex_lock(&tdev->storm_lock);
		ret = buf[2] == 'a' ? tdev_storm_start(tdev)
				    : tdev_storm_stop(tdev);
		mutex_unlock(&tdev->storm_lock);
	} else if (!strcmp(buf, "maskall")) {
		ret = tdev_storm_maskall(tdev);
	} else if (sscanf(buf, "mask %u", &vector) == 1) {
		ret = READ_ONCE(tdev->storming) ? tdev_storm_mask(tdev, vector)
						: -EINVAL;
	} else {
		ret = -EINVAL;
	}
	return ret ? ret : len;
}

static const struct file_operations storm_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.write = storm_write,
	.llseek = noop_llseek,
};

/*
 * Per vector: the device's raises and acknowledgements (STORM_RAISED,
 * STORM_ACKED), the handler's calls since "start", those that took no
 * message (spurious), those handle_edge_irq() replayed, those on a CPU
 * outside the effective affinity (and the first such CPU, -1: none), the
 * "mask" commands done and skipped, the pauses for CPUs going offline.
 * Then the "maskall" commands done.
 */
static int storm_counts_show(struct seq_file *m, void *unused)
{
	struct msix_testdev *tdev = m->private;
	unsigned int i;

	mutex_lock(&tdev->storm_lock);
	seq_puts(m, "vector irq raised acked interrupts spurious replays outside outside_cpu masks skipped pauses\n");
	for (i = 0; i < tdev->nr_vectors; i++) {
		struct msix_testdev_vector *vec = &tdev->vectors[i];

		seq_printf(m, "%u %d %llu %llu %ld %lu %lu %lu %d %ld %ld %lu\n", i, vec->irq,
			   tdev_storm_count(tdev, i, MSIX_TESTDEV_REG_STORM_RAISED),
			   tdev_storm_count(tdev, i, MSIX_TESTDEV_REG_STORM_ACKED),
			   tdev->storming ? atomic_long_read(&vec->interrupts) -
					    vec->storm_base : 0,
			   READ_ONCE(vec->storm_spurious),
			   READ_ONCE(vec->storm_replays),
			   READ_ONCE(vec->storm_outside),
			   READ_ONCE(vec->storm_outside_cpu),
			   atomic_long_read(&vec->storm_masks),
			   atomic_long_read(&vec->storm_skipped),
			   vec->storm_pauses);
	}
	seq_printf(m, "maskall %lu\n", tdev->storm_maskalls);
	mutex_unlock(&tdev->storm_lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(storm_counts);

static void tdev_debugfs_init(struct msix_testdev *tdev)
{
	tdev->debugfs = debugfs_create_dir(pci_name(tdev->pdev),
					   msix_testdev_debugfs_root);
	debugfs_create_file("run", 0200, tdev->debugfs, tdev, &run_fops);
	debugfs_create_file("queues", 0444, tdev->debugfs, tdev,
			    &queues_fops);
	debugfs_create_file("vectors", 0444, tdev->debugfs, tdev,
			    &vectors_fops);
	debugfs_create_file("storm", 0200, tdev->debugfs, tdev, &storm_fops);
	debugfs_create_file("storm_counts", 0444, tdev->debugfs, tdev,
			    &storm_counts_fops);
}

/* ------------------------------------------------------------ probe/remove */

static void tdev_free_queues(struct msix_testdev *tdev)
{
	unsigned int i;

	if (!tdev->queues)
		return;
	for (i = 0; i < tdev->nr_queues; i++)
		tdev_free_queue(&tdev->queues[i]);
	kfree(tdev->queues);
	tdev->queues = NULL;
}

/*
 * I/O queue pairs wanted: one per online CPU, capped by the device
 * (CAP.NQ) and the max_queues parameter; the vectors we get may cap
 * them further.
 */
static unsigned int tdev_nr_io_queues(struct msix_testdev *tdev)
{
	unsigned int nr;

	nr = min3(num_online_cpus(), tdev_cap_nq(tdev),
		  (unsigned int)MSIX_TESTDEV_MAX_QUEUES);
	if (max_queues)
		nr = min(nr, max_queues);
	return nr;
}

/*
 * Vectors, then the I/O queue pairs on them: one per vector after the
 * admin one; with one vector only, one pair sharing it with the admin
 * queue, as nvme does.  tdev->queues has room for @nr_io_queues + 1.
 */
static int tdev_setup_io_queues(struct msix_testdev *tdev,
				unsigned int nr_io_queues)
{
	struct pci_dev *pdev = tdev->pdev;
	unsigned int i;
	int ret;

	ret = tdev_alloc_vectors(tdev, nr_io_queues);
	if (ret < 0) {
		dev_err(&pdev->dev, "cannot allocate interrupt vectors: %d\n",
			ret);
		return ret;
	}
	tdev->nr_vectors = ret;
	nr_io_queues = min(nr_io_queues, max(tdev->nr_vectors - 1, 1U));

	tdev->vectors = kcalloc(tdev->nr_vectors, sizeof(*tdev->vectors),
				GFP_KERNEL);
	if (!tdev->vectors)
		return -ENOMEM;
	for (i = 0; i < tdev->nr_vectors; i++) {
		struct msix_testdev_vector *vec = &tdev->vectors[i];

		vec->tdev = tdev;
		vec->index = i;
		vec->irq = pci_irq_vector(pdev, i);
		vec->storm_outside_cpu = -1;
		vec->storm_last_cpu = -1;
		if (!zalloc_cpumask_var(&vec->handler_cpus, GFP_KERNEL) ||
		    !zalloc_cpumask_var(&vec->storm_prev, GFP_KERNEL))
			return -ENOMEM;
	}

	for (i = 1; i <= nr_io_queues; i++) {
		INIT_WORK(&tdev->queues[i].work, tdev_run_work);
		ret = tdev_alloc_queue(tdev, i, MSIX_TESTDEV_DRV_IO_DEPTH,
				       tdev->nr_vectors > 1 ? i : 0);
		tdev->nr_queues = i + 1;
		if (ret)
			return ret;
	}

	/*
	 * Every queue is in its vector's list before any handler can run;
	 * a queue not yet created has a zeroed CQ, which holds no entry of
	 * the expected phase.
	 */
	for (i = 0; i < tdev->nr_queues; i++) {
		struct msix_testdev_queue *q = &tdev->queues[i];
		struct msix_testdev_vector *vec = &tdev->vectors[q->vector];

		if (WARN_ON(vec->nr_queues == ARRAY_SIZE(vec->queues)))
			return -EINVAL;
		vec->queues[vec->nr_queues++] = q;
		tdev_map_queue(q);
	}

	ret = tdev_request_vector(&tdev->vectors[0]);
	if (ret)
		return ret;
	for (i = 1; i < tdev->nr_queues; i++) {
		struct msix_testdev_queue *q = &tdev->queues[i];

		ret = tdev_create_io_queue(q);
		if (ret)
			return ret;
		if (q->vector) {
			ret = tdev_request_vector(&tdev->vectors[q->vector]);
			if (ret)
				return ret;
		}
	}
	return 0;
}

static void tdev_teardown(struct msix_testdev *tdev)
{
	unsigned int i;

	/* No storm message after this; the handler acks those in flight. */
	tdev_writel(tdev, MSIX_TESTDEV_REG_STORM, 0);
	/* Delete the I/O pairs while the admin vector still runs... */
	for (i = tdev->nr_queues; i-- > 1;)
		tdev_delete_io_queue(&tdev->queues[i]);
	/* ...then stop the controller, so nothing can notify a freed vector. */
	if (tdev_disable_ctrl(tdev))
		tdev_report_error(tdev, "controller did not stop");
	tdev_free_vectors(tdev);
	tdev_free_queues(tdev);
}

static int tdev_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	unsigned int nr_io_queues;
	struct msix_testdev *tdev;
	u32 vs;
	int ret;

	tdev = kzalloc(sizeof(*tdev), GFP_KERNEL);
	if (!tdev)
		return -ENOMEM;
	tdev->pdev = pdev;
	mutex_init(&tdev->run_lock);
	mutex_init(&tdev->storm_lock);
	pci_set_drvdata(pdev, tdev);

	ret = pci_enable_device_mem(pdev);
	if (ret)
		goto free;
	ret = pci_request_mem_regions(pdev, KBUILD_MODNAME);
	if (ret)
		goto disable;
	if (pci_resource_len(pdev, MSIX_TESTDEV_BAR_REGS) <
	    MSIX_TESTDEV_BAR_REGS_SIZE) {
		dev_err(&pdev->dev, "BAR %d too small\n",
			MSIX_TESTDEV_BAR_REGS);
		ret = -ENODEV;
		goto release;
	}
	tdev->bar = pci_iomap(pdev, MSIX_TESTDEV_BAR_REGS,
			      MSIX_TESTDEV_BAR_REGS_SIZE);
	if (!tdev->bar) {
		ret = -ENOMEM;
		goto release;
	}
	pci_set_master(pdev);
	ret = dma_set_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(64));
	if (ret)
		goto unmap;

	tdev->cap = lo_hi_readq(tdev->bar + MSIX_TESTDEV_REG_CAP);
	vs = tdev_readl(tdev, MSIX_TESTDEV_REG_VS);
	if (vs != MSIX_TESTDEV_VERSION)
		dev_warn(&pdev->dev, "version 0x%x, expected 0x%x\n", vs,
			 MSIX_TESTDEV_VERSION);

	/* A controller left enabled (kexec, an earlier driver) starts over. */
	if (tdev_readl(tdev, MSIX_TESTDEV_REG_CC) & MSIX_TESTDEV_CC_EN) {
		ret = tdev_disable_ctrl(tdev);
		if (ret)
			goto unmap;
	}
	tdev_writel(tdev, MSIX_TESTDEV_REG_ERR, 0);

	nr_io_queues = tdev_nr_io_queues(tdev);
	if (!nr_io_queues) {
		ret = -ENODEV;
		goto unmap;
	}
	tdev->queues = kcalloc(nr_io_queues + 1, sizeof(*tdev->queues),
			       GFP_KERNEL);
	if (!tdev->queues) {
		ret = -ENOMEM;
		goto unmap;
	}
	tdev->nr_queues = 1;
	ret = tdev_alloc_queue(tdev, 0, MSIX_TESTDEV_DRV_ADMIN_DEPTH, 0);
	if (ret)
		goto queues;
	ret = tdev_enable_ctrl(tdev);
	if (ret)
		goto queues;

	ret = tdev_setup_io_queues(tdev, nr_io_queues);
	if (ret)
		goto teardown;

	tdev_debugfs_init(tdev);
	tdev->cpuhp_added = !cpuhp_state_add_instance_nocalls(tdev_cpuhp_state,
							       &tdev->cpuhp_node);
	dev_info(&pdev->dev,
		 "%u I/O queue pairs on %u %s vector(s); the device has %u queue pairs, %u MSI-X vectors\n",
		 tdev->nr_queues - 1, tdev->nr_vectors,
		 pdev->msix_enabled ? "MSI-X" :
		 pdev->msi_enabled ? "MSI" : "INTx",
		 tdev_cap_nq(tdev), tdev_cap_nv(tdev));
	return 0;

teardown:
	tdev_teardown(tdev);
	goto unmap;
queues:
	tdev_disable_ctrl(tdev);
	tdev_free_queues(tdev);
unmap:
	pci_iounmap(pdev, tdev->bar);
release:
	pci_release_mem_regions(pdev);
disable:
	pci_disable_device(pdev);
free:
	kfree(tdev);
	return ret;
}

static void tdev_remove(struct pci_dev *pdev)
{
	struct msix_testdev *tdev = pci_get_drvdata(pdev);

	if (tdev->cpuhp_added)
		cpuhp_state_remove_instance_nocalls(tdev_cpuhp_state,
						    &tdev->cpuhp_node);
	/* Waits for a "run" in progress: debugfs drains its users. */
	debugfs_remove_recursive(tdev->debugfs);
	tdev_teardown(tdev);
	pci_iounmap(pdev, tdev->bar);
	pci_release_mem_regions(pdev);
	pci_disable_device(pdev);
	kfree(tdev);
}

static const struct pci_device_id tdev_ids[] = {
	{ PCI_DEVICE(MSIX_TESTDEV_VENDOR_ID, MSIX_TESTDEV_DEVICE_ID) },
	{ }
};
MODULE_DEVICE_TABLE(pci, tdev_ids);

static struct pci_driver tdev_driver = {
	.name = KBUILD_MODNAME,
	.id_table = tdev_ids,
	.probe = tdev_probe,
	.remove = tdev_remove,
};

static int __init msix_testdev_init(void)
{
	int ret;

	ret = cpuhp_setup_state_multi(CPUHP_AP_ONLINE_DYN, "msix_testdev:online",
				      tdev_cpu_online, tdev_cpu_offline);
	if (ret < 0)
		return ret;
	tdev_cpuhp_state = ret;
	msix_testdev_debugfs_root = debugfs_create_dir(KBUILD_MODNAME, NULL);
	ret = pci_register_driver(&tdev_driver);
	if (ret) {
		debugfs_remove_recursive(msix_testdev_debugfs_root);
		cpuhp_remove_multi_state(tdev_cpuhp_state);
	}
	return ret;
}

static void __exit msix_testdev_exit(void)
{
	pci_unregister_driver(&tdev_driver);
	debugfs_remove_recursive(msix_testdev_debugfs_root);
	cpuhp_remove_multi_state(tdev_cpuhp_state);
}

module_init(msix_testdev_init);
module_exit(msix_testdev_exit);

MODULE_DESCRIPTION("Driver for QEMU's msix-testdev MSI-X test device");
MODULE_LICENSE("GPL");
