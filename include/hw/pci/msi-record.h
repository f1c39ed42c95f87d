/*
 * What a PCI function's MSI and MSI-X did: trace events, per-vector
 * counters and a bounded event log, for every PCI device
 *
 * QEMU's MSI/MSI-X core (hw/pci/msix.c, msi.c, pci.c) calls these at each
 * step; x-query-msix and x-query-msix-log (hw/pci/msi-monitor.c) read the
 * result.  docs/msix-instrumentation.rst lists every event.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_PCI_MSI_RECORD_H
#define HW_PCI_MSI_RECORD_H

#include "system/cpu-timers.h"
#include "hw/pci/pci_device.h"
#include "qapi/qapi-types-pci-msi.h"

/* The most vectors an MSI capability has (PCI 3.0, 6.8.1.3). */
#define MSI_RECORD_MSI_VECTORS  32

/* Default capacity of a device's event log (property x-msi-log-size). */
#define MSI_LOG_SIZE_DEFAULT    4096
#define MSI_LOG_SIZE_MAX        (1024 * 1024)

/* MSIRecordEvent.vector of an event that concerns no one vector. */
#define MSI_RECORD_NO_VECTOR    0xffff

/* Messages sent, and notifies held or dropped, for one vector. */
typedef struct MSIVectorCounters {
    uint64_t sent;
    uint64_t held;
    uint64_t dropped;               /* the vector was not in use */
    uint64_t dropped_bus_master;    /* msi_bus_master_enabled() was false */
} MSIVectorCounters;

/*
 * One logged event; see MsiLogEntry in qapi/pci-msi.json.  Its sequence
 * number is not stored: event n lives in ring[n & ring_mask].  32 bytes;
 * kind, cap, dword and cpl share a word, so that the delivery path stores
 * them, constants there, at once.
 */
typedef struct MSIRecordEvent {
    int64_t time_ns;            /* QEMU_CLOCK_VIRTUAL */
    uint64_t a;                 /* old value, message address, PBA value */
    uint32_t b;                 /* new value, or message data */
    uint8_t kind;               /* MsiEventKind */
    uint8_t cap;                /* MsiCapability */
    uint8_t dword;
    uint8_t cpl;                /* the vCPU's privilege level, or NO_CPL */
    uint16_t vector;            /* or MSI_RECORD_NO_VECTOR */
    /* The accessing vCPU, or NO_CPU; not written for a message */
    uint16_t cpu;
} MSIRecordEvent;

/* MSIRecordEvent.cpu of an event no vCPU's access caused. */
#define MSI_RECORD_NO_CPU       0xffff
/* MSIRecordEvent.cpl where the vCPU's privilege level is unknown. */
#define MSI_RECORD_NO_CPL       0xff

/* Dwords of the largest MSI capability (64-bit, per-vector masking). */
#define MSI_CAP_DWORDS          6

typedef struct MSIRecord {
    /*
     * The event log: the last x-msi-log-size events (the device's
     * msi_log_size), kept in a ring of ring_mask + 1 >= msi_log_size
     * events, a power of two so that the delivery path finds a slot with
     * a mask (with size 0, one scratch slot that no reader looks at).
     */
    MSIRecordEvent *ring;
    uint64_t ring_mask;
    uint64_t next_seq;          /* event n lives in ring[n & ring_mask] */

    MSIVectorCounters *msix;    /* msix_entries_nr of them */
    unsigned msix_nr;
    MSIVectorCounters msi[MSI_RECORD_MSI_VECTORS];

    /* Last values seen, to log changes as old -> new. */
    uint8_t msix_control;       /* message control, bits 15:8 */
    uint32_t msi_cap[MSI_CAP_DWORDS];
} MSIRecord;

/* Lifecycle: pci.c and msix.c */
void msi_record_free(PCIDevice *dev);
void msi_record_reset(PCIDevice *dev);
void msi_record_resync(PCIDevice *dev);
void msi_record_msix_init(PCIDevice *dev);
void msi_record_msix_uninit(PCIDevice *dev);

