/*
 * MSI-X delivery on a stock device, as QEMU's MSI-X core implements it
 *
 * The baseline every irqlab hook patch must keep: a table entry pointed at
 * guest RAM receives its message data there; a masked entry (vector control
 * bit 0) or a set function mask (MASKALL) holds the message in the Pending
 * Bit Array instead, and unmasking delivers it and clears the pending bit
 * (PCI Local Bus Specification 3.0, section 6.8.2, "MSI-X Capability and
 * Table Structure"); an entry pointed at the local APIC raises its vector
 * in the IRR of the destination CPU.  At each step, the vector's counters
 * and pending bit as x-query-msix reports them (hw/pci/msi-record.c) agree.
 * Last, plain MSI on the same device: its registers logged, one message.
 *
 * The device is a stock e1000e on q35: its "other" interrupt cause is
 * routed by IVAR to one MSI-X vector and raised by writing ICS, which is
 * the smallest guest action that makes a stock PCI device call
 * msix_notify().  Pending bits are only read, never written: they drain
 * by unmasking, as the specification has it.
 *
 * Copyright (c) 2026 irqlab developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "libqtest.h"
#include "libqos/pci-pc.h"
#include "libqos/libqos-malloc.h"
#include "libqos/libqos-pc.h"
#include "hw/net/e1000_regs.h"
#include "hw/i386/x86-msi.h"
#include "standard-headers/linux/pci_regs.h"
#include "qobject/qlist.h"
#include "msix-entry.h"
#include "msix-query.h"

#define E1000E_DEVFN            QPCI_DEVFN(4, 0)
/* The vector IVAR routes the "other" cause to: not 0, to catch mix-ups. */
#define TEST_VECTOR             2
#define TEST_DATA               0x4d53495aU     /* "MSIZ" */
/*
 * e1000e's interrupt throttling (EITR; at least 128 us of virtual time as
 * QEMU models it): a notify goes out at once and opens a window; notifies
 * inside the window are held by the device and sent as one message when
 * it closes.  The tests raise one cause per window, and step the clock
 * past a window only where they count what it sends.
 */
#define E1000E_MITIGATION_NS    (1 * 1000 * 1000)

#define TEST_APIC_VECTOR        0x61

typedef struct TestState {
    QOSState *qs;
    QPCIDevice *dev;
    QPCIBar mmio;
    uint8_t msix_cap;
    uint64_t target;            /* guest RAM the message is written to */
} TestState;

static void e1000e_writel(TestState *t, uint32_t reg, uint32_t val)
{
    qpci_io_writel(t->dev, t->mmio, reg, val);
}

static void set_function_mask(TestState *t, bool masked)
{
    uint16_t ctrl = qpci_config_readw(t->dev, t->msix_cap + PCI_MSIX_FLAGS);

    ctrl = masked ? ctrl | PCI_MSIX_FLAGS_MASKALL
                  : ctrl & ~PCI_MSIX_FLAGS_MASKALL;
    qpci_config_writew(t->dev, t->msix_cap + PCI_MSIX_FLAGS, ctrl);
}

/* What the message wrote to guest RAM since the last call; then clear it. */
static uint32_t take_message(TestState *t)
{
    uint32_t val = qtest_readl(t->qs->qts, t->target);

    qtest_writel(t->qs->qts, t->target, 0);
    return val;
}

/*
 * Raise e1000e's "other" cause: ICS sets it in ICR and, with IMS enabling
 * it, the device notifies the vector IVAR names (or holds it pending if
 * masked).  Then acknowledge it (write ICR), as a driver's handler would,
 * so that the cause is new the next time (e1000e only signals new causes).
 */
static void raise_other_cause(TestState *t)
{
    e1000e_writel(t, E1000_ICS, E1000_ICR_OTHER);
    e1000e_writel(t, E1000_ICR, 0xffffffff);
}

/* x-query-msix's view of TEST_VECTOR: messages sent, notifies held. */
static void check_counts(TestState *t, int64_t sent, int64_t held,
                         bool pending)
{
    g_autoptr(QDict) s = msix_query_state(t->qs->qts, "nic");
    QDict *v = msix_query_vector(s, TEST_VECTOR);

    g_assert_cmpint(qdict_get_int(v, "sent"), ==, sent);
    g_assert_cmpint(qdict_get_int(v, "held"), ==, held);
    g_assert_cmpint(qdict_get_int(v, "dropped"), ==, 0);
    g_assert_cmpint(qdict_get_bool(v, "pending"), ==, pending);
    g_assert_cmpint(qdict_get_bool(v, "pending"), ==,
                    qpci_msix_pending(t->dev, TEST_VECTOR));
}

