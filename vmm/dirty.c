/* Dirty-page tracking (dirty.h, docs/migration.md). */
#include "dirty.h"

#include <errno.h>
#include <pthread.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "gm_dirty.h"
#include "log.h"
#include "memslots.h"
#include "util.h"
#include "vm.h"

#define PAGE	      4096u
#define DIRTY_REAP_MS 10

struct dslot {
	uint32_t id, flags; /* flags: as before tracking */
	uint64_t page0, npages;
	uint64_t *bm; /* the last KVM_GET_DIRTY_LOG */
};

struct dirty {
	struct vm *vm;
	uint64_t npages;
	struct dslot slots[MEMSLOTS_MAX];
	unsigned nslots;
	bool manual;   /* KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2: the log is cleared by us */
	bool logging;  /* some slot has KVM_MEM_LOG_DIRTY_PAGES */
	uint64_t *acc; /* ring: harvested pages not collected yet (vm->ring_lock) */
	/* ring: a thread harvests every DIRTY_REAP_MS, so that no ring ever gets near full
	 * (PVM here lets a ring overflow instead of exiting at its soft limit: see
	 * docs/migration.md) */
	pthread_t reaper;
	bool reaping, stop;
	pthread_cond_t cond; /* vm->ring_lock */
	uint64_t ring0;	     /* vm->ring_harvested at the start */
};

int dirty_track_parse(const char *s, enum dirty_track *t, mc_err *err)
{
	if (strcmp(s, "log") == 0)
		*t = DIRTY_TRACK_LOG;
	else if (strcmp(s, "ring") == 0)
		*t = DIRTY_TRACK_RING;
	else
		return mc_errorf(err, 0, "`%s`: the dirty tracker is `log` or `ring`", s);
	return 0;
}

const char *dirty_track_name(enum dirty_track t)
{
	return t == DIRTY_TRACK_RING ? "ring" : "log";
}

int dirty_ring_enable(struct vm *vm, uint32_t ring_bytes, mc_err *err)
{
	long cap = KVM_CAP_DIRTY_LOG_RING_ACQ_REL;
	int max = ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, cap);
	if (max <= 0) {
		cap = KVM_CAP_DIRTY_LOG_RING;
		max = ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, cap);
	}
	if (max <= 0)
		return mc_errorf(err, ENOTSUP,
				 "--dirty-track ring: this KVM has no dirty ring "
				 "(KVM_CAP_DIRTY_LOG_RING)");
	if (!ring_bytes)
		ring_bytes = (uint32_t)max < (1u << 20) ? (uint32_t)max : 1u << 20;
	if (ring_bytes > (uint32_t)max || ring_bytes < 4096 || (ring_bytes & (ring_bytes - 1)))
		return mc_errorf(err, 0, "dirty ring of %u bytes (a power of 2, 4 KiB to %d)",
				 ring_bytes, max);
	struct kvm_enable_cap ec = {.cap = (uint32_t)cap, .args[0] = ring_bytes};
	if (ioctl(vm->vm_fd, KVM_ENABLE_CAP, &ec) < 0)
		return mc_errorf(err, errno, "KVM_ENABLE_CAP(%s, %u bytes)",
				 cap == KVM_CAP_DIRTY_LOG_RING ? "DIRTY_LOG_RING"
							       : "DIRTY_LOG_RING_ACQ_REL",
				 ring_bytes);
	pthread_mutex_init(&vm->ring_lock, NULL);
	vm->ring_entries = ring_bytes / (uint32_t)sizeof(struct kvm_dirty_gfn);
	return 0;
}

/* Every vCPU's new ring entries into bm (NULL: dropped), then KVM_RESET_DIRTY_RINGS.
 * vm->ring_lock held. */
static int ring_harvest(struct vm *vm, uint64_t *bm, mc_err *err)
{
	/* KVM slot id -> first page, pages (RAM slots only) */
	uint64_t page0[MEMSLOTS_MAX] = {0}, np[MEMSLOTS_MAX] = {0};
	uint64_t total = vm->gm.size / PAGE;
	for (unsigned i = 0; i < MEMSLOTS_MAX; i++) {
		const struct memslot *s = &vm->slots.s[i];
		uint8_t *h = s->host;
		if (!s->used || s->id >= MEMSLOTS_MAX || h < vm->gm.host ||
		    h >= vm->gm.host + vm->gm.size)
			continue;
		page0[s->id] = (uint64_t)(h - vm->gm.host) / PAGE;
		np[s->id] = s->size / PAGE;
	}
	uint32_t mask = vm->ring_entries - 1;
	uint64_t n = 0;
	for (unsigned i = 0; i < vm->ncpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		if (!v->ring)
			continue;
		for (;;) {
			struct kvm_dirty_gfn *e = &v->ring[v->ring_next & mask];
			uint32_t fl = __atomic_load_n(&e->flags, __ATOMIC_ACQUIRE);
			if (!(fl & KVM_DIRTY_GFN_F_DIRTY))
				break;
			uint32_t slot = e->slot; /* address space << 16 | slot: 0 only */
			if (bm && slot < MEMSLOTS_MAX && e->offset < np[slot] &&
			    page0[slot] + e->offset < total) {
				uint64_t p = page0[slot] + e->offset;
				bm[p / 64] |= 1ull << (p % 64);
			}
			__atomic_store_n(&e->flags, KVM_DIRTY_GFN_F_RESET, __ATOMIC_RELEASE);
			v->ring_next++;
			n++;
		}
	}
	/* Always: a reset KVM cut short (it may stop early) leaves entries we marked but it did
	 * not free, and a full ring with nothing new to harvest; it returns how many it freed. */
	for (int i = 0; i < 64; i++) {
		int r = ioctl(vm->vm_fd, KVM_RESET_DIRTY_RINGS, 0);
		if (r < 0 && errno != EINTR)
			return mc_errorf(err, errno, "KVM_RESET_DIRTY_RINGS");
		if (r == 0)
			break;
	}
	vm->ring_harvested += n;
	return 0;
}

