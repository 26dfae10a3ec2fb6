/* Guest RAM as seen by minivm: one host mapping, split around the MMIO hole below 4 GiB.
 * Guest physical [0, low_end) maps host[0, low_end); [4 GiB, 4 GiB + size - low_end) maps the
 * rest. Every access from a guest-physical address goes through gm_ptr(), which bounds-checks.
 */
#ifndef MINIVM_GUEST_MEM_H
#define MINIVM_GUEST_MEM_H

#include <stddef.h>
#include <stdint.h>

#include "layout.h"

struct guest_mem {
	uint8_t *host;
	uint64_t size;		/* total RAM bytes */
	uint64_t low_end;	/* end of RAM below the MMIO hole (== size when size <= 3 GiB) */
	struct gm_dirty *dirty; /* minivm's own writes, for migration (gm_dirty.h); NULL: none */
};

static inline void gm_init(struct guest_mem *gm, uint8_t *host, uint64_t size)
{
	gm->host = host;
	gm->size = size;
	gm->low_end = size < MMIO_HOLE_START ? size : MMIO_HOLE_START;
	gm->dirty = NULL;
}

/* Host pointer for [gpa, gpa + len) if it lies entirely inside one RAM range, else NULL. */
static inline void *gm_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	if (gpa < gm->low_end) {
		if (len > gm->low_end - gpa)
			return NULL;
		return gm->host + gpa;
	}
	uint64_t high = gm->size - gm->low_end;
	if (gpa < MMIO_HOLE_END || gpa - MMIO_HOLE_END > high || len > high - (gpa - MMIO_HOLE_END))
		return NULL;
	return gm->host + gm->low_end + (gpa - MMIO_HOLE_END);
}

/* One RAM or reserved range of the guest's memory map (e820 / PVH memmap types). */
enum { MEM_RAM = 1, MEM_RESERVED = 2, MEM_ACPI = 3 };
struct mem_range {
	uint64_t addr, size;
	uint32_t type;
};

/* The guest's memory map; returns the number of ranges written (at most max). */
size_t gm_memory_map(const struct guest_mem *gm, struct mem_range *out, size_t max);

#endif
