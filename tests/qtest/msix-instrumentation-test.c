/*
 * The MSI/MSI-X instrumentation of stock devices, step by step
 *
 * Replays Linux's msix_capability_init() (drivers/pci/msi/msi.c) on two
 * stock devices with different MSI-X layouts (nvme: table and PBA inside
 * BAR0; e1000e: an exclusive BAR) and on msix-testdev (its own 64-bit BAR,
 * 65 entries), and asserts after every step what x-query-msix reports
 * and that x-query-msix-log holds exactly the events of that step.
 * Then: the decoder on known messages of each format, DWORD/QWORD/byte
 * table accesses, PBA writes, the event ring's bound, monitor errors and
 * the HMP commands.
 *
 * Copyright (c) 2026 irqlab developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "libqtest.h"
#include "libqos/pci-pc.h"
#include "libqos/libqos-pc.h"
#include "qobject/qjson.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include "standard-headers/linux/pci_regs.h"
#include "hw/i386/x86-msi.h"
#include "msix-entry.h"
#include "msix-query.h"

#define NVME_DEVFN      QPCI_DEVFN(3, 0)
#define E1000E_DEVFN    QPCI_DEVFN(4, 0)
#define TESTDEV_DEVFN   QPCI_DEVFN(5, 0)
#define STOCK_DEVICES   "-machine q35 -nodefaults " \
                        "-device nvme,serial=irqlab,id=nvme,addr=03.0 " \
                        "-device e1000e,id=nic,addr=04.0,romfile= " \
                        "-device msix-testdev,id=tdev,addr=05.0"

/* The entries the replay programs, as Linux does for nvec = 3. */
#define NVEC            3
#define MSG_ADDR(i)     x86_msi_compose_addr(i)         /* APIC ID i */
#define MSG_DATA(i)     X86_MSI_DATA_VECTOR(0x30 + (i)) /* fixed, edge */

typedef struct MsixDev {
    QPCIDevice *pdev;
    const char *id;
    uint8_t cap;
    uint16_t size;
} MsixDev;

/* ------------------------------------------------------------ device */

static void msix_dev_init(MsixDev *m, QPCIBus *bus, int devfn, const char *id)
{
    m->id = id;
    m->pdev = qpci_device_find(bus, devfn);
    g_assert(m->pdev);
    qpci_device_enable(m->pdev);
    m->cap = qpci_find_capability(m->pdev, PCI_CAP_ID_MSIX, 0);
    g_assert_cmphex(m->cap, !=, 0);
    m->size = (qpci_config_readw(m->pdev, m->cap + PCI_MSIX_FLAGS) &
               PCI_MSIX_FLAGS_QSIZE) + 1;
    msix_table_map(m->pdev);        /* Message Control left as it is */
}

static void control_write(MsixDev *m, uint16_t set, uint16_t clear)
{
    uint16_t ctrl = qpci_config_readw(m->pdev, m->cap + PCI_MSIX_FLAGS);

    qpci_config_writew(m->pdev, m->cap + PCI_MSIX_FLAGS,
                       (ctrl | set) & ~clear);
}

/* Entry @i's mask bit as x-query-msix reports it, checked against all. */
static void check_masks(QTestState *qts, MsixDev *m, bool enabled,
                        bool function_masked, int unmasked)
{
    g_autoptr(QDict) s = msix_query_state(qts, m->id);

    g_assert_cmpint(qdict_get_bool(s, "enabled"), ==, enabled);
    g_assert_cmpint(qdict_get_bool(s, "function-masked"), ==,
                    function_masked);
    g_assert_cmpint(qdict_get_int(s, "table-size"), ==, m->size);
    for (int i = 0; i < m->size; i++) {
        g_assert_cmpint(qdict_get_bool(msix_query_vector(s, i), "masked"), ==,
                        function_masked || i != unmasked);
        g_assert_false(qdict_get_bool(msix_query_vector(s, i), "pending"));
    }
}

/* ------------------------------------------------- msix_capability_init */

