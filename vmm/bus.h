/* A bus for port I/O or MMIO: the one trap table (as kvmtool's mmio.c), one handler signature,
 * and regions that can be added, removed and moved while vCPUs run (PCI BARs move).
 *
 * Readers never lock. The regions live in a sorted array that is never changed once published:
 * a writer (under the bus mutex) builds a new array and swaps the pointer atomically. A reader
 * announces itself in its own slot (an odd sequence number while it dispatches, even outside),
 * loads the pointer and binary-searches. An old array is freed only once every reader that
 * could still hold it has left dispatch (RCU-like grace periods with per-reader counters,
 * checked without blocking on every update; bus_synchronize() waits for them). The fast path
 * costs two stores to the reader's own cache line and one fence; no shared line is written.
 *
 * A handler may add, remove or move regions itself (a PCI config write moving a BAR): the
 * update never waits for readers, so it cannot wait for itself. After bus_remove() returns, a
 * vCPU that was already dispatching may still call the old handler once; whoever frees a
 * handler's data calls bus_synchronize() first (never from inside a handler).
 *
 * Accesses nobody claims read as all ones and are otherwise ignored: a guest poking at a
 * missing device only hurts itself.
 */
#ifndef MINIVM_BUS_H
#define MINIVM_BUS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"

#define BUS_MAX_REGIONS 1024
#define BUS_MAX_READERS 72 /* one per vCPU (VM_MAX_CPUS), a few for other threads and tests */

/* offset is the offset inside the region; data holds len (1, 2, 4 or 8) little-endian bytes. */
typedef void (*io_handler_fn)(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
			      bool is_write);

struct bus_region {
	uint64_t base, len;
	io_handler_fn fn;
	void *opaque;
	const char *name;
};

/* One published, immutable, sorted array of regions. */
struct bus_table {
	unsigned n;
	struct bus_region r[];
};

struct bus_reader {
	uint64_t seq; /* odd while dispatching */
	char pad[64 - sizeof(uint64_t)];
} __attribute__((aligned(64)));

/* A table replaced but maybe still in use: freed once each reader's sequence number moved on
 * from what it was at the swap (or was even then). */
struct bus_retired {
	struct bus_retired *next;
	struct bus_table *table;
	uint64_t seen[BUS_MAX_READERS];
};

struct bus {
	const char *name; /* "port" or "mmio" */
	struct bus_table *cur;
	pthread_mutex_t lock; /* writers */
	struct bus_retired *retired;
	unsigned long unclaimed; /* accesses no region claimed (for diagnostics) */
	unsigned long updates;
	struct bus_reader readers[BUS_MAX_READERS];
};

int bus_init(struct bus *bus, const char *name, mc_err *err);
/* Frees every table: no reader may be dispatching (after the vCPUs are gone). */
void bus_destroy(struct bus *bus);

/* Register [base, base+len); fails on overlap, an empty or wrapping range, or a full bus. */
int bus_add(struct bus *bus, uint64_t base, uint64_t len, io_handler_fn fn, void *opaque,
	    const char *name, mc_err *err);
/* Remove the region that starts at base. */
int bus_remove(struct bus *bus, uint64_t base, mc_err *err);
/* Move the region at old_base to new_base in one update (no moment without it). */
int bus_move(struct bus *bus, uint64_t old_base, uint64_t new_base, mc_err *err);
/* Wait until no reader can still use a table replaced before this call. Not from a handler. */
void bus_synchronize(struct bus *bus);
/* Free what no reader can use any more, without waiting. */
void bus_reclaim(struct bus *bus);

/* Dispatch one access as reader `reader` (the vCPU id; each thread uses its own slot): returns
 * true when a region claimed it. */
bool bus_dispatch(struct bus *bus, unsigned reader, uint64_t addr, uint8_t *data, uint32_t len,
		  bool is_write);
/* The region containing addr in the current table, copied out (false when none). */
bool bus_find(struct bus *bus, uint64_t addr, struct bus_region *out);

#endif
