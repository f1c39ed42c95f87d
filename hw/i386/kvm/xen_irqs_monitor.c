/*
 * QEMU Xen emulation: x-query-xen-irqs and info xen-irqs
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-xen-irqs-target.h"
#include "qobject/qdict.h"
#include "hw/core/cpu.h"
#include "hw/pci/pci_device.h"
#include "hw/xen/xen.h"
#include "monitor/hmp.h"
#include "monitor/monitor.h"

#include "xen_evtchn.h"
#include "xen_physirq.h"
#include "xen_upcall.h"

static void add_pirq(const XenEvtchnPirqState *st, void *opaque)
{
    XenPirqInfoList ***tail = opaque;
    XenPirqInfo *info = g_new0(XenPirqInfo, 1);

    info->pirq = st->pirq;
    if (st->is_pt) {
        xen_physirq_query_pirq(st->pirq, info);
    } else if (st->gsi >= 0) {
        info->source = XEN_PIRQ_SOURCE_GSI;
        info->has_gsi = true;
        info->gsi = st->gsi;
    } else if (st->is_msi && st->dev) {
        info->source = st->is_msix ? XEN_PIRQ_SOURCE_MSIX : XEN_PIRQ_SOURCE_MSI;
        info->device = object_get_canonical_path(OBJECT(st->dev));
        info->has_vector = true;
        info->vector = st->vector;
        info->has_vector_masked = true;
        info->vector_masked = st->is_masked;
    } else {
        info->source = XEN_PIRQ_SOURCE_NONE;
    }
    info->port = st->port;
    info->port_pending = st->port_pending;
    info->port_masked = st->port_masked;
    info->delivered = st->delivered;
    info->dropped = st->dropped;
    QAPI_LIST_APPEND(*tail, info);
}

XenIrqsInfo *qmp_x_query_xen_irqs(Error **errp)
{
    XenIrqsInfo *info;
    XenPirqInfoList **pirq_tail;
    XenVcpuUpcallInfoList **vcpu_tail;
    CPUState *cs;

    if (xen_mode != XEN_EMULATE) {
        error_setg(errp, "Xen event channel emulation not enabled");
        return NULL;
    }
    info = g_new0(XenIrqsInfo, 1);
    info->callback_param = xen_evtchn_get_callback_param();
    info->msi_dropped = xen_evtchn_get_msi_dropped();
    pirq_tail = &info->pirqs;
    xen_evtchn_foreach_pirq(add_pirq, &pirq_tail);

    vcpu_tail = &info->vcpus;
    CPU_FOREACH(cs) {
        XenVcpuUpcallInfo *v = g_new0(XenVcpuUpcallInfo, 1);

        if (!xen_upcall_query_vcpu(cs->cpu_index, v)) {
            g_free(v);
            continue;
        }
        QAPI_LIST_APPEND(vcpu_tail, v);
    }
    xen_physirq_query(info);
    return info;
}

void hmp_info_xen_irqs(Monitor *mon, const QDict *qdict)
{
    Error *err = NULL;
    g_autoptr(XenIrqsInfo) info = qmp_x_query_xen_irqs(&err);
    XenPirqInfoList *p;
    XenVcpuUpcallInfoList *v;
    XenIrqDescInfoList *d;

    if (hmp_handle_error(mon, err)) {
        return;
    }
    monitor_printf(mon, "callback 0x%016" PRIx64 "  pirq MSI dropped %" PRIu64
                   "\n", info->callback_param, info->msi_dropped);
    for (p = info->pirqs; p; p = p->next) {
        XenPirqInfo *i = p->value;

        monitor_printf(mon, "pirq %4u %-4s ", i->pirq,
                       XenPirqSource_str(i->source));
        if (i->has_gsi) {
            monitor_printf(mon, "gsi %-2u ", i->gsi);
        }
        if (i->has_irq) {
            monitor_printf(mon, "irq %u ", i->irq);
        }
        if (i->device) {
            monitor_printf(mon, "%s vector %u%s ", i->device, i->vector,
                           i->vector_masked ? " (masked)" : "");
        }
        monitor_printf(mon, "-> port %u%s%s  delivered %" PRIu64
                       " dropped %" PRIu64 "\n", i->port,
                       i->port_pending ? " PENDING" : "",
                       i->port_masked ? " MASKED" : "",
                       i->delivered, i->dropped);
    }
    for (v = info->vcpus; v; v = v->next) {
        XenVcpuUpcallInfo *i = v->value;

        monitor_printf(mon, "vcpu %u upcall vector 0x%02x%s  upcalls %" PRIu64
                       " injections %" PRIu64 "\n", i->vcpu, i->upcall_vector,
                       i->asserted ? " ASSERTED" : "", i->upcalls,
                       i->injections);
    }
    /* vector_irq[] is these descriptors' (cpu, vector), so one line each */
    for (d = info->irqs; d; d = d->next) {
        XenIrqDescInfo *i = d->value;

        monitor_printf(mon, "irq %u: cpu %u (APIC ID %u) vector 0x%02x "
                       "-> pirq %u  %02x:%02x.%x entry %u%s%s  count %"
                       PRIu64 "\n", i->irq, i->cpu, i->apic_id, i->vector,
                       i->pirq, i->bus, PCI_SLOT(i->devfn),
                       PCI_FUNC(i->devfn), i->entry, i->device ? " " : "",
                       i->device ?: "", i->count);
    }
}
