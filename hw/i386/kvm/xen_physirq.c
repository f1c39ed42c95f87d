/*
 * QEMU Xen emulation: a model of Xen's physical IRQ layer, for
 * dom0-style MSI-X and MSI
 *
 * A Xen dom0 does not program its devices' MSI-X table entries or MSI
 * capabilities.  Linux's xen_initdom_setup_msi_irqs() asks Xen with
 * PHYSDEVOP_map_pirq, naming the device (bus/devfn, the segment in the
 * high bits of bus for MAP_PIRQ_TYPE_MSI_SEG and _MULTI_MSI) and, for
 * MSI-X, the table entry (entry_nr) and the BAR that holds the table
 * (table_base); table_base 0 is the MSI capability, with
 * MAP_PIRQ_TYPE_MULTI_MSI for a block of entry_nr vectors.  Xen
 * (xen/arch/x86/irq.c, msi.c):
 *
 *   allocate_and_map_msi_pirq()
 *     create_irq()             one of Xen's own irqs, above the GSIs
 *     map_domain_pirq()        the irq bound to the domain's pirq
 *       pci_enable_msi()       MSI-X enabled on the function
 *         setup_msi_irq()      assign_irq_vector(): a vector on a CPU,
 *                              recorded in that CPU's vector_irq[];
 *                              the message for that CPU and vector
 *                              written into the entry, masked (MSI: the
 *                              capability, enabled; multi-message MSI:
 *                              one irq and pirq per vector, a contiguous
 *                              aligned block of vectors on one CPU)
 *
 * dom0 binds the pirq (Linux's startup_pirq(), EVTCHNOP_bind_pirq); Xen's
 * pirq_guest_bind() sets the irq's affinity to the binding vCPU's CPU
 * (set_msi_affinity(): the message written again) and unmasks the entry.
 * When dom0 moves the port to another vCPU (EVTCHNOP_bind_vcpu), Xen
 * moves the irq at its next interrupt (move_native_irq(): masked, a
 * vector on the new CPU, the message, unmasked).  When the device sends the
 * message, Xen's do_IRQ() looks the vector up in the receiving CPU's
 * vector_irq[], finds the irq's descriptor, sees it bound to a guest
 * (__do_IRQ_guest()) and sends the domain's pirq to its port
 * (send_guest_pirq()).  Closing the port masks the entry again
 * (pirq_guest_unbind()); PHYSDEVOP_unmap_pirq frees it all.
 *
 * This device models that layer for the one emulated domain, with the
 * emulated machine's CPUs and local APICs standing in for the host's:
 * with it (`-device xen-physirq`), PHYSDEVOP_map_pirq of an MSI type
 * takes the path above, a message whose physical destination and vector
 * are in a vector_irq[] is claimed through the MSI interceptor chain and
 * never reaches that local APIC, and the entries and MSI capabilities the
 * model programs are owned by it: the guest's writes to them are ignored
 * and logged, as Xen ignores dom0's (its MSI-X table pages are read-only
 * to dom0, its MSI capability writes are intercepted).
 *
 * Deliberate differences from Xen, also in docs/xen-model.rst:
 *  - index must be -1 (a new irq); Xen also maps an existing irq; a
 *    multi-message MSI always gets new pirqs;
 *  - an MSI capability without per-vector masking is not masked on
 *    close (Xen cannot either) and its messages while unbound are counted
 *    as dropped;
 *  - a multi-message MSI block's vectors are taken on the CPU with the
 *    fewest in use, the lowest free aligned block;
 *  - the guest's unmask of a pirq's port is not seen (Linux clears the
 *    port's mask bit in shared memory), so the entry is unmasked at bind,
 *    where Linux unmasks the port right after;
 *  - one PCI segment (0), as the emulated machine has.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/host-utils.h"
#include "qemu/log.h"
#include "qapi/error.h"
#include "hw/boards.h"
#include "hw/core/cpu.h"
#include "hw/i386/x86-msi.h"
#include "hw/i386/pc.h"
#include "hw/pci/msi.h"
#include "hw/pci/msi-intercept.h"
#include "hw/pci/msix.h"
#include "hw/pci/pci.h"
#include "hw/pci/pci_device.h"
#include "hw/pci/pci_host.h"
#include "hw/qdev-core.h"
#include "hw/resettable.h"
#include "migration/vmstate.h"
#include "qom/object.h"
#include "system/reset.h"
#include "target/i386/cpu.h"
#include "trace.h"

#include "xen_evtchn.h"
#include "xen_physirq.h"

/* Xen's dynamic vector range (xen/arch/x86/include/asm/irq-vectors.h) */
#define XEN_FIRST_DYNAMIC_VECTOR    0x20
#define XEN_LAST_DYNAMIC_VECTOR     0xef
/* The legacy PIC's vectors, which Xen keeps free on CPU 0 */
#define XEN_LAST_LEGACY_VECTOR      0x2f
/*
 * Never allocated (xen/arch/x86/irq.c, init_irq_data()): the vectors up
 * to IRQ_MOVE_CLEANUP_VECTOR, and the PV guests' fast-trap 0x80
 * (HYPERCALL_VECTOR only with CONFIG_PV32, which Debian's Xen lacks)
 */
