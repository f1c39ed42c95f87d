/*
 * What a PCI function's MSI and MSI-X did: trace events, per-vector
 * counters and a bounded event log, for every PCI device
 *
 * Every event goes three ways at once: a trace event (hw/pci/trace-events,
 * msix_* and msi_*), the device's counters, and its event log, a ring of
 * the last x-msi-log-size events that counts what it overwrote.  Nothing
 * here changes what the MSI core does; it only looks.  The log costs a few
 * stores per event (inline on the delivery path, msi_record_sent()) and is
 * read only by the monitor.
 *
 * Counters and log are observability, not guest state: they are not
 * migrated, and counters restart at device reset (the log keeps going and
 * records the reset).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "hw/core/cpu.h"
#include "hw/pci/msi.h"
#include "hw/pci/msix.h"
#include "hw/pci/msi-decode.h"
#include "hw/pci/msi-record.h"
#include "trace.h"

/* MSI-X message control, high byte (PCI 3.0, 6.8.2.3) */
#define MSIX_CONTROL_ENABLE     (PCI_MSIX_FLAGS_ENABLE >> 8)
#define MSIX_CONTROL_MASKALL    (PCI_MSIX_FLAGS_MASKALL >> 8)

/* The device's record and its ring, allocated on first use. */
static MSIRecord *msi_record(PCIDevice *dev)
{
    MSIRecord *r = dev->msi_record;

    if (!r) {
        r = dev->msi_record = g_new0(MSIRecord, 1);
        r->ring_mask = pow2ceil(dev->msi_log_size) - 1; /* pow2ceil(0): 1 */
        r->ring = g_new(MSIRecordEvent, r->ring_mask + 1);
    }
    return r;
}

/*
 * Log an event of the control path, with the vCPU whose access it
 * happened in: current_cpu is set while a vCPU thread performs an MMIO or
 * configuration access (a table write, a control write, a doorbell that
 * leads to a pending bit), and NULL in QEMU's own threads (qtest, reset,
 * a device's timer or bottom half).
 */
static void msi_record_event(PCIDevice *dev, MsiEventKind kind,
                             MsiCapability cap, unsigned vector,
                             unsigned dword, uint64_t a, uint32_t b)
{
    MSIRecord *r = msi_record(dev);
    MSIRecordEvent *ev = &r->ring[r->next_seq & r->ring_mask];

    msi_record_append(r, kind, cap, vector, dword, a, b);
    ev->cpu = MSI_RECORD_NO_CPU;
    if (current_cpu) {
        int cpl = cpu_privilege_level(current_cpu);

        ev->cpu = current_cpu->cpu_index;
        ev->cpl = cpl < 0 ? MSI_RECORD_NO_CPL : cpl;
    }
}

/* The counters of @vector; NULL if the device has no such vector. */
static MSIVectorCounters *counters(PCIDevice *dev, MsiCapability cap,
                                   unsigned vector)
{
    MSIRecord *r = msi_record(dev);

    if (cap == MSI_CAPABILITY_MSI) {
        return vector < MSI_RECORD_MSI_VECTORS ? &r->msi[vector] : NULL;
    }
    return vector < r->msix_nr ? &r->msix[vector] : NULL;
}

/* ------------------------------------------------------------ lifecycle */

void msi_record_free(PCIDevice *dev)
{
    if (dev->msi_record) {
        g_free(dev->msi_record->ring);
        g_free(dev->msi_record->msix);
        g_clear_pointer(&dev->msi_record, g_free);
    }
}

/* Take the registers as they are now as the base for old -> new. */
/*
 * The MSI capability's dwords as they are now (PCI 3.0, 6.8.1; offsets
 * from pci_regs.h): message control in dword 0, then address, [upper
 * address,] data, [mask bits, pending bits].  Returns how many.
 */
static unsigned msi_cap_read(PCIDevice *dev, uint32_t now[MSI_CAP_DWORDS])
{
    uint16_t flags = pci_get_word(dev->config + dev->msi_cap + PCI_MSI_FLAGS);
    unsigned last = flags & PCI_MSI_FLAGS_MASKBIT ?
                    (flags & PCI_MSI_FLAGS_64BIT ? PCI_MSI_PENDING_64
                                                 : PCI_MSI_PENDING_32) :
                    (flags & PCI_MSI_FLAGS_64BIT ? PCI_MSI_DATA_64
                                                 : PCI_MSI_DATA_32);
    unsigned ndw = last / 4 + 1;

    for (unsigned i = 0; i < ndw; i++) {
        now[i] = pci_get_long(dev->config + dev->msi_cap + i * 4);
    }
    return ndw;
}

