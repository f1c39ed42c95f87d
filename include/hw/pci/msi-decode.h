/*
 * How the platform reads an MSI message, for the MSI instrumentation
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_PCI_MSI_DECODE_H
#define HW_PCI_MSI_DECODE_H

#include "qapi/qapi-types-pci-msi.h"

/*
 * A platform's reader of MSI messages: fills all of @out for the message
 * @address, @data, @out->summary included (allocated); never fails.
 */
typedef void MSIDecodeFn(uint64_t address, uint32_t data, MsiDecoded *out);

/*
 * The platform registers its reader once, at start-up (x86:
 * hw/i386/x86-msi.c).  Without one, every message reads as what PCI
 * itself makes of it: a memory write.
 */
void msi_decoder_register(MSIDecodeFn *fn);

/* @address, @data as the platform reads it; qapi_free_MsiDecoded() it. */
MsiDecoded *msi_decode(uint64_t address, uint32_t data);

/*
 * The same in one line, such as "compat dest 0x1 vector 0x22 fixed
 * physical edge": MsiDecoded's summary, for trace events; g_free() it.
 */
char *msi_describe(uint64_t address, uint32_t data);

#endif