#define XEN_IRQ_MOVE_CLEANUP_VECTOR 0x22
#define XEN_LEGACY_SYSCALL_VECTOR   0x80
/* Xen's _assign_irq_vector() steps one priority class at a time */
#define XEN_VECTOR_STEP             8
#define XEN_NR_VECTORS              256
/* Xen's irqs above the GSIs (nr_irqs_gsi): the emulated IOAPIC's pins */
#define XEN_NR_IRQS_GSI             IOAPIC_NUM_PINS
/* How many irqs the model can create */
#define XEN_PHYSIRQ_NR_IRQS         256
/* A vector_irq[] slot with no irq (Xen: IRQ_VECTOR_UNASSIGNED) */
#define VECTOR_UNASSIGNED           (-1)

OBJECT_DECLARE_SIMPLE_TYPE(XenPhysIrqState, XEN_PHYSIRQ)

/* One CPU's vector_irq[]: vector -> Xen's irq, or VECTOR_UNASSIGNED */
typedef int16_t XenVectorIrq[XEN_NR_VECTORS];

/* One of Xen's irqs: struct irq_desc, its arch part and its msi_desc */
typedef struct XenIrqDesc {
    /* The domain's pirq bound to the irq; 0: the descriptor is free */
    uint32_t pirq;
    /* The CPU (vCPU index) and vector assigned (Xen's arch.cpu_mask) */
    uint32_t cpu;
    uint8_t vector;
    /* The device (segment 0, bus, devfn) and its capability */
    uint8_t bus;
    uint8_t devfn;
    uint8_t cap;            /* MsiCapability */
    /* The MSI-X table entry, or the vector within the MSI block */
    uint16_t entry;
    /* Messages routed to the pirq (Xen: the irq's kstat count) */
    uint64_t count;
    /* Xen's IRQ_MOVE_PENDING and pending_mask: move to this CPU */
    bool move_pending;
    uint32_t move_cpu;
} XenIrqDesc;

struct XenPhysIrqState {
    DeviceState parent_obj;

    /* Xen's irq XEN_NR_IRQS_GSI + i is desc[i] (migrated) */
    XenIrqDesc desc[XEN_PHYSIRQ_NR_IRQS];

    /* Each CPU's vector_irq[], rebuilt from desc[] */
    uint32_t nr_cpus;
    XenVectorIrq *vector_irq;
    /* Descriptors in use, rebuilt from desc[] */
    uint32_t nr_mapped;
    /* _assign_irq_vector()'s static current_vector and current_offset */
    uint8_t current_vector;
    uint8_t current_offset;
};

static XenPhysIrqState *xen_physirq_singleton;

bool xen_physirq_present(void)
{
    return xen_physirq_singleton != NULL;
}

static int desc_irq(XenPhysIrqState *s, const XenIrqDesc *d)
{
    return XEN_NR_IRQS_GSI + (d - s->desc);
}

static uint32_t cpu_apic_id(uint32_t cpu)
{
    CPUState *cs = qemu_get_cpu(cpu);

    return cs ? CPU_GET_CLASS(cs)->get_arch_id(cs) : 0;
}

/* The device of @d's entry, looked up each time (no pointer to go stale) */
static PCIDevice *desc_device(const XenIrqDesc *d)
{
    PCMachineState *pcms = PC_MACHINE(qdev_get_machine());

    return pci_find_device(pcms->pcibus, d->bus, d->devfn);
}

static XenIrqDesc *desc_of_pirq(XenPhysIrqState *s, int pirq)
{
    unsigned i;

    for (i = 0; pirq > 0 && i < XEN_PHYSIRQ_NR_IRQS; i++) {
        if (s->desc[i].pirq == pirq) {
            return &s->desc[i];
        }
    }
    return NULL;
}

/* Any MSI-X mapping of the device */
static XenIrqDesc *desc_of_msix(XenPhysIrqState *s, uint8_t bus,
                                uint8_t devfn)
{
    unsigned i;

    for (i = 0; s->nr_mapped && i < XEN_PHYSIRQ_NR_IRQS; i++) {
        XenIrqDesc *d = &s->desc[i];

        if (d->pirq && d->bus == bus && d->devfn == devfn &&
            d->cap == MSI_CAPABILITY_MSIX) {
            return d;
        }
    }
    return NULL;
}

/* @dev's MSI-X entry @entry, or (@cap MSI_CAPABILITY_MSI) its MSI block */
static XenIrqDesc *desc_of_entry(XenPhysIrqState *s, uint8_t bus,
                                 uint8_t devfn, MsiCapability cap,
                                 unsigned entry)
{
    unsigned i;

    for (i = 0; s->nr_mapped && i < XEN_PHYSIRQ_NR_IRQS; i++) {
        XenIrqDesc *d = &s->desc[i];

        if (d->pirq && d->bus == bus && d->devfn == devfn && d->cap == cap &&
            (cap == MSI_CAPABILITY_MSI || d->entry == entry)) {
            return d;
        }
    }
    return NULL;
}

static bool device_has_mapping(XenPhysIrqState *s, uint8_t bus,
                               uint8_t devfn, MsiCapability cap)
{
    return cap == MSI_CAPABILITY_MSI ? desc_of_entry(s, bus, devfn, cap, 0)
                                     : desc_of_msix(s, bus, devfn);
}

/* The first of @nvec free vectors on @cpu, aligned to @nvec, or 0 */
static unsigned free_vector_block(XenPhysIrqState *s, unsigned cpu,
                                  unsigned nvec)
{
    unsigned v, i;

    for (v = ROUND_UP(XEN_FIRST_DYNAMIC_VECTOR, nvec);
         v + nvec - 1 <= XEN_LAST_DYNAMIC_VECTOR; v += nvec) {
        for (i = 0; i < nvec; i++) {
            if (s->vector_irq[cpu][v + i] != VECTOR_UNASSIGNED) {
                break;
            }
        }
        if (i == nvec) {
            return v;
        }
    }
    return 0;
}

