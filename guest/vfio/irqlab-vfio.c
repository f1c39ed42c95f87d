// SPDX-License-Identifier: GPL-2.0
/*
 * irqlab-vfio: msix-testdev's MSI-X driven from user space through vfio-pci
 *
 * What a VFIO user (QEMU's hw/vfio, DPDK) does with a device, step by step,
 * through the 6.1 uAPI (include/uapi/linux/vfio.h, as Debian's
 * linux-libc-dev installs it):
 *
 *   container   /dev/vfio/vfio: VFIO_GET_API_VERSION,
 *               VFIO_CHECK_EXTENSION(VFIO_TYPE1v2_IOMMU)
 *   group       /dev/vfio/<iommu group>: VFIO_GROUP_GET_STATUS (viable),
 *               VFIO_GROUP_SET_CONTAINER, then VFIO_SET_IOMMU(TYPE1v2)
 *   device      VFIO_GROUP_GET_DEVICE_FD (vfio_pci_core_enable(): FLR),
 *               region info for BAR 0 and config space, BAR 0 mmap'd,
 *               PCI_COMMAND_MASTER set through the config region (opening
 *               cleared it, vfio_pci_core.c, and QEMU sends MSI through the
 *               bus-master address space)
 *   interrupts  VFIO_DEVICE_GET_IRQ_INFO(MSIX); VFIO_DEVICE_SET_IRQS with
 *               one eventfd per vector -> vfio_msi_enable() ->
 *               pci_alloc_irq_vectors() -> msix_capability_init(), then
 *               vfio_msi_set_vector_signal() per vector
 *
 * Then each vector is raised K times through msix-testdev's RAISE register
 * (no DMA: the device notifies at once), one at a time: the program waits
 * for the eventfd before the next RAISE, since two messages of one vector
 * pending in the local APIC's IRR are one interrupt.  Then the controls:
 *
 *   beyond-n    RAISE of the first entry past both enables' N: masked
 *               since msix_mask_all(), no eventfd; the device holds it
 *               (PBA) until the FLR at close.  (Past N1 only, the second
 *               enable's request_irq() would unmask it and the device send
 *               it then: a run saw that message counted by the device and
 *               by no handler, so the control stays clear of it.)
 *   loopback    SET_IRQS(DATA_NONE|ACTION_TRIGGER): vfio signals each
 *               eventfd itself (eventfd_signal()); the device sends nothing
 *   bus-master  RAISE with PCI_COMMAND_MASTER cleared: no eventfd signal
 *
 * then disable (SET_IRQS count 0), enable again with another N (MSI-X is
 * NORESIZE: the whole msix_capability_init() again), raise, disable, close
 * (vfio_pci_core_disable(): FLR again).
 *
 * Usage: irqlab-vfio BDF N1 N2 K [HOLD]
 *
 * HOLD, if given, is a command run with a phase name appended while the
 * device is held in a state the host should look at ("loaded": first
 * enable, "reenabled": second); guest/init reports and syncs there.
 *
 * Output, for the harness (harness/irqlab/vfio.py), one line per fact on
 * stdout: "vfio WHAT key=value ...".  Failures: "vfio error MESSAGE" and
 * exit status 1.
 *
 * Register map: hw/misc/msix-testdev-regs.h, shared with the device model
 * and the kernel driver.  Linux coding style, as guest/driver.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "hw/misc/msix-testdev-regs.h"

/* How long a RAISE may take to reach its eventfd under TCG */
#define SIGNAL_TIMEOUT_MS	2000
/* How long a message that must not come is waited for */
#define SILENCE_MS		300

struct vdev {
	int container, group, device;
	struct vfio_region_info bar0, config;
	volatile uint32_t *regs;	/* BAR 0 mmap'd, or NULL: pwrite */
	int fds[MSIX_TESTDEV_MAX_VECTORS];
	unsigned int nfds;
	unsigned int enables;
};