static void replay_capability_init(int devfn, const char *id)
{
    QOSState *qs = qtest_pc_boot(STOCK_DEVICES);
    QTestState *qts = qs->qts;
    MsixDev m;
    int64_t seq;

    msix_dev_init(&m, qs->pcibus, devfn, id);
    g_assert_cmpint(m.size, >, NVEC);
    seq = msix_log_next_seq(qts, id);
    check_masks(qts, &m, false, false, -1);

    /* 1. ENABLE and MASKALL in one write (msix_capability_init step 1) */
    control_write(&m, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL, 0);
    seq = msix_expect_log(qts, id, seq, (MsixEvent[]) {
        { "control", MSIX_LOG_ABSENT, MSIX_LOG_ABSENT, 0, 0xc000 },
    }, 1);
    check_masks(qts, &m, true, true, -1);

    /* 2. write each entry's message: address low, high, data */
    for (int i = 0; i < NVEC; i++) {
        g_autoptr(QDict) s = NULL;
        QDict *v, *d;

        msix_entry_set(m.pdev, i, MSG_ADDR(i), MSG_DATA(i));
        seq = msix_expect_log(qts, id, seq, (MsixEvent[]) {
            { "table-write", i, 0, 0, MSG_ADDR(i) },
            { "table-write", i, 1, 0, 0 },
            { "table-write", i, 2, 0, MSG_DATA(i) },
            { "programmed", i, MSIX_LOG_ABSENT, MSIX_LOG_ABSENT,
              MSIX_LOG_ABSENT },
        }, 4);

        s = msix_query_state(qts, id);
        v = msix_query_vector(s, i);
        g_assert_cmpint(qdict_get_int(v, "address"), ==, MSG_ADDR(i));
        g_assert_cmpint(qdict_get_int(v, "data"), ==, MSG_DATA(i));
        g_assert_true(qdict_get_bool(v, "masked"));
        d = qdict_get_qdict(v, "decoded");
        g_assert_cmpstr(qdict_get_str(d, "format"), ==, "compat");
        g_assert_cmpint(qdict_get_int(d, "dest-id"), ==, i);
        g_assert_cmpint(qdict_get_int(d, "vector"), ==, MSG_DATA(i));
    }
    check_masks(qts, &m, true, true, -1);

    /* 4. mask every entry (msix_mask_all): they already are, from reset */
    for (int i = 0; i < m.size; i++) {
        msix_entry_mask(m.pdev, i, true);
    }
    {
        g_autofree MsixEvent *want = g_new(MsixEvent, m.size);

        for (int i = 0; i < m.size; i++) {
            want[i] = (MsixEvent) { "table-write", i, 3, 1, 1 };
        }
        seq = msix_expect_log(qts, id, seq, want, m.size);
    }
    check_masks(qts, &m, true, true, -1);

    /* 5. clear MASKALL: every entry stays masked by its own bit */
    control_write(&m, 0, PCI_MSIX_FLAGS_MASKALL);
    seq = msix_expect_log(qts, id, seq, (MsixEvent[]) {
        { "control", MSIX_LOG_ABSENT, MSIX_LOG_ABSENT, 0xc000, 0x8000 },
    }, 1);
    check_masks(qts, &m, true, false, -1);

    /* request_irq() of entry 1 unmasks it */
    msix_entry_mask(m.pdev, 1, false);
    msix_expect_log(qts, id, seq, (MsixEvent[]) {
        { "table-write", 1, 3, 1, 0 },
        { "unmask", 1, MSIX_LOG_ABSENT, MSIX_LOG_ABSENT, MSIX_LOG_ABSENT },
    }, 2);
    check_masks(qts, &m, true, false, 1);

    g_free(m.pdev);
    qtest_shutdown(qs);
}

static void test_capability_init_nvme(void)
{
    replay_capability_init(NVME_DEVFN, "nvme");
}

static void test_capability_init_e1000e(void)
{
    replay_capability_init(E1000E_DEVFN, "nic");
}

static void test_capability_init_testdev(void)
{
    replay_capability_init(TESTDEV_DEVFN, "tdev");
}