/*
 * A multi-message MSI block (Xen's msi_capability_init() with nvec > 1):
 * @nvec free vectors of the dynamic range, contiguous and aligned to @nvec
 * (the device ORs the vector number into the data), on the CPU with the
 * fewest in use (the lowest CPU on a tie) that has such a block, lowest
 * first.
 */
static bool assign_irq_vector_block(XenPhysIrqState *s, XenIrqDesc **d,
                                    unsigned nvec)
{
    unsigned best_used = UINT_MAX, cpu, v, i;
    int best_cpu = -1;

    for (cpu = 0; cpu < s->nr_cpus; cpu++) {
        unsigned used = 0;

        if (!qemu_get_cpu(cpu) || !free_vector_block(s, cpu, nvec)) {
            continue;
        }
        for (v = XEN_FIRST_DYNAMIC_VECTOR; v <= XEN_LAST_DYNAMIC_VECTOR; v++) {
            used += s->vector_irq[cpu][v] != VECTOR_UNASSIGNED;
        }
        if (used < best_used) {
            best_used = used;
            best_cpu = cpu;
        }
    }
    if (best_cpu < 0) {
        return false;
    }
    v = free_vector_block(s, best_cpu, nvec);
    for (i = 0; i < nvec; i++) {
        s->vector_irq[best_cpu][v + i] = desc_irq(s, d[i]);
        d[i]->cpu = best_cpu;
        d[i]->vector = v + i;
        trace_xen_physirq_assign_vector(desc_irq(s, d[i]), best_cpu,
                                        cpu_apic_id(best_cpu), v + i);
    }
    return true;
}

/* Whether Xen never gives @vector to an irq on @cpu */
static bool vector_reserved(unsigned cpu, unsigned vector)
{
    return vector <= XEN_IRQ_MOVE_CLEANUP_VECTOR ||
           vector == XEN_LEGACY_SYSCALL_VECTOR ||
           (cpu == 0 && vector <= XEN_LAST_LEGACY_VECTOR);
}

/*
 * Xen's _assign_irq_vector() for one irq, its affinity all CPUs or, with
 * @only_cpu >= 0, that CPU: an irq with a vector on a CPU of its affinity
 * keeps it; otherwise the first CPU of the affinity with a free vector
 * gets one, searched from the last vector handed out (to any irq) one
 * priority class further at a time, and past the dynamic range from the
 * next offset within a class, so that consecutive irqs land in different
 * priority classes.  The old vector is released at once (Xen keeps it
 * until the move's cleanup IPI).  False if no CPU has a free vector.
 */
static bool assign_irq_vector(XenPhysIrqState *s, XenIrqDesc *d,
                              int only_cpu)
{
    unsigned cpu, first = only_cpu < 0 ? 0 : only_cpu;
    unsigned last = only_cpu < 0 ? s->nr_cpus - 1 : only_cpu;

    if (d->vector && (only_cpu < 0 || d->cpu == only_cpu)) {
        return true;
    }
    for (cpu = first; cpu <= last && cpu < s->nr_cpus; cpu++) {
        unsigned vector = s->current_vector, offset = s->current_offset;

        if (!qemu_get_cpu(cpu)) {
            continue;
        }
        for (;;) {
            vector += XEN_VECTOR_STEP;
            if (vector > XEN_LAST_DYNAMIC_VECTOR) {
                offset = (offset + 1) % XEN_VECTOR_STEP;
                vector = XEN_FIRST_DYNAMIC_VECTOR + offset;
            }
            if (vector == s->current_vector) {
                break;                  /* none free on this CPU */
            }
            if (vector_reserved(cpu, vector) ||
                s->vector_irq[cpu][vector] != VECTOR_UNASSIGNED) {
                continue;
            }
            s->current_vector = vector;
            s->current_offset = offset;
            if (d->vector) {
                s->vector_irq[d->cpu][d->vector] = VECTOR_UNASSIGNED;
            }
            s->vector_irq[cpu][vector] = desc_irq(s, d);
            d->cpu = cpu;
            d->vector = vector;
            trace_xen_physirq_assign_vector(desc_irq(s, d), cpu,
                                            cpu_apic_id(cpu), vector);
            return true;
        }
    }
    return false;
}

/*
 * Xen's msi_compose_msg(): fixed delivery, edge, physical destination
 * mode, the CPU's APIC ID in the destination ID bits.
 */
static MSIMessage msi_compose_msg(const XenIrqDesc *d)
{
    return (MSIMessage) {
        .address = x86_msi_compose_addr(cpu_apic_id(d->cpu)),
        .data = x86_msi_compose_data(d->vector),
    };
}

/* Set or clear the function's MSI-X or MSI Enable bit, a config write */
static void set_enable(PCIDevice *dev, MsiCapability cap, bool enable)
{
    uint32_t addr = cap == MSI_CAPABILITY_MSIX ? dev->msix_cap + PCI_MSIX_FLAGS
                                               : dev->msi_cap + PCI_MSI_FLAGS;
    uint16_t bit = cap == MSI_CAPABILITY_MSIX ? PCI_MSIX_FLAGS_ENABLE
                                              : PCI_MSI_FLAGS_ENABLE;
    uint16_t ctrl = pci_get_word(dev->config + addr);

    ctrl = enable ? ctrl | bit : ctrl & ~bit;
    pci_host_config_write_common(dev, addr, pci_config_size(dev), ctrl, 2);
}

