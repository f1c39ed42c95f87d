/*
 * How the platform reads an MSI message, for the MSI instrumentation
 *
 * To PCI, a message is a DWORD memory write of the data to the address
 * (PCI Local Bus Specification 3.0, 6.8); what it means belongs to the
 * platform: on x86, an address in the local APICs' window is an interrupt
 * in one of several formats.  The trace events, x-query-msix and
 * x-query-msix-log, and the qtests that read them ask here, and the
 * platform's reader answers, registered at start-up from the platform's
 * own code (x86: hw/i386/x86-msi.c), so that hw/pci names no platform
 * and a message means the same thing everywhere.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "hw/pci/msi-decode.h"

static MSIDecodeFn *platform_decode;

void msi_decoder_register(MSIDecodeFn *fn)
{
    assert(!platform_decode);
    platform_decode = fn;
}

MsiDecoded *msi_decode(uint64_t address, uint32_t data)
{
    MsiDecoded *d = g_new0(MsiDecoded, 1);

    if (platform_decode) {
        platform_decode(address, data, d);
    } else {
        d->format = MSI_MESSAGE_FORMAT_MEMORY;
        d->summary = g_strdup("memory");
    }
    return d;
}

char *msi_describe(uint64_t address, uint32_t data)
{
    g_autoptr(MsiDecoded) d = msi_decode(address, data);

    return g_steal_pointer(&d->summary);
}