/* ------------------------------------------------------------- decoder */

typedef struct Decoded {
    uint64_t address;
    uint32_t data;
    const char *format;
    const char *fields;     /* "key=value ..." of the decoded object */
    const char *summary;    /* its one line, as info msix prints it */
} Decoded;

/*
 * Known answers: the fields' bits are written out here, not composed
 * with x86-msi.h, so that the decoder is held to the specifications
 * rather than to the header it reads them with.
 */
static const Decoded decoder_cases[] = {
    /* extended destination ID: APIC ID 0x2a5, bits 14:8 in address 11:5 */
    { X86_MSI_ADDR_BASE_LO | (0xa5 << 12) | (0x2 << 5), 0x45, "compat",
      "dest-id=677 vector=69 delivery-mode=fixed dest-mode=physical "
      "trigger-mode=edge level=false redirection-hint=false",
      "compat dest 0x2a5 vector 0x45 fixed physical edge" },
    { X86_MSI_ADDR_BASE_LO | (0x3 << 12) | 0x8 | 0x4,
      0xc000 | (1 << 8) | 0x61,
      "compat", "dest-id=3 vector=97 delivery-mode=lowest-priority "
      "dest-mode=logical trigger-mode=level level=true "
      "redirection-hint=true",
      "compat dest 0x3 vector 0x61 lowest-priority logical level assert rh" },
    /* remappable: handle 0x8123 (bit 15 from address bit 2), SHV */
    { X86_MSI_ADDR_BASE_LO | (0x123 << 5) | 0x10 | 0x8 | 0x4, 0x7,
      "remappable", "irte-index=33059 shv=true subhandle=7",
      "remappable irte 0x8123 shv subhandle 0x7" },
    /* Xen pirq 0x12345, as Linux's xen_msi_compose_msg() writes it */
    { (0x12300ULL << 32) | X86_MSI_ADDR_BASE_LO | (0x45 << 12), 0x4700,
      "xen-pirq", "pirq=74565", "xen-pirq 74565" },
    { 0x100000, 0x1234, "memory", "", "memory" },
};

static void check_decoded(QDict *d, const Decoded *c)
{
    g_auto(GStrv) fields = g_strsplit(c->fields, " ", -1);

    g_assert_cmpstr(qdict_get_str(d, "format"), ==, c->format);
    g_assert_cmpstr(qdict_get_str(d, "summary"), ==, c->summary);
    for (int i = 0; fields[i] && *fields[i]; i++) {
        g_auto(GStrv) kv = g_strsplit(fields[i], "=", 2);
        QObject *o = qdict_get(d, kv[0]);
        g_autoptr(GString) got = qobject_to_json(o);
        g_autofree char *want = g_ascii_isdigit(kv[1][0]) ||
                                !strcmp(kv[1], "true") ||
                                !strcmp(kv[1], "false") ?
                                g_strdup(kv[1]) :
                                g_strdup_printf("\"%s\"", kv[1]);

        g_assert_nonnull(o);
        g_assert_cmpstr(got->str, ==, want);
    }
}

static void test_decoder(void)
{
    QOSState *qs = qtest_pc_boot(STOCK_DEVICES);
    g_autoptr(QDict) s = NULL;
    MsixDev m;
    int n = ARRAY_SIZE(decoder_cases);
    int64_t seq;

    msix_dev_init(&m, qs->pcibus, E1000E_DEVFN, "nic");
    g_assert_cmpint(m.size, >=, n);
    for (int i = 0; i < n; i++) {
        msix_entry_set(m.pdev, i, decoder_cases[i].address,
                       decoder_cases[i].data);
    }
    s = msix_query_state(qs->qts, "nic");
    for (int i = 0; i < n; i++) {
        check_decoded(qdict_get_qdict(msix_query_vector(s, i), "decoded"),
                      &decoder_cases[i]);
    }

    /* The log decodes with the same decoder. */
    seq = msix_log_next_seq(qs->qts, "nic");
    msix_entry_writel(m.pdev, 0, PCI_MSIX_ENTRY_DATA, decoder_cases[0].data);
    {
        g_autoptr(QDict) resp = msix_qmp_ok(qs->qts, "x-query-msix-log", "nic",
                                       seq + 1);
        QList *entries = qdict_get_qlist(qdict_get_qdict(resp, "return"),
                                         "entries");
        QDict *ev = qobject_to(QDict, qlist_peek(entries));

        g_assert_cmpstr(qdict_get_str(ev, "kind"), ==, "programmed");
        g_assert_cmpint(qdict_get_int(ev, "address"), ==,
                        decoder_cases[0].address);
        check_decoded(qdict_get_qdict(ev, "decoded"), &decoder_cases[0]);
    }
    g_free(m.pdev);
    qtest_shutdown(qs);
}