/* Whether the vector can be masked: MSI-X, or MSI with per-vector masks */
static bool can_mask(PCIDevice *dev, const XenIrqDesc *d)
{
    return d->cap == MSI_CAPABILITY_MSIX ||
           (pci_get_word(dev->config + dev->msi_cap + PCI_MSI_FLAGS) &
            PCI_MSI_FLAGS_MASKBIT);
}

/*
 * Xen's msi_set_mask_bit(): the MSI-X entry's Vector Control written (even
 * unchanged); with MSI-X disabled, Xen reaches the table only after
 * setting ENABLE and MASKALL, and restores the control after.  An MSI
 * vector's mask bit, where the function has them.
 */
static void mask_vector(PCIDevice *dev, const XenIrqDesc *d, bool masked)
{
    uint32_t ctrl_addr = dev->msix_cap + PCI_MSIX_FLAGS;
    uint16_t ctrl;

    if (d->cap != MSI_CAPABILITY_MSIX) {
        if (can_mask(dev, d)) {
            msi_set_mask(dev, d->entry, masked, &error_abort);
        }
        return;
    }
    ctrl = pci_get_word(dev->config + ctrl_addr);
    if (!(ctrl & PCI_MSIX_FLAGS_ENABLE)) {
        pci_host_config_write_common(dev, ctrl_addr, pci_config_size(dev),
                                     ctrl | PCI_MSIX_FLAGS_ENABLE |
                                     PCI_MSIX_FLAGS_MASKALL, 2);
    }
    msix_write_entry_ctrl(dev, d->entry, masked);
    if (!(ctrl & PCI_MSIX_FLAGS_ENABLE)) {
        pci_host_config_write_common(dev, ctrl_addr, pci_config_size(dev),
                                     ctrl, 2);
    }
}

/*
 * Xen's set_msi_affinity() for an MSI-X entry: the irq's vector on @cpu
 * (assign_irq_vector()), the message written (write_msi_msg()).
 */
static void set_msi_affinity(XenPhysIrqState *s, PCIDevice *dev,
                             XenIrqDesc *d, unsigned cpu)
{
    if (assign_irq_vector(s, d, cpu)) {
        trace_xen_physirq_write_entry(dev->name, d->entry,
                                      msi_compose_msg(d).address,
                                      msi_compose_msg(d).data);
        msix_write_entry_message(dev, d->entry, msi_compose_msg(d));
    }
}

static void free_desc(XenPhysIrqState *s, XenIrqDesc *d)
{
    s->vector_irq[d->cpu][d->vector] = VECTOR_UNASSIGNED;
    memset(d, 0, sizeof(*d));
    s->nr_mapped--;
}

/* The guest's PHYSDEVOP_@op was refused with @err because @why */
static int guest_error(const char *op, int err, const char *why)
{
    qemu_log_mask(LOG_GUEST_ERROR, "xen: PHYSDEVOP_%s: %s\n", op, why);
    trace_xen_physirq_error(op, err, why);
    return err;
}

static int map_error(int err, const char *why)
{
    return guest_error("map_pirq", err, why);
}

/* The size of @d's MSI block: the descriptors of its function's MSI */
static unsigned msi_block_size(XenPhysIrqState *s, const XenIrqDesc *d)
{
    unsigned i, n = 0;

    for (i = 0; i < XEN_PHYSIRQ_NR_IRQS; i++) {
        n += s->desc[i].pirq && s->desc[i].cap == MSI_CAPABILITY_MSI &&
             s->desc[i].bus == d->bus && s->desc[i].devfn == d->devfn;
    }
    return n;
}

int xen_physirq_map_nvec(const struct physdev_map_pirq *map)
{
    int nvec = map->type == MAP_PIRQ_TYPE_MULTI_MSI ? map->entry_nr : 1;

    /* Multi-message MSI: a power of two up to 32 vectors (PCI 6.8.1.3) */
    if (nvec < 1 || nvec > PCI_MSI_VECTORS_MAX || !is_power_of_2(nvec)) {
        return map_error(-EINVAL, "multi-message MSI count not a power "
                         "of two up to 32");
    }
    return nvec;
}

/* The MSI capability's Multiple Message Capable count */
static unsigned msi_capable_vectors(PCIDevice *dev)
{
    uint16_t flags = pci_get_word(dev->config + dev->msi_cap + PCI_MSI_FLAGS);

    return 1U << ((flags & PCI_MSI_FLAGS_QMASK) >> ctz32(PCI_MSI_FLAGS_QMASK));
}

/*
 * The device and capability @map names, checked as Xen's
 * pci_enable_msi() does; NULL with *@err set if it cannot be mapped.
 */
