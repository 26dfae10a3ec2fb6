/* Dirty-page tracking (dirty.h, docs/migration.md). */
#include "dirty.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "gm_dirty.h"
#include "log.h"
#include "memslots.h"
#include "vm.h"

#define PAGE 4096u

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
	bool manual;  /* KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2: the log is cleared by us */
	bool logging; /* some slot has KVM_MEM_LOG_DIRTY_PAGES */
};

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
	if (caps > 0) {
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
	for (unsigned i = 0; i < d->nslots; i++) {
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
	if (!d->manual) /* KVM_GET_DIRTY_LOG cleared and protected as it read */
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
	dirty_free(d);
}

void dirty_free(struct dirty *d)
{
	if (!d)
		return;
	gm_dirty_log_stop(&d->vm->gm);
	slots_free(d);
	free(d);
}