static TestState *setup(void)
{
    TestState *t = g_new0(TestState, 1);

    t->qs = qtest_pc_boot("-machine q35 -nodefaults "
                          "-device e1000e,id=nic,addr=04.0,romfile=");
    t->dev = qpci_device_find(t->qs->pcibus, E1000E_DEVFN);
    g_assert(t->dev);
    qpci_device_enable(t->dev);         /* memory space and bus master */
    t->mmio = qpci_iomap(t->dev, 0, NULL);
    t->msix_cap = qpci_find_capability(t->dev, PCI_CAP_ID_MSIX, 0);
    g_assert_cmphex(t->msix_cap, !=, 0);
    t->target = guest_alloc(&t->qs->alloc, 4);
    qtest_writel(t->qs->qts, t->target, 0);

    qpci_msix_enable(t->dev);
    g_assert_cmpuint(qpci_msix_table_size(t->dev), >, TEST_VECTOR);
    msix_entry_program(t->dev, TEST_VECTOR, t->target, TEST_DATA, false);

    e1000e_writel(t, E1000_IVAR,
                  (E1000_IVAR_INT_ALLOC_VALID | TEST_VECTOR)
                  << E1000_IVAR_OTHER_SHIFT);
    e1000e_writel(t, E1000_IMS, E1000_IMS_OTHER);
    return t;
}

static void teardown(TestState *t)
{
    qpci_msix_disable(t->dev);
    g_free(t->dev);
    qtest_shutdown(t->qs);
    g_free(t);
}

static void test_deliver_to_ram(void)
{
    TestState *t = setup();

    g_assert_cmphex(msix_entry_readl(t->dev, TEST_VECTOR,
                                     PCI_MSIX_ENTRY_DATA), ==,
                    TEST_DATA);
    raise_other_cause(t);
    g_assert_cmphex(take_message(t), ==, TEST_DATA);
    g_assert_false(qpci_msix_pending(t->dev, TEST_VECTOR));
    check_counts(t, 1, 0, false);

    /* A second cause inside the throttling window waits for its end. */
    raise_other_cause(t);
    g_assert_cmphex(take_message(t), ==, 0);
    check_counts(t, 1, 0, false);
    qtest_clock_step(t->qs->qts, E1000E_MITIGATION_NS);
    g_assert_cmphex(take_message(t), ==, TEST_DATA);
    check_counts(t, 2, 0, false);
    teardown(t);
}

static void test_masked_entry_holds_pending(void)
{
    TestState *t = setup();

    msix_entry_mask(t->dev, TEST_VECTOR, true);
    raise_other_cause(t);
    g_assert_cmphex(take_message(t), ==, 0);
    g_assert_true(qpci_msix_pending(t->dev, TEST_VECTOR));
    /* Only the notified vector is pending. */
    g_assert_false(qpci_msix_pending(t->dev, TEST_VECTOR - 1));
    check_counts(t, 0, 1, true);

    /* The entry can be rewritten while masked; unmasking sends the new one. */
    msix_entry_program(t->dev, TEST_VECTOR, t->target, TEST_DATA + 1, false);
    g_assert_cmphex(take_message(t), ==, TEST_DATA + 1);
    g_assert_false(qpci_msix_pending(t->dev, TEST_VECTOR));
    check_counts(t, 1, 1, false);
    teardown(t);
}

static void test_function_mask_holds_pending(void)
{
    TestState *t = setup();

    set_function_mask(t, true);
    raise_other_cause(t);
    g_assert_cmphex(take_message(t), ==, 0);
    g_assert_true(qpci_msix_pending(t->dev, TEST_VECTOR));
    check_counts(t, 0, 1, true);

    set_function_mask(t, false);
    g_assert_cmphex(take_message(t), ==, TEST_DATA);
    g_assert_false(qpci_msix_pending(t->dev, TEST_VECTOR));
    check_counts(t, 1, 1, false);
    teardown(t);
}