/*
 * The delivery path, inline so that it costs a few stores per message
 * (docs/msix-instrumentation.rst, "Cost"); the caller emits the trace
 * event.  A message records no accessor, the device sends it: its cpu is
 * left unwritten, which saves two instructions, and readers skip it.
 */
static inline void msi_record_append(MSIRecord *r, MsiEventKind kind,
                                     MsiCapability cap, unsigned vector,
                                     unsigned dword, uint64_t a, uint32_t b)
{
    MSIRecordEvent *ev = &r->ring[r->next_seq++ & r->ring_mask];

    ev->time_ns = cpus_get_virtual_clock();   /* QEMU_CLOCK_VIRTUAL */
    ev->a = a;
    ev->b = b;
    ev->kind = kind;
    ev->cap = cap;
    ev->dword = dword;
    ev->cpl = MSI_RECORD_NO_CPL;
    ev->vector = vector;
}

/*
 * Whether @dev may send a message now: its Bus Master Enable, command
 * register bit 2, is set.  A function with it clear sends none (PCI
 * Express Base Specification, 7.5.1.1.3: "as MSI/MSI-X interrupt Messages
 * are in-band memory writes, setting the Bus Master Enable bit to 0b
 * disables MSI/MSI-X interrupt Messages as well"; PCI 3.0, 6.2.2, for
 * any access), and pci_default_write_config() disables the function's
 * bus-master address space, which discards msi_send_message()'s write.
 * pci.c also disables that space for a function it disables
 * (pci_set_enabled()), but resets the function then, MSI and MSI-X
 * with it, so that its notifies are held, not sent.  On the delivery
 * path: three instructions.
 */
static inline bool msi_bus_master_enabled(const PCIDevice *dev)
{
    return dev->config[PCI_COMMAND] & PCI_COMMAND_MASTER;
}

/*
 * A message is sent for @vector: count it and log it.  Called only for a
 * vector of an enabled capability, so msix_init() or msi_init() created
 * the record (msi_record_msix_init(), msi_record_resync()); msix_notify()
 * checked @vector against msix_entries_nr, for which r->msix is sized, and
 * msi_notify() against the vectors allocated, at most
 * MSI_RECORD_MSI_VECTORS.
 */
static inline void msi_record_sent(PCIDevice *dev, MsiCapability cap,
                                   unsigned vector, MSIMessage msg)
{
    MSIRecord *r = dev->msi_record;

    if (cap == MSI_CAPABILITY_MSIX) {
        r->msix[vector].sent++;
    } else {
        r->msi[vector].sent++;
    }
    msi_record_append(r, MSI_EVENT_KIND_MESSAGE, cap, vector, 0,
                      msg.address, msg.data);
}

/* MSI-X: msix.c */
void msix_record_control(PCIDevice *dev, uint8_t control);
void msix_record_table_write(PCIDevice *dev, hwaddr offset,
                             uint32_t old, uint32_t new);
void msix_record_mask(PCIDevice *dev, unsigned vector, bool masked);
void msix_record_pending(PCIDevice *dev, unsigned vector, bool pending);
void msix_record_held(PCIDevice *dev, unsigned vector);
void msix_record_dropped(PCIDevice *dev, unsigned vector);
void msix_record_pba_write(PCIDevice *dev, hwaddr offset, uint64_t val,
                           unsigned size);

/* MSI: msi.c */
void msi_record_config(PCIDevice *dev);
void msi_record_held(PCIDevice *dev, unsigned vector);

/* Both: a notify while msi_bus_master_enabled() is false */
void msi_record_dropped_bus_master(PCIDevice *dev, MsiCapability cap,
                                   unsigned vector, MSIMessage msg);

/* Readers: hw/pci/msi-monitor.c */
const MSIVectorCounters *msi_record_counters(PCIDevice *dev,
                                             MsiCapability cap,
                                             unsigned vector);
/* Calls @fn for each logged event with seq >= @since, oldest first. */
void msi_record_foreach(PCIDevice *dev, uint64_t since,
                        void (*fn)(uint64_t seq, const MSIRecordEvent *ev,
                                   void *opaque),
                        void *opaque);
uint64_t msi_record_next_seq(PCIDevice *dev);
uint64_t msi_record_overwritten(PCIDevice *dev);

#endif