/* ------------------------------------------------------- table accesses */

static void test_access_sizes(void)
{
    QOSState *qs = qtest_pc_boot(STOCK_DEVICES);
    QTestState *qts = qs->qts;
    g_autoptr(QDict) s = NULL;
    MsixDev m;
    int64_t seq;
    uint64_t addr = 0x0000000123456000ULL;

    msix_dev_init(&m, qs->pcibus, E1000E_DEVFN, "nic");
    seq = msix_log_next_seq(qts, "nic");

    /* A QWORD write is two DWORD writes, low first, both logged. */
    qpci_io_writeq(m.pdev, m.pdev->msix_table_bar,
                   msix_entry_offset(m.pdev, 2, PCI_MSIX_ENTRY_LOWER_ADDR),
                   addr);
    g_assert_cmphex(qpci_io_readq(m.pdev, m.pdev->msix_table_bar,
                                  msix_entry_offset(m.pdev, 2,
                                                    PCI_MSIX_ENTRY_LOWER_ADDR)),
                    ==, addr);
    seq = msix_expect_log(qts, "nic", seq, (MsixEvent[]) {
        { "table-write", 2, 0, 0, (uint32_t)addr },
        { "table-write", 2, 1, 0, addr >> 32 },
    }, 2);

    /* Data and vector control in one QWORD: data completes the entry. */
    qpci_io_writeq(m.pdev, m.pdev->msix_table_bar,
                   msix_entry_offset(m.pdev, 2, PCI_MSIX_ENTRY_DATA),
                   0x1ULL << 32 | 0x77);
    seq = msix_expect_log(qts, "nic", seq, (MsixEvent[]) {
        { "table-write", 2, 2, 0, 0x77 },
        { "programmed", 2, MSIX_LOG_ABSENT, MSIX_LOG_ABSENT, MSIX_LOG_ABSENT },
        { "table-write", 2, 3, 1, 1 },
    }, 3);

    /* Byte accesses are below the table's minimum size: ignored. */
    qpci_io_writeb(m.pdev, m.pdev->msix_table_bar,
                   msix_entry_offset(m.pdev, 2, PCI_MSIX_ENTRY_DATA), 0x55);
    msix_expect_log(qts, "nic", seq, NULL, 0);
    s = msix_query_state(qts, "nic");
    g_assert_cmpint(qdict_get_int(msix_query_vector(s, 2), "data"), ==, 0x77);
    g_assert_cmpint(qdict_get_int(msix_query_vector(s, 2), "address"), ==,
                    addr);

    g_free(m.pdev);
    qtest_shutdown(qs);
}

static void test_pba_write_ignored(void)
{
    QOSState *qs = qtest_pc_boot(STOCK_DEVICES);
    MsixDev m;
    int64_t seq;

    msix_dev_init(&m, qs->pcibus, E1000E_DEVFN, "nic");
    seq = msix_log_next_seq(qs->qts, "nic");
    qpci_io_writel(m.pdev, m.pdev->msix_pba_bar, m.pdev->msix_pba_off,
                   0xffffffff);
    g_assert_cmphex(qpci_io_readl(m.pdev, m.pdev->msix_pba_bar,
                                  m.pdev->msix_pba_off), ==, 0);
    msix_expect_log(qs->qts, "nic", seq, (MsixEvent[]) {
        { "pba-write", MSIX_LOG_ABSENT, 0, MSIX_LOG_ABSENT, 0xffffffff },
    }, 1);
    g_free(m.pdev);
    qtest_shutdown(qs);
}