/* Take the registers as they are now as the base for old -> new. */
void msi_record_resync(PCIDevice *dev)
{
    MSIRecord *r = msi_record(dev);

    if (msix_present(dev)) {
        r->msix_control = dev->config[dev->msix_cap + PCI_MSIX_FLAGS + 1];
    }
    if (msi_present(dev)) {
        msi_cap_read(dev, r->msi_cap);
    }
}

void msi_record_reset(PCIDevice *dev)
{
    MSIRecord *r = msi_record(dev);

    trace_msi_record_reset(dev->name);
    if (r->msix) {
        memset(r->msix, 0, r->msix_nr * sizeof(*r->msix));
    }
    memset(r->msi, 0, sizeof(r->msi));
    msi_record_event(dev, MSI_EVENT_KIND_RESET,
                     msix_present(dev) ? MSI_CAPABILITY_MSIX
                                       : MSI_CAPABILITY_MSI,
                     MSI_RECORD_NO_VECTOR, 0, 0, 0);
    msi_record_resync(dev);
}

void msi_record_msix_init(PCIDevice *dev)
{
    MSIRecord *r = msi_record(dev);

    g_free(r->msix);
    r->msix_nr = dev->msix_entries_nr;
    r->msix = g_new0(MSIVectorCounters, r->msix_nr);
    msi_record_resync(dev);
}

void msi_record_msix_uninit(PCIDevice *dev)
{
    MSIRecord *r = dev->msi_record;     /* tearing down: never allocate */

    if (!r) {
        return;
    }
    g_clear_pointer(&r->msix, g_free);
    r->msix_nr = 0;
}

/* ---------------------------------------------------------------- MSI-X */

void msix_record_control(PCIDevice *dev, uint8_t control)
{
    MSIRecord *r = msi_record(dev);
    uint8_t old = r->msix_control;

    if (old == control) {
        return;
    }
    r->msix_control = control;
    trace_msix_control(dev->name,
                       !!(old & MSIX_CONTROL_ENABLE),
                       !!(control & MSIX_CONTROL_ENABLE),
                       !!(old & MSIX_CONTROL_MASKALL),
                       !!(control & MSIX_CONTROL_MASKALL));
    msi_record_event(dev, MSI_EVENT_KIND_CONTROL, MSI_CAPABILITY_MSIX,
                     MSI_RECORD_NO_VECTOR, 0, old << 8, control << 8);
}

void msix_record_table_write(PCIDevice *dev, hwaddr offset,
                             uint32_t old, uint32_t new)
{
    unsigned entry = offset / PCI_MSIX_ENTRY_SIZE;
    unsigned dword = (offset % PCI_MSIX_ENTRY_SIZE) / 4;

    trace_msix_table_write(dev->name, entry, dword, old, new);
    msi_record_event(dev, MSI_EVENT_KIND_TABLE_WRITE, MSI_CAPABILITY_MSIX,
                     entry, dword, old, new);

    /*
     * Software writes address low, address high, then data (Linux's
     * __pci_write_msi_msg(); PCI 3.0, 6.8.3.5 asks for the entry to be
     * masked meanwhile): the data dword completes the message.
     */
    if (dword * 4 == PCI_MSIX_ENTRY_DATA) {
        MSIMessage msg = msix_get_message(dev, entry);

        if (trace_event_get_state_backends(TRACE_MSIX_ENTRY_PROGRAMMED)) {
            g_autofree char *text = msi_describe(msg.address, msg.data);

            trace_msix_entry_programmed(dev->name, entry, msg.address,
                                        msg.data, text);
        }
        msi_record_event(dev, MSI_EVENT_KIND_PROGRAMMED, MSI_CAPABILITY_MSIX,
                         entry, 0, msg.address, msg.data);
    }
}

