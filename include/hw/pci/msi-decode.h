/*
 * The one decoder of x86 MSI messages
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_PCI_MSI_DECODE_H
#define HW_PCI_MSI_DECODE_H

#include "qapi/qapi-types-pci-msi.h"

/*
 * msi_decode_x86: how an x86 platform reads the MSI message @address,
 * @data: compatibility format, remappable format, Xen pirq encoding, or
 * plain memory.  The formats, their fields and sources are in the comments
 * of hw/pci/msi-decode.c and in docs/msix-instrumentation.rst.  Fills all
 * of @out; never fails.
 */
void msi_decode_x86(uint64_t address, uint32_t data, MsiDecoded *out);

/*
 * msi_describe_x86: one line for @address, @data as decoded, such as
 * "compat dest 0x1 vector 0x22 fixed physical edge", for trace events and
 * HMP.  Writes at most @len bytes (NUL included) to @buf; returns @buf.
 */
char *msi_describe_x86(uint64_t address, uint32_t data, char *buf, size_t len);

/* A buffer large enough for any msi_describe_x86() line. */
#define MSI_DESCRIBE_LEN 96

#endif
