/*
 * A vCPU's MMIO stores reach their region while another thread remaps
 *
 * Under TCG a vCPU's TLB entry for an MMIO page holds the index of the
 * page's MemoryRegionSection in the dispatch table of the FlatView it was
 * filled from.  When another thread commits a new memory map, the vCPU
 * flushes its TLB only later, from the work tcg_commit() queues for it
 * (system/physmem.c), when it next starts a translation block.  A block
 * already running must still read its entries' indexes against the map
 * they came from: the same index in the new map names another region.
 *
 * Debian's Linux programs PCI BARs at boot on one CPU while the others
 * take timer interrupts; the EOI store of one CPU's timer handler went to
 * another region, the timer vector stayed in service, and every vector
 * of its priority class or lower was blocked on that CPU for ever
 * (patches/system-physmem-tlb-flatview.patch).  This test drives the same
 * race, many times over: the guest stores ever new values into its local
 * APIC's Task Priority Register, each store at the end of a long
 * translation block that starts after the entry for the APIC page was
 * filled, and reads each value back in a block of its own; meanwhile the
 * test switches a PCI BAR on and off through the host bridge, a new
 * memory map each time.  Every value must read back as written.
 *
 * The guest is a few instructions of firmware, built here as a -bios
 * image: real mode to flat 32-bit protected mode, then the loop, which
 * counts its rounds and the values that did not read back in RAM.
 * Intel SDM vol. 3A, 11.8.3.1 "Task and Processor Priorities" (TPR at
 * offset 0x80 of the local APIC page), 9.9.1 "Switching to Protected
 * Mode"; QEMU's TCG ends a translation block after each MMIO access.
 *
 * Copyright (c) 2026 irqlab developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "libqtest.h"
#include "libqos/pci-pc.h"
#include "standard-headers/linux/pci_regs.h"

/* The firmware: 64 KiB at the top of the 4 GiB space; code in its last page */
#define BIOS_SIZE           0x10000
#define BLOCK               0xfffff000U     /* where the code page sits */
#define BLOCK_SEG16         0xf000U         /* ... in the reset CS segment */
#define RESET_VECTOR        0xff0           /* offset in the code page */
#define GDT_OFFSET          0x00            /* null, code 0x08, data 0x10 */
#define GDTR_OFFSET         0x18
#define CODE_OFFSET         0x20

#define APIC_TPR            0xfee00080U
/* What the guest keeps in RAM */
#define GUEST_ROUNDS        0x1000          /* rounds of the loop */
#define GUEST_MISSES        0x1004          /* values that did not read back */
#define GUEST_SCRATCH       0x2000          /* the window's loads read here */
/*
 * RAM loads between the fill of the APIC page's TLB entry and the store
 * through it: the window a remap must fall into, most of each round.
 * TCG translates at most 512 instructions into one block.
 */
#define WINDOW_LOADS        400

#define TEST_DEVFN          QPCI_DEVFN(4, 0)
#define TEST_BAR0           0xe0000000U     /* below the local APIC */
#define REMAPS              2000

typedef struct Code {
    uint8_t *page;
    size_t len;
} Code;

static void emit(Code *c, const uint8_t *bytes, size_t n)
{
    g_assert_cmpuint(c->len + n, <=, 0x1000);
    memcpy(c->page + c->len, bytes, n);
    c->len += n;
}

#define EMIT(c, ...) \
    emit(c, (const uint8_t[]){ __VA_ARGS__ }, \
         sizeof((const uint8_t[]){ __VA_ARGS__ }))

static void emit16(Code *c, uint16_t value)
{
    uint8_t le[2];

    stw_le_p(le, value);
    emit(c, le, sizeof(le));
}

static void emit32(Code *c, uint32_t value)
{
    uint8_t le[4];

    stl_le_p(le, value);
    emit(c, le, sizeof(le));
}

/* A flat 4 GiB segment descriptor (SDM vol. 3A, 3.4.5), accessed bit set */
static void put_flat_segment(uint8_t *p, uint8_t access)
{
    static const uint8_t flat[] = { 0xff, 0xff, 0, 0, 0, 0, 0xcf, 0 };

    memcpy(p, flat, sizeof(flat));
    p[5] = access;
}