/* --------------------------------------------------------- event ring */

/*
 * A log of 6 keeps the newest 6 events, in order, with their sequence
 * numbers: 6 is not a power of two, so this also checks that the ring's
 * larger slot count (8) never shows through.
 */
static void test_log_bound(void)
{
    QOSState *qs = qtest_pc_boot("-machine q35 -nodefaults -device "
                                 "e1000e,id=nic,addr=04.0,romfile=,"
                                 "x-msi-log-size=6");
    g_autoptr(QDict) resp = NULL;
    QDict *log;
    QList *entries;
    QListEntry *e;
    MsixDev m;
    int64_t first, next, i = 0;

    msix_dev_init(&m, qs->pcibus, E1000E_DEVFN, "nic");
    first = msix_log_next_seq(qs->qts, "nic");
    for (int n = 0; n < 20; n++) {
        msix_entry_writel(m.pdev, 0, PCI_MSIX_ENTRY_LOWER_ADDR, n);
    }
    resp = msix_qmp_ok(qs->qts, "x-query-msix-log", "nic", -1);
    log = qdict_get_qdict(resp, "return");
    next = qdict_get_int(log, "next-seq");
    entries = qdict_get_qlist(log, "entries");

    g_assert_cmpint(next, ==, first + 20);
    g_assert_cmpint(qdict_get_int(log, "size"), ==, 6);
    g_assert_cmpint(qdict_get_int(log, "overwritten"), ==, next - 6);
    g_assert_cmpint(qlist_size(entries), ==, 6);
    /* the newest 6, in order: the writes of 14..19 */
    QLIST_FOREACH_ENTRY(entries, e) {
        QDict *ev = qobject_to(QDict, qlist_entry_obj(e));

        g_assert_cmpint(qdict_get_int(ev, "seq"), ==, next - 6 + i);
        g_assert_cmpint(qdict_get_int(ev, "new"), ==, 14 + i);
        i++;
    }
    g_free(m.pdev);
    qtest_shutdown(qs);
}

static void test_log_size_limit(void)
{
    QTestState *qts = qtest_init("-machine pc -nodefaults");
    QDict *resp = qtest_qmp(qts, "{'execute': 'device_add', 'arguments': "
                            "{'driver': 'e1000e', 'id': 'nic', "
                            "'x-msi-log-size': 2000000}}");

    g_assert_cmpstr(qdict_get_str(qdict_get_qdict(resp, "error"), "desc"),
                    ==, "x-msi-log-size must be at most 1048576, not 2000000");
    qobject_unref(resp);
    qtest_quit(qts);
}

/* ------------------------------------------------------------- monitor */

/*
 * Bad monitor input, each with the error class and message it gets: the
 * QAPI input visitor's for the arguments' shapes, the commands' own
 * (hw/pci/msi-monitor.c, hw/i386/kvm/xen_irqs_monitor.c) for what they
 * mean.  A desc ending in '*' is a prefix.
 */
