/*
 * x-query-msix, x-query-msix-log, and HMP info msix, info msix-log
 *
 * The MSI/MSI-X state of PCI functions as the guest programmed it, decoded
 * as the platform reads it (hw/pci/msi-decode.c), with the counters and
 * event log that hw/pci/msi-record.c keeps.  HMP prints the decoded
 * messages' summary, so that QMP and HMP say the same.  Schema and
 * documentation: qapi/pci-msi.json.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-pci-msi.h"
#include "qobject/qdict.h"
#include "qom/object.h"
#include "monitor/hmp.h"
#include "monitor/monitor.h"
#include "hw/qdev-core.h"
#include "hw/pci/pci_device.h"
#include "hw/pci/msi.h"
#include "hw/pci/msix.h"
#include "hw/pci/msi-decode.h"
#include "hw/pci/msi-record.h"

/* @id as a qdev ID or QOM path, which must be a PCI device. */
static PCIDevice *find_pci_device(const char *id, Error **errp)
{
    Object *peripherals = machine_get_container("peripheral");
    Object *obj = object_resolve_path_at(peripherals, id);
    PCIDevice *dev;

    if (!obj || !object_dynamic_cast(obj, TYPE_DEVICE)) {
        error_set(errp, ERROR_CLASS_DEVICE_NOT_FOUND,
                  "Device '%s' not found", id);
        return NULL;
    }
    dev = (PCIDevice *)object_dynamic_cast(obj, TYPE_PCI_DEVICE);
    if (!dev) {
        error_setg(errp, "Device '%s' is not a PCI device", id);
        return NULL;
    }
    return dev;
}

static char *bdf_of(PCIDevice *dev)
{
    return g_strdup_printf("%02x:%02x.%x", pci_dev_bus_num(dev),
                           PCI_SLOT(dev->devfn), PCI_FUNC(dev->devfn));
}

static MsiVectorInfo *vector_info(PCIDevice *dev, MsiCapability cap,
                                  unsigned i, MSIMessage msg, bool masked,
                                  bool pending, bool used)
{
    const MSIVectorCounters *c = msi_record_counters(dev, cap, i);
    MsiVectorInfo *v = g_new0(MsiVectorInfo, 1);

    v->index = i;
    v->address = msg.address;
    v->data = msg.data;
    v->masked = masked;
    v->pending = pending;
    v->used = used;
    v->sent = c->sent;
    v->held = c->held;
    v->dropped = c->dropped;
    v->dropped_bus_master = c->dropped_bus_master;
    v->decoded = msi_decode(msg.address, msg.data);
    return v;
}

/* What both capabilities report alike: identity, bus mastering, counts. */
static MsiDeviceInfo *device_info(PCIDevice *dev, MsiCapability cap)
{
    MsiDeviceInfo *info = g_new0(MsiDeviceInfo, 1);

    info->qom_path = object_get_canonical_path(OBJECT(dev));
    info->bdf = bdf_of(dev);
    info->capability = cap;
    info->bus_master = msi_bus_master_enabled(dev);
    return info;
}

/* The last step of msix_info() and msi_info(): the device's totals. */
static void sum_vectors(MsiDeviceInfo *info)
{
    for (MsiVectorInfoList *v = info->vectors; v; v = v->next) {
        info->dropped_bus_master += v->value->dropped_bus_master;
    }
}

static MsiDeviceInfo *msix_info(PCIDevice *dev)
{
    MsiDeviceInfo *info = device_info(dev, MSI_CAPABILITY_MSIX);
    uint16_t control = pci_get_word(dev->config + dev->msix_cap +
                                    PCI_MSIX_FLAGS);
    MsiVectorInfoList **tail = &info->vectors;

    info->enabled = control & PCI_MSIX_FLAGS_ENABLE;
    info->function_masked = control & PCI_MSIX_FLAGS_MASKALL;
    info->table_size = dev->msix_entries_nr;
    for (unsigned i = 0; i < dev->msix_entries_nr; i++) {
        bool pending = dev->msix_pba[i / 8] & BIT(i % 8);

        QAPI_LIST_APPEND(tail, vector_info(dev, MSI_CAPABILITY_MSIX, i,
                                           msix_get_message(dev, i),
                                           msix_is_masked(dev, i), pending,
                                           dev->msix_entry_used[i]));
    }
    sum_vectors(info);
    return info;
}

