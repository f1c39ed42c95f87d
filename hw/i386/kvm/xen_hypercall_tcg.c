/*
 * QEMU Xen emulation: the hypercall interface of a guest under TCG
 *
 * What a Xen HVM guest finds of its hypervisor through the CPU, as KVM
 * gives it under `-accel kvm,xen-version=...` (target/i386/kvm/kvm.c,
 * xen-emu.c) and Xen itself does (xen/arch/x86/cpuid.c,
 * xen/arch/x86/hvm/hypercall.c):
 *
 *  - the CPUID leaves 0x40000000-0x40000004 (xen/include/public/arch-x86/
 *    cpuid.h): the "XenVMMXenVMM" signature, the version, one hypercall
 *    page at MSR 0x40000000, the TSC leaf, and the HVM leaf with the
 *    vCPU id (and from 4.17 the per-vCPU upcall vector); never
 *    APIC_ACCESS_VIRT or X2APIC_VIRT, with which Linux turns its pirq
 *    MSI domain off (arch/x86/pci/xen.c, pci_xen_hvm_init());
 *  - VMCALL (0f 01 c1) and VMMCALL (0f 01 d9), Xen's hypercall
 *    instructions on Intel and AMD: the hypercall number in rax, the
 *    arguments in rdi, rsi, rdx, r10, r8 (64-bit code) or ebx, ecx, edx,
 *    esi, edi (32-bit), the result in rax (public/arch-x86/
 *    xen-x86_64.h, xen-x86_32.h), handed to the one dispatcher
 *    (xen_hypercall.c).  Pointer arguments are guest-virtual, read and
 *    written through the vCPU's page tables as Xen's copy_from_guest()
 *    does; a caller at CPL > 0 gets -EPERM, as from Xen's hvm_hypercall()
 *    and KVM;
 *  - the hypercall page: a write of a page's address to that MSR fills
 *    the page with one 32-byte stub per hypercall, `mov $nr, %eax;
 *    vmcall; ret`, as KVM's kvm_xen_write_hypercall_page() does (with
 *    vmmcall on an AMD CPU vendor), for guests that call through it
 *    (Linux before 6.1.192, the XSA-466 backport, did); like Xen's
 *    hvm_hypercall_page_initialise() and KVM, it latches the guest's ABI
 *    width from the writer's mode.
 *
 * target/i386 calls these through include/system/xen-emu.h; each does
 * nothing unless Xen emulation is on with QEMU's own upcall backend
 * (xen_upcall.c), that is under TCG (and qtest, where no vCPU runs).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/log.h"
#include "qemu/main-loop.h"
#include "exec/cpu-common.h"
#include "hw/core/cpu.h"
#include "hw/xen/xen.h"
#include "hw/xen/interface/arch-x86/cpuid.h"
#include "system/xen-emu.h"
#include "target/i386/cpu.h"
#include "target/i386/xen-hvm.h"
#include "trace.h"

#include "xen_accel.h"
#include "xen_hypercall.h"
#include "xen_overlay.h"
#include "xen_upcall.h"

/* Xen's hypercall stubs are 32 bytes apart (public/xen.h, hypercall_page) */
#define XEN_HYPERCALL_STUB_SIZE     32

static bool xen_tcg_active(void)
{
    return xen_mode == XEN_EMULATE && xen_upcall_backend_active();
}

/*
 * Copy between @buf and the guest-virtual range at @gva, page by page
 * through the vCPU's page tables (as KVM's kvm_gva_rw()): 0, or -EFAULT
 * if a page is not mapped or not RAM / MMIO that takes the access.
 */
static int gva_rw(CPUState *cs, uint64_t gva, void *buf, size_t len,
                  bool is_write)
{
    uint8_t *p = buf;

    while (len) {
        MemTxAttrs attrs;
        hwaddr gpa = cpu_get_phys_page_attrs_debug(cs, gva & TARGET_PAGE_MASK,
                                                   &attrs);
        size_t n = MIN(len, TARGET_PAGE_SIZE - (gva & ~TARGET_PAGE_MASK));
        AddressSpace *as;

        if (gpa == -1) {
            return -EFAULT;
        }
        as = cpu_get_address_space(cs, cpu_asidx_from_attrs(cs, attrs));
        if (address_space_rw(as, gpa + (gva & ~TARGET_PAGE_MASK), attrs, p,
                             n, is_write) != MEMTX_OK) {
            return -EFAULT;
        }
        p += n;
        gva += n;
        len -= n;
    }
    return 0;
}

static int tcg_copy_from(XenHypercallCaller *c, uint64_t addr, void *buf,
                         size_t len)
{
    return gva_rw(c->opaque, addr, buf, len, false);
}

static int tcg_copy_to(XenHypercallCaller *c, uint64_t addr,
                       const void *buf, size_t len)
{
    return gva_rw(c->opaque, addr, (void *)buf, len, true);
}