static void die(const char *fmt, ...)
{
	va_list ap;

	printf("vfio error ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	exit(1);
}

static void xioctl(int fd, unsigned long req, void *arg, const char *name)
{
	if (ioctl(fd, req, arg) < 0)
		die("%s: %s", name, strerror(errno));
}

static void cfg_rw(struct vdev *v, bool write, void *buf, size_t len, off_t off)
{
	ssize_t n = write ? pwrite(v->device, buf, len, v->config.offset + off)
			  : pread(v->device, buf, len, v->config.offset + off);

	if (n != (ssize_t)len)
		die("config %s at %#llx: %s", write ? "write" : "read", (long long)off,
		    n < 0 ? strerror(errno) : "short");
}

/* PCI_COMMAND through the config region; returns the value written. */
static uint16_t set_master(struct vdev *v, bool on)
{
	uint16_t cmd;

	cfg_rw(v, false, &cmd, sizeof(cmd), PCI_COMMAND);
	if (on)
		cmd |= PCI_COMMAND_MASTER;
	else
		cmd &= ~PCI_COMMAND_MASTER;
	cfg_rw(v, true, &cmd, sizeof(cmd), PCI_COMMAND);
	cfg_rw(v, false, &cmd, sizeof(cmd), PCI_COMMAND);
	printf("vfio command master=%d value=%#06x\n", !!(cmd & PCI_COMMAND_MASTER), cmd);
	return cmd;
}

static void raise_vector(struct vdev *v, uint32_t vector)
{
	if (v->regs) {
		v->regs[MSIX_TESTDEV_REG_RAISE / 4] = vector;
		return;
	}
	if (pwrite(v->device, &vector, sizeof(vector),
		   v->bar0.offset + MSIX_TESTDEV_REG_RAISE) != sizeof(vector))
		die("pwrite RAISE %u: %s", vector, strerror(errno));
}

/* The eventfd's count after waiting up to @ms for it (0: none came). */
static uint64_t wait_signal(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint64_t n = 0;

	if (poll(&p, 1, ms) < 0)
		die("poll: %s", strerror(errno));
	if (!(p.revents & POLLIN))
		return 0;
	if (read(fd, &n, sizeof(n)) != sizeof(n))
		die("read eventfd: %s", strerror(errno));
	return n;
}

static void open_device(struct vdev *v, const char *bdf)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	char link[PATH_MAX], target[PATH_MAX], path[PATH_MAX];
	ssize_t n;
	int api, ext;

	v->container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (v->container < 0)
		die("open /dev/vfio/vfio: %s", strerror(errno));
	api = ioctl(v->container, VFIO_GET_API_VERSION);
	ext = ioctl(v->container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU);
	printf("vfio container api=%d type1v2=%d\n", api, ext);
	if (api != VFIO_API_VERSION || ext != 1)
		die("container: API %d (want %d), TYPE1v2 %d", api, VFIO_API_VERSION, ext);

	snprintf(link, sizeof(link), "/sys/bus/pci/devices/%s/iommu_group", bdf);
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		die("readlink %s: %s (no vIOMMU?)", link, strerror(errno));
	target[n] = '\0';
	snprintf(path, sizeof(path), "/dev/vfio/%s", basename(target));
	v->group = open(path, O_RDWR | O_CLOEXEC);
	if (v->group < 0)
		die("open %s: %s", path, strerror(errno));
	xioctl(v->group, VFIO_GROUP_GET_STATUS, &status, "VFIO_GROUP_GET_STATUS");
	printf("vfio group path=%s flags=%#x viable=%d\n", path, status.flags,
	       !!(status.flags & VFIO_GROUP_FLAGS_VIABLE));
	if (!(status.flags & VFIO_GROUP_FLAGS_VIABLE))
		die("group %s not viable", path);
	xioctl(v->group, VFIO_GROUP_SET_CONTAINER, &v->container, "VFIO_GROUP_SET_CONTAINER");
	if (ioctl(v->container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) < 0)
		die("VFIO_SET_IOMMU(TYPE1v2): %s", strerror(errno));
	printf("vfio iommu type=type1v2\n");

	v->device = ioctl(v->group, VFIO_GROUP_GET_DEVICE_FD, bdf);
	if (v->device < 0)
		die("VFIO_GROUP_GET_DEVICE_FD %s: %s", bdf, strerror(errno));
	printf("vfio device bdf=%s\n", bdf);
}

