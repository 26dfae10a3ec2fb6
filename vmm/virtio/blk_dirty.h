/* The blocks of a disk image the guest wrote, for copy-storage live migration
 * (docs/migration.md, "Copy-storage").
 *
 * One bit per BLK_DIRTY_BLOCK bytes of the image (the last block may be shorter). virtio-blk's
 * I/O thread marks the range of every write, discard and write-zeroes when its completion
 * arrives (the bytes are in the file then: a block read after the take that cleared its bit
 * sees them, and a write that completes after that take marks it again for the next round).
 * Marking is skipped while tracking is off; one atomic OR per word otherwise.
 *
 *   blk_dirty_init   the bitmap for an image of size bytes; blk_dirty_free
 *   blk_dirty_start  clear, marking on (the migration's thread, before its first pass)
 *   blk_dirty_mark   [off, off + len) was written (any thread; clamped to the image)
 *   blk_dirty_take   OR the marked blocks into a caller's bitmap and clear them
 *   blk_dirty_stop   marking off
 *
 * 64 KiB blocks: drive-mirror's default granularity. A 4 KiB write then resends 64 KiB (the
 * rounds after the first pass are the guest's working set, small), and the bitmap is 2 KiB per
 * GiB of image: a 1 TiB disk needs 2 MiB, and a round's scan of it is short.
 */
#ifndef MINIVM_VIRTIO_BLK_DIRTY_H
#define MINIVM_VIRTIO_BLK_DIRTY_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"

#define BLK_DIRTY_SHIFT 16u
#define BLK_DIRTY_BLOCK (1u << BLK_DIRTY_SHIFT)

struct blk_dirty {
	uint64_t size;	 /* the image's bytes */
	uint64_t blocks; /* bits */
	uint64_t *bits;	 /* (blocks + 63) / 64 words, __atomic builtins */
	bool on;	 /* __atomic */
};

int blk_dirty_init(struct blk_dirty *d, uint64_t size, mc_err *err);
void blk_dirty_free(struct blk_dirty *d);
void blk_dirty_start(struct blk_dirty *d);
void blk_dirty_stop(struct blk_dirty *d);
void blk_dirty_mark(struct blk_dirty *d, uint64_t off, uint64_t len);
/* OR the marked blocks into out ((blocks + 63) / 64 words) and clear them; returns how many
 * were marked. */
uint64_t blk_dirty_take(struct blk_dirty *d, uint64_t *out);
/* Words of a bitmap of d's blocks. */
static inline uint64_t blk_dirty_words(const struct blk_dirty *d)
{
	return (d->blocks + 63) / 64;
}

#endif