static void *reaper(void *arg)
{
	struct dirty *d = arg;
	struct vm *vm = d->vm;
	pthread_mutex_lock(&vm->ring_lock);
	while (!d->stop) {
		struct timespec ts = mc_realtime_after(DIRTY_REAP_MS * 1000000ull);
		pthread_cond_timedwait(&d->cond, &vm->ring_lock, &ts);
		if (d->stop)
			break;
		mc_err err = NULL;
		if (ring_harvest(vm, d->acc, &err) < 0) {
			mc_log_warn("migration: %s", mc_error_text(err));
			mc_error_free(&err);
		}
	}
	pthread_mutex_unlock(&vm->ring_lock);
	return NULL;
}

void dirty_ring_full(struct vm *vm)
{
	mc_err err = NULL;
	pthread_mutex_lock(&vm->ring_lock);
	int r = ring_harvest(vm, vm->ring_bm, &err);
	pthread_mutex_unlock(&vm->ring_lock);
	if (r < 0) /* the vCPU would exit again at once, forever */
		vm_end(vm, VM_FAILED, "dirty ring full: %s", mc_error_text(err));
	mc_error_free(&err);
}

enum dirty_track dirty_tracker(const struct dirty *d)
{
	return d->acc ? DIRTY_TRACK_RING : DIRTY_TRACK_LOG;
}

uint64_t dirty_ring_entries(struct dirty *d)
{
	if (!d->acc)
		return 0;
	pthread_mutex_lock(&d->vm->ring_lock);
	uint64_t n = d->vm->ring_harvested - d->ring0;
	pthread_mutex_unlock(&d->vm->ring_lock);
	return n;
}

static void slots_free(struct dirty *d)
{
	for (unsigned i = 0; i < d->nslots; i++)
		free(d->slots[i].bm);
	d->nslots = 0;
}

int dirty_start(struct vm *vm, struct dirty **out, mc_err *err)
{
	struct dirty *d = calloc(1, sizeof(*d));
	if (!d)
		return mc_errorf(err, ENOMEM, "dirty tracking");
	d->vm = vm;
	d->npages = vm->gm.size / PAGE;
	for (unsigned i = 0; i < MEMSLOTS_MAX; i++) {
		const struct memslot *s = &vm->slots.s[i];
		uint8_t *h = s->host;
		if (!s->used || h < vm->gm.host || h >= vm->gm.host + vm->gm.size)
			continue;
		struct dslot *ds = &d->slots[d->nslots];
		*ds = (struct dslot){.id = s->id,
				     .flags = s->flags,
				     .page0 = (uint64_t)(h - vm->gm.host) / PAGE,
				     .npages = s->size / PAGE};
		if (ds->page0 % 64 || ds->page0 + ds->npages > d->npages) {
			mc_errorf(err, 0, "memory slot %u: not on a 64-page boundary", s->id);
			goto fail;
		}
		ds->bm = calloc((ds->npages + 63) / 64, 8);
		if (!ds->bm) {
			mc_errorf(err, ENOMEM, "dirty bitmap");
			goto fail;
		}
		d->nslots++;
	}
	int caps = ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2);
	if (vm->ring_entries) {
		if (!(d->acc = calloc((d->npages + 63) / 64, 8))) {
			mc_errorf(err, ENOMEM, "dirty bitmap");
			goto fail;
		}
		pthread_mutex_lock(&vm->ring_lock);
		vm->ring_bm = d->acc;
		d->ring0 = vm->ring_harvested;
		pthread_mutex_unlock(&vm->ring_lock);
		pthread_cond_init(&d->cond, NULL);
		int e = pthread_create(&d->reaper, NULL, reaper, d);
		if (e) {
			mc_errorf(err, e, "dirty ring thread");
			goto fail;
		}
		pthread_setname_np(d->reaper, "dirty-ring");
		d->reaping = true;
	} else if (caps > 0) {
		struct kvm_enable_cap ec = {.cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
					    .args[0] =
						KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE |
						((uint64_t)caps & KVM_DIRTY_LOG_INITIALLY_SET)};
		d->manual = ioctl(vm->vm_fd, KVM_ENABLE_CAP, &ec) == 0;
	}
	for (unsigned i = 0; i < d->nslots; i++) {
		if (memslots_set_flags(&vm->slots, d->slots[i].id,
				       d->slots[i].flags | KVM_MEM_LOG_DIRTY_PAGES, err) < 0)
			goto fail;
		d->logging = true;
	}
	if (gm_dirty_log_start(&vm->gm, err) < 0) /* minivm's own writes (gm_dirty.h) */
		goto fail;
	*out = d;
	return 0;