bool xen_emu_hypercall(CPUState *cs)
{
    CPUX86State *env = cpu_env(cs);
    bool long_mode = env->hflags & HF_CS64_MASK;
    XenHypercallCaller c = {
        .copy_from = tcg_copy_from,
        .copy_to = tcg_copy_to,
        .opaque = cs,
        .vcpu_id = cs->cpu_index,
        .long_mode = long_mode,
    };
    uint64_t args[5];
    unsigned int op;
    int64_t ret;

    if (!xen_tcg_active()) {
        return false;
    }
    if (long_mode) {
        op = env->regs[R_EAX];
        args[0] = env->regs[R_EDI];
        args[1] = env->regs[R_ESI];
        args[2] = env->regs[R_EDX];
        args[3] = env->regs[10];
        args[4] = env->regs[8];
    } else {
        op = (uint32_t)env->regs[R_EAX];
        args[0] = (uint32_t)env->regs[R_EBX];
        args[1] = (uint32_t)env->regs[R_ECX];
        args[2] = (uint32_t)env->regs[R_EDX];
        args[3] = (uint32_t)env->regs[R_ESI];
        args[4] = (uint32_t)env->regs[R_EDI];
    }

    if (env->hflags & HF_CPL_MASK) {
        /* Xen's hvm_hypercall(): only the guest kernel may call */
        trace_xen_hypercall_tcg_cpl(cs->cpu_index, op,
                                    env->hflags & HF_CPL_MASK);
        ret = -EPERM;
    } else {
        ret = xen_hypercall(&c, op, args);
    }
    env->regs[R_EAX] = long_mode ? ret : (uint32_t)ret;
    return true;
}

bool xen_emu_cpuid(CPUState *cs, uint32_t index, uint32_t *eax,
                   uint32_t *ebx, uint32_t *ecx, uint32_t *edx)
{
    CPUX86State *env = cpu_env(cs);
    uint32_t version;

    if (!xen_tcg_active() || index < XEN_CPUID_FIRST_LEAF ||
        index > XEN_CPUID_LEAF(0xff)) {
        return false;
    }
    version = xen_accel_get_xen_version();
    *eax = *ebx = *ecx = *edx = 0;
    switch (index - XEN_CPUID_FIRST_LEAF) {
    case 0:
        *eax = XEN_CPUID_LEAF(XEN_CPUID_HVM);
        *ebx = XEN_CPUID_SIGNATURE_EBX;
        *ecx = XEN_CPUID_SIGNATURE_ECX;
        *edx = XEN_CPUID_SIGNATURE_EDX;
        break;
    case 1:
        *eax = version;
        break;
    case 2:
        *eax = 1;                       /* hypercall pages */
        *ebx = XEN_HYPERCALL_MSR;
        break;
    case XEN_CPUID_TIME:
        /*
         * As KVM, less "TSC stable and known": TCG's TSC runs at the
         * host's rate, which QEMU does not know.
         */
        *eax = !!(env->features[FEAT_8000_0001_EDX] & CPUID_EXT2_RDTSCP) << 2;
        *ecx = env->user_tsc_khz;
        break;
    case XEN_CPUID_HVM:
        if (version >= XEN_VERSION(4, 5)) {
            *eax |= XEN_HVM_CPUID_IOMMU_MAPPINGS;
        }
        if (version >= XEN_VERSION(4, 6)) {
            *eax |= XEN_HVM_CPUID_VCPU_ID_PRESENT;
            *ebx = cs->cpu_index;
        }
        if (version >= XEN_VERSION(4, 17)) {
            *eax |= XEN_HVM_CPUID_UPCALL_VECTOR;
        }
        break;
    }
    return true;
}

int xen_emu_wrmsr(CPUState *cs, uint32_t msr, uint64_t value)
{
    CPUX86State *env = cpu_env(cs);
    uint8_t stub[XEN_HYPERCALL_STUB_SIZE];
    uint64_t gpa = value & ~(uint64_t)(TARGET_PAGE_SIZE - 1);
    unsigned int i;

    if (!xen_tcg_active() || msr != XEN_HYPERCALL_MSR) {
        return 0;
    }
    /* One page: its index, in the low bits, must be 0 (as KVM's) */
    if (value & (TARGET_PAGE_SIZE - 1)) {
        qemu_log_mask(LOG_GUEST_ERROR, "xen: hypercall page %" PRIu64
                      " does not exist\n", value & (TARGET_PAGE_SIZE - 1));
        trace_xen_hypercall_tcg_page(cs->cpu_index, value, -EINVAL);
        return -EINVAL;
    }

    memset(stub, 0xcc, sizeof(stub));           /* int3 */
    stub[0] = 0xb8;                             /* mov $nr, %eax */
    stub[5] = 0x0f;
    stub[6] = 0x01;
    stub[7] = IS_AMD_CPU(env) ? 0xd9 : 0xc1;    /* vmmcall / vmcall */
    stub[8] = 0xc3;                             /* ret */
    for (i = 0; i < TARGET_PAGE_SIZE / sizeof(stub); i++) {
        stl_le_p(stub + 1, i);
        if (address_space_write(cs->as, gpa + i * sizeof(stub),
                                MEMTXATTRS_UNSPECIFIED, stub,
                                sizeof(stub)) != MEMTX_OK) {
            qemu_log_mask(LOG_GUEST_ERROR, "xen: hypercall page at 0x%"
                          PRIx64 " is not RAM\n", gpa);
            trace_xen_hypercall_tcg_page(cs->cpu_index, value, -EFAULT);
            return -EFAULT;
        }
    }
    trace_xen_hypercall_tcg_page(cs->cpu_index, value, 0);
    {
        BQL_LOCK_GUARD();
        xen_set_long_mode(env->hflags & HF_LMA_MASK);
    }
    return 1;
}
