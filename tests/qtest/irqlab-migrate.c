/*
 * Migration through a file, for irqlab's qtests
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <glib/gstdio.h>
#include "qobject/qdict.h"
#include "irqlab-migrate.h"

#define WAIT_US         (5 * G_USEC_PER_SEC)

/* Wait until query-migrate on @qts says "completed". */
static void wait_migrated(QTestState *qts)
{
    gint64 end = g_get_monotonic_time() + WAIT_US;

    for (;;) {
        g_autoptr(QDict) resp = qtest_qmp(qts, "{'execute': 'query-migrate'}");
        QDict *ret = qdict_get_qdict(resp, "return");
        const char *status = qdict_haskey(ret, "status") ?
                             qdict_get_str(ret, "status") : "none";

        g_assert_cmpstr(status, !=, "failed");
        if (!strcmp(status, "completed")) {
            return;
        }
        g_assert_cmpint(g_get_monotonic_time(), <, end);
        g_usleep(1000);
    }
}

/* The abort handler: an assertion failed while the file existed */
static void remove_state_file(void *path)
{
    g_unlink(path);
}

void migrate_through_file(QTestState *src, QTestState *dst)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *path = NULL;
    g_autofree char *uri = NULL;
    int fd = g_file_open_tmp("irqlab-migrate-XXXXXX", &path, &err);

    g_assert_no_error(err);
    close(fd);
    qtest_add_abrt_handler(remove_state_file, path);
    uri = g_strdup_printf("file:%s", path);

    qobject_unref(qtest_qmp_assert_success_ref(src,
                  "{'execute': 'migrate', 'arguments': {'uri': %s}}", uri));
    wait_migrated(src);
    qobject_unref(qtest_qmp_assert_success_ref(dst,
                  "{'execute': 'migrate-incoming', 'arguments': {'uri': %s}}",
                  uri));
    wait_migrated(dst);

    qtest_remove_abrt_handler(path);
    g_unlink(path);
}