fail:
	dirty_stop(d);
	return -1;
}

int dirty_collect(struct dirty *d, uint64_t *bm, uint64_t *count, mc_err *err)
{
	if (d->acc) {
		struct vm *vm = d->vm;
		pthread_mutex_lock(&vm->ring_lock);
		int r = ring_harvest(vm, d->acc, err);
		for (uint64_t w = 0; w < (d->npages + 63) / 64; w++) {
			bm[w] |= d->acc[w];
			d->acc[w] = 0;
		}
		pthread_mutex_unlock(&vm->ring_lock);
		if (r < 0)
			return -1;
	}
	for (unsigned i = 0; i < d->nslots && !d->acc; i++) {
		struct dslot *ds = &d->slots[i];
		struct kvm_dirty_log dl = {.slot = ds->id, .dirty_bitmap = ds->bm};
		if (ioctl(d->vm->vm_fd, KVM_GET_DIRTY_LOG, &dl) < 0)
			return mc_errorf(err, errno, "KVM_GET_DIRTY_LOG (slot %u)", ds->id);
		uint64_t *p = bm + ds->page0 / 64;
		for (uint64_t w = 0; w < (ds->npages + 63) / 64; w++)
			p[w] |= ds->bm[w];
	}
	/* Pages minivm's own threads wrote into guest RAM (virtio devices: a VMM-side bitmap) are
	 * ORed into bm here, before the count. */
	gm_dirty_take(&d->vm->gm, bm, d->npages);
	uint64_t n = 0;
	for (uint64_t w = 0; w < (d->npages + 63) / 64; w++)
		n += (uint64_t)__builtin_popcountll(bm[w]);
	*count = n;
	return 0;
}

int dirty_reprotect(struct dirty *d, mc_err *err)
{
	if (!d->manual) /* KVM_GET_DIRTY_LOG or the ring's reset protected them already */
		return 0;
	for (unsigned i = 0; i < d->nslots; i++) {
		struct dslot *ds = &d->slots[i];
		struct kvm_clear_dirty_log c = {.slot = ds->id,
						.num_pages = (uint32_t)ds->npages,
						.first_page = 0,
						.dirty_bitmap = ds->bm};
		if (ioctl(d->vm->vm_fd, KVM_CLEAR_DIRTY_LOG, &c) < 0)
			return mc_errorf(err, errno, "KVM_CLEAR_DIRTY_LOG (slot %u)", ds->id);
	}
	return 0;
}

void dirty_stop(struct dirty *d)
{
	if (!d)
		return;
	for (unsigned i = 0; i < d->nslots && d->logging; i++) {
		mc_err err = NULL;
		if (memslots_set_flags(&d->vm->slots, d->slots[i].id, d->slots[i].flags, &err) < 0)
			mc_log_warn("migration: dirty logging stays on: %s", mc_error_text(err));
		mc_error_free(&err);
	}
	if (d->acc) { /* what the rings still hold goes */
		mc_err err = NULL;
		pthread_mutex_lock(&d->vm->ring_lock);
		d->vm->ring_bm = NULL;
		if (ring_harvest(d->vm, NULL, &err) < 0)
			mc_log_warn("migration: %s", mc_error_text(err));
		pthread_mutex_unlock(&d->vm->ring_lock);
		mc_error_free(&err);
	}
	dirty_free(d);
}

void dirty_free(struct dirty *d)
{
	if (!d)
		return;
	gm_dirty_log_stop(&d->vm->gm);
	if (d->reaping) {
		pthread_mutex_lock(&d->vm->ring_lock);
		d->stop = true;
		pthread_cond_broadcast(&d->cond);
		pthread_mutex_unlock(&d->vm->ring_lock);
		pthread_join(d->reaper, NULL);
		pthread_cond_destroy(&d->cond);
	}
	if (d->acc) {
		pthread_mutex_lock(&d->vm->ring_lock);
		d->vm->ring_bm = NULL;
		pthread_mutex_unlock(&d->vm->ring_lock);
		free(d->acc);
	}
	slots_free(d);
	free(d);
}