static void region(struct vdev *v, struct vfio_region_info *r, unsigned int index,
		   const char *name)
{
	r->argsz = sizeof(*r);
	r->index = index;
	xioctl(v->device, VFIO_DEVICE_GET_REGION_INFO, r, "VFIO_DEVICE_GET_REGION_INFO");
	printf("vfio region name=%s index=%u size=%#llx offset=%#llx flags=%#x mmap=%d\n",
	       name, index, (unsigned long long)r->size, (unsigned long long)r->offset,
	       r->flags, !!(r->flags & VFIO_REGION_INFO_FLAG_MMAP));
}

static void map_bar0(struct vdev *v)
{
	void *p = MAP_FAILED;

	if (v->bar0.flags & VFIO_REGION_INFO_FLAG_MMAP)
		p = mmap(NULL, v->bar0.size, PROT_READ | PROT_WRITE, MAP_SHARED, v->device,
			 v->bar0.offset);
	if (p == MAP_FAILED) {
		printf("vfio bar0 access=pwrite why=%s\n",
		       v->bar0.flags & VFIO_REGION_INFO_FLAG_MMAP ? strerror(errno)
								  : "no-mmap-flag");
		return;
	}
	v->regs = p;
	printf("vfio bar0 access=mmap\n");
}

static void irq_info(struct vdev *v)
{
	struct vfio_irq_info info = {
		.argsz = sizeof(info),
		.index = VFIO_PCI_MSIX_IRQ_INDEX,
	};

	xioctl(v->device, VFIO_DEVICE_GET_IRQ_INFO, &info, "VFIO_DEVICE_GET_IRQ_INFO");
	printf("vfio irq-info index=msix count=%u flags=%#x eventfd=%d maskable=%d automasked=%d noresize=%d\n",
	       info.count, info.flags, !!(info.flags & VFIO_IRQ_INFO_EVENTFD),
	       !!(info.flags & VFIO_IRQ_INFO_MASKABLE),
	       !!(info.flags & VFIO_IRQ_INFO_AUTOMASKED),
	       !!(info.flags & VFIO_IRQ_INFO_NORESIZE));
}

/*
 * VFIO_DEVICE_SET_IRQS on MSI-X, entries 0..@count-1: @flags' data type
 * with @fds (DATA_EVENTFD), or none (DATA_NONE).
 */
static void set_irqs(struct vdev *v, uint32_t flags, unsigned int count, const int *fds)
{
	size_t data = fds ? count * sizeof(int32_t) : 0;
	struct vfio_irq_set *set = calloc(1, sizeof(*set) + data);

	if (!set)
		die("out of memory");
	set->argsz = sizeof(*set) + data;
	set->flags = flags | VFIO_IRQ_SET_ACTION_TRIGGER;
	set->index = VFIO_PCI_MSIX_IRQ_INDEX;
	set->start = 0;
	set->count = count;
	if (data)
		memcpy(set->data, fds, data);
	xioctl(v->device, VFIO_DEVICE_SET_IRQS, set, "VFIO_DEVICE_SET_IRQS");
	free(set);
}

static void enable(struct vdev *v, unsigned int n)
{
	uint64_t early;
	unsigned int i;

	for (i = 0; i < n; i++) {
		v->fds[i] = eventfd(0, EFD_CLOEXEC);
		if (v->fds[i] < 0)
			die("eventfd: %s", strerror(errno));
	}
	v->nfds = n;
	v->enables++;
	set_irqs(v, VFIO_IRQ_SET_DATA_EVENTFD, n, v->fds);
	printf("vfio enable step=%u n=%u\n", v->enables, n);
	/*
	 * A message the device held (pending in the PBA) is sent when
	 * request_irq() unmasks its entry: count what came before any RAISE.
	 */
	for (i = 0; i < n; i++) {
		early = wait_signal(v->fds[i], 0);
		if (early)
			printf("vfio early step=%u vector=%u signals=%" PRIu64 "\n", v->enables,
			       i, early);
	}
}

static void disable(struct vdev *v)
{
	unsigned int i;

	set_irqs(v, VFIO_IRQ_SET_DATA_NONE, 0, NULL);
	for (i = 0; i < v->nfds; i++)
		close(v->fds[i]);
	v->nfds = 0;
	printf("vfio disable step=%u\n", v->enables);
}