static MsiDeviceInfo *msi_info(PCIDevice *dev)
{
    MsiDeviceInfo *info = device_info(dev, MSI_CAPABILITY_MSI);
    uint16_t flags = pci_get_word(dev->config + dev->msi_cap + PCI_MSI_FLAGS);
    bool msi64bit = flags & PCI_MSI_FLAGS_64BIT;
    /* Multiple Message Capable, and the pending bits after the mask bits */
    unsigned capable = 1U << ((flags & PCI_MSI_FLAGS_QMASK) >> 1);
    unsigned pending_off = dev->msi_cap +
                           (msi64bit ? PCI_MSI_PENDING_64 : PCI_MSI_PENDING_32);
    uint32_t pending = flags & PCI_MSI_FLAGS_MASKBIT ?
                       pci_get_long(dev->config + pending_off) : 0;
    MsiVectorInfoList **tail = &info->vectors;

    info->enabled = msi_enabled(dev);
    info->function_masked = false;
    info->table_size = capable;
    for (unsigned i = 0; i < capable; i++) {
        bool allocated = i < msi_nr_vectors_allocated(dev);

        /*
         * msi_get_message() asserts on a vector beyond Multiple Message
         * Enable; such a vector shows the base message, unused.
         */
        QAPI_LIST_APPEND(tail, vector_info(dev, MSI_CAPABILITY_MSI, i,
                                           msi_get_message(dev,
                                                           allocated ? i : 0),
                                           msi_is_masked(dev, i),
                                           pending & BIT(i),
                                           info->enabled && allocated));
    }
    sum_vectors(info);
    return info;
}

static void append_device(PCIDevice *dev, MsiDeviceInfoList ***tail)
{
    if (msix_present(dev)) {
        QAPI_LIST_APPEND(*tail, msix_info(dev));
    }
    if (msi_present(dev)) {
        QAPI_LIST_APPEND(*tail, msi_info(dev));
    }
}

static int append_if_pci(Object *obj, void *opaque)
{
    PCIDevice *dev = (PCIDevice *)object_dynamic_cast(obj, TYPE_PCI_DEVICE);

    if (dev && DEVICE(dev)->realized) {
        append_device(dev, opaque);
    }
    return 0;
}

MsiDeviceInfoList *qmp_x_query_msix(const char *device, Error **errp)
{
    MsiDeviceInfoList *head = NULL, **tail = &head;

    if (device) {
        PCIDevice *dev = find_pci_device(device, errp);

        if (dev) {
            append_device(dev, &tail);
        }
    } else {
        object_child_foreach_recursive(object_get_root(), append_if_pci,
                                       &tail);
    }
    return head;
}

typedef struct LogVisit {
    MsiLogEntryList **tail;
} LogVisit;

static void append_entry(uint64_t seq, const MSIRecordEvent *ev,
                         void *opaque)
{
    LogVisit *lv = opaque;
    MsiLogEntry *e = g_new0(MsiLogEntry, 1);

    e->seq = seq;
    e->time_ns = ev->time_ns;
    e->kind = ev->kind;
    e->capability = ev->cap;
    if (ev->vector != MSI_RECORD_NO_VECTOR) {
        e->has_vector = true;
        e->vector = ev->vector;
    }
    /* A message's cpu is not written (msi_record_append()) */
    if (ev->kind != MSI_EVENT_KIND_MESSAGE && ev->cpu != MSI_RECORD_NO_CPU) {
        e->has_cpu_index = true;
        e->cpu_index = ev->cpu;
    }
    if (ev->cpl != MSI_RECORD_NO_CPL) {
        e->has_privilege_level = true;
        e->privilege_level = ev->cpl;
    }
    switch (ev->kind) {
    case MSI_EVENT_KIND_CONTROL:
    case MSI_EVENT_KIND_TABLE_WRITE:
    case MSI_EVENT_KIND_REGISTER_WRITE:
        e->has_old = e->has_q_new = true;
        e->old = ev->a;
        e->q_new = ev->b;
        e->has_dword = ev->kind != MSI_EVENT_KIND_CONTROL;
        e->dword = ev->dword;
        break;
    case MSI_EVENT_KIND_PROGRAMMED:
    case MSI_EVENT_KIND_MESSAGE:
    case MSI_EVENT_KIND_DROPPED_BUS_MASTER:
        e->has_address = e->has_data = true;
        e->address = ev->a;
        e->data = ev->b;
        e->decoded = msi_decode(ev->a, ev->b);
        break;
    case MSI_EVENT_KIND_PBA_WRITE:
        e->has_dword = e->has_q_new = true;
        e->dword = ev->dword;
        e->q_new = ev->a;
        break;
    default:
        break;
    }
    QAPI_LIST_APPEND(lv->tail, e);
}

MsiLog *qmp_x_query_msix_log(const char *device, bool has_since,
                             uint64_t since, Error **errp)
{
    PCIDevice *dev = find_pci_device(device, errp);
    MsiLog *log;
    LogVisit lv;

    if (!dev) {
        return NULL;
    }
    /*
     * A sequence number the log has not reached yet is a client's
     * mistake, not an empty answer: the input visitor turns a negative
     * number into a huge one (qobject_input_type_uint64()).
     */
    if (has_since && since > msi_record_next_seq(dev)) {
        error_setg(errp, "'since' is %" PRIu64 ", beyond the log's next "
                   "sequence number %" PRIu64, since,
                   msi_record_next_seq(dev));
        return NULL;
    }
    log = g_new0(MsiLog, 1);
    log->qom_path = object_get_canonical_path(OBJECT(dev));
    log->size = dev->msi_log_size;
    log->overwritten = msi_record_overwritten(dev);
    log->next_seq = msi_record_next_seq(dev);
    lv.tail = &log->entries;
    msi_record_foreach(dev, has_since ? since : 0, append_entry, &lv);
    return log;
}

