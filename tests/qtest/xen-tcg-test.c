/*
 * A Xen HVM guest under TCG: hypercalls by VMCALL and VMMCALL, Xen's
 * CPUID leaves, the hypercall page, and the global callback vector taken
 * as Xen injects it
 *
 * The other Xen qtests issue hypercalls through the test port and run
 * no vCPU.  Here the guest's own instructions do it, in 32-bit protected
 * mode (the compat ABI: number in eax, arguments in ebx, ecx, ...,
 * result in eax; paging off, so its pointers are physical), and then
 * takes its upcalls:
 *
 *  1. CPUID 0x40000000 and 0x40000004 (xen/include/public/arch-x86/
 *     cpuid.h): the signature "XenVMMXenVMM", the last leaf, and the
 *     HVM leaf with the vCPU id and without APIC_ACCESS_VIRT or
 *     X2APIC_VIRT;
 *  2. XENMEM_add_to_physmap of shared_info (VMMCALL), HVM_PARAM_CALLBACK_IRQ
 *     set to the global vector 0xf3 (VMCALL), EVTCHNOP_bind_ipi (VMMCALL),
 *     EVTCHNOP_send on that port (VMCALL): the upcall is pending while
 *     interrupts are off; an unknown hypercall: -ENOSYS;
 *  3. the hypercall page at MSR 0x40000000, and XENVER_version through it;
 *  4. a self-IPI of vector 0x40 through the local APIC, then STI.  The
 *     callback vector comes first, ahead of the local APIC, and again
 *     after its handler returns without clearing evtchn_upcall_pending
 *     (Xen injects it on every VM entry while the flag is set,
 *     hvm_vcpu_has_pending_irq()); the second time the handler clears
 *     the flag.  Neither time is there an EOI, as in Linux's
 *     sysvec_xen_hvm_callback(), and vector 0x40 must still arrive: the
 *     callback vector is never in the local APIC's ISR.
 *
 * Copyright (c) 2026 irqlab developers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bitops.h"
#include "qemu/bswap.h"
#include "libqtest.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include "qobject/qjson.h"
/* The interface version QEMU's include/hw/xen/xen.h selects */
#define __XEN_INTERFACE_VERSION__ 0x00040e00
#include "hw/xen/interface/xen.h"
#include "hw/xen/interface/arch-x86/cpuid.h"
#include "hw/xen/interface/event_channel.h"
#include "hw/xen/interface/memory.h"
#include "hw/xen/interface/version.h"
#include "hw/xen/interface/hvm/hvm_op.h"
#include "hw/xen/interface/hvm/params.h"
#include "tcg-guest.h"

#define XEN_VERSION_NR      0x4000a
#define CALLBACK_VECTOR     0xf3
#define IPI_VECTOR          0x40
#define HYPERCALL_MSR       0x40000000      /* CPUID leaf 2's, as KVM's */
#define HYPERCALL_STUB      32              /* bytes per hypercall page stub */

/* Guest RAM */
#define SHINFO              0x3000          /* shared_info, gpfn 3 */
#define HCALL_PAGE          0x5000
#define ARGS                0x2000          /* the hypercalls' structs */
#define ARG_XATP            (ARGS + 0x00)
#define ARG_PARAM           (ARGS + 0x20)
#define ARG_BIND_IPI        (ARGS + 0x40)
#define ARG_SEND            (ARGS + 0x60)
/* What the guest leaves there, a 32-bit word each */
#define R(n)                (0x1000 + 4 * (n))
enum {
    R_XATP, R_PARAM, R_BIND_IPI, R_SEND, R_UNKNOWN, R_VERSION,
    R_CPUID0_A, R_CPUID0_B, R_CPUID0_C, R_CPUID0_D, R_CPUID4_A, R_CPUID4_B,
    R_CALLBACKS, R_IPIS, R_ISR_F3, R_DONE,
};
#define DONE                0x600dc0deU

typedef enum { VMCALL, VMMCALL } HcallInsn;

static void emit_store_eax(TcgGuest *g, uint32_t addr)
{
    TCG_EMIT(g, 0xa3);                              /* mov %eax, addr */
    tcg_guest_emit32(g, addr);
}

static void emit_hcall_insn(TcgGuest *g, HcallInsn insn)
{
    TCG_EMIT(g, 0x0f, 0x01, insn == VMCALL ? 0xc1 : 0xd9);
}

/* op(a0, a1) by @insn, its result to @result */
static void emit_hypercall(TcgGuest *g, HcallInsn insn, uint32_t op,
                           uint32_t a0, uint32_t a1, uint32_t result)
{
    TCG_EMIT(g, 0xb8);                              /* mov $op, %eax */
    tcg_guest_emit32(g, op);
    TCG_EMIT(g, 0xbb);                              /* mov $a0, %ebx */
    tcg_guest_emit32(g, a0);
    TCG_EMIT(g, 0xb9);                              /* mov $a1, %ecx */
    tcg_guest_emit32(g, a1);
    emit_hcall_insn(g, insn);
    emit_store_eax(g, result);
}