/* Every vector @k times, each RAISE waited for. */
static void raise_all(struct vdev *v, unsigned int k)
{
	unsigned int i, j, lost;
	uint64_t got, sum;

	for (i = 0; i < v->nfds; i++) {
		sum = 0;
		lost = 0;
		for (j = 0; j < k; j++) {
			raise_vector(v, i);
			got = wait_signal(v->fds[i], SIGNAL_TIMEOUT_MS);
			sum += got;
			lost += !got;
		}
		printf("vfio vector step=%u vector=%u raised=%u signals=%" PRIu64 " timeouts=%u\n",
		       v->enables, i, k, sum, lost);
	}
}

static void control_beyond_n(struct vdev *v, unsigned int entry)
{
	raise_vector(v, entry);
	printf("vfio control kind=beyond-n step=%u vector=%u raised=1\n", v->enables, entry);
}

static void control_loopback(struct vdev *v)
{
	unsigned int i;

	set_irqs(v, VFIO_IRQ_SET_DATA_NONE, v->nfds, NULL);
	for (i = 0; i < v->nfds; i++)
		printf("vfio control kind=loopback step=%u vector=%u signals=%" PRIu64 "\n",
		       v->enables, i, wait_signal(v->fds[i], SIGNAL_TIMEOUT_MS));
}

static void control_bus_master(struct vdev *v)
{
	uint64_t got;

	set_master(v, false);
	raise_vector(v, 0);
	got = wait_signal(v->fds[0], SILENCE_MS);
	set_master(v, true);
	/* Nothing is re-sent when bus mastering comes back. */
	got += wait_signal(v->fds[0], SILENCE_MS);
	printf("vfio control kind=bus-master step=%u vector=0 raised=1 signals=%" PRIu64 "\n",
	       v->enables, got);
}

static void hold(const char *cmd, const char *phase)
{
	char line[PATH_MAX];
	int st;

	if (!cmd)
		return;
	snprintf(line, sizeof(line), "%s %s", cmd, phase);
	printf("vfio hold phase=%s\n", phase);
	fflush(stdout);
	st = system(line);
	if (st != 0)
		die("hold %s: '%s' exited with status %d", phase, line, st);
}

static unsigned int arg_count(const char *s, const char *what, unsigned int max)
{
	char *end;
	unsigned long n = strtoul(s, &end, 0);

	if (*s == '\0' || *end != '\0' || n < 1 || n > max)
		die("%s '%s': a number from 1 to %u", what, s, max);
	return n;
}

int main(int argc, char **argv)
{
	struct vdev v = { .regs = NULL };
	unsigned int n1, n2, k;
	const char *bdf;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 5 || argc > 6)
		die("usage: irqlab-vfio BDF N1 N2 K [HOLD]");
	bdf = argv[1];
	/* One entry past both must exist for the beyond-n control. */
	n1 = arg_count(argv[2], "N1", MSIX_TESTDEV_MAX_VECTORS - 1);
	n2 = arg_count(argv[3], "N2", MSIX_TESTDEV_MAX_VECTORS - 1);
	k = arg_count(argv[4], "K", 1 << 20);

	open_device(&v, bdf);
	region(&v, &v.bar0, VFIO_PCI_BAR0_REGION_INDEX, "bar0");
	region(&v, &v.config, VFIO_PCI_CONFIG_REGION_INDEX, "config");
	if (v.bar0.size < MSIX_TESTDEV_BAR_REGS_SIZE)
		die("BAR 0 is %#llx bytes, msix-testdev's is %#x",
		    (unsigned long long)v.bar0.size, MSIX_TESTDEV_BAR_REGS_SIZE);
	map_bar0(&v);
	set_master(&v, true);
	irq_info(&v);

	enable(&v, n1);
	raise_all(&v, k);
	control_beyond_n(&v, n1 > n2 ? n1 : n2);
	control_loopback(&v);
	hold(argc > 5 ? argv[5] : NULL, "loaded");
	control_bus_master(&v);
	disable(&v);

	enable(&v, n2);
	raise_all(&v, k);
	hold(argc > 5 ? argv[5] : NULL, "reenabled");
	disable(&v);

	if (v.regs)
		munmap((void *)v.regs, v.bar0.size);
	close(v.device);
	close(v.group);
	close(v.container);
	printf("vfio closed\n");
	return 0;
}
