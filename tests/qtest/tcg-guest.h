/*
 * A few instructions of firmware for qtests that run a guest under TCG
 *
 * Some things only happen when a vCPU executes: a race inside a
 * translation block, a hypercall instruction, an interrupt taken at
 * acceptance.  tcg_guest_init() starts a -bios image whose last 4 KiB
 * page takes the CPU from the reset vector to flat 32-bit protected
 * mode (Intel SDM vol. 3A, 9.9.1 "Switching to Protected Mode") with
 * an IDT loaded; the test then emits its own instructions after that,
 * each with its bytes and its assembly in a comment, and 32-bit
 * interrupt gates for the vectors it takes.  Paging stays off, so a
 * guest-virtual address is its physical address.
 *
 * The page, at TCG_GUEST_BLOCK (0xfffff000):
 *   0x000  GDT: null, 0x08 code, 0x10 data, flat 4 GiB
 *   0x018  GDTR, 0x020 IDTR
 *   0x028  code: the switch, then the test's
 *   0x800  IDT: 32-bit interrupt gates, vectors 0-0xf3
 *   0xff0  the reset vector: jmp to 0x028
 *
 * Copyright (c) 2026 irqlab developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef TESTS_QTEST_TCG_GUEST_H
#define TESTS_QTEST_TCG_GUEST_H

#include "hw/i386/x86-msi.h"

#define TCG_GUEST_BLOCK         0xfffff000U
#define TCG_GUEST_STACK         0x9000U     /* esp, growing down in RAM */
/* The highest vector the IDT has a gate for */
#define TCG_GUEST_MAX_VECTOR    0xf3

/*
 * The x86 local APIC's registers, at its default base (SDM vol. 3A,
 * 11.4.1), which is where the MSI window starts
 */
#define TCG_GUEST_APIC          X86_MSI_ADDR_BASE_LO
#define APIC_REG_TPR            0x080
#define APIC_REG_EOI            0x0b0
#define APIC_REG_SVR            0x0f0
#define APIC_REG_ISR            0x100       /* 8 registers, 0x10 apart */
#define APIC_REG_ICR_LO         0x300
#define APIC_REG_ICR_HI         0x310       /* destination in bits 31:24 */
#define APIC_SVR_ENABLE         0x100
#define APIC_ICR_SELF           (1U << 18)  /* destination shorthand */
/* ICR delivery modes INIT and Start-up, level assert (SDM vol. 3A 11.6.1) */
#define APIC_ICR_INIT           0x4500
#define APIC_ICR_STARTUP        0x4600      /* | the start page number */

typedef struct TcgGuest {
    uint8_t *bios;
    uint8_t *page;
    size_t len;                 /* bytes of code emitted into the page */
} TcgGuest;

/* A new image, with the switch to protected mode emitted */
void tcg_guest_init(TcgGuest *g);

/* The guest address the next emitted instruction will have */
uint32_t tcg_guest_here(const TcgGuest *g);

void tcg_guest_emit(TcgGuest *g, const uint8_t *bytes, size_t n);
void tcg_guest_emit16(TcgGuest *g, uint16_t value);
void tcg_guest_emit32(TcgGuest *g, uint32_t value);

/* An instruction's bytes: TCG_EMIT(g, 0x0f, 0x01, 0xd9) */
#define TCG_EMIT(g, ...) \
    tcg_guest_emit(g, (const uint8_t[]){ __VA_ARGS__ }, \
                   sizeof((const uint8_t[]){ __VA_ARGS__ }))

/* A 32-bit interrupt gate for @vector to @handler (SDM vol. 3A, 6.11) */
void tcg_guest_gate(TcgGuest *g, uint8_t vector, uint32_t handler);

/*
 * Write the image to a new file and free it; returns the file's path
 * (for -bios), which the caller frees.  The file is removed when the
 * test ends, or by an abort handler when an assertion fails first.
 */
char *tcg_guest_bios_file(TcgGuest *g);

/*
 * Poll the 32-bit word at guest-physical @addr until it is @value, for at
 * most @seconds of real time (the guest runs under TCG, there is no
 * virtual time to step); false if it never was.
 */
bool tcg_guest_wait(QTestState *qts, uint64_t addr, uint32_t value,
                    int seconds);

#endif /* TESTS_QTEST_TCG_GUEST_H */
