/*
 * qtest helpers for MSI and MSI-X as the monitor reports them:
 * x-query-msix and x-query-msix-log, and the local APIC's IRR
 * (table entries: msix-entry.h)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef TESTS_QTEST_MSIX_QUERY_H
#define TESTS_QTEST_MSIX_QUERY_H

#include "libqtest.h"
#include "qobject/qdict.h"

/*
 * A field of an expected log event: MSIX_LOG_ANY is not checked,
 * MSIX_LOG_ABSENT must be absent from the event.
 */
#define MSIX_LOG_ANY            (-1)
#define MSIX_LOG_ABSENT         (-2)

/* One event msix_expect_log() wants, as MsiLogEntry in qapi/pci-msi.json. */
typedef struct MsixEvent {
    const char *kind;
    int vector;
    int dword;
    int64_t old, new;
} MsixEvent;

/* Run @cmd on @dev (with @since if >= 0); the reply, which must succeed. */
QDict *msix_qmp_ok(QTestState *qts, const char *cmd, const char *dev,
                   int64_t since);

/* x-query-msix's element for @dev's capability @cap, "msix" or "msi". */
QDict *msi_query_state(QTestState *qts, const char *dev, const char *cap);

/* The same for MSI-X (a new reference). */
QDict *msix_query_state(QTestState *qts, const char *dev);

/* The element of @state's "vectors" with "index" @index (borrowed). */
QDict *msix_query_vector(QDict *state, int index);

/* A counter ("sent", "held", "dropped") or flag of one vector, now. */
int64_t msix_query_counter(QTestState *qts, const char *dev, int vector,
                           const char *key);
bool msix_query_flag(QTestState *qts, const char *dev, int vector,
                     const char *key);

/* The sequence number @dev's next logged event will get. */
int64_t msix_log_next_seq(QTestState *qts, const char *dev);

/*
 * Assert that @dev's MSI-X log holds exactly the @n events @want from
 * sequence number @since on (printing the log when it does not); returns
 * the sequence number after them.
 */
int64_t msix_expect_log(QTestState *qts, const char *dev, int64_t since,
                        const MsixEvent *want, int n);

/*
 * The same for a held @vector unmasked (PCI Local Bus 3.0, 6.8.2.9: the
 * pending message is sent once nothing masks it): exactly its Vector
 * Control write clearing the mask bit, the unmask, the pending bit
 * cleared and one message.
 */
int64_t msix_expect_unmask_sends(QTestState *qts, const char *dev,
                                 int64_t since, int vector);

/* The same for capability @cap ("msix" or "msi") */
int64_t msi_expect_log(QTestState *qts, const char *dev, const char *cap,
                       int64_t since, const MsixEvent *want, int n);

/*
 * Where a message ended up: the IRR line of `info lapic @cpu` (newly
 * allocated), and whether it lists @vector.
 */
char *lapic_irr(QTestState *qts, int cpu);
bool lapic_irr_has(QTestState *qts, int cpu, unsigned vector);

#endif