static PCIDevice *map_device(XenPhysIrqState *s,
                             struct physdev_map_pirq *map, int nvec,
                             uint8_t *bus_out, MsiCapability *cap,
                             int *err)
{
    uint32_t seg = 0, bus = map->bus;
    PCIDevice *dev;
    pcibus_t bar;

    if (map->type == MAP_PIRQ_TYPE_MSI_SEG ||
        map->type == MAP_PIRQ_TYPE_MULTI_MSI) {
        seg = (uint32_t)map->bus >> 16;
        bus = map->bus & 0xffff;
    }
    *err = -EINVAL;
    if (map->type == MAP_PIRQ_TYPE_MULTI_MSI && map->table_base) {
        map_error(*err, "multi-message MSI has no MSI-X table");
        return NULL;
    }
    if (map->index != -1) {
        map_error(*err, "index is not -1 (a new irq)");
        return NULL;
    }
    *err = -ENODEV;
    if (seg || bus > 0xff || map->devfn < 0 || map->devfn > 0xff) {
        map_error(*err, "no such PCI segment, bus or devfn");
        return NULL;
    }
    dev = pci_find_device(PC_MACHINE(qdev_get_machine())->pcibus, bus,
                          map->devfn);
    *bus_out = bus;
    *cap = map->table_base ? MSI_CAPABILITY_MSIX : MSI_CAPABILITY_MSI;
    if (*cap == MSI_CAPABILITY_MSI) {
        if (!dev || !msi_present(dev)) {
            map_error(*err, "no PCI device with MSI there");
            return NULL;
        }
        if (nvec > msi_capable_vectors(dev)) {
            /* Xen: -ENFILE, entry_nr = how many the function has */
            map->entry_nr = msi_capable_vectors(dev);
            *err = map_error(-ENFILE, "more MSI vectors than the function's "
                             "Multiple Message Capable");
            return NULL;
        }
        if (desc_of_entry(s, bus, map->devfn, MSI_CAPABILITY_MSI, 0)) {
            *err = map_error(-EBUSY, "MSI already mapped");
            return NULL;
        }
        return dev;
    }
    if (!dev || !msix_present(dev)) {
        map_error(*err, "no PCI device with MSI-X there");
        return NULL;
    }
    *err = -EINVAL;
    if (map->entry_nr < 0 || map->entry_nr >= dev->msix_entries_nr) {
        map_error(*err, "entry_nr beyond the MSI-X table");
        return NULL;
    }
    bar = pci_get_bar_addr(dev, pci_get_long(dev->config + dev->msix_cap +
                                             PCI_MSIX_TABLE) &
                                PCI_MSIX_TABLE_BIR);
    if (map->table_base != bar) {
        /* Xen warns and goes on with the BAR it reads (WARN_ON) */
        qemu_log_mask(LOG_GUEST_ERROR, "xen: PHYSDEVOP_map_pirq: table_base "
                      "0x%" PRIx64 " is not the table's BAR at 0x%" PRIx64
                      "\n", (uint64_t)map->table_base, (uint64_t)bar);
    }
    if (desc_of_entry(s, bus, map->devfn, MSI_CAPABILITY_MSIX, map->entry_nr)) {
        *err = map_error(-EBUSY, "MSI-X entry already mapped");
        return NULL;
    }
    return dev;
}

int xen_physirq_map_msi(struct physdev_map_pirq *map, int pirq)
{
    XenPhysIrqState *s = xen_physirq_singleton;
    XenIrqDesc *d[PCI_MSI_VECTORS_MAX];
    int nvec = xen_physirq_map_nvec(map);
    MsiCapability cap;
    uint8_t bus;
    PCIDevice *dev;
    unsigned i, n;
    int err;

    assert(s && bql_locked());

    if (nvec < 0) {
        return nvec;
    }
    dev = map_device(s, map, nvec, &bus, &cap, &err);
    if (!dev) {
        return err;
    }

    /* create_irq(): the lowest free irqs above the GSIs */
    for (i = n = 0; i < XEN_PHYSIRQ_NR_IRQS && n < nvec; i++) {
        if (!s->desc[i].pirq) {
            d[n++] = &s->desc[i];
        }
    }
    if (n < nvec) {
        return map_error(-ENOSPC, "no free irq");
    }
    if (nvec > 1 ? !assign_irq_vector_block(s, d, nvec)
                 : !assign_irq_vector(s, d[0], -1)) {
        return map_error(-ENOSPC, "no free vector");
    }
    for (i = 0; i < nvec; i++) {
        d[i]->pirq = pirq + i;
        d[i]->bus = bus;
        d[i]->devfn = map->devfn;
        d[i]->cap = cap;
        d[i]->entry = cap == MSI_CAPABILITY_MSIX ? map->entry_nr : i;
        s->nr_mapped++;
        trace_xen_physirq_map(pirq + i, desc_irq(s, d[i]), dev->name,
                              cap == MSI_CAPABILITY_MSIX ? "MSI-X entry"
                                                         : "MSI vector",
                              d[i]->entry);
    }

    /* pci_enable_msi() -> msi(x)_capability_init() -> setup_msi_irq() */
    trace_xen_physirq_write_entry(dev->name, d[0]->entry,
                                  msi_compose_msg(d[0]).address,
                                  msi_compose_msg(d[0]).data);
    if (cap == MSI_CAPABILITY_MSI) {
        /* Masked until bound, where the function has per-vector masks */
        for (i = 0; i < nvec; i++) {
            mask_vector(dev, d[i], true);
        }
        msi_write_owned(dev, msi_compose_msg(d[0]), nvec, true);
        map->entry_nr = nvec;
        return 0;
    }
    if (!msix_enabled(dev)) {
        set_enable(dev, MSI_CAPABILITY_MSIX, true);
    }
    /* msix_capability_init() masks the entry, then the message */
    msix_write_entry_ctrl(dev, d[0]->entry, true);
    msix_write_entry_message(dev, d[0]->entry, msi_compose_msg(d[0]));
    return 0;
}

int xen_physirq_unmap_count(int pirq)
{
    XenPhysIrqState *s = xen_physirq_singleton;
    XenIrqDesc *d = s ? desc_of_pirq(s, pirq) : NULL;

    if (!d) {
        return 1;
    }
    if (d->cap == MSI_CAPABILITY_MSI && d->entry) {
        /* Xen: "trying to unmap secondary MSI pirq" */
        return guest_error("unmap_pirq", -EBUSY,
                           "a multi-MSI block's pirq other than its first");
    }
    return d->cap == MSI_CAPABILITY_MSI ? msi_block_size(s, d) : 1;
}

