/*
 * Migration through a file, for irqlab's qtests
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef TESTS_QTEST_IRQLAB_MIGRATE_H
#define TESTS_QTEST_IRQLAB_MIGRATE_H

#include "libqtest.h"

/*
 * Save @src's state to a new temporary file, then load it into @dst,
 * started with `-incoming defer` and the same devices; each side must
 * report "completed" within a few seconds, never "failed".  The file is
 * removed afterwards, or by an abort handler when an assertion fails on
 * the way.
 */
void migrate_through_file(QTestState *src, QTestState *dst);

#endif