static char *build_bios(void)
{
    g_autofree uint8_t *bios = g_malloc0(BIOS_SIZE);
    uint8_t *page = bios + BIOS_SIZE - 0x1000;
    Code c = { .page = page, .len = CODE_OFFSET };
    g_autoptr(GError) err = NULL;
    uint32_t pm, loop;
    char *path;
    int fd;

    put_flat_segment(page + GDT_OFFSET + 0x08, 0x9b);      /* code, 32-bit */
    put_flat_segment(page + GDT_OFFSET + 0x10, 0x93);      /* data */
    page[GDTR_OFFSET] = 3 * 8 - 1;
    stl_le_p(page + GDTR_OFFSET + 2, BLOCK + GDT_OFFSET);

    /* Real mode, CS base 0xffff0000 */
    EMIT(&c, 0xfa);                                 /* cli */
    EMIT(&c, 0x2e, 0x66, 0x0f, 0x01, 0x16);         /* lgdtl %cs:GDTR */
    emit16(&c, BLOCK_SEG16 + GDTR_OFFSET);
    EMIT(&c, 0x0f, 0x20, 0xc0);                     /* mov %cr0, %eax */
    EMIT(&c, 0x0c, 0x01);                           /* or $1, %al: PE */
    EMIT(&c, 0x0f, 0x22, 0xc0);                     /* mov %eax, %cr0 */
    pm = BLOCK + c.len + 8;
    EMIT(&c, 0x66, 0xea);                           /* ljmpl $0x08, $pm */
    emit32(&c, pm);
    emit16(&c, 0x08);

    /* pm: flat 32-bit protected mode */
    g_assert_cmphex(BLOCK + c.len, ==, pm);
    EMIT(&c, 0xb8);                                 /* mov $0x10, %eax */
    emit32(&c, 0x10);
    EMIT(&c, 0x8e, 0xd8);                           /* mov %eax, %ds */
    EMIT(&c, 0x8e, 0xc0);                           /* mov %eax, %es */
    EMIT(&c, 0x8e, 0xd0);                           /* mov %eax, %ss */
    EMIT(&c, 0xbe);                                 /* mov $SCRATCH, %esi */
    emit32(&c, GUEST_SCRATCH);
    EMIT(&c, 0x31, 0xc9);                           /* xor %ecx, %ecx */

    /* loop: the TPR load fills the APIC page's entry; its block ends */
    loop = c.len;
    EMIT(&c, 0xa1);                                 /* mov TPR, %eax */
    emit32(&c, APIC_TPR);
    /* The next block: the window, then the store through that entry */
    for (int i = 0; i < WINDOW_LOADS; i++) {
        EMIT(&c, 0x8b, 0x06);                       /* mov (%esi), %eax */
    }
    EMIT(&c, 0x89, 0x0d);                           /* mov %ecx, TPR */
    emit32(&c, APIC_TPR);
    /* A block of its own, after any flush: what the TPR holds */
    EMIT(&c, 0xa1);                                 /* mov TPR, %eax */
    emit32(&c, APIC_TPR);
    EMIT(&c, 0x39, 0xc1);                           /* cmp %eax, %ecx */
    EMIT(&c, 0x74, 0x06);                           /* je 1f */
    EMIT(&c, 0xff, 0x05);                           /* incl MISSES */
    emit32(&c, GUEST_MISSES);
    EMIT(&c, 0xff, 0x05);                           /* 1: incl ROUNDS */
    emit32(&c, GUEST_ROUNDS);
    EMIT(&c, 0x80, 0xc1, 0x10);                     /* add $0x10, %cl */
    EMIT(&c, 0xe9);                                 /* jmp loop */
    emit32(&c, loop - (c.len + 4));

    /* At the reset vector, in real mode: jmp to the code */
    c.len = RESET_VECTOR;
    EMIT(&c, 0xe9);                                 /* jmp CODE_OFFSET */
    emit16(&c, CODE_OFFSET - (c.len + 2));

    fd = g_file_open_tmp("tcg-remap-bios-XXXXXX", &path, &err);
    g_assert_no_error(err);
    g_assert_cmpint(write(fd, bios, BIOS_SIZE), ==, BIOS_SIZE);
    close(fd);
    return path;
}

static uint32_t wait_rounds(QTestState *qts, uint32_t past)
{
    gint64 deadline = g_get_monotonic_time() + 60 * G_USEC_PER_SEC;
    uint32_t rounds;

    while ((rounds = qtest_readl(qts, GUEST_ROUNDS)) <= past) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_usleep(1000);
    }
    return rounds;
}

static void test_apic_stores_while_remapping(void)
{
    g_autofree char *bios = build_bios();
    QTestState *qts;
    QPCIBus *pcibus;
    QPCIDevice *dev;
    uint32_t before, after, misses;

    qts = qtest_initf("-machine q35 -accel tcg -smp 1 -nodefaults -S "
                      "-bios %s -device pci-testdev,addr=04.0", bios);
    pcibus = qpci_new_pc(qts, NULL);
    dev = qpci_device_find(pcibus, TEST_DEVFN);
    g_assert(dev);
    qpci_config_writel(dev, PCI_BASE_ADDRESS_0, TEST_BAR0);

    qtest_qmp_assert_success(qts, "{'execute': 'cont'}");
    before = wait_rounds(qts, 0);
    for (int i = 0; i < REMAPS / 2; i++) {
        qpci_config_writew(dev, PCI_COMMAND, PCI_COMMAND_MEMORY);
        qpci_config_writew(dev, PCI_COMMAND, 0);
    }
    after = wait_rounds(qts, before);
    misses = qtest_readl(qts, GUEST_MISSES);
    g_test_message("%d remaps during %u rounds of the guest's loop: "
                   "%u TPR values did not read back",
                   REMAPS, after - before, misses);
    g_assert_cmpuint(misses, ==, 0);

    g_free(dev);
    qpci_free_pc(pcibus);
    qtest_quit(qts);
    unlink(bios);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    if (!qtest_has_accel("tcg")) {
        g_test_skip("TCG is not built in");
        return g_test_run();
    }
    qtest_add_func("/x86/tcg/remap/apic-store",
                   test_apic_stores_while_remapping);
    return g_test_run();
}
