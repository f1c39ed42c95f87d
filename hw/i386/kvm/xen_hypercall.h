/*
 * QEMU Xen emulation: the hypercall dispatcher
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef QEMU_XEN_HYPERCALL_H
#define QEMU_XEN_HYPERCALL_H

/*
 * One hypercall, as a front end received it.  The front end decides what
 * an address in an argument means: a guest-virtual address for KVM's
 * hypercall exit, a guest-physical address for the hypercall test port.
 */
typedef struct XenHypercallCaller XenHypercallCaller;
struct XenHypercallCaller {
    /* Copy @len bytes from / to the caller's @addr; 0 or -EFAULT. */
    int (*copy_from)(XenHypercallCaller *c, uint64_t addr, void *buf,
                     size_t len);
    int (*copy_to)(XenHypercallCaller *c, uint64_t addr, const void *buf,
                   size_t len);
    void *opaque;
    /* The calling vCPU (Xen's `current`) */
    uint32_t vcpu_id;
    /* The caller uses the 64-bit ABI (else the 32-bit compat ABI) */
    bool long_mode;
};

/*
 * Issue hypercall @op (__HYPERVISOR_*, xen/include/public/xen.h) with
 * the register arguments @args (x86-64: rdi, rsi, rdx, r10, r8) and
 * return its result as Xen leaves it in rax: 0 or a positive value, or
 * a negative errno (Xen's errno values are Linux's).  A hypercall or
 * sub-operation the emulation does not have returns -ENOSYS.  Takes
 * the BQL where needed, so may be called with or without it.
 */
int64_t xen_hypercall(XenHypercallCaller *c, unsigned int op,
                      const uint64_t args[5]);

/*
 * The event_channel_op and physdev_op families alone, for a front end
 * that handles the other hypercalls itself (KVM's exit path): return
 * false if @cmd is not one the dispatcher has, else true with the
 * result in *@result.
 */
bool xen_hypercall_evtchn_op(XenHypercallCaller *c, int cmd, uint64_t arg,
                             int64_t *result);
bool xen_hypercall_physdev_op(XenHypercallCaller *c, int cmd, uint64_t arg,
                              int64_t *result);

#endif /* QEMU_XEN_HYPERCALL_H */