int xen_physirq_unmap(int pirq)
{
    XenPhysIrqState *s = xen_physirq_singleton;
    XenIrqDesc *d = s ? desc_of_pirq(s, pirq) : NULL;
    int n = xen_physirq_unmap_count(pirq);
    uint8_t bus, devfn;
    MsiCapability cap;
    PCIDevice *dev;
    int i;

    if (!d || n < 0) {
        /* Nothing left (device gone, machine reset), or a secondary */
        return n < 0 ? n : 0;
    }
    dev = desc_device(d);
    bus = d->bus;
    devfn = d->devfn;
    cap = d->cap;
    for (i = 0; i < n; i++) {
        d = desc_of_pirq(s, pirq + i);
        if (!d) {
            continue;
        }
        trace_xen_physirq_unmap(pirq + i, desc_irq(s, d));
        if (dev) {
            /* pci_disable_msi(): the vector masked, released */
            mask_vector(dev, d, true);
        }
        free_desc(s, d);
    }
    if (dev && !device_has_mapping(s, bus, devfn, cap)) {
        set_enable(dev, cap, false);
    }
    return 0;
}

static void guest_mask(int pirq, bool masked)
{
    XenPhysIrqState *s = xen_physirq_singleton;
    XenIrqDesc *d = s ? desc_of_pirq(s, pirq) : NULL;
    PCIDevice *dev = d ? desc_device(d) : NULL;

    if (dev && can_mask(dev, d)) {
        trace_xen_physirq_guest_mask(pirq, dev->name, d->entry, masked);
        mask_vector(dev, d, masked);
    }
}

/*
 * Xen's pirq_guest_bind(): the irq's affinity set to the binding vCPU's
 * CPU (EVTCHNOP_bind_pirq notifies vCPU 0), which for MSI-X writes the
 * message again (set_msi_affinity()); startup_msi_irq() writes the mask
 * bit, still set while the guest masks the port; the guest's unmask of
 * the port then unmasks the entry.
 */
void xen_physirq_guest_bind(int pirq)
{
    XenPhysIrqState *s = xen_physirq_singleton;
    XenIrqDesc *d = s ? desc_of_pirq(s, pirq) : NULL;
    PCIDevice *dev = d ? desc_device(d) : NULL;

    if (dev && d->cap == MSI_CAPABILITY_MSIX) {
        set_msi_affinity(s, dev, d, 0);
        mask_vector(dev, d, true);
    }
    guest_mask(pirq, false);
}

/* Xen's __pirq_guest_unbind(): each step writes the mask bit */
void xen_physirq_guest_unbind(int pirq)
{
    guest_mask(pirq, true);             /* desc->handler->disable() */
    guest_mask(pirq, true);             /* desc->handler->shutdown() */
}

void xen_physirq_set_affinity(int pirq, unsigned vcpu)
{
    XenPhysIrqState *s = xen_physirq_singleton;
    XenIrqDesc *d = s ? desc_of_pirq(s, pirq) : NULL;

    if (d && d->cap == MSI_CAPABILITY_MSIX && vcpu < s->nr_cpus) {
        trace_xen_physirq_set_affinity(pirq, desc_irq(s, d), vcpu);
        d->move_pending = true;
        d->move_cpu = vcpu;
    }
}

/*
 * Xen's move_native_irq(), from the ack of the irq's next interrupt: the
 * entry masked, the irq's vector moved to the pending CPU and the message
 * written (set_msi_affinity()), the entry's mask bit as it was.
 */
static void move_native_irq(XenPhysIrqState *s, XenIrqDesc *d)
{
    PCIDevice *dev = desc_device(d);
    bool was_masked;

    d->move_pending = false;
    if (!dev) {
        return;
    }
    was_masked = pci_get_long(dev->msix_table +
                              d->entry * PCI_MSIX_ENTRY_SIZE +
                              PCI_MSIX_ENTRY_VECTOR_CTRL) &
                 PCI_MSIX_ENTRY_CTRL_MASKBIT;
    mask_vector(dev, d, true);
    set_msi_affinity(s, dev, d, d->move_cpu);
    mask_vector(dev, d, was_masked);
}

/*
 * Xen's do_IRQ() for a message: the receiving CPU's vector_irq[] ->
 * irq -> descriptor -> the domain's pirq -> send_guest_pirq().  Only a
 * fixed, physical-destination message to the local APIC window can be
 * one; everything else goes on to the APIC as usual.
 */
static bool xen_physirq_do_irq(PCIDevice *dev, uint64_t address,
                               uint32_t data)
{
    XenPhysIrqState *s = xen_physirq_singleton;
    uint8_t vector = x86_msi_vector(data);
    CPUState *cs;
    XenIrqDesc *d;
    int irq;

    if (!s->nr_mapped ||
        (address & ~(uint64_t)MSI_ADDR_DEST_ID_MASK) != X86_MSI_ADDR_BASE_LO ||
        x86_msi_delivery_mode(data) != X86_MSI_DELIVERY_FIXED) {
        return false;
    }
    cs = cpu_by_arch_id(x86_msi_dest_id(address));
    if (!cs || cs->cpu_index >= s->nr_cpus) {
        return false;
    }
    irq = s->vector_irq[cs->cpu_index][vector];
    if (irq == VECTOR_UNASSIGNED) {
        return false;
    }
    d = &s->desc[irq - XEN_NR_IRQS_GSI];
    d->count++;
    trace_xen_physirq_do_irq(cs->cpu_index, vector, irq, d->pirq);
    if (d->move_pending) {
        move_native_irq(s, d);          /* ack_maskable_msi_irq() */
    }
    xen_evtchn_send_guest_pirq(d->pirq);
    return true;
}

