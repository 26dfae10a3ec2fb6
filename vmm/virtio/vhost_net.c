/* vhost-net set-up (vhost_net.h): VHOST_SET_OWNER, VHOST_SET_FEATURES, VHOST_SET_MEM_TABLE,
 * VHOST_SET_VRING_{NUM,BASE,ADDR,KICK,CALL}, VHOST_NET_SET_BACKEND. */
#include "vhost_net.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/vhost.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

int vhost_net_open(int *out, uint64_t *features, mc_err *err)
{
	int fd = open("/dev/vhost-net", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return mc_errorf(err, errno, "vhost=on: open /dev/vhost-net");
	if (ioctl(fd, VHOST_SET_OWNER, NULL) < 0) {
		int e = errno;
		close(fd);
		return mc_errorf(err, e, "vhost=on: VHOST_SET_OWNER");
	}
	if (ioctl(fd, VHOST_GET_FEATURES, features) < 0) {
		int e = errno;
		close(fd);
		return mc_errorf(err, e, "vhost=on: VHOST_GET_FEATURES");
	}
	*out = fd;
	return 0;
}

static int set_mem(int fd, const struct guest_mem *gm, mc_err *err)
{
	struct vhost_memory *m = calloc(1, sizeof(*m) + 2 * sizeof(m->regions[0]));
	if (!m)
		return mc_errorf(err, ENOMEM, "vhost: memory table");
	m->regions[0] = (struct vhost_memory_region){
	    .guest_phys_addr = 0,
	    .memory_size = gm->low_end,
	    .userspace_addr = (uintptr_t)gm->host,
	};
	m->nregions = 1;
	if (gm->size > gm->low_end) {
		m->regions[1] = (struct vhost_memory_region){
		    .guest_phys_addr = MMIO_HOLE_END,
		    .memory_size = gm->size - gm->low_end,
		    .userspace_addr = (uintptr_t)(gm->host + gm->low_end),
		};
		m->nregions = 2;
	}
	int r = ioctl(fd, VHOST_SET_MEM_TABLE, m);
	int e = errno;
	free(m);
	return r < 0 ? mc_errorf(err, e, "vhost: VHOST_SET_MEM_TABLE") : 0;
}

static struct vhost_vring_addr ring_addr(const struct vhost_ring *r, bool log)
{
	return (struct vhost_vring_addr){
	    .index = r->index,
	    .flags = log ? 1u << VHOST_VRING_F_LOG : 0,
	    .desc_user_addr = (uintptr_t)r->desc,
	    .avail_user_addr = (uintptr_t)r->avail,
	    .used_user_addr = (uintptr_t)r->used,
	    .log_guest_addr = log ? r->used_gpa : 0,
	};
}

/* The log's base (before anything refers to it), then the features with or without
 * VHOST_F_LOG_ALL (QEMU's order, vhost_dev_set_log). */
static int set_log_base(int fd, uint64_t *features, uint64_t *log, mc_err *err)
{
	if (log) {
		uint64_t base = (uintptr_t)log;
		if (ioctl(fd, VHOST_SET_LOG_BASE, &base) < 0)
			return mc_errorf(err, errno, "vhost: VHOST_SET_LOG_BASE");
		*features |= 1ull << VHOST_F_LOG_ALL;
	}
	return 0;
}

int vhost_net_set_log(int fd, uint64_t features, const struct vhost_ring *rings, unsigned n,
		      uint64_t *log, mc_err *err)
{
	if (set_log_base(fd, &features, log, err) < 0)
		return -1;
	if (ioctl(fd, VHOST_SET_FEATURES, &features) < 0)
		return mc_errorf(err, errno, "vhost: VHOST_SET_FEATURES %#llx (dirty log %s)",
				 (unsigned long long)features, log ? "on" : "off");
	for (unsigned i = 0; i < n; i++) {
		struct vhost_vring_addr addr = ring_addr(&rings[i], log != NULL);
		if (ioctl(fd, VHOST_SET_VRING_ADDR, &addr) < 0)
			return mc_errorf(err, errno,
					 "vhost: ring %u: VHOST_SET_VRING_ADDR (log %s)",
					 rings[i].index, log ? "on" : "off");
	}
	return 0;
}

int vhost_net_start(int fd, uint64_t features, const struct guest_mem *gm,
		    const struct vhost_ring *rings, unsigned n, int tap_fd, uint64_t *log,
		    mc_err *err)
{
	if (set_log_base(fd, &features, log, err) < 0)
		return -1;
	if (ioctl(fd, VHOST_SET_FEATURES, &features) < 0)
		return mc_errorf(err, errno, "vhost: VHOST_SET_FEATURES %#llx",
				 (unsigned long long)features);
	if (set_mem(fd, gm, err) < 0)
		return -1;
	for (unsigned i = 0; i < n; i++) {
		const struct vhost_ring *r = &rings[i];
		struct vhost_vring_state num = {.index = r->index, .num = r->num};
		struct vhost_vring_state base = {.index = r->index, .num = r->base};
		struct vhost_vring_addr addr = ring_addr(r, log != NULL);
		struct vhost_vring_file kick = {.index = r->index, .fd = r->kick_fd};
		struct vhost_vring_file call = {.index = r->index, .fd = r->call_fd};
		const char *what = NULL;
		if (ioctl(fd, VHOST_SET_VRING_NUM, &num) < 0)
			what = "VHOST_SET_VRING_NUM";
		else if (ioctl(fd, VHOST_SET_VRING_BASE, &base) < 0)
			what = "VHOST_SET_VRING_BASE";
		else if (ioctl(fd, VHOST_SET_VRING_ADDR, &addr) < 0)
			what = "VHOST_SET_VRING_ADDR";
		else if (ioctl(fd, VHOST_SET_VRING_KICK, &kick) < 0)
			what = "VHOST_SET_VRING_KICK";
		else if (ioctl(fd, VHOST_SET_VRING_CALL, &call) < 0)
			what = "VHOST_SET_VRING_CALL";
		if (what)
			return mc_errorf(err, errno, "vhost: ring %u: %s", r->index, what);
	}
	for (unsigned i = 0; i < n; i++) {
		struct vhost_vring_file be = {.index = rings[i].index, .fd = tap_fd};
		if (ioctl(fd, VHOST_NET_SET_BACKEND, &be) < 0) {
			int e = errno;
			for (unsigned k = 0; k < i; k++) {
				struct vhost_vring_file off = {.index = rings[k].index, .fd = -1};
				ioctl(fd, VHOST_NET_SET_BACKEND, &off);
			}
			return mc_errorf(err, e, "vhost: ring %u: VHOST_NET_SET_BACKEND",
					 rings[i].index);
		}
	}
	return 0;
}

int vhost_net_stop(int fd, unsigned index, uint16_t *base, mc_err *err)
{
	struct vhost_vring_file be = {.index = index, .fd = -1};
	if (ioctl(fd, VHOST_NET_SET_BACKEND, &be) < 0)
		return mc_errorf(err, errno, "vhost: ring %u: detach the backend", index);
	struct vhost_vring_state st = {.index = index};
	if (ioctl(fd, VHOST_GET_VRING_BASE, &st) < 0)
		return mc_errorf(err, errno, "vhost: ring %u: VHOST_GET_VRING_BASE", index);
	*base = (uint16_t)st.num;
	return 0;
}