static void emit_cpuid(TcgGuest *g, uint32_t leaf, uint32_t a, uint32_t b,
                       uint32_t c, uint32_t d)
{
    TCG_EMIT(g, 0xb8);                              /* mov $leaf, %eax */
    tcg_guest_emit32(g, leaf);
    TCG_EMIT(g, 0x31, 0xc9);                        /* xor %ecx, %ecx */
    TCG_EMIT(g, 0x0f, 0xa2);                        /* cpuid */
    emit_store_eax(g, a);
    TCG_EMIT(g, 0x89, 0x1d);                        /* mov %ebx, b */
    tcg_guest_emit32(g, b);
    if (c) {
        TCG_EMIT(g, 0x89, 0x0d);                    /* mov %ecx, c */
        tcg_guest_emit32(g, c);
        TCG_EMIT(g, 0x89, 0x15);                    /* mov %edx, d */
        tcg_guest_emit32(g, d);
    }
}

static void emit_apic_write(TcgGuest *g, uint32_t reg, uint32_t value)
{
    TCG_EMIT(g, 0xc7, 0x05);                        /* movl $value, reg */
    tcg_guest_emit32(g, TCG_GUEST_APIC + reg);
    tcg_guest_emit32(g, value);
}

/*
 * What each test's guest does first: shared_info at SHINFO
 * (XENMEM_add_to_physmap), the callback vector (HVM_PARAM_CALLBACK_IRQ,
 * by @param_insn), an IPI port (EVTCHNOP_bind_ipi) whose number goes into
 * the EVTCHNOP_send struct; each hypercall's result at R(@r), R(@r + 1),
 * R(@r + 2).
 */
static void emit_xen_setup(TcgGuest *g, HcallInsn param_insn, int r)
{
    emit_hypercall(g, VMMCALL, __HYPERVISOR_memory_op,
                   XENMEM_add_to_physmap, ARG_XATP, R(r));
    emit_hypercall(g, param_insn, __HYPERVISOR_hvm_op, HVMOP_set_param,
                   ARG_PARAM, R(r + 1));
    emit_hypercall(g, VMMCALL, __HYPERVISOR_event_channel_op,
                   EVTCHNOP_bind_ipi, ARG_BIND_IPI, R(r + 2));
    TCG_EMIT(g, 0xa1);                              /* mov bind_ipi.port, */
    tcg_guest_emit32(g, ARG_BIND_IPI + offsetof(struct evtchn_bind_ipi,
                                                port));
    emit_store_eax(g, ARG_SEND);                    /* ... send.port */
}

