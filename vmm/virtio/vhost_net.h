/* The kernel's vhost-net (/dev/vhost-net) as virtio-net's data path: the kernel pops the
 * receive and transmit rings itself, reads and writes the tap, and signals an eventfd per ring
 * for interrupts. Kept apart from the virtqueue code (linux/vhost.h brings its own ring
 * definitions).
 */
#ifndef MINIVM_VHOST_NET_H
#define MINIVM_VHOST_NET_H

#include <stdint.h>

#include "error.h"
#include "guest_mem.h"

/* Open /dev/vhost-net, become its owner; *features: what it offers (VHOST_GET_FEATURES). */
int vhost_net_open(int *fd, uint64_t *features, mc_err *err);

struct vhost_ring {
	unsigned index; /* 0: receive, 1: transmit */
	uint32_t num;	/* entries */
	uint16_t base;	/* the next avail entry to take (last_avail_idx) */
	void *desc, *avail, *used;
	uint64_t used_gpa; /* where the kernel logs its used-ring writes */
	int kick_fd, call_fd;
};

/* Features (the negotiated ones it knows), the guest RAM table, each ring, then the backend
 * (the tap) on each ring: the kernel runs the queues from here on. log: NULL, or the
 * migration's log of guest-physical pages (gm_dirty.h) the kernel marks its writes in. */
int vhost_net_start(int fd, uint64_t features, const struct guest_mem *gm,
		    const struct vhost_ring *rings, unsigned n, int tap_fd, uint64_t *log,
		    mc_err *err);
/* While the rings run: the kernel logs its writes into log from now on (VHOST_SET_LOG_BASE,
 * VHOST_F_LOG_ALL, each ring's used ring logged), or stops (log NULL). */
int vhost_net_set_log(int fd, uint64_t features, const struct vhost_ring *rings, unsigned n,
		      uint64_t *log, mc_err *err);
/* Detach the backend of ring index (the kernel finishes what it was doing) and read back the
 * ring's next avail entry. */
int vhost_net_stop(int fd, unsigned index, uint16_t *base, mc_err *err);

#endif