static const struct {
    const char *cmd, *class, *desc;
} bad_monitor_input[] = {
    { "{'execute': 'x-query-msix', 'arguments': {'device': 'nosuch'}}",
      "DeviceNotFound", "Device 'nosuch' not found" },
    { "{'execute': 'x-query-msix', 'arguments': {'device': ''}}",
      "DeviceNotFound", "Device '' not found" },
    { "{'execute': 'x-query-msix', 'arguments': {'device': '/machine'}}",
      "DeviceNotFound", "Device '/machine' not found" },
    { "{'execute': 'x-query-msix', 'arguments': {'device': 42}}",
      "GenericError", "Invalid parameter type for 'device', expected: string" },
    { "{'execute': 'x-query-msix', 'arguments': {'device': 'nvme', "
      "'vector': 1}}",
      "GenericError", "Parameter 'vector' is unexpected" },
    { "{'execute': 'x-query-msix-log', 'arguments': {'device': 'dbg'}}",
      "GenericError", "Device 'dbg' is not a PCI device" },
    { "{'execute': 'x-query-msix-log'}",
      "GenericError", "Parameter 'device' is missing" },
    { "{'execute': 'x-query-msix-log', 'arguments': {'device': 'nvme', "
      "'since': -1}}",
      "GenericError", "'since' is 18446744073709551615, beyond the log's "
      "next sequence number *" },
    { "{'execute': 'x-query-msix-log', 'arguments': {'device': 'nvme', "
      "'since': 18446744073709551615}}",
      "GenericError", "'since' is 18446744073709551615, beyond the log's "
      "next sequence number *" },
    { "{'execute': 'x-query-msix-log', 'arguments': {'device': 'nvme', "
      "'since': 18446744073709551616}}",
      "GenericError", "Parameter 'since' expects uint64" },
    { "{'execute': 'x-query-msix-log', 'arguments': {'device': 'nvme', "
      "'since': 1.5}}",
      "GenericError", "Parameter 'since' expects uint64" },
    { "{'execute': 'x-query-xen-irqs'}",
      "GenericError", "Xen event channel emulation not enabled" },
    { "{'execute': 'x-query-xen-irqs', 'arguments': {'pirq': 1}}",
      "GenericError", "Parameter 'pirq' is unexpected" },
};

static void assert_qmp_error(QDict *resp, const char *class,
                             const char *desc)
{
    QDict *error = qdict_get_qdict(resp, "error");
    const char *got;
    size_t n = strlen(desc);

    g_assert_nonnull(error);
    g_assert_cmpstr(qdict_get_str(error, "class"), ==, class);
    got = qdict_get_str(error, "desc");
    if (n && desc[n - 1] == '*') {
        g_assert_true(strncmp(got, desc, n - 1) == 0);
    } else {
        g_assert_cmpstr(got, ==, desc);
    }
}

static void test_monitor_errors(void)
{
    /* pc: unlike q35's AHCI, none of its own devices has MSI */
    QTestState *qts = qtest_init("-machine pc -nodefaults "
                                 "-device nvme,serial=irqlab,id=nvme "
                                 "-device e1000e,id=nic,romfile= "
                                 "-device pci-testdev,id=plain "
                                 "-chardev null,id=null "
                                 "-device isa-debugcon,id=dbg,chardev=null");
    g_autofree char *huge = g_strnfill(64 * 1024, 'x');
    g_autofree char *huge_desc = g_strdup_printf("Device '%s' not found",
                                                 huge);
    QDict *resp, *log;
    int64_t next_seq;
    QList *all;
    QListEntry *e;

    for (size_t i = 0; i < ARRAY_SIZE(bad_monitor_input); i++) {
        g_test_message("%s", bad_monitor_input[i].cmd);
        /* QEMU's JSON parser takes the single quotes of qtest_qmp() */
        qtest_qmp_send_raw(qts, "%s", bad_monitor_input[i].cmd);
        resp = qtest_qmp_receive(qts);
        assert_qmp_error(resp, bad_monitor_input[i].class,
                         bad_monitor_input[i].desc);
        qobject_unref(resp);
    }
    resp = qtest_qmp(qts, "{'execute': 'x-query-msix-log', 'arguments': "
                     "{'device': %s}}", huge);
    assert_qmp_error(resp, "DeviceNotFound", huge_desc);
    qobject_unref(resp);

    /* Up to the log's next sequence number: no entries, and no error. */
    resp = qtest_qmp(qts, "{'execute': 'x-query-msix-log', 'arguments': "
                     "{'device': 'nvme'}}");
    next_seq = qdict_get_int(qdict_get_qdict(resp, "return"), "next-seq");
    qobject_unref(resp);
    resp = qtest_qmp(qts, "{'execute': 'x-query-msix-log', 'arguments': "
                     "{'device': 'nvme', 'since': %" PRId64 "}}", next_seq);
    log = qdict_get_qdict(resp, "return");
    g_assert_nonnull(log);
    g_assert_cmpint(qlist_size(qdict_get_qlist(log, "entries")), ==, 0);
    qobject_unref(resp);

    /* A PCI device without MSI or MSI-X: nothing, and no error. */
    resp = qtest_qmp(qts, "{'execute': 'x-query-msix', 'arguments': "
                     "{'device': 'plain'}}");
    g_assert_cmpint(qlist_size(qdict_get_qlist(resp, "return")), ==, 0);
    qobject_unref(resp);

    /* All devices: only those with MSI or MSI-X, each capability once. */
    resp = qtest_qmp(qts, "{'execute': 'x-query-msix'}");
    all = qdict_get_qlist(resp, "return");
    QLIST_FOREACH_ENTRY(all, e) {
        QDict *info = qobject_to(QDict, qlist_entry_obj(e));
        const char *path = qdict_get_str(info, "qom-path");

        g_assert(g_str_equal(path, "/machine/peripheral/nvme") ||
                 g_str_equal(path, "/machine/peripheral/nic"));
    }
    /* nvme: MSI-X; e1000e: MSI-X and MSI */
    g_assert_cmpint(qlist_size(all), ==, 3);
    qobject_unref(resp);
    qtest_quit(qts);
}

