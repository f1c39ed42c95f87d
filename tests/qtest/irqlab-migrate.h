/*
 * Migration through a file, for irqlab's qtests
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef TESTS_QTEST_IRQLAB_MIGRATE_H
#define TESTS_QTEST_IRQLAB_MIGRATE_H

#include "libqtest.h"

/*
 * Save @src's state to the file URI @uri ("file:<path>"), then load it
 * into @dst, started with `-incoming defer` and the same devices; each
 * side must report "completed" within a few seconds, never "failed".
 */
void migrate_through_file(QTestState *src, QTestState *dst, const char *uri);

#endif