static bool xen_physirq_owns_entry(PCIDevice *dev, MsiCapability cap,
                                   unsigned vector)
{
    XenPhysIrqState *s = xen_physirq_singleton;

    return desc_of_entry(s, pci_dev_bus_num(dev), dev->devfn, cap, vector);
}

/* A device going away takes its mappings with it; the pirqs stay. */
static void xen_physirq_device_removed(PCIDevice *dev)
{
    XenPhysIrqState *s = xen_physirq_singleton;
    uint8_t bus = pci_dev_bus_num(dev);
    unsigned i;

    for (i = 0; i < XEN_PHYSIRQ_NR_IRQS; i++) {
        if (s->desc[i].pirq && s->desc[i].bus == bus &&
            s->desc[i].devfn == dev->devfn) {
            free_desc(s, &s->desc[i]);
        }
    }
}

static PCIMSIInterceptor xen_physirq_interceptor = {
    .name = "xen-physirq",
    .deliver = xen_physirq_do_irq,
    .owns_entry = xen_physirq_owns_entry,
    .device_removed = xen_physirq_device_removed,
};

/* The monitor */

void xen_physirq_query_pirq(int pirq, XenPirqInfo *info)
{
    XenPhysIrqState *s = xen_physirq_singleton;
    XenIrqDesc *d = s ? desc_of_pirq(s, pirq) : NULL;
    PCIDevice *dev = d ? desc_device(d) : NULL;

    info->source = d && d->cap == MSI_CAPABILITY_MSI ?
                   XEN_PIRQ_SOURCE_DOM0_MSI : XEN_PIRQ_SOURCE_DOM0_MSIX;
    if (!d) {
        return;
    }
    info->has_irq = true;
    info->irq = desc_irq(s, d);
    info->has_vector = true;
    info->vector = d->entry;
    if (dev) {
        info->device = object_get_canonical_path(OBJECT(dev));
        info->has_vector_masked = true;
        info->vector_masked = d->cap == MSI_CAPABILITY_MSIX ?
                              msix_is_masked(dev, d->entry) :
                              msi_is_masked(dev, d->entry);
    }
}

void xen_physirq_query(XenIrqsInfo *info)
{
    XenPhysIrqState *s = xen_physirq_singleton;
    XenIrqDescInfoList **desc_tail = &info->irqs;
    XenVectorIrqInfoList **vec_tail = &info->vector_irq;
    unsigned i, cpu, v;

    if (!s) {
        return;
    }
    info->has_irqs = true;
    info->has_vector_irq = true;
    for (i = 0; i < XEN_PHYSIRQ_NR_IRQS; i++) {
        XenIrqDesc *d = &s->desc[i];
        PCIDevice *dev;
        XenIrqDescInfo *di;

        if (!d->pirq) {
            continue;
        }
        dev = desc_device(d);
        di = g_new0(XenIrqDescInfo, 1);
        di->irq = desc_irq(s, d);
        di->source = d->cap == MSI_CAPABILITY_MSI ? XEN_PIRQ_SOURCE_DOM0_MSI
                                                  : XEN_PIRQ_SOURCE_DOM0_MSIX;
        di->pirq = d->pirq;
        di->cpu = d->cpu;
        di->apic_id = cpu_apic_id(d->cpu);
        di->vector = d->vector;
        di->bus = d->bus;
        di->devfn = d->devfn;
        di->entry = d->entry;
        di->device = dev ? object_get_canonical_path(OBJECT(dev)) : NULL;
        di->count = d->count;
        QAPI_LIST_APPEND(desc_tail, di);
    }
    for (cpu = 0; cpu < s->nr_cpus; cpu++) {
        for (v = 0; v < XEN_NR_VECTORS; v++) {
            XenVectorIrqInfo *vi;

            if (s->vector_irq[cpu][v] == VECTOR_UNASSIGNED) {
                continue;
            }
            vi = g_new0(XenVectorIrqInfo, 1);
            vi->cpu = cpu;
            vi->vector = v;
            vi->irq = s->vector_irq[cpu][v];
            QAPI_LIST_APPEND(vec_tail, vi);
        }
    }
}

/* The device */

static void rebuild_vector_irq(XenPhysIrqState *s)
{
    unsigned i, cpu, v;

    for (cpu = 0; cpu < s->nr_cpus; cpu++) {
        for (v = 0; v < XEN_NR_VECTORS; v++) {
            s->vector_irq[cpu][v] = VECTOR_UNASSIGNED;
        }
    }
    s->nr_mapped = 0;
    for (i = 0; i < XEN_PHYSIRQ_NR_IRQS; i++) {
        XenIrqDesc *d = &s->desc[i];

        if (d->pirq) {
            s->vector_irq[d->cpu][d->vector] = desc_irq(s, d);
            s->nr_mapped++;
        }
    }
}

