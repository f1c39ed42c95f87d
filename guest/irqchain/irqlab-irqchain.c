// SPDX-License-Identifier: GPL-2.0
/*
 * irqlab-irqchain: the irq_domain hierarchy behind every MSI/MSI-X irq
 *
 * Linux builds an irq_domain hierarchy for each MSI irq when the driver
 * allocates it (msi_domain_alloc_irqs() -> __irq_domain_alloc_irqs(), one
 * struct irq_data per level, linked from the irq's own through
 * ->parent_data).  On x86 without interrupt remapping it has two levels,
 * PCI-MSI over VECTOR; with Intel's remapping three, the remapping unit's
 * MSI domain over INTEL-IR over VECTOR.  Debian's kernel has no
 * GENERIC_IRQ_DEBUGFS, which would show it in
 * /sys/kernel/debug/irq/irqs/<irq>, so this module shows it:
 *
 *   /sys/kernel/debug/irqlab_irqchain
 *
 *   irq msi_index dev level domain hwirq chip vector dest_apicid effective
 *   25 0 0000:00:04.0 0 PCI-MSI 0x10000 PCI-MSI - - -
 *   25 0 0000:00:04.0 1 VECTOR 0x19 APIC 0x22 0x80 7
 *
 * one row per level, the irq's own first, for every irq that has an
 * msi_desc (whatever the driver: msix_testdev, nvme, vfio-pci); the
 * harness picks the device's irqs (harness/irqlab/irqchain.py).  Names
 * are printed with blanks made '_', and a missing one as '-', so every
 * row has the header's ten fields.
 *
 * The level of x86_vector_domain (exported) also shows its struct
 * irq_cfg: the vector and destination irq_msi_compose_msg() wrote into
 * the device's entry, or intel_ir_reconfigure_irte() into the IRTE.  That
 * is read with irqd_cfg(), the kernel's own exported accessor of the
 * vector domain's private apic_chip_data, and the CPU is the irq's
 * effective affinity (irq_data_get_effective_affinity_mask()), which
 * apic_update_irq_cfg() sets to the vector's CPU.  Reading the structures
 * by offset (BTF, as the gdb walk does) would work as well, but these
 * accessors keep working when the layouts move and need nothing but the
 * kernel's headers.
 *
 * Locking: each irq is read under its descriptor's lock, which is what
 * serialises the values that change at run time (irq_set_affinity() ->
 * apic_set_affinity() moves the vector and the effective affinity under
 * it).  The hierarchy itself is built and torn down under
 * irq_domain_mutex and the sparse irq lock, neither exported; the harness
 * reads this file while nothing in the guest allocates or frees an irq
 * (guest/init, after the workload, before the unbind).  The descriptors
 * themselves are freed after an RCU grace period (free_desc()), so the
 * lookup runs under rcu_read_lock().
 *
 * This is Linux code: kernel coding style, GPL-2.0 (as guest/driver).
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cpumask.h>
#include <linux/ctype.h>
#include <linux/debugfs.h>
#include <linux/device.h>
#include <linux/irq.h>
#include <linux/irqdesc.h>
#include <linux/irqdomain.h>
#include <linux/module.h>
#include <linux/msi.h>
#include <linux/seq_file.h>

#include <asm/hw_irq.h>
#include <asm/irqdomain.h>

static struct dentry *irqchain_file;

/* A name as one field: '-' when there is none, blanks made '_'. */
static void irqchain_name(struct seq_file *m, const char *name)
{
	if (!name || !*name) {
		seq_putc(m, '-');
		return;
	}
	for (; *name; name++)
		seq_putc(m, isspace(*name) ? '_' : *name);
}

static void irqchain_level(struct seq_file *m, unsigned int irq, struct msi_desc *entry,
			   int level, struct irq_data *d)
{
	const struct cpumask *eff;
	struct irq_cfg *cfg;

	seq_printf(m, "%u %u ", irq, entry->msi_index);
	irqchain_name(m, entry->dev ? dev_name(entry->dev) : NULL);
	seq_printf(m, " %d ", level);
	irqchain_name(m, d->domain ? d->domain->name : NULL);
	seq_printf(m, " %#lx ", d->hwirq);
	irqchain_name(m, d->chip ? d->chip->name : NULL);

	cfg = d->domain && d->domain == x86_vector_domain ? irqd_cfg(d) : NULL;
	if (!cfg) {
		seq_puts(m, " - - -\n");
		return;
	}
	seq_printf(m, " %#x %#x ", cfg->vector, cfg->dest_apicid);
	eff = irq_data_get_effective_affinity_mask(d);
	if (cpumask_empty(eff))
		seq_puts(m, "-\n");
	else
		seq_printf(m, "%*pbl\n", cpumask_pr_args(eff));
}

static void irqchain_show_irq(struct seq_file *m, unsigned int irq)
{
	struct irq_data *top, *d;
	struct msi_desc *entry;
	struct irq_desc *desc;
	unsigned long flags;
	int level = 0;

	top = irq_get_irq_data(irq);
	if (!top)
		return;
	desc = irq_data_to_desc(top);
	raw_spin_lock_irqsave(&desc->lock, flags);
	entry = irq_data_get_msi_desc(top);
	if (entry) {
		for (d = top; d; d = d->parent_data)
			irqchain_level(m, irq, entry, level++, d);
	}
	raw_spin_unlock_irqrestore(&desc->lock, flags);
}

static int irqchain_show(struct seq_file *m, void *unused)
{
	unsigned int irq;

	seq_puts(m, "irq msi_index dev level domain hwirq chip vector dest_apicid effective\n");
	for (irq = 0; irq < nr_irqs; irq++) {
		rcu_read_lock();
		irqchain_show_irq(m, irq);
		rcu_read_unlock();
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(irqchain);

static int __init irqchain_init(void)
{
	irqchain_file = debugfs_create_file(KBUILD_MODNAME, 0444, NULL, NULL, &irqchain_fops);
	return 0;
}

static void __exit irqchain_exit(void)
{
	debugfs_remove(irqchain_file);
}

module_init(irqchain_init);
module_exit(irqchain_exit);

MODULE_DESCRIPTION("irqlab: the irq_domain hierarchy of every MSI irq, in debugfs");
MODULE_LICENSE("GPL");