static char *build_bios(void)
{
    TcgGuest g;
    uint32_t spin, callback, ipi;

    tcg_guest_init(&g);

    emit_cpuid(&g, XEN_CPUID_LEAF(0), R(R_CPUID0_A), R(R_CPUID0_B),
               R(R_CPUID0_C), R(R_CPUID0_D));
    emit_cpuid(&g, XEN_CPUID_LEAF(4), R(R_CPUID4_A), R(R_CPUID4_B), 0, 0);

    emit_xen_setup(&g, VMCALL, R_XATP);
    emit_hypercall(&g, VMCALL, __HYPERVISOR_event_channel_op,
                   EVTCHNOP_send, ARG_SEND, R(R_SEND));
    emit_hypercall(&g, VMMCALL, 63, 0, 0, R(R_UNKNOWN));

    /* The hypercall page, and XENVER_version through its stub */
    TCG_EMIT(&g, 0xb9);                             /* mov $MSR, %ecx */
    tcg_guest_emit32(&g, HYPERCALL_MSR);
    TCG_EMIT(&g, 0xb8);                             /* mov $page, %eax */
    tcg_guest_emit32(&g, HCALL_PAGE);
    TCG_EMIT(&g, 0x31, 0xd2);                       /* xor %edx, %edx */
    TCG_EMIT(&g, 0x0f, 0x30);                       /* wrmsr */
    TCG_EMIT(&g, 0xbb);                             /* mov $VERSION, %ebx */
    tcg_guest_emit32(&g, XENVER_version);
    TCG_EMIT(&g, 0x31, 0xc9);                       /* xor %ecx, %ecx */
    TCG_EMIT(&g, 0xb8);                             /* mov $stub, %eax */
    tcg_guest_emit32(&g, HCALL_PAGE + __HYPERVISOR_xen_version *
                     HYPERCALL_STUB);
    TCG_EMIT(&g, 0xff, 0xd0);                       /* call *%eax */
    emit_store_eax(&g, R(R_VERSION));

    /* The self-IPI waits in the IRR; the upcall is pending; STI */
    emit_apic_write(&g, APIC_REG_SVR, APIC_SVR_ENABLE | 0xff);
    emit_apic_write(&g, APIC_REG_ICR_LO, APIC_ICR_SELF | IPI_VECTOR);
    TCG_EMIT(&g, 0xfb);                             /* sti */
    TCG_EMIT(&g, 0xb9);                             /* mov $N, %ecx */
    tcg_guest_emit32(&g, 10 * 1000 * 1000);
    /* Until the IPI and both callbacks have come, or ecx runs out */
    spin = tcg_guest_here(&g);
    TCG_EMIT(&g, 0x83, 0x3d);                       /* 1: cmpl $0, IPIS */
    tcg_guest_emit32(&g, R(R_IPIS));
    TCG_EMIT(&g, 0x00);
    TCG_EMIT(&g, 0x74, 0x09);                       /* je 2f */
    TCG_EMIT(&g, 0x83, 0x3d);                       /* cmpl $2, CALLBACKS */
    tcg_guest_emit32(&g, R(R_CALLBACKS));
    TCG_EMIT(&g, 0x02);
    TCG_EMIT(&g, 0x73, 0x02);                       /* jae 3f */
    TCG_EMIT(&g, 0xe2, spin - (tcg_guest_here(&g) + 2)); /* 2: loop 1b */
    TCG_EMIT(&g, 0xfa);                             /* 3: cli */
    TCG_EMIT(&g, 0xa1);                             /* mov ISR7, %eax */
    tcg_guest_emit32(&g, TCG_GUEST_APIC + APIC_REG_ISR +
                     (CALLBACK_VECTOR / 32) * 0x10);
    emit_store_eax(&g, R(R_ISR_F3));
    TCG_EMIT(&g, 0xc7, 0x05);                       /* movl $DONE, DONE */
    tcg_guest_emit32(&g, R(R_DONE));
    tcg_guest_emit32(&g, DONE);
    TCG_EMIT(&g, 0xf4);                             /* 4: hlt */
    TCG_EMIT(&g, 0xeb, 0xfd);                       /* jmp 4b */

    /* The callback handler: no EOI; clears upcall_pending the 2nd time */
    callback = tcg_guest_here(&g);
    TCG_EMIT(&g, 0xff, 0x05);                       /* incl CALLBACKS */
    tcg_guest_emit32(&g, R(R_CALLBACKS));
    TCG_EMIT(&g, 0x83, 0x3d);                       /* cmpl $2, CALLBACKS */
    tcg_guest_emit32(&g, R(R_CALLBACKS));
    TCG_EMIT(&g, 0x02);
    TCG_EMIT(&g, 0x72, 0x07);                       /* jb 1f */
    TCG_EMIT(&g, 0xc6, 0x05);                       /* movb $0, pending */
    tcg_guest_emit32(&g, SHINFO + offsetof(struct vcpu_info,
                                           evtchn_upcall_pending));
    TCG_EMIT(&g, 0x00);
    TCG_EMIT(&g, 0xcf);                             /* 1: iret */
    tcg_guest_gate(&g, CALLBACK_VECTOR, callback);

    /* The IPI's handler: counts and EOIs */
    ipi = tcg_guest_here(&g);
    TCG_EMIT(&g, 0xff, 0x05);                       /* incl IPIS */
    tcg_guest_emit32(&g, R(R_IPIS));
    emit_apic_write(&g, APIC_REG_EOI, 0);
    TCG_EMIT(&g, 0xcf);                             /* iret */
    tcg_guest_gate(&g, IPI_VECTOR, ipi);

    return tcg_guest_bios_file(&g);
}

/* The hypercalls' structs, in the 32-bit layouts, into guest RAM */
static void write_args(QTestState *qts)
{
    uint8_t xatp[16] = { 0 }, param[16] = { 0 }, bind[8] = { 0 };

    /* struct compat_xen_add_to_physmap: domid, size, space, idx, gpfn */
    stw_le_p(xatp, DOMID_SELF);
    stl_le_p(xatp + 4, XENMAPSPACE_shared_info);
    stl_le_p(xatp + 12, SHINFO >> 12);
    qtest_memwrite(qts, ARG_XATP, xatp, sizeof(xatp));
    /* struct xen_hvm_param: domid, index, value (type 2: a vector) */
    stw_le_p(param, DOMID_SELF);
    stl_le_p(param + 4, HVM_PARAM_CALLBACK_IRQ);
    stq_le_p(param + 8, (uint64_t)HVM_PARAM_CALLBACK_TYPE_VECTOR << 56 |
             CALLBACK_VECTOR);
    qtest_memwrite(qts, ARG_PARAM, param, sizeof(param));
    /* struct evtchn_bind_ipi: vcpu 0, port (OUT) */
    qtest_memwrite(qts, ARG_BIND_IPI, bind, sizeof(bind));
}

