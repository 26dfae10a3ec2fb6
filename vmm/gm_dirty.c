/* minivm's own writes into guest RAM (gm_dirty.h). */
#include "gm_dirty.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int gm_dirty_init(struct guest_mem *gm, mc_err *err)
{
	struct gm_dirty *d = calloc(1, sizeof(*d));
	if (!d)
		return mc_errorf(err, ENOMEM, "dirty page bitmap");
	d->npages = (gm->size + GM_PAGE - 1) / GM_PAGE;
	d->bits = calloc((d->npages + 63) / 64, 8);
	if (!d->bits) {
		free(d);
		return mc_errorf(err, ENOMEM, "dirty page bitmap");
	}
	pthread_mutex_init(&d->lock, NULL);
	gm->dirty = d;
	return 0;
}

void gm_dirty_free(struct guest_mem *gm)
{
	struct gm_dirty *d = gm->dirty;
	if (!d)
		return;
	gm->dirty = NULL;
	free(d->log);
	free(d->bits);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

void gm_mark_pages(struct gm_dirty *d, uint64_t first, uint64_t last)
{
	for (uint64_t w = first / 64; w <= last / 64; w++) {
		uint64_t m = ~0ull;
		if (w == first / 64)
			m &= ~0ull << (first % 64);
		if (w == last / 64 && last % 64 != 63)
			m &= (1ull << (last % 64 + 1)) - 1;
		if ((__atomic_load_n(&d->bits[w], __ATOMIC_RELAXED) & m) != m)
			__atomic_fetch_or(&d->bits[w], m, __ATOMIC_SEQ_CST);
	}
}

void gm_mark_iov(const struct guest_mem *gm, const struct iovec *iov, unsigned n, uint64_t len)
{
	for (unsigned i = 0; i < n && len; i++) {
		uint64_t k = iov[i].iov_len < len ? iov[i].iov_len : len;
		gm_mark(gm, iov[i].iov_base, k);
		len -= k;
	}
}

int gm_dirty_add_writer(struct guest_mem *gm, void (*set_log)(void *, uint64_t *, uint64_t),
			void *opaque, mc_err *err)
{
	struct gm_dirty *d = gm->dirty;
	if (!d)
		return 0; /* no tracking (unit tests' memory): nothing will ask for a log */
	pthread_mutex_lock(&d->lock);
	int r = 0;
	if (d->nw == GM_DIRTY_WRITERS)
		r = mc_errorf(err, ENOSPC, "dirty tracking: more than %d kernel writers",
			      GM_DIRTY_WRITERS);
	else
		d->w[d->nw++] = (struct gm_dirty_writer){.set_log = set_log, .opaque = opaque};
	pthread_mutex_unlock(&d->lock);
	return r;
}

void gm_dirty_del_writer(struct guest_mem *gm, void *opaque)
{
	struct gm_dirty *d = gm->dirty;
	if (!d)
		return;
	pthread_mutex_lock(&d->lock);
	for (unsigned i = 0; i < d->nw; i++)
		if (d->w[i].opaque == opaque) {
			d->w[i] = d->w[--d->nw];
			break;
		}
	pthread_mutex_unlock(&d->lock);
}

uint64_t *gm_dirty_log(const struct guest_mem *gm, uint64_t *bytes)
{
	struct gm_dirty *d = gm->dirty;
	uint64_t *log = d ? __atomic_load_n(&d->log, __ATOMIC_ACQUIRE) : NULL;
	*bytes = log ? d->log_bytes : 0;
	return log;
}

/* Tell every kernel writer to log into log (NULL: stop), outside the lock: a writer takes its
 * own lock in set_log, and under that lock asks gm_dirty_log when it (re)starts. */
static void tell_writers(struct gm_dirty *d, uint64_t *log)
{
	struct gm_dirty_writer w[GM_DIRTY_WRITERS];
	pthread_mutex_lock(&d->lock);
	unsigned n = d->nw;
	memcpy(w, d->w, sizeof(w));
	pthread_mutex_unlock(&d->lock);
	for (unsigned i = 0; i < n; i++)
		w[i].set_log(w[i].opaque, log, log ? d->log_bytes : 0);
}

int gm_dirty_log_start(struct guest_mem *gm, mc_err *err)
{
	struct gm_dirty *d = gm->dirty;
	if (!d)
		return mc_errorf(err, 0, "dirty tracking: not set up for this VM");
	/* Guest-physical pages up to the end of RAM (above 4 GiB when it reaches there). */
	uint64_t top = gm->size > gm->low_end ? MMIO_HOLE_END + (gm->size - gm->low_end) : gm->size;
	uint64_t words = (top / GM_PAGE + 63) / 64;
	uint64_t *log = calloc(words, 8);
	if (!log)
		return mc_errorf(err, ENOMEM, "dirty tracking: kernel log");
	for (uint64_t w = 0; w < (d->npages + 63) / 64; w++)
		__atomic_store_n(&d->bits[w], 0, __ATOMIC_RELAXED);
	d->log_bytes = words * 8;
	__atomic_store_n(&d->log, log, __ATOMIC_RELEASE);
	__atomic_store_n(&d->active, true, __ATOMIC_SEQ_CST);
	tell_writers(d, log);
	return 0;
}

void gm_dirty_log_stop(struct guest_mem *gm)
{
	struct gm_dirty *d = gm->dirty;
	if (!d)
		return;
	__atomic_store_n(&d->active, false, __ATOMIC_SEQ_CST);
	uint64_t *log = __atomic_exchange_n(&d->log, NULL, __ATOMIC_ACQ_REL);
	if (!log)
		return;
	tell_writers(d, NULL); /* every writer has stopped logging when this returns */
	free(log);
	d->log_bytes = 0;
}

uint64_t gm_dirty_take(struct guest_mem *gm, uint64_t *bm, uint64_t npages)
{
	struct gm_dirty *d = gm->dirty;
	if (!d)
		return 0;
	if (npages > d->npages)
		npages = d->npages;
	uint64_t n = 0, words = (npages + 63) / 64;
	/* The kernel's log first, into our bitmap: guest-physical page g is RAM page g below
	 * the hole, g - (hole's pages) above 4 GiB. */
	uint64_t *log = __atomic_load_n(&d->log, __ATOMIC_ACQUIRE);
	if (log) {
		uint64_t low = gm->low_end / GM_PAGE, high0 = MMIO_HOLE_END / GM_PAGE;
		for (uint64_t w = 0; w < d->log_bytes / 8; w++) {
			if (!__atomic_load_n(&log[w], __ATOMIC_RELAXED))
				continue;
			uint64_t bits = __atomic_exchange_n(&log[w], 0, __ATOMIC_ACQ_REL);
			while (bits) {
				uint64_t g = w * 64 + (uint64_t)__builtin_ctzll(bits);
				bits &= bits - 1;
				uint64_t p = g < low	  ? g
					     : g >= high0 ? low + (g - high0)
							  : UINT64_MAX;
				if (p < d->npages)
					gm_mark_pages(d, p, p);
			}
		}
	}
	for (uint64_t w = 0; w < words; w++) {
		if (!__atomic_load_n(&d->bits[w], __ATOMIC_RELAXED))
			continue;
		uint64_t bits = __atomic_exchange_n(&d->bits[w], 0, __ATOMIC_ACQ_REL);
		if (w == words - 1 && npages % 64)
			bits &= (1ull << (npages % 64)) - 1;
		n += (uint64_t)__builtin_popcountll(bits);
		bm[w] |= bits;
	}
	return n;
}
