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

static char *build_bios(void)
{
    TcgGuest g;
    uint32_t spin, callback, ipi;

    tcg_guest_init(&g);

    emit_cpuid(&g, XEN_CPUID_LEAF(0), R(R_CPUID0_A), R(R_CPUID0_B),
               R(R_CPUID0_C), R(R_CPUID0_D));
    emit_cpuid(&g, XEN_CPUID_LEAF(4), R(R_CPUID4_A), R(R_CPUID4_B), 0, 0);

    emit_hypercall(&g, VMMCALL, __HYPERVISOR_memory_op,
                   XENMEM_add_to_physmap, ARG_XATP, R(R_XATP));
    emit_hypercall(&g, VMCALL, __HYPERVISOR_hvm_op, HVMOP_set_param,
                   ARG_PARAM, R(R_PARAM));
    emit_hypercall(&g, VMMCALL, __HYPERVISOR_event_channel_op,
                   EVTCHNOP_bind_ipi, ARG_BIND_IPI, R(R_BIND_IPI));
    TCG_EMIT(&g, 0xa1);                             /* mov bind_ipi.port, */
    tcg_guest_emit32(&g, ARG_BIND_IPI + offsetof(struct evtchn_bind_ipi,
                                                 port));
    emit_store_eax(&g, ARG_SEND);                   /* ... send.port */
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

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    if (!qtest_has_accel("tcg")) {
        g_test_skip("TCG is not built in");
        return g_test_run();
    }
    qtest_add_func("/xen/tcg/guest", test_guest);
    return g_test_run();
}
