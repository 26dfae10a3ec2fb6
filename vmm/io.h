/* One trap table for port I/O and MMIO (as kvmtool's mmio.c): devices register address ranges
 * with one handler signature before the vCPUs start; the table is read-only afterwards, so the
 * vCPU threads look it up without locks. Accesses nobody claims read as all ones and are
 * otherwise ignored: a guest poking at a missing device only hurts itself.
 */
#ifndef MINIVM_IO_H
#define MINIVM_IO_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"

#define IO_MAX_REGIONS 32

/* addr is the offset inside the region; data holds len (1, 2, 4 or 8) little-endian bytes. */
typedef void (*io_handler_fn)(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
			      bool is_write);

struct io_region {
	uint64_t base, len;
	io_handler_fn fn;
	void *opaque;
	const char *name;
};

struct io_bus {
	const char *name; /* "port" or "mmio" */
	struct io_region r[IO_MAX_REGIONS];
	unsigned n;
	unsigned long unclaimed; /* accesses no region claimed (for diagnostics) */
};

/* Register [base, base+len); fails on overlap or a full table. */
int io_register(struct io_bus *bus, uint64_t base, uint64_t len, io_handler_fn fn, void *opaque,
		const char *name, mc_err *err);
/* Dispatch one access; returns the region or NULL when unclaimed. */
const struct io_region *io_dispatch(struct io_bus *bus, uint64_t addr, uint8_t *data, uint32_t len,
				    bool is_write);

#endif
