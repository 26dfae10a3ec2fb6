#include "io.h"

#include <string.h>

int io_register(struct io_bus *bus, uint64_t base, uint64_t len, io_handler_fn fn, void *opaque,
		const char *name, mc_err *err)
{
	if (len == 0 || base + len < base)
		return mc_errorf(err, 0, "%s %s: bad range", bus->name, name);
	if (bus->n == IO_MAX_REGIONS)
		return mc_errorf(err, 0, "%s %s: trap table full", bus->name, name);
	unsigned pos = 0;
	while (pos < bus->n && bus->r[pos].base < base)
		pos++;
	if ((pos > 0 && bus->r[pos - 1].base + bus->r[pos - 1].len > base) ||
	    (pos < bus->n && base + len > bus->r[pos].base))
		return mc_errorf(err, 0, "%s %s at 0x%llx overlaps another device", bus->name, name,
				 (unsigned long long)base);
	memmove(&bus->r[pos + 1], &bus->r[pos], (bus->n - pos) * sizeof(bus->r[0]));
	bus->r[pos] = (struct io_region){base, len, fn, opaque, name};
	bus->n++;
	return 0;
}

const struct io_region *io_dispatch(struct io_bus *bus, uint64_t addr, uint8_t *data, uint32_t len,
				    bool is_write)
{
	unsigned lo = 0, hi = bus->n;
	while (lo < hi) { /* binary search on the sorted, non-overlapping ranges */
		unsigned mid = (lo + hi) / 2;
		const struct io_region *r = &bus->r[mid];
		if (addr < r->base) {
			hi = mid;
		} else if (addr - r->base >= r->len) {
			lo = mid + 1;
		} else {
			r->fn(r->opaque, addr - r->base, data, len, is_write);
			return r;
		}
	}
	__atomic_add_fetch(&bus->unclaimed, 1, __ATOMIC_RELAXED);
	if (!is_write)
		memset(data, 0xff, len);
	return NULL;
}