void msix_record_mask(PCIDevice *dev, unsigned vector, bool masked)
{
    trace_msix_vector_mask(dev->name, vector, masked);
    msi_record_event(dev, masked ? MSI_EVENT_KIND_MASK : MSI_EVENT_KIND_UNMASK,
                     MSI_CAPABILITY_MSIX, vector, 0, 0, 0);
}

void msix_record_pending(PCIDevice *dev, unsigned vector, bool pending)
{
    trace_msix_pba(dev->name, vector, pending);
    msi_record_event(dev, pending ? MSI_EVENT_KIND_PENDING_SET
                                  : MSI_EVENT_KIND_PENDING_CLEAR,
                     MSI_CAPABILITY_MSIX, vector, 0, 0, 0);
}

/*
 * A notify that sent no message: count it (held, dropped, or dropped for
 * bus mastering off, with the message it did not send) and log it.
 */
static void record_unsent(PCIDevice *dev, MsiCapability cap, unsigned vector,
                          MsiEventKind kind, MSIMessage msg)
{
    MSIVectorCounters *c = counters(dev, cap, vector);

    if (c) {
        switch (kind) {
        case MSI_EVENT_KIND_HELD:
            c->held++;
            break;
        case MSI_EVENT_KIND_DROPPED:
            c->dropped++;
            break;
        case MSI_EVENT_KIND_DROPPED_BUS_MASTER:
            c->dropped_bus_master++;
            break;
        default:
            g_assert_not_reached();
        }
    }
    msi_record_event(dev, kind, cap, vector, 0, msg.address, msg.data);
}

void msix_record_held(PCIDevice *dev, unsigned vector)
{
    trace_msix_notify_held(dev->name, vector);
    record_unsent(dev, MSI_CAPABILITY_MSIX, vector, MSI_EVENT_KIND_HELD,
                  (MSIMessage) {});
}

void msix_record_dropped(PCIDevice *dev, unsigned vector)
{
    trace_msix_notify_dropped(dev->name, vector);
    record_unsent(dev, MSI_CAPABILITY_MSIX, vector, MSI_EVENT_KIND_DROPPED,
                  (MSIMessage) {});
}

/*
 * msix_notify() or msi_notify() found @vector unmasked but bus mastering
 * off: @msg is not a message, and msi_send_message() writes it into a
 * disabled region (msi_bus_master_enabled()).
 */
void msi_record_dropped_bus_master(PCIDevice *dev, MsiCapability cap,
                                   unsigned vector, MSIMessage msg)
{
    if (cap == MSI_CAPABILITY_MSIX) {
        trace_msix_notify_dropped_bus_master(dev->name, vector,
                                             msg.address, msg.data);
    } else {
        trace_msi_notify_dropped_bus_master(dev->name, vector,
                                            msg.address, msg.data);
    }
    record_unsent(dev, cap, vector, MSI_EVENT_KIND_DROPPED_BUS_MASTER, msg);
}

void msix_record_pba_write(PCIDevice *dev, hwaddr offset, uint64_t val,
                           unsigned size)
{
    trace_msix_pba_write(dev->name, offset, val, size);
    msi_record_event(dev, MSI_EVENT_KIND_PBA_WRITE, MSI_CAPABILITY_MSIX,
                     MSI_RECORD_NO_VECTOR, offset / 4, val, 0);
}

/* ------------------------------------------------------------------ MSI */

/* Log each vector whose mask (@mask) or pending bit changed, old -> new. */
static void msi_log_vector_bits(PCIDevice *dev, uint32_t old, uint32_t new,
                                bool mask)
{
    for (uint32_t changed = old ^ new; changed; changed &= changed - 1) {
        unsigned v = ctz32(changed);
        bool set = new & BIT(v);

        if (mask) {
            trace_msi_vector_mask(dev->name, v, set);
        } else {
            trace_msi_pending(dev->name, v, set);
        }
        msi_record_event(dev, mask ? (set ? MSI_EVENT_KIND_MASK
                                          : MSI_EVENT_KIND_UNMASK)
                                   : (set ? MSI_EVENT_KIND_PENDING_SET
                                          : MSI_EVENT_KIND_PENDING_CLEAR),
                         MSI_CAPABILITY_MSI, v, 0, 0, 0);
    }
}