static void test_hmp(void)
{
    QOSState *qs = qtest_pc_boot(STOCK_DEVICES);
    g_autofree char *info = NULL;
    g_autofree char *log = NULL;
    MsixDev m;

    msix_dev_init(&m, qs->pcibus, E1000E_DEVFN, "nic");
    control_write(&m, PCI_MSIX_FLAGS_ENABLE, 0);
    msix_entry_writel(m.pdev, 0, PCI_MSIX_ENTRY_LOWER_ADDR,
                      decoder_cases[0].address);
    msix_entry_writel(m.pdev, 0, PCI_MSIX_ENTRY_DATA, decoder_cases[0].data);

    msix_entry_writel(m.pdev, 1, PCI_MSIX_ENTRY_LOWER_ADDR,
                      decoder_cases[2].address);
    msix_entry_writel(m.pdev, 1, PCI_MSIX_ENTRY_DATA, decoder_cases[2].data);
    msix_entry_mask(m.pdev, 1, false);

    info = qtest_hmp(qs->qts, "info msix nic");
    g_test_message("info msix nic: %s", info);
    g_assert_nonnull(strstr(info, "00:04.0 /machine/peripheral/nic: MSI-X "
                                  "enabled, 5 entries"));
    g_assert_nonnull(strstr(info, "compat dest 0x2a5 vector 0x45 fixed "
                                  "physical edge"));
    log = qtest_hmp(qs->qts, "info msix-log nic");
    g_test_message("info msix-log nic: %s", log);
    g_assert_nonnull(strstr(log, "control"));
    g_assert_nonnull(strstr(log, "0x0 -> 0x8000"));
    g_assert_nonnull(strstr(log, "dword 2 0x0 -> 0x45"));
    g_free(m.pdev);
    qtest_shutdown(qs);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    qtest_add_func("/msix-instrumentation/capability-init/nvme",
                   test_capability_init_nvme);
    qtest_add_func("/msix-instrumentation/capability-init/e1000e",
                   test_capability_init_e1000e);
    qtest_add_func("/msix-instrumentation/capability-init/msix-testdev",
                   test_capability_init_testdev);
    qtest_add_func("/msix-instrumentation/decoder", test_decoder);
    qtest_add_func("/msix-instrumentation/access-sizes", test_access_sizes);
    qtest_add_func("/msix-instrumentation/pba-write", test_pba_write_ignored);
    qtest_add_func("/msix-instrumentation/log-bound", test_log_bound);
    qtest_add_func("/msix-instrumentation/log-size-limit",
                   test_log_size_limit);
    qtest_add_func("/msix-instrumentation/monitor-errors",
                   test_monitor_errors);
    qtest_add_func("/msix-instrumentation/hmp", test_hmp);

    return g_test_run();
}
