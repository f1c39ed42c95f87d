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
 * The guest is a few instructions of firmware (tcg-guest.h), a loop that
 * counts its rounds and the values that did not read back in RAM.
 * Intel SDM vol. 3A, 11.8.3.1 "Task and Processor Priorities" (TPR at
 * offset 0x80 of the local APIC page); QEMU's TCG ends a translation
 * block after each MMIO access.
 *
 * Copyright (c) 2026 irqlab developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "libqtest.h"
#include "libqos/pci-pc.h"
#include "standard-headers/linux/pci_regs.h"
#include "tcg-guest.h"

#define APIC_TPR            (TCG_GUEST_APIC + APIC_REG_TPR)
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

static char *build_bios(void)
{
    TcgGuest g;
    uint32_t loop;

    tcg_guest_init(&g);
    TCG_EMIT(&g, 0xbe);                             /* mov $SCRATCH, %esi */
    tcg_guest_emit32(&g, GUEST_SCRATCH);
    TCG_EMIT(&g, 0x31, 0xc9);                       /* xor %ecx, %ecx */

    /* loop: the TPR load fills the APIC page's entry; its block ends */
    loop = tcg_guest_here(&g);
    TCG_EMIT(&g, 0xa1);                             /* mov TPR, %eax */
    tcg_guest_emit32(&g, APIC_TPR);
    /* The next block: the window, then the store through that entry */
    for (int i = 0; i < WINDOW_LOADS; i++) {
        TCG_EMIT(&g, 0x8b, 0x06);                   /* mov (%esi), %eax */
    }
    TCG_EMIT(&g, 0x89, 0x0d);                       /* mov %ecx, TPR */
    tcg_guest_emit32(&g, APIC_TPR);
    /* A block of its own, after any flush: what the TPR holds */
    TCG_EMIT(&g, 0xa1);                             /* mov TPR, %eax */
    tcg_guest_emit32(&g, APIC_TPR);
    TCG_EMIT(&g, 0x39, 0xc1);                       /* cmp %eax, %ecx */
    TCG_EMIT(&g, 0x74, 0x06);                       /* je 1f */
    TCG_EMIT(&g, 0xff, 0x05);                       /* incl MISSES */
    tcg_guest_emit32(&g, GUEST_MISSES);
    TCG_EMIT(&g, 0xff, 0x05);                       /* 1: incl ROUNDS */
    tcg_guest_emit32(&g, GUEST_ROUNDS);
    TCG_EMIT(&g, 0x80, 0xc1, 0x10);                 /* add $0x10, %cl */
    TCG_EMIT(&g, 0xe9);                             /* jmp loop */
    tcg_guest_emit32(&g, loop - (tcg_guest_here(&g) + 4));
    return tcg_guest_bios_file(&g);
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
