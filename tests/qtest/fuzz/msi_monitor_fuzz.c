/*
 * Fuzz the MSI/MSI-X and Xen IRQ monitor commands
 *
 * x-query-msix, x-query-msix-log and x-query-xen-irqs take their
 * arguments from the monitor, so any user, script or management layer
 * can send them anything.  This target gives each command a random JSON
 * arguments object through the command's QMP marshaller, the path a QMP
 * request takes after the dispatcher has found the command, so that
 * wrong types, missing and unknown members, huge and negative numbers
 * and odd device names all reach the command.  Between commands the
 * input can write msix-testdev's registers and MSI-X table, so that the
 * commands read devices in every state: enabled or not, masked, with
 * messages pending, with a log that wrapped.
 *
 * The input is a list of lines; the first byte of each line picks what
 * the line does:
 *
 *   MSI_MON_OP_QUERY_MSIX       x-query-msix, the rest of the line is its
 *   MSI_MON_OP_QUERY_MSIX_LOG   x-query-msix-log    arguments as JSON
 *   MSI_MON_OP_QUERY_XEN_IRQS   x-query-xen-irqs
 *   MSI_MON_OP_WRITE_REGS       a 32-bit write to msix-testdev's BAR 0
 *   MSI_MON_OP_WRITE_MSIX       a 32-bit write to its MSI-X BAR
 *                               (2-byte offset, then the value, both
 *                               little-endian)
 *
 * tests/fuzz/msi-monitor.dict names the commands' members and the
 * devices; tests/fuzz/corpus/msi-monitor/ holds a valid call of each.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-pci-msi.h"
#include "qapi/qapi-commands-xen-irqs-target.h"
#include "qobject/qdict.h"
#include "qobject/qjson.h"
#include "hw/misc/msix-testdev-regs.h"
#include "tests/qtest/libqos/pci-pc.h"
#include "fuzz.h"

enum {
    MSI_MON_OP_QUERY_MSIX,
    MSI_MON_OP_QUERY_MSIX_LOG,
    MSI_MON_OP_QUERY_XEN_IRQS,
    MSI_MON_OP_WRITE_REGS,
    MSI_MON_OP_WRITE_MSIX,
    MSI_MON_OP_COUNT,
};

/* The slot of the msix-testdev whose registers the input writes */
#define MSI_MON_SLOT 4

typedef void (*MsiMonMarshal)(QDict *args, QObject **ret, Error **errp);

static const MsiMonMarshal msi_mon_commands[] = {
    [MSI_MON_OP_QUERY_MSIX] = qmp_marshal_x_query_msix,
    [MSI_MON_OP_QUERY_MSIX_LOG] = qmp_marshal_x_query_msix_log,
    [MSI_MON_OP_QUERY_XEN_IRQS] = qmp_marshal_x_query_xen_irqs,
};

/* Xen's model too, so that x-query-xen-irqs answers instead of failing */
static GString *msi_mon_cmdline(FuzzTarget *t)
{
    return g_string_new(TARGET_NAME " -display none -machine q35 "
                        "-nodefaults -m 512M "
                        "-accel qtest,xen-version=0x4000a "
                        "-device xen-hypercall-port "
                        "-device msix-testdev,id=dut,addr="
                        stringify(MSI_MON_SLOT) ".0 "
                        "-device msix-testdev,id=msi,msix=off,"
                        "addr=05.0");
}

static void msi_mon_call(MsiMonMarshal marshal, const uint8_t *json,
                         size_t len)
{
    g_autofree char *text = g_strndup((const char *)json, len);
    QObject *args = qobject_from_json(text, NULL);
    QDict *dict = qobject_to(QDict, args);
    QObject *ret = NULL;
    Error *err = NULL;

    /* The dispatcher passes an empty dictionary for a missing one. */
    if (!args || dict) {
        g_autoptr(QDict) empty = qdict_new();

        marshal(dict ? dict : empty, &ret, &err);
    }
    error_free(err);
    qobject_unref(ret);
    qobject_unref(args);
}

static void msi_mon_write(QPCIDevice *dev, QPCIBar bar, uint64_t size,
                          const uint8_t *p, size_t len)
{
    uint16_t off;
    uint32_t val;

    if (len < sizeof(off) + sizeof(val)) {
        return;
    }
    off = lduw_le_p(p) % size & ~3u;
    val = ldl_le_p(p + sizeof(off));
    qpci_io_writel(dev, bar, off, val);
}

static void msi_mon_fuzz(QTestState *s, const unsigned char *data,
                         size_t size)
{
    /*
     * The reset at the end of each input clears the BARs, so map them
     * again for each one, on a new bus whose allocator starts over, as
     * generic-fuzz does.
     */
    QPCIBus *bus = qpci_new_pc(s, NULL);
    QPCIDevice *dev = qpci_device_find(bus, QPCI_DEVFN(MSI_MON_SLOT, 0));
    QPCIBar regs;

    g_assert(dev);
    qpci_device_enable(dev);
    regs = qpci_iomap(dev, MSIX_TESTDEV_BAR_REGS, NULL);
    qpci_msix_enable(dev);

    while (size) {
        const uint8_t *eol = memchr(data, '\n', size);
        size_t len = eol ? eol - data : size;

        if (len) {
            uint8_t op = data[0] % MSI_MON_OP_COUNT;

            switch (op) {
            case MSI_MON_OP_WRITE_REGS:
                msi_mon_write(dev, regs, MSIX_TESTDEV_BAR_REGS_SIZE,
                              data + 1, len - 1);
                break;
            case MSI_MON_OP_WRITE_MSIX:
                msi_mon_write(dev, dev->msix_table_bar,
                              MSIX_TESTDEV_BAR_MSIX_SIZE, data + 1, len - 1);
                break;
            default:
                msi_mon_call(msi_mon_commands[op], data + 1, len - 1);
                break;
            }
            flush_events(s);
        }
        data += eol ? len + 1 : len;
        size -= eol ? len + 1 : len;
    }
    g_free(dev);
    qpci_free_pc(bus);
    fuzz_reset(s);
}

static void msi_mon_register(void)
{
    fuzz_add_target(&(FuzzTarget){
        .name = "msi-monitor-fuzz",
        .description = "Fuzz x-query-msix, x-query-msix-log and "
                       "x-query-xen-irqs with random arguments, between "
                       "writes to msix-testdev",
        .get_init_cmdline = msi_mon_cmdline,
        .fuzz = msi_mon_fuzz,
    });
}

fuzz_target_init(msi_mon_register);
