/* The blocks of a disk image the guest wrote (blk_dirty.h). */
#include "virtio/blk_dirty.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int blk_dirty_init(struct blk_dirty *d, uint64_t size, mc_err *err)
{
	*d = (struct blk_dirty){.size = size,
				.blocks = (size + BLK_DIRTY_BLOCK - 1) >> BLK_DIRTY_SHIFT};
	d->bits = calloc(blk_dirty_words(d) ? blk_dirty_words(d) : 1, sizeof(uint64_t));
	if (!d->bits)
		return mc_errorf(err, ENOMEM, "dirty block bitmap (%llu blocks)",
				 (unsigned long long)d->blocks);
	return 0;
}

void blk_dirty_free(struct blk_dirty *d)
{
	free(d->bits);
	d->bits = NULL;
}

void blk_dirty_start(struct blk_dirty *d)
{
	for (uint64_t w = 0; w < blk_dirty_words(d); w++)
		__atomic_store_n(&d->bits[w], 0, __ATOMIC_RELAXED);
	__atomic_store_n(&d->on, true, __ATOMIC_SEQ_CST);
}

void blk_dirty_stop(struct blk_dirty *d)
{
	__atomic_store_n(&d->on, false, __ATOMIC_SEQ_CST);
}

void blk_dirty_mark(struct blk_dirty *d, uint64_t off, uint64_t len)
{
	/* The write's bytes are in the file before this (seq_cst pairs with the take's
	 * exchange: a take that misses the bit is followed by a read that sees the bytes). */
	if (!__atomic_load_n(&d->on, __ATOMIC_SEQ_CST) || !d->bits || !len || off >= d->size)
		return;
	if (len > d->size - off)
		len = d->size - off;
	uint64_t b = off >> BLK_DIRTY_SHIFT, last = (off + len - 1) >> BLK_DIRTY_SHIFT;
	while (b <= last) {
		unsigned bit = (unsigned)(b % 64);
		uint64_t n = last - b + 1 < 64 - bit ? last - b + 1 : 64 - bit;
		uint64_t mask = (n == 64 ? ~0ull : ((1ull << n) - 1)) << bit;
		__atomic_fetch_or(&d->bits[b / 64], mask, __ATOMIC_SEQ_CST);
		b += n;
	}
}

uint64_t blk_dirty_take(struct blk_dirty *d, uint64_t *out)
{
	uint64_t n = 0;
	for (uint64_t w = 0; d->bits && w < blk_dirty_words(d); w++) {
		if (!__atomic_load_n(&d->bits[w], __ATOMIC_RELAXED))
			continue;
		uint64_t v = __atomic_exchange_n(&d->bits[w], 0, __ATOMIC_SEQ_CST);
		n += (uint64_t)__builtin_popcountll(v);
		out[w] |= v;
	}
	return n;
}