/* ------------------------------------------------------------------ HMP */

static const char *yes_no(bool b)
{
    return b ? "yes" : "-";
}

/* The vectors that dropped notifies with bus mastering off, on one line. */
static void hmp_dropped_bus_master(Monitor *mon, MsiDeviceInfo *info)
{
    g_autoptr(GString) per = g_string_new("");

    for (MsiVectorInfoList *v = info->vectors; v; v = v->next) {
        if (v->value->dropped_bus_master) {
            g_string_append_printf(per, "%svec %u: %" PRIu64,
                                   per->len ? ", " : "", v->value->index,
                                   v->value->dropped_bus_master);
        }
    }
    monitor_printf(mon, "  dropped-bus-master: %" PRIu64 " (%s)\n",
                   info->dropped_bus_master, per->str);
}

void hmp_info_msix(Monitor *mon, const QDict *qdict)
{
    const char *device = qdict_get_try_str(qdict, "device");
    Error *err = NULL;
    g_autoptr(MsiDeviceInfoList) list = qmp_x_query_msix(device, &err);

    if (hmp_handle_error(mon, err)) {
        return;
    }
    for (MsiDeviceInfoList *d = list; d; d = d->next) {
        MsiDeviceInfo *info = d->value;

        bool msix = info->capability == MSI_CAPABILITY_MSIX;

        monitor_printf(mon, "%s %s: %s %s%s, %u %s%s%s\n", info->bdf,
                       info->qom_path, msix ? "MSI-X" : "MSI",
                       info->enabled ? "enabled" : "disabled",
                       info->function_masked ? ", function masked" : "",
                       info->table_size, msix ? "entr" : "vector",
                       msix ? (info->table_size == 1 ? "y" : "ies")
                            : (info->table_size == 1 ? "" : "s"),
                       info->bus_master ? "" : ", bus master disabled");
        monitor_printf(mon, "  %4s %-18s %-10s %-4s %-4s %-4s %8s %8s %8s"
                       "  %s\n", "vec", "address", "data", "mask", "pend",
                       "used", "sent", "held", "dropped", "decoded");
        for (MsiVectorInfoList *v = info->vectors; v; v = v->next) {
            MsiVectorInfo *vi = v->value;

            monitor_printf(mon, "  %4u 0x%016" PRIx64 " 0x%08x %-4s %-4s "
                           "%-4s %8" PRIu64 " %8" PRIu64 " %8" PRIu64 "  %s\n",
                           vi->index, vi->address, vi->data,
                           yes_no(vi->masked), yes_no(vi->pending),
                           yes_no(vi->used), vi->sent, vi->held, vi->dropped,
                           vi->decoded->summary);
        }
        if (info->dropped_bus_master) {
            hmp_dropped_bus_master(mon, info);
        }
    }
}

void hmp_info_msix_log(Monitor *mon, const QDict *qdict)
{
    const char *device = qdict_get_str(qdict, "device");
    Error *err = NULL;
    g_autoptr(MsiLog) log = qmp_x_query_msix_log(device, false, 0, &err);

    if (hmp_handle_error(mon, err)) {
        return;
    }
    monitor_printf(mon, "%s: %" PRIu64 " events, %" PRIu64
                   " overwritten (log size %u)\n", log->qom_path,
                   log->next_seq, log->overwritten, log->size);
    monitor_printf(mon, "%8s %14s %-18s %-5s %5s %-10s %s\n", "seq",
                   "time-ns", "kind", "cap", "vec", "by", "details");
    for (MsiLogEntryList *l = log->entries; l; l = l->next) {
        MsiLogEntry *e = l->value;
        g_autofree char *vec = e->has_vector ?
                               g_strdup_printf("%u", e->vector) :
                               g_strdup("-");
        g_autofree char *by = !e->has_cpu_index ? g_strdup("-") :
                              e->has_privilege_level ?
                              g_strdup_printf("cpu%u/pl%u", e->cpu_index,
                                              e->privilege_level) :
                              g_strdup_printf("cpu%u", e->cpu_index);
        g_autofree char *details = NULL;

        if (e->has_address) {
            details = g_strdup_printf("address 0x%" PRIx64 " data 0x%08x: %s",
                                      e->address, e->data,
                                      e->decoded->summary);
        } else if (e->has_old && e->has_dword) {
            details = g_strdup_printf("dword %u 0x%" PRIx64 " -> 0x%" PRIx64,
                                      e->dword, e->old, e->q_new);
        } else if (e->has_old) {
            details = g_strdup_printf("0x%" PRIx64 " -> 0x%" PRIx64,
                                      e->old, e->q_new);
        } else if (e->has_q_new) {
            details = g_strdup_printf("dword %u 0x%" PRIx64 " ignored",
                                      e->dword, e->q_new);
        }
        monitor_printf(mon, "%8" PRIu64 " %14" PRId64 " %-18s %-5s %5s %-10s"
                       " %s\n", e->seq, e->time_ns, MsiEventKind_str(e->kind),
                       MsiCapability_str(e->capability), vec, by,
                       details ? details : "");
    }
}