/*
 * After a configuration write or an MSI state change by the device model:
 * log what changed since last time, register by register, and each
 * vector's mask and pending bit.
 */
void msi_record_config(PCIDevice *dev)
{
    MSIRecord *r = msi_record(dev);
    uint32_t now[MSI_CAP_DWORDS];
    uint16_t flags = pci_get_word(dev->config + dev->msi_cap + PCI_MSI_FLAGS);
    bool is64 = flags & PCI_MSI_FLAGS_64BIT;
    unsigned data_dw = (is64 ? PCI_MSI_DATA_64 : PCI_MSI_DATA_32) / 4;
    unsigned mask_dw = (is64 ? PCI_MSI_MASK_64 : PCI_MSI_MASK_32) / 4;
    unsigned pend_dw = (is64 ? PCI_MSI_PENDING_64 : PCI_MSI_PENDING_32) / 4;
    unsigned ndw = msi_cap_read(dev, now);

    if ((now[0] ^ r->msi_cap[0]) >> 16) {
        trace_msi_control(dev->name, r->msi_cap[0] >> 16, now[0] >> 16);
        msi_record_event(dev, MSI_EVENT_KIND_CONTROL, MSI_CAPABILITY_MSI,
                         MSI_RECORD_NO_VECTOR, 0, r->msi_cap[0] >> 16,
                         now[0] >> 16);
    }
    for (unsigned i = 1; i <= data_dw; i++) {
        if (now[i] != r->msi_cap[i]) {
            trace_msi_register_write(dev->name, i, r->msi_cap[i], now[i]);
            msi_record_event(dev, MSI_EVENT_KIND_REGISTER_WRITE,
                             MSI_CAPABILITY_MSI, MSI_RECORD_NO_VECTOR, i,
                             r->msi_cap[i], now[i]);
        }
    }
    if ((now[data_dw] ^ r->msi_cap[data_dw]) & 0xffff) {
        /* The data register completes the message (Linux writes it last). */
        MSIMessage msg = msi_get_message(dev, 0);

        if (trace_event_get_state_backends(TRACE_MSI_VECTOR_PROGRAMMED)) {
            g_autofree char *text = msi_describe(msg.address, msg.data);

            trace_msi_vector_programmed(dev->name, msg.address, msg.data,
                                        text);
        }
        msi_record_event(dev, MSI_EVENT_KIND_PROGRAMMED, MSI_CAPABILITY_MSI, 0,
                         0, msg.address, msg.data);
    }
    if (ndw > pend_dw) {                    /* per-vector masking */
        msi_log_vector_bits(dev, r->msi_cap[mask_dw], now[mask_dw], true);
        msi_log_vector_bits(dev, r->msi_cap[pend_dw], now[pend_dw], false);
    }
    memcpy(r->msi_cap, now, ndw * sizeof(now[0]));
}

void msi_record_held(PCIDevice *dev, unsigned vector)
{
    trace_msi_notify_held(dev->name, vector);
    record_unsent(dev, MSI_CAPABILITY_MSI, vector, MSI_EVENT_KIND_HELD,
                  (MSIMessage) {});
    msi_record_config(dev);             /* the pending bit it set */
}

/* -------------------------------------------------------------- readers */

const MSIVectorCounters *msi_record_counters(PCIDevice *dev,
                                             MsiCapability cap,
                                             unsigned vector)
{
    static const MSIVectorCounters none;
    const MSIVectorCounters *c = counters(dev, cap, vector);

    return c ? c : &none;
}

void msi_record_foreach(PCIDevice *dev, uint64_t since,
                        void (*fn)(uint64_t seq, const MSIRecordEvent *ev,
                                   void *opaque),
                        void *opaque)
{
    MSIRecord *r = msi_record(dev);

    for (uint64_t seq = MAX(msi_record_overwritten(dev), since);
         seq < r->next_seq; seq++) {
        fn(seq, &r->ring[seq & r->ring_mask], opaque);
    }
}

uint64_t msi_record_next_seq(PCIDevice *dev)
{
    return msi_record(dev)->next_seq;
}

uint64_t msi_record_overwritten(PCIDevice *dev)
{
    MSIRecord *r = msi_record(dev);
    uint32_t size = dev->msi_log_size;

    return r->next_seq > size ? r->next_seq - size : 0;
}
