/*
 * qtest helpers for MSI and MSI-X as the monitor reports them
 * (msix-query.h)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qobject/qjson.h"
#include "qobject/qlist.h"
#include "msix-query.h"

QDict *msix_qmp_ok(QTestState *qts, const char *cmd, const char *dev,
                   int64_t since)
{
    QDict *resp;

    if (since >= 0) {
        resp = qtest_qmp(qts, "{'execute': %s, 'arguments': "
                         "{'device': %s, 'since': %" PRId64 "}}",
                         cmd, dev, since);
    } else {
        resp = qtest_qmp(qts, "{'execute': %s, 'arguments': {'device': %s}}",
                         cmd, dev);
    }
    g_assert(qdict_haskey(resp, "return"));
    return resp;
}

QDict *msix_query_state(QTestState *qts, const char *dev)
{
    return msi_query_state(qts, dev, "msix");
}

QDict *msi_query_state(QTestState *qts, const char *dev, const char *cap)
{
    g_autoptr(QDict) resp = msix_qmp_ok(qts, "x-query-msix", dev, -1);
    QList *list = qdict_get_qlist(resp, "return");
    QListEntry *e;

    QLIST_FOREACH_ENTRY(list, e) {
        QDict *info = qobject_to(QDict, qlist_entry_obj(e));

        if (!strcmp(qdict_get_str(info, "capability"), cap)) {
            return qobject_ref(info);
        }
    }
    g_assert_not_reached();
}

QDict *msix_query_vector(QDict *state, int index)
{
    QList *vectors = qdict_get_qlist(state, "vectors");
    QListEntry *e;

    QLIST_FOREACH_ENTRY(vectors, e) {
        QDict *v = qobject_to(QDict, qlist_entry_obj(e));

        if (qdict_get_int(v, "index") == index) {
            return v;
        }
    }
    g_assert_not_reached();
}

int64_t msix_query_counter(QTestState *qts, const char *dev, int vector,
                           const char *key)
{
    g_autoptr(QDict) s = msix_query_state(qts, dev);

    return qdict_get_int(msix_query_vector(s, vector), key);
}

bool msix_query_flag(QTestState *qts, const char *dev, int vector,
                     const char *key)
{
    g_autoptr(QDict) s = msix_query_state(qts, dev);

    return qdict_get_bool(msix_query_vector(s, vector), key);
}

int64_t msix_log_next_seq(QTestState *qts, const char *dev)
{
    g_autoptr(QDict) resp = msix_qmp_ok(qts, "x-query-msix-log", dev, -1);

    return qdict_get_int(qdict_get_qdict(resp, "return"), "next-seq");
}

static void check_field(QDict *entry, const char *key, int64_t want)
{
    if (want == MSIX_LOG_ABSENT) {
        g_assert_false(qdict_haskey(entry, key));
    } else if (want != MSIX_LOG_ANY) {
        g_assert(qdict_haskey(entry, key));
        g_assert_cmpint(qdict_get_int(entry, key), ==, want);
    }
}

int64_t msix_expect_log(QTestState *qts, const char *dev, int64_t since,
                        const MsixEvent *want, int n)
{
    return msi_expect_log(qts, dev, "msix", since, want, n);
}

int64_t msix_expect_unmask_sends(QTestState *qts, const char *dev,
                                 int64_t since, int vector)
{
    return msix_expect_log(qts, dev, since, (MsixEvent[]) {
        { "table-write", vector, 3, 1, 0 },
        { "unmask", vector, MSIX_LOG_ABSENT, MSIX_LOG_ABSENT,
          MSIX_LOG_ABSENT },
        { "pending-clear", vector, MSIX_LOG_ABSENT, MSIX_LOG_ABSENT,
          MSIX_LOG_ABSENT },
        { "message", vector, MSIX_LOG_ABSENT, MSIX_LOG_ABSENT,
          MSIX_LOG_ABSENT },
    }, 4);
}

int64_t msi_expect_log(QTestState *qts, const char *dev, const char *cap,
                       int64_t since, const MsixEvent *want, int n)
{
    g_autoptr(QDict) resp = msix_qmp_ok(qts, "x-query-msix-log", dev, since);
    QList *entries = qdict_get_qlist(qdict_get_qdict(resp, "return"),
                                     "entries");
    QListEntry *e;
    int i = 0;

    if (qlist_size(entries) != n) {
        g_autoptr(GString) got = qobject_to_json_pretty(QOBJECT(entries),
                                                        true);

        g_test_message("%s: want %d events since %" PRId64 ", log has: %s",
                       dev, n, since, got->str);
    }
    QLIST_FOREACH_ENTRY(entries, e) {
        QDict *ev = qobject_to(QDict, qlist_entry_obj(e));

        g_assert_cmpint(i, <, n);
        g_assert_cmpint(qdict_get_int(ev, "seq"), ==, since + i);
        g_assert_cmpstr(qdict_get_str(ev, "kind"), ==, want[i].kind);
        g_assert_cmpstr(qdict_get_str(ev, "capability"), ==, cap);
        check_field(ev, "vector", want[i].vector);
        check_field(ev, "dword", want[i].dword);
        check_field(ev, "old", want[i].old);
        check_field(ev, "new", want[i].new);
        i++;
    }
    g_assert_cmpint(i, ==, n);
    return since + n;
}

char *lapic_irr(QTestState *qts, int cpu)
{
    g_autofree char *out = qtest_hmp(qts, "info lapic %d", cpu);
    g_auto(GStrv) lines = g_strsplit(out, "\n", -1);

    for (int i = 0; lines[i]; i++) {
        if (g_str_has_prefix(lines[i], "IRR")) {
            return g_strdup(lines[i]);
        }
    }
    g_assert_not_reached();     /* `info lapic` always prints its IRR */
}

bool lapic_irr_has(QTestState *qts, int cpu, unsigned vector)
{
    g_autofree char *irr = lapic_irr(qts, cpu);
    g_autofree char *line = g_strconcat(irr, " ", NULL);
    g_autofree char *want = g_strdup_printf(" %u ", vector);

    return strstr(line, want) != NULL;
}
