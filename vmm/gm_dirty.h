/* minivm's own writes into guest RAM, for live migration (docs/migration.md, "Devices").
 *
 * KVM's dirty log sees only what the guest's vCPUs write. The devices write guest RAM from
 * minivm's threads (used rings, blk reads, net and console receive buffers) and from the
 * kernel (vhost-net, a disk's O_DIRECT reads into the request's buffers): those pages are
 * marked here, in a bitmap of guest RAM pages (numbered by their offset in guest RAM, as
 * migration numbers them: vm->gm's bytes below the MMIO hole, then the ones above 4 GiB), one
 * atomic OR per word, from any thread.
 *
 *   gm_dirty_init       the bitmap for gm (vm_create); gm_dirty_free
 *   gm_mark*            a device wrote [p, p+len): called after the write (the virtqueue's used
 *                       ring writes, virtq_push/virtq_flush for the buffers of each chain)
 *   gm_dirty_log_start  migration begins: marking is on (it is skipped otherwise), and kernel
 *                       writers (vhost-net) get a log of guest-physical pages to fill
 *   gm_dirty_take       each round: OR the marked pages (and the kernel's log) into a caller's
 *                       bitmap and clear them; read the pages after this call
 *   gm_dirty_log_stop   migration over: marking off, kernel writers stop logging
 *
 * Start, take and stop come from one thread (the migration's).
 */
#ifndef MINIVM_GM_DIRTY_H
#define MINIVM_GM_DIRTY_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "error.h"
#include "guest_mem.h"

#define GM_PAGE		 4096u
#define GM_DIRTY_WRITERS 8

/* A kernel-side writer of guest RAM that logs its writes into a bitmap of guest-physical
 * 4 KiB pages (vhost's VHOST_SET_LOG_BASE format: bit n of the little-endian array is the page
 * at n * 4096). set_log(opaque, log, bytes): start logging into log (not NULL) or stop (NULL);
 * called without any gm_dirty lock, on the migration's thread. */
struct gm_dirty_writer {
	void (*set_log)(void *opaque, uint64_t *log, uint64_t bytes);
	void *opaque;
};

struct gm_dirty {
	uint64_t npages;
	bool active;	      /* marking on (a migration runs); __atomic builtins */
	pthread_mutex_t lock; /* writers */
	struct gm_dirty_writer w[GM_DIRTY_WRITERS];
	unsigned nw;
	uint64_t *log; /* the kernel writers' log (guest-physical pages), NULL when off */
	uint64_t log_bytes;
	uint64_t *bits; /* npages bits, atomic words */
};

int gm_dirty_init(struct guest_mem *gm, mc_err *err);
void gm_dirty_free(struct guest_mem *gm);

/* Pages [first, last] of guest RAM were written (unchecked: callers clamp). */
void gm_mark_pages(struct gm_dirty *d, uint64_t first, uint64_t last);

/* A device wrote [p, p+len) (a host pointer into guest RAM; outside it nothing is marked). */
static inline void gm_mark(const struct guest_mem *gm, const void *p, uint64_t len)
{
	struct gm_dirty *d = gm->dirty;
	if (!d || !len)
		return;
	/* Our writes before the look at `active`: a migration that turned it on after this
	 * reads the pages after this point (x86 may otherwise let the load pass the stores). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!__atomic_load_n(&d->active, __ATOMIC_RELAXED))
		return;
	uintptr_t off = (uintptr_t)p - (uintptr_t)gm->host;
	if ((uintptr_t)p < (uintptr_t)gm->host || off >= gm->size)
		return;
	uint64_t end = len > gm->size - off ? gm->size : off + len;
	gm_mark_pages(d, off / GM_PAGE, (end - 1) / GM_PAGE);
}

/* The first len bytes of iov[0, n) were written. */
void gm_mark_iov(const struct guest_mem *gm, const struct iovec *iov, unsigned n, uint64_t len);

/* Kernel writers (vhost-net: one per device, at realize; removed at destroy). */
int gm_dirty_add_writer(struct guest_mem *gm, void (*set_log)(void *, uint64_t *, uint64_t),
			void *opaque, mc_err *err);
void gm_dirty_del_writer(struct guest_mem *gm, void *opaque);
/* The kernel writers' current log (NULL: not logging), its size in *bytes: a writer that
 * (re)starts while a migration runs logs into it. */
uint64_t *gm_dirty_log(const struct guest_mem *gm, uint64_t *bytes);

int gm_dirty_log_start(struct guest_mem *gm, mc_err *err);
void gm_dirty_log_stop(struct guest_mem *gm);
/* OR the pages written since the last take into bm (npages bits, guest RAM pages) and clear
 * them; returns how many marked pages were taken (some may be set in bm already). */
uint64_t gm_dirty_take(struct guest_mem *gm, uint64_t *bm, uint64_t npages);

#endif