static int64_t vcpu0_stat(QTestState *qts, const char *key)
{
    g_autoptr(QDict) info = qtest_qmp_assert_success_ref(
        qts, "{'execute': 'x-query-xen-irqs'}");
    QDict *v = qobject_to(QDict, qlist_peek(qdict_get_qlist(info, "vcpus")));

    g_assert(v);
    g_assert_cmpint(qdict_get_int(v, "vcpu"), ==, 0);
    return qdict_get_int(v, key);
}

static void test_guest(void)
{
    g_autofree char *bios = build_bios();
    QTestState *qts;
    uint32_t port;

    qts = qtest_initf("-machine q35 -accel tcg,xen-version=0x%x -smp 1 "
                      "-nodefaults -S -bios %s", XEN_VERSION_NR, bios);
    write_args(qts);
    qtest_qmp_assert_success(qts, "{'execute': 'cont'}");
    g_assert_true(tcg_guest_wait(qts, R(R_DONE), DONE, 60));

    /* 1. CPUID */
    g_assert_cmphex(qtest_readl(qts, R(R_CPUID0_A)), ==, XEN_CPUID_LEAF(4));
    g_assert_cmphex(qtest_readl(qts, R(R_CPUID0_B)), ==,
                    XEN_CPUID_SIGNATURE_EBX);
    g_assert_cmphex(qtest_readl(qts, R(R_CPUID0_C)), ==,
                    XEN_CPUID_SIGNATURE_ECX);
    g_assert_cmphex(qtest_readl(qts, R(R_CPUID0_D)), ==,
                    XEN_CPUID_SIGNATURE_EDX);
    g_assert_cmphex(qtest_readl(qts, R(R_CPUID4_A)), ==,
                    XEN_HVM_CPUID_IOMMU_MAPPINGS |
                    XEN_HVM_CPUID_VCPU_ID_PRESENT);
    g_assert_cmpuint(qtest_readl(qts, R(R_CPUID4_B)), ==, 0);

    /* 2. The hypercalls, VMCALL and VMMCALL alike */
    g_assert_cmpint(qtest_readl(qts, R(R_XATP)), ==, 0);
    g_assert_cmpint(qtest_readl(qts, R(R_PARAM)), ==, 0);
    g_assert_cmpint(qtest_readl(qts, R(R_BIND_IPI)), ==, 0);
    port = qtest_readl(qts, ARG_SEND);
    g_assert_cmpuint(port, !=, 0);
    g_assert_cmpint(qtest_readl(qts, R(R_SEND)), ==, 0);
    g_assert_cmpint((int32_t)qtest_readl(qts, R(R_UNKNOWN)), ==, -ENOSYS);

    /* 3. The hypercall page */
    g_assert_cmphex(qtest_readl(qts, R(R_VERSION)), ==, XEN_VERSION_NR);

    /* 4. Twice the callback vector, then the IPI; never in service */
    g_assert_cmpuint(qtest_readl(qts, R(R_CALLBACKS)), ==, 2);
    g_assert_cmpuint(qtest_readl(qts, R(R_IPIS)), ==, 1);
    g_assert_cmphex(qtest_readl(qts, R(R_ISR_F3)) &
                    BIT(CALLBACK_VECTOR % 32), ==, 0);
    g_assert_cmpint(vcpu0_stat(qts, "upcalls"), ==, 1);
    g_assert_cmpint(vcpu0_stat(qts, "injections"), ==, 2);

    qtest_quit(qts);
}

/*
 * /xen/tcg/upcall-race: the global callback vector is level-triggered on
 * evtchn_upcall_pending (x86_cpu_exec_interrupt() drops
 * CPU_INTERRUPT_XEN_CALLBACK under the BQL once the flag reads clear;
 * xen_upcall.c raises it again, under the BQL, after each 0->1 edge).
 * An upcall lost between the two would leave the flag set, the port
 * pending and the vCPU halted: what a Linux guest that stops for good
 * with both vCPUs halted and nothing in its local APICs would show.
 *
 * The guest idles in STI; HLT and runs Linux's upcall loop
 * (__xen_evtchn_do_upcall(): clear evtchn_upcall_pending, take the
 * selector, clear and count each pending port, again while the flag
 * came back).  Port A is the guest's own: it sends it by EVTCHNOP_send
 * from its vCPU thread, without the BQL, so its upcall is raised by
 * xen-upcall's bottom half.  Port B is the monitor's (xen-event-inject,
 * the main loop, with the BQL), which also wakes the guest to send.
 * Rounds of each, and of both at once with extra injections of A racing
 * the guest's own send and handler; after each round both ports must be
 * handled (their pending bits clear) within seconds.
 */