static void xen_physirq_realize(DeviceState *dev, Error **errp)
{
    XenPhysIrqState *s = XEN_PHYSIRQ(dev);

    if (xen_mode != XEN_EMULATE) {
        error_setg(errp, "xen-physirq needs Xen emulation "
                   "(-accel tcg,xen-version=0x4000a or similar)");
        return;
    }
    if (xen_physirq_singleton) {
        error_setg(errp, "only one xen-physirq may exist");
        return;
    }
    if (!object_dynamic_cast(qdev_get_machine(), TYPE_PC_MACHINE)) {
        error_setg(errp, "xen-physirq needs a PC machine");
        return;
    }
    s->nr_cpus = MACHINE(qdev_get_machine())->smp.max_cpus;
    s->vector_irq = g_new(XenVectorIrq, s->nr_cpus);
    rebuild_vector_irq(s);
    xen_physirq_singleton = s;
    pci_msi_interceptor_register(&xen_physirq_interceptor);
    /* Not on a bus: the machine's reset reaches it this way. */
    qemu_register_resettable(OBJECT(dev));
}

/* A reset machine has no mappings: Xen's state for a new domain. */
static void xen_physirq_reset_hold(Object *obj, ResetType type)
{
    XenPhysIrqState *s = XEN_PHYSIRQ(obj);

    memset(s->desc, 0, sizeof(s->desc));
    s->current_vector = XEN_FIRST_DYNAMIC_VECTOR;
    s->current_offset = 0;
    rebuild_vector_irq(s);
}

static int xen_physirq_post_load(void *opaque, int version_id)
{
    XenPhysIrqState *s = opaque;
    unsigned i, cpu, v, slots = 0;

    for (i = 0; i < XEN_PHYSIRQ_NR_IRQS; i++) {
        XenIrqDesc *d = &s->desc[i];

        if (d->pirq && (d->cpu >= s->nr_cpus ||
                        d->vector < XEN_FIRST_DYNAMIC_VECTOR ||
                        d->vector > XEN_LAST_DYNAMIC_VECTOR ||
                        (d->move_pending && d->move_cpu >= s->nr_cpus) ||
                        d->cap >= MSI_CAPABILITY__MAX ||
                        (d->cap == MSI_CAPABILITY_MSI &&
                         d->entry >= PCI_MSI_VECTORS_MAX))) {
            return -EINVAL;
        }
    }
    rebuild_vector_irq(s);
    /* Two descriptors on one CPU's vector would leave a slot short */
    for (cpu = 0; cpu < s->nr_cpus; cpu++) {
        for (v = 0; v < XEN_NR_VECTORS; v++) {
            slots += s->vector_irq[cpu][v] != VECTOR_UNASSIGNED;
        }
    }
    if (slots != s->nr_mapped ||
        s->current_vector < XEN_FIRST_DYNAMIC_VECTOR ||
        s->current_vector > XEN_LAST_DYNAMIC_VECTOR ||
        s->current_offset >= XEN_VECTOR_STEP) {
        return -EINVAL;
    }
    for (i = 0; i < XEN_PHYSIRQ_NR_IRQS; i++) {
        if (s->desc[i].pirq) {
            xen_evtchn_restore_pt_pirq(s->desc[i].pirq);
        }
    }
    return 0;
}

/*
 * Version 3: cap is an MsiCapability, no longer a PCI capability ID.  No
 * older stream is taken (a nested VMStateDescription is loaded at its own
 * version, so version 1's descriptors, without the move fields, never
 * loaded correctly either).
 */
static const VMStateDescription xen_irq_desc_vmstate = {
    .name = "xen-physirq/irq-desc",
    .version_id = 3,
    .minimum_version_id = 3,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32(pirq, XenIrqDesc),
        VMSTATE_UINT32(cpu, XenIrqDesc),
        VMSTATE_UINT8(vector, XenIrqDesc),
        VMSTATE_UINT8(bus, XenIrqDesc),
        VMSTATE_UINT8(devfn, XenIrqDesc),
        VMSTATE_UINT8(cap, XenIrqDesc),
        VMSTATE_UINT16(entry, XenIrqDesc),
        VMSTATE_UINT64(count, XenIrqDesc),
        VMSTATE_BOOL(move_pending, XenIrqDesc),
        VMSTATE_UINT32(move_cpu, XenIrqDesc),
        VMSTATE_END_OF_LIST()
    }
};

static const VMStateDescription xen_physirq_vmstate = {
    .name = "xen-physirq",
    .version_id = 3,
    .minimum_version_id = 3,
    .post_load = xen_physirq_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_STRUCT_ARRAY(desc, XenPhysIrqState, XEN_PHYSIRQ_NR_IRQS, 1,
                             xen_irq_desc_vmstate, XenIrqDesc),
        VMSTATE_UINT8(current_vector, XenPhysIrqState),
        VMSTATE_UINT8(current_offset, XenPhysIrqState),
        VMSTATE_END_OF_LIST()
    }
};

static void xen_physirq_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    ResettableClass *rc = RESETTABLE_CLASS(klass);

    dc->realize = xen_physirq_realize;
    dc->vmsd = &xen_physirq_vmstate;
    dc->hotpluggable = false;
    dc->desc = "Xen emulation: Xen's physical IRQ layer, for dom0-style "
               "PHYSDEVOP_map_pirq of MSI-X entries";
    set_bit(DEVICE_CATEGORY_MISC, dc->categories);
    rc->phases.hold = xen_physirq_reset_hold;
}

static const TypeInfo xen_physirq_info = {
    .name = TYPE_XEN_PHYSIRQ,
    .parent = TYPE_DEVICE,
    .instance_size = sizeof(XenPhysIrqState),
    .class_init = xen_physirq_class_init,
};

static void xen_physirq_register_types(void)
{
    type_register_static(&xen_physirq_info);
}

type_init(xen_physirq_register_types)
