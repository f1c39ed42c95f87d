/*
 * A few instructions of firmware for qtests that run a guest under TCG
 *
 * Copyright (c) 2026 irqlab developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <glib/gstdio.h>
#include "qemu/bswap.h"
#include "libqtest.h"
#include "tcg-guest.h"

#define BIOS_SIZE           0x10000     /* 64 KiB, its last page is ours */
#define PAGE_SIZE           0x1000
#define GDT_OFFSET          0x000
#define GDTR_OFFSET         0x018
#define IDTR_OFFSET         0x020
#define CODE_OFFSET         0x028
#define IDT_OFFSET          0x800
#define RESET_VECTOR        0xff0
#define BLOCK_SEG16         (TCG_GUEST_BLOCK & 0xffff)  /* in CS 0xf000 */
#define CODE_SELECTOR       0x08
#define DATA_SELECTOR       0x10

/* A flat 4 GiB segment descriptor (SDM vol. 3A, 3.4.5), accessed bit set */
static void put_flat_segment(uint8_t *p, uint8_t access)
{
    static const uint8_t flat[] = { 0xff, 0xff, 0, 0, 0, 0, 0xcf, 0 };

    memcpy(p, flat, sizeof(flat));
    p[5] = access;
}

uint32_t tcg_guest_here(const TcgGuest *g)
{
    return TCG_GUEST_BLOCK + g->len;
}

void tcg_guest_emit(TcgGuest *g, const uint8_t *bytes, size_t n)
{
    g_assert_cmpuint(g->len + n, <=, IDT_OFFSET);
    memcpy(g->page + g->len, bytes, n);
    g->len += n;
}

void tcg_guest_emit16(TcgGuest *g, uint16_t value)
{
    uint8_t le[2];

    stw_le_p(le, value);
    tcg_guest_emit(g, le, sizeof(le));
}

void tcg_guest_emit32(TcgGuest *g, uint32_t value)
{
    uint8_t le[4];

    stl_le_p(le, value);
    tcg_guest_emit(g, le, sizeof(le));
}

void tcg_guest_gate(TcgGuest *g, uint8_t vector, uint32_t handler)
{
    uint8_t *gate = g->page + IDT_OFFSET + vector * 8;

    g_assert_cmpuint(vector, <=, TCG_GUEST_MAX_VECTOR);
    stw_le_p(gate, handler);
    stw_le_p(gate + 2, CODE_SELECTOR);
    stw_le_p(gate + 4, 0x8e00);                 /* present, DPL 0, 32-bit */
    stw_le_p(gate + 6, handler >> 16);
}

void tcg_guest_init(TcgGuest *g)
{
    uint32_t pm;

    g->bios = g_malloc0(BIOS_SIZE);
    g->page = g->bios + BIOS_SIZE - PAGE_SIZE;
    g->len = CODE_OFFSET;

    put_flat_segment(g->page + GDT_OFFSET + CODE_SELECTOR, 0x9b);
    put_flat_segment(g->page + GDT_OFFSET + DATA_SELECTOR, 0x93);
    stw_le_p(g->page + GDTR_OFFSET, 3 * 8 - 1);
    stl_le_p(g->page + GDTR_OFFSET + 2, TCG_GUEST_BLOCK + GDT_OFFSET);
    stw_le_p(g->page + IDTR_OFFSET, (TCG_GUEST_MAX_VECTOR + 1) * 8 - 1);
    stl_le_p(g->page + IDTR_OFFSET + 2, TCG_GUEST_BLOCK + IDT_OFFSET);

    /* Real mode, CS base 0xffff0000 */
    TCG_EMIT(g, 0xfa);                              /* cli */
    TCG_EMIT(g, 0x2e, 0x66, 0x0f, 0x01, 0x16);      /* lgdtl %cs:GDTR */
    tcg_guest_emit16(g, BLOCK_SEG16 + GDTR_OFFSET);
    TCG_EMIT(g, 0x0f, 0x20, 0xc0);                  /* mov %cr0, %eax */
    TCG_EMIT(g, 0x0c, 0x01);                        /* or $1, %al: PE */
    TCG_EMIT(g, 0x0f, 0x22, 0xc0);                  /* mov %eax, %cr0 */
    pm = tcg_guest_here(g) + 8;
    TCG_EMIT(g, 0x66, 0xea);                        /* ljmpl $CODE, $pm */
    tcg_guest_emit32(g, pm);
    tcg_guest_emit16(g, CODE_SELECTOR);

    /* pm: flat 32-bit protected mode */
    g_assert_cmphex(tcg_guest_here(g), ==, pm);
    TCG_EMIT(g, 0xb8);                              /* mov $DATA, %eax */
    tcg_guest_emit32(g, DATA_SELECTOR);
    TCG_EMIT(g, 0x8e, 0xd8);                        /* mov %eax, %ds */
    TCG_EMIT(g, 0x8e, 0xc0);                        /* mov %eax, %es */
    TCG_EMIT(g, 0x8e, 0xd0);                        /* mov %eax, %ss */
    TCG_EMIT(g, 0xbc);                              /* mov $STACK, %esp */
    tcg_guest_emit32(g, TCG_GUEST_STACK);
    TCG_EMIT(g, 0x0f, 0x01, 0x1d);                  /* lidt IDTR */
    tcg_guest_emit32(g, TCG_GUEST_BLOCK + IDTR_OFFSET);
}

/* At the end of the test (g_test_queue_destroy()), or at its abort */
static void remove_bios_file(void *path)
{
    qtest_remove_abrt_handler(path);
    g_unlink(path);
    g_free(path);
}

char *tcg_guest_bios_file(TcgGuest *g)
{
    g_autoptr(GError) err = NULL;
    char *path, *owned;
    int fd;

    /* At the reset vector, in real mode: jmp to the code */
    g->page[RESET_VECTOR] = 0xe9;
    stw_le_p(g->page + RESET_VECTOR + 1, CODE_OFFSET - (RESET_VECTOR + 3));

    fd = g_file_open_tmp("tcg-guest-bios-XXXXXX", &path, &err);
    g_assert_no_error(err);
    g_assert_cmpint(write(fd, g->bios, BIOS_SIZE), ==, BIOS_SIZE);
    close(fd);
    owned = g_strdup(path);
    qtest_add_abrt_handler(remove_bios_file, owned);
    g_test_queue_destroy(remove_bios_file, owned);
    g_clear_pointer(&g->bios, g_free);
    g->page = NULL;
    return path;
}

bool tcg_guest_wait(QTestState *qts, uint64_t addr, uint32_t value,
                    int seconds)
{
    gint64 deadline = g_get_monotonic_time() + seconds * G_USEC_PER_SEC;

    while (qtest_readl(qts, addr) != value) {
        if (g_get_monotonic_time() > deadline) {
            return false;
        }
        g_usleep(1000);
    }
    return true;
}