#define RACE_ROUNDS         1500
#define ARG_BIND_IPI2       (ARGS + 0x80)
#define SHINFO_PENDING      (SHINFO + 32 * 64)  /* compat evtchn_pending[] */
enum {
    RR_XATP = R_DONE + 1, RR_PARAM, RR_BIND_A, RR_BIND_B, RR_SEND, RR_READY,
    RR_TARGET, RR_SENT, RR_HANDLED_A, RR_HANDLED_B, RR_CALLBACKS,
};
#define READY               0x7eadcafeU

/* A port the upcall handler takes: where its number is, what it counts */
typedef struct UpcallPort {
    uint32_t port;              /* guest address of the port number */
    uint32_t handled;           /* guest address of its counter */
} UpcallPort;

/*
 * vCPU 0's callback vector handler, as Linux's __xen_evtchn_do_upcall()
 * (2-level, compat layout): count the upcall at @callbacks; clear
 * evtchn_upcall_pending, take the pending selector, and for each of the
 * @n @ports clear its pending bit, counting it when it was set; again
 * while the flag came back.
 */
static void emit_upcall_handler(TcgGuest *g, uint32_t callbacks,
                                const UpcallPort *ports, int n)
{
    uint32_t callback = tcg_guest_here(g), again;

    TCG_EMIT(g, 0x50);                              /* push %eax */
    TCG_EMIT(g, 0xff, 0x05);                        /* incl callbacks */
    tcg_guest_emit32(g, callbacks);
    again = tcg_guest_here(g);                      /* 1: */
    TCG_EMIT(g, 0xc6, 0x05);                        /* movb $0, pending */
    tcg_guest_emit32(g, SHINFO + offsetof(struct vcpu_info,
                                          evtchn_upcall_pending));
    TCG_EMIT(g, 0x00);
    TCG_EMIT(g, 0x31, 0xc0);                        /* xor %eax, %eax */
    TCG_EMIT(g, 0x87, 0x05);                        /* xchg %eax, sel */
    tcg_guest_emit32(g, SHINFO + 4);
    for (int i = 0; i < n; i++) {
        TCG_EMIT(g, 0xa1);                          /* mov port, %eax */
        tcg_guest_emit32(g, ports[i].port);
        TCG_EMIT(g, 0xf0, 0x0f, 0xb3, 0x05);        /* lock btr %eax, pend */
        tcg_guest_emit32(g, SHINFO_PENDING);
        TCG_EMIT(g, 0x73, 0x06);                    /* jnc over the incl */
        TCG_EMIT(g, 0xff, 0x05);                    /* incl handled */
        tcg_guest_emit32(g, ports[i].handled);
    }
    TCG_EMIT(g, 0x80, 0x3d);                        /* cmpb $0, pending */
    tcg_guest_emit32(g, SHINFO + offsetof(struct vcpu_info,
                                          evtchn_upcall_pending));
    TCG_EMIT(g, 0x00);
    TCG_EMIT(g, 0x75, again - (tcg_guest_here(g) + 2));    /* jne 1b */
    TCG_EMIT(g, 0x58);                              /* pop %eax */
    TCG_EMIT(g, 0xcf);                              /* iret */
    tcg_guest_gate(g, CALLBACK_VECTOR, callback);
}

static char *build_race_bios(void)
{
    TcgGuest g;
    uint32_t top, work;

    tcg_guest_init(&g);

    emit_xen_setup(&g, VMMCALL, RR_XATP);         /* port A */
    emit_hypercall(&g, VMMCALL, __HYPERVISOR_event_channel_op,
                   EVTCHNOP_bind_ipi, ARG_BIND_IPI2, R(RR_BIND_B));
    TCG_EMIT(&g, 0xc7, 0x05);                       /* movl $READY, READY */
    tcg_guest_emit32(&g, R(RR_READY));
    tcg_guest_emit32(&g, READY);

    /* 1: cli; sends owed? else sti; hlt (no wakeup lost in between) */
    top = tcg_guest_here(&g);
    TCG_EMIT(&g, 0xfa);                             /* cli */
    TCG_EMIT(&g, 0xa1);                             /* mov TARGET, %eax */
    tcg_guest_emit32(&g, R(RR_TARGET));
    TCG_EMIT(&g, 0x3b, 0x05);                       /* cmp SENT, %eax */
    tcg_guest_emit32(&g, R(RR_SENT));
    TCG_EMIT(&g, 0x75, 0x04);                       /* jne 2f */
    TCG_EMIT(&g, 0xfb);                             /* sti */
    TCG_EMIT(&g, 0xf4);                             /* hlt */
    TCG_EMIT(&g, 0xeb, top - (tcg_guest_here(&g) + 2));  /* jmp 1b */
    work = tcg_guest_here(&g);                      /* 2: */
    TCG_EMIT(&g, 0xfb);                             /* sti */
    emit_hypercall(&g, VMCALL, __HYPERVISOR_event_channel_op,
                   EVTCHNOP_send, ARG_SEND, R(RR_SEND));
    TCG_EMIT(&g, 0xff, 0x05);                       /* incl SENT */
    tcg_guest_emit32(&g, R(RR_SENT));
    TCG_EMIT(&g, 0xeb, top - (tcg_guest_here(&g) + 2));  /* jmp 1b */
    g_assert(work > top);

    /* Ports A and B, both bound to vCPU 0 */
    emit_upcall_handler(&g, R(RR_CALLBACKS), (UpcallPort[]) {
        { ARG_SEND, R(RR_HANDLED_A) },
        { ARG_BIND_IPI2 + offsetof(struct evtchn_bind_ipi, port),
          R(RR_HANDLED_B) },
    }, 2);

    return tcg_guest_bios_file(&g);
}