/* Both masks: the message waits until the last of them is lifted. */
static void test_entry_and_function_mask(void)
{
    TestState *t = setup();

    set_function_mask(t, true);
    msix_entry_mask(t->dev, TEST_VECTOR, true);
    raise_other_cause(t);
    set_function_mask(t, false);
    g_assert_cmphex(take_message(t), ==, 0);
    g_assert_true(qpci_msix_pending(t->dev, TEST_VECTOR));

    msix_entry_mask(t->dev, TEST_VECTOR, false);
    g_assert_cmphex(take_message(t), ==, TEST_DATA);
    g_assert_false(qpci_msix_pending(t->dev, TEST_VECTOR));
    teardown(t);
}

/*
 * An entry in the compatibility format (Intel SDM vol. 3, 11.11.1 and
 * 11.11.2: destination APIC ID in address bits 19:12, fixed delivery,
 * vector in data bits 7:0) reaches CPU 0's local APIC: the vector shows in
 * its IRR.
 */
static void test_deliver_to_lapic(void)
{
    TestState *t = setup();

    g_assert_false(lapic_irr_has(t->qs->qts, 0, TEST_APIC_VECTOR));
    msix_entry_set(t->dev, TEST_VECTOR, x86_msi_compose_addr(0),
                   X86_MSI_DATA_VECTOR(TEST_APIC_VECTOR));
    raise_other_cause(t);
    g_assert_true(lapic_irr_has(t->qs->qts, 0, TEST_APIC_VECTOR));
    g_assert_false(lapic_irr_has(t->qs->qts, 0, TEST_APIC_VECTOR + 1));
    /* Nothing went to the old RAM target. */
    g_assert_cmphex(take_message(t), ==, 0);
    teardown(t);
}

/* The counters restart at device reset; the log keeps going and says so. */
static void test_reset_clears_counters(void)
{
    TestState *t = setup();
    int64_t seq;

    raise_other_cause(t);
    g_assert_cmphex(take_message(t), ==, TEST_DATA);
    check_counts(t, 1, 0, false);
    seq = msix_log_next_seq(t->qs->qts, "nic");

    qobject_unref(qtest_qmp(t->qs->qts, "{'execute': 'system_reset'}"));
    qtest_qmp_eventwait(t->qs->qts, "RESET");
    g_assert_cmpint(msix_query_counter(t->qs->qts, "nic", TEST_VECTOR,
                                       "sent"), ==, 0);
    /* reset masks every entry (msix_reset() -> msix_mask_all()) */
    g_assert_true(msix_query_flag(t->qs->qts, "nic", TEST_VECTOR, "masked"));
    {
        g_autoptr(QDict) resp = msix_qmp_ok(t->qs->qts, "x-query-msix-log",
                                            "nic", seq);
        QList *entries = qdict_get_qlist(qdict_get_qdict(resp, "return"),
                                         "entries");
        QListEntry *e;
        bool reset = false;

        QLIST_FOREACH_ENTRY(entries, e) {
            QDict *ev = qobject_to(QDict, qlist_entry_obj(e));

            reset |= g_str_equal(qdict_get_str(ev, "kind"), "reset");
        }
        g_assert_true(reset);
    }
    g_free(t->dev);
    qtest_shutdown(t->qs);
    g_free(t);
}

/*
 * Plain MSI on the same device (e1000e has one 64-bit vector, no per-vector
 * mask): the capability's registers as the guest writes them, in the log,
 * then one message, counted.  MSI registers are logged when a write
 * changes them (writing address high 0 over 0 logs nothing).
 */