static void inject(QTestState *qts, uint32_t port)
{
    qtest_qmp_assert_success(qts, "{'execute': 'xen-event-inject', "
                             "'arguments': {'port': %u}}", port);
}

static void test_upcall_race(void)
{
    g_autofree char *bios = build_race_bios();
    uint8_t bind[8] = { 0 };
    QTestState *qts;
    uint32_t a, b, target = 0;
    int i;

    qts = qtest_initf("-machine q35 -accel tcg,xen-version=0x%x -smp 1 "
                      "-nodefaults -S -bios %s", XEN_VERSION_NR, bios);
    write_args(qts);
    qtest_memwrite(qts, ARG_BIND_IPI2, bind, sizeof(bind));
    qtest_qmp_assert_success(qts, "{'execute': 'cont'}");
    g_assert_true(tcg_guest_wait(qts, R(RR_READY), READY, 60));
    g_assert_cmpint(qtest_readl(qts, R(RR_BIND_A)), ==, 0);
    g_assert_cmpint(qtest_readl(qts, R(RR_BIND_B)), ==, 0);
    a = qtest_readl(qts, ARG_SEND);
    b = qtest_readl(qts, ARG_BIND_IPI2 + offsetof(struct evtchn_bind_ipi,
                                                  port));
    g_assert_cmpuint(a, <, 32);
    g_assert_cmpuint(b, <, 32);
    g_assert_cmpuint(a, !=, b);

    for (i = 0; i < RACE_ROUNDS; i++) {
        int how = g_test_rand_int_range(0, 3);
        gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
        uint32_t pend;

        if (how) {
            /* The guest sends A itself once the upcall of B wakes it */
            qtest_writel(qts, R(RR_TARGET), ++target);
        }
        inject(qts, b);
        if (how == 2) {
            /* ... and the monitor's A races its send and its handler */
            inject(qts, a);
            inject(qts, a);
        }
        for (;;) {
            pend = qtest_readl(qts, SHINFO_PENDING) & (BIT(a) | BIT(b));
            if (!pend && qtest_readl(qts, R(RR_SENT)) == target) {
                break;
            }
            if (g_get_monotonic_time() > deadline) {
                g_autoptr(QDict) info = qtest_qmp_assert_success_ref(
                    qts, "{'execute': 'x-query-xen-irqs'}");
                g_autoptr(GString) js = qobject_to_json(QOBJECT(info));

                g_test_message("round %d (%d): pending 0x%x sent %u/%u "
                               "upcall_pending %u sel 0x%x callbacks %u "
                               "handled A %u B %u; %s", i, how, pend,
                               qtest_readl(qts, R(RR_SENT)), target,
                               qtest_readb(qts, SHINFO),
                               qtest_readl(qts, SHINFO + 4),
                               qtest_readl(qts, R(RR_CALLBACKS)),
                               qtest_readl(qts, R(RR_HANDLED_A)),
                               qtest_readl(qts, R(RR_HANDLED_B)), js->str);
                g_assert_not_reached();
            }
            g_usleep(50);
        }
    }
    g_test_message("%d rounds: %u sends by the guest, %u callbacks taken, "
                   "port A handled %u times, port B %u; upcalls %" PRId64,
                   RACE_ROUNDS, target, qtest_readl(qts, R(RR_CALLBACKS)),
                   qtest_readl(qts, R(RR_HANDLED_A)),
                   qtest_readl(qts, R(RR_HANDLED_B)),
                   vcpu0_stat(qts, "upcalls"));
    g_assert_cmpuint(qtest_readl(qts, R(RR_HANDLED_B)), >=, 1);
    g_assert_cmpuint(qtest_readl(qts, R(RR_HANDLED_A)), >=, 1);
    g_assert_cmpuint(qtest_readb(qts, SHINFO), ==, 0);
    qtest_quit(qts);
}

/*
 * /xen/tcg/upcall-ipi: the same invariant with Linux's IPI pattern, at
 * -smp 2: vCPU 1 (started by INIT/SIPI into a real-mode trampoline at
 * 0x8000) sends port P, bound to vCPU 0, by EVTCHNOP_send from its own
 * thread, without the BQL, and waits for vCPU 0's handler to count it
 * before it sends the next; vCPU 0 idles in STI; HLT.  vCPU 0's
 * evtchn_upcall_pending is set by vCPU 1's thread while vCPU 0 may be
 * in x86_cpu_exec_interrupt() deciding whether to drop its callback:
 * a lost upcall leaves vCPU 1 waiting for good (it gives up after a
 * spin budget and says so).
 */
#define IPI_ROUNDS          5000
#define AP_TRAMPOLINE       0x8000          /* SIPI vector 0x08 */
#define AP_GDTR             (AP_TRAMPOLINE + 0x100)
#define AP_STACK            0x7000
enum {
    RI_XATP = RR_CALLBACKS + 1, RI_PARAM, RI_BIND, RI_SEND, RI_READY,
    RI_SENT, RI_HANDLED, RI_CALLBACKS, RI_AP_STATUS,
};
#define AP_DONE             0xd0d0d0d0U
#define AP_LOST             0x1057105aU

static char *build_ipi_bios(uint32_t *ap_pm)
{
    TcgGuest g;
    uint32_t idle, ap_loop, ap_wait, ap_next;

    tcg_guest_init(&g);

    emit_xen_setup(&g, VMMCALL, RI_XATP);
    /* vCPU 1: INIT, then SIPI to the trampoline */
    emit_apic_write(&g, APIC_REG_SVR, APIC_SVR_ENABLE | 0xff);
    emit_apic_write(&g, APIC_REG_ICR_HI, 1 << 24);
    emit_apic_write(&g, APIC_REG_ICR_LO, APIC_ICR_INIT);
    emit_apic_write(&g, APIC_REG_ICR_HI, 1 << 24);
    emit_apic_write(&g, APIC_REG_ICR_LO,
                    APIC_ICR_STARTUP | (AP_TRAMPOLINE >> 12));
    TCG_EMIT(&g, 0xfb);                             /* sti */
    idle = tcg_guest_here(&g);
    TCG_EMIT(&g, 0xf4);                             /* 1: hlt */
    TCG_EMIT(&g, 0xeb, idle - (tcg_guest_here(&g) + 2));  /* jmp 1b */

    emit_upcall_handler(&g, R(RI_CALLBACKS), (UpcallPort[]) {
        { ARG_SEND, R(RI_HANDLED) },
    }, 1);

    /* vCPU 1, in protected mode from the trampoline; interrupts off */
    *ap_pm = tcg_guest_here(&g);
    TCG_EMIT(&g, 0xb8);                             /* mov $DATA, %eax */
    tcg_guest_emit32(&g, 0x10);
    TCG_EMIT(&g, 0x8e, 0xd8);                       /* mov %eax, %ds */
    TCG_EMIT(&g, 0x8e, 0xc0);                       /* mov %eax, %es */
    TCG_EMIT(&g, 0x8e, 0xd0);                       /* mov %eax, %ss */
    TCG_EMIT(&g, 0xbc);                             /* mov $STACK, %esp */
    tcg_guest_emit32(&g, AP_STACK);
    ap_loop = tcg_guest_here(&g);                   /* 1: */
    emit_hypercall(&g, VMMCALL, __HYPERVISOR_event_channel_op,
                   EVTCHNOP_send, ARG_SEND, R(RI_SEND));
    TCG_EMIT(&g, 0xff, 0x05);                       /* incl SENT */
    tcg_guest_emit32(&g, R(RI_SENT));
    TCG_EMIT(&g, 0xb9);                             /* mov $budget, %ecx */
    tcg_guest_emit32(&g, 0x4000000);
    ap_wait = tcg_guest_here(&g);                   /* 2: */
    TCG_EMIT(&g, 0xa1);                             /* mov HANDLED, %eax */
    tcg_guest_emit32(&g, R(RI_HANDLED));
    TCG_EMIT(&g, 0x3b, 0x05);                       /* cmp SENT, %eax */
    tcg_guest_emit32(&g, R(RI_SENT));
    TCG_EMIT(&g, 0x73, 0x0f);                       /* jae 3f */
    TCG_EMIT(&g, 0xf3, 0x90);                       /* pause */
    TCG_EMIT(&g, 0xe2, ap_wait - (tcg_guest_here(&g) + 2));  /* loop 2b */
    TCG_EMIT(&g, 0xc7, 0x05);                       /* movl $LOST, STATUS */
    tcg_guest_emit32(&g, R(RI_AP_STATUS));
    tcg_guest_emit32(&g, AP_LOST);
    TCG_EMIT(&g, 0xf4);                             /* hlt */
    ap_next = tcg_guest_here(&g);                   /* 3: */
    g_assert_cmpuint(ap_next - (ap_wait + 13), ==, 0x0f);
    TCG_EMIT(&g, 0x81, 0x3d);                       /* cmpl $N, SENT */
    tcg_guest_emit32(&g, R(RI_SENT));
    tcg_guest_emit32(&g, IPI_ROUNDS);
    TCG_EMIT(&g, 0x0f, 0x82);                       /* jb 1b */
    tcg_guest_emit32(&g, ap_loop - (tcg_guest_here(&g) + 4));
    TCG_EMIT(&g, 0xc7, 0x05);                       /* movl $DONE, STATUS */
    tcg_guest_emit32(&g, R(RI_AP_STATUS));
    tcg_guest_emit32(&g, AP_DONE);
    TCG_EMIT(&g, 0xf4);                             /* 4: hlt */
    TCG_EMIT(&g, 0xeb, 0xfd);                       /* jmp 4b */

    return tcg_guest_bios_file(&g);
}