static void test_msi_deliver_to_ram(void)
{
    TestState *t = g_new0(TestState, 1);
    QTestState *qts;
    g_autoptr(QDict) s = NULL;
    QDict *v;
    uint8_t cap;
    uint16_t ctrl;
    int64_t seq;

    t->qs = qtest_pc_boot("-machine q35 -nodefaults "
                          "-device e1000e,id=nic,addr=04.0,romfile=");
    qts = t->qs->qts;
    t->dev = qpci_device_find(t->qs->pcibus, E1000E_DEVFN);
    qpci_device_enable(t->dev);
    t->mmio = qpci_iomap(t->dev, 0, NULL);
    t->target = guest_alloc(&t->qs->alloc, 4);
    qtest_writel(qts, t->target, 0);
    cap = qpci_find_capability(t->dev, PCI_CAP_ID_MSI, 0);
    g_assert_cmphex(cap, !=, 0);
    ctrl = qpci_config_readw(t->dev, cap + PCI_MSI_FLAGS);
    g_assert_true(ctrl & PCI_MSI_FLAGS_64BIT);

    seq = msix_log_next_seq(qts, "nic");
    qpci_config_writel(t->dev, cap + PCI_MSI_ADDRESS_LO, t->target);
    qpci_config_writel(t->dev, cap + PCI_MSI_ADDRESS_HI, t->target >> 32);
    qpci_config_writew(t->dev, cap + PCI_MSI_DATA_64, TEST_DATA & 0xffff);
    qpci_config_writew(t->dev, cap + PCI_MSI_FLAGS,
                       ctrl | PCI_MSI_FLAGS_ENABLE);
    seq = msi_expect_log(qts, "nic", "msi", seq, (MsixEvent[]) {
        { "register-write", MSIX_LOG_ABSENT, 1, 0, t->target },
        { "register-write", MSIX_LOG_ABSENT, 3, 0, TEST_DATA & 0xffff },
        { "programmed", 0, MSIX_LOG_ABSENT, MSIX_LOG_ABSENT, MSIX_LOG_ABSENT },
        { "control", MSIX_LOG_ABSENT, MSIX_LOG_ABSENT, ctrl,
          ctrl | PCI_MSI_FLAGS_ENABLE },
    }, 4);

    e1000e_writel(t, E1000_IMS, E1000_IMS_OTHER);
    raise_other_cause(t);
    g_assert_cmphex(take_message(t), ==, TEST_DATA & 0xffff);
    msi_expect_log(qts, "nic", "msi", seq, (MsixEvent[]) {
        { "message", 0, MSIX_LOG_ABSENT, MSIX_LOG_ABSENT, MSIX_LOG_ABSENT },
    }, 1);

    s = msi_query_state(qts, "nic", "msi");
    g_assert_true(qdict_get_bool(s, "enabled"));
    v = msix_query_vector(s, 0);
    g_assert_cmpint(qdict_get_int(v, "sent"), ==, 1);
    g_assert_cmpint(qdict_get_int(v, "address"), ==, t->target);
    g_assert_cmpint(qdict_get_int(v, "data"), ==, TEST_DATA & 0xffff);
    g_assert_true(qdict_get_bool(v, "used"));

    g_free(t->dev);
    qtest_shutdown(t->qs);
    g_free(t);
}

/*
 * The workload of `make bench` (scripts/irqlab-bench), run only with
 * `-m perf`: IRQLAB_BENCH_RAISES raises of the "other" cause, one per
 * throttling window, each message delivered to guest RAM.  It runs on any
 * QEMU, with or without irqlab's patches; where x-query-msix exists it
 * prints how many messages were sent, which the script divides by.
 */
static void bench_deliver(void)
{
    const char *env = g_getenv("IRQLAB_BENCH_RAISES");
    int raises = env ? atoi(env) : 1000;
    TestState *t = setup();
    g_autoptr(QDict) resp = NULL;

    for (int i = 0; i < raises; i++) {
        raise_other_cause(t);
        qtest_clock_step(t->qs->qts, E1000E_MITIGATION_NS);
        g_assert_cmphex(take_message(t), ==, TEST_DATA);
    }
    resp = qtest_qmp(t->qs->qts, "{'execute': 'x-query-msix', "
                     "'arguments': {'device': 'nic'}}");
    if (qdict_haskey(resp, "return")) {
        g_test_message("raises %d messages %" PRId64, raises,
                       msix_query_counter(t->qs->qts, "nic", TEST_VECTOR,
                                          "sent"));
    }
    teardown(t);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    qtest_add_func("/msix-delivery/e1000e/ram", test_deliver_to_ram);
    qtest_add_func("/msix-delivery/e1000e/masked-entry",
                   test_masked_entry_holds_pending);
    qtest_add_func("/msix-delivery/e1000e/function-mask",
                   test_function_mask_holds_pending);
    qtest_add_func("/msix-delivery/e1000e/both-masks",
                   test_entry_and_function_mask);
    qtest_add_func("/msix-delivery/e1000e/lapic", test_deliver_to_lapic);
    qtest_add_func("/msix-delivery/e1000e/reset", test_reset_clears_counters);
    qtest_add_func("/msix-delivery/e1000e/msi", test_msi_deliver_to_ram);
    if (g_test_perf()) {
        qtest_add_func("/msix-delivery/e1000e/bench", bench_deliver);
    }

    return g_test_run();
}