static void test_upcall_ipi(void)
{
    uint32_t ap_pm;
    g_autofree char *bios = build_ipi_bios(&ap_pm);
    uint8_t tramp[32] = { 0 }, gdtr[6];
    size_t n = 0;
    QTestState *qts;
    gint64 deadline;
    uint32_t status;

    /* Real mode at 0800:0000: lgdt, PE, ljmp to ap_pm */
    tramp[n++] = 0xfa;                              /* cli */
    memcpy(tramp + n, (uint8_t[]){ 0x2e, 0x66, 0x0f, 0x01, 0x16 }, 5);
    n += 5;                                         /* lgdtl %cs:0x100 */
    stw_le_p(tramp + n, AP_GDTR - AP_TRAMPOLINE);
    n += 2;
    memcpy(tramp + n, (uint8_t[]){ 0x0f, 0x20, 0xc0, 0x0c, 0x01,
                                   0x0f, 0x22, 0xc0, 0x66, 0xea }, 10);
    n += 10;                                        /* PE; ljmpl */
    stl_le_p(tramp + n, ap_pm);
    n += 4;
    stw_le_p(tramp + n, 0x08);
    stw_le_p(gdtr, 3 * 8 - 1);
    stl_le_p(gdtr + 2, TCG_GUEST_BLOCK);            /* the image's GDT */

    qts = qtest_initf("-machine q35 -accel tcg,xen-version=0x%x -smp 2 "
                      "-nodefaults -S -bios %s", XEN_VERSION_NR, bios);
    write_args(qts);
    qtest_memwrite(qts, AP_TRAMPOLINE, tramp, sizeof(tramp));
    qtest_memwrite(qts, AP_GDTR, gdtr, sizeof(gdtr));
    qtest_qmp_assert_success(qts, "{'execute': 'cont'}");

    deadline = g_get_monotonic_time() + 300 * G_USEC_PER_SEC;
    while ((status = qtest_readl(qts, R(RI_AP_STATUS))) == 0 &&
           g_get_monotonic_time() < deadline) {
        g_usleep(10 * 1000);
    }
    if (status != AP_DONE) {
        g_autoptr(QDict) info = qtest_qmp_assert_success_ref(
            qts, "{'execute': 'x-query-xen-irqs'}");
        g_autoptr(GString) js = qobject_to_json(QOBJECT(info));

        g_test_message("status 0x%x: sent %u handled %u callbacks %u; "
                       "vCPU 0 upcall_pending %u sel 0x%x pending 0x%x; %s",
                       status, qtest_readl(qts, R(RI_SENT)),
                       qtest_readl(qts, R(RI_HANDLED)),
                       qtest_readl(qts, R(RI_CALLBACKS)),
                       qtest_readb(qts, SHINFO),
                       qtest_readl(qts, SHINFO + 4),
                       qtest_readl(qts, SHINFO_PENDING), js->str);
    }
    g_assert_cmphex(status, ==, AP_DONE);
    g_assert_cmpint(qtest_readl(qts, R(RI_BIND)), ==, 0);
    g_assert_cmpuint(qtest_readl(qts, R(RI_HANDLED)), ==, IPI_ROUNDS);
    g_test_message("%d events from vCPU 1, %u callbacks taken by vCPU 0, "
                   "upcalls %" PRId64, IPI_ROUNDS,
                   qtest_readl(qts, R(RI_CALLBACKS)),
                   vcpu0_stat(qts, "upcalls"));
    qtest_quit(qts);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    if (!qtest_has_accel("tcg")) {
        g_test_skip("TCG is not built in");
        return g_test_run();
    }
    qtest_add_func("/xen/tcg/guest", test_guest);
    qtest_add_func("/xen/tcg/upcall-race", test_upcall_race);
    qtest_add_func("/xen/tcg/upcall-ipi", test_upcall_ipi);
    return g_test_run();
}
