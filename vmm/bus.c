/* The bus: published sorted arrays, per-reader sequence numbers, deferred frees (bus.h). */
#include "bus.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

int bus_init(struct bus *bus, const char *name, mc_err *err)
{
	memset(bus, 0, sizeof(*bus));
	bus->name = name;
	bus->cur = calloc(1, sizeof(*bus->cur));
	if (!bus->cur)
		return mc_errorf(err, ENOMEM, "%s bus", name);
	pthread_mutex_init(&bus->lock, NULL);
	return 0;
}

void bus_destroy(struct bus *bus)
{
	if (!bus->cur)
		return;
	while (bus->retired) {
		struct bus_retired *r = bus->retired;
		bus->retired = r->next;
		free(r->table);
		free(r);
	}
	free(bus->cur);
	bus->cur = NULL;
	pthread_mutex_destroy(&bus->lock);
}

/* Can every reader have stopped using r's table? A reader that was outside dispatch at the swap
 * (even) or has changed its sequence number since then cannot hold it. */
static bool grace_over(struct bus *bus, const struct bus_retired *r)
{
	for (unsigned i = 0; i < BUS_MAX_READERS; i++) {
		uint64_t then = r->seen[i];
		if ((then & 1) && __atomic_load_n(&bus->readers[i].seq, __ATOMIC_ACQUIRE) == then)
			return false;
	}
	return true;
}

/* Under the lock. */
static void reclaim_locked(struct bus *bus)
{
	for (struct bus_retired **p = &bus->retired; *p;) {
		struct bus_retired *r = *p;
		if (grace_over(bus, r)) {
			*p = r->next;
			free(r->table);
			free(r);
		} else {
			p = &r->next;
		}
	}
}

void bus_reclaim(struct bus *bus)
{
	pthread_mutex_lock(&bus->lock);
	reclaim_locked(bus);
	pthread_mutex_unlock(&bus->lock);
}

void bus_synchronize(struct bus *bus)
{
	for (;;) {
		pthread_mutex_lock(&bus->lock);
		reclaim_locked(bus);
		bool done = bus->retired == NULL;
		pthread_mutex_unlock(&bus->lock);
		if (done)
			return;
		sched_yield(); /* a reader is inside a handler: it leaves soon */
	}
}

/* Under the lock: publish t, retire the old table. On failure t is freed. */
static int publish(struct bus *bus, struct bus_table *t, mc_err *err)
{
	struct bus_retired *r = malloc(sizeof(*r));
	if (!r) {
		free(t);
		return mc_errorf(err, ENOMEM, "%s bus update", bus->name);
	}
	r->table = __atomic_exchange_n(&bus->cur, t, __ATOMIC_SEQ_CST);
	/* Pairs with the fence in bus_dispatch: a reader whose odd number we do not see here
	 * loads the pointer after the exchange, so it gets the new table. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	for (unsigned i = 0; i < BUS_MAX_READERS; i++)
		r->seen[i] = __atomic_load_n(&bus->readers[i].seq, __ATOMIC_ACQUIRE);
	r->next = bus->retired;
	bus->retired = r;
	bus->updates++;
	reclaim_locked(bus);
	return 0;
}

static struct bus_table *copy_table(const struct bus_table *t, unsigned extra)
{
	struct bus_table *c = malloc(sizeof(*c) + (t->n + extra) * sizeof(c->r[0]));
	if (!c)
		return NULL;
	c->n = t->n;
	memcpy(c->r, t->r, t->n * sizeof(t->r[0]));
	return c;
}

/* Where a region at base would go in t; -1 when [base, base+len) overlaps one (skip: ignore
 * that index, for moves). */
static int slot_for(const struct bus_table *t, uint64_t base, uint64_t len, int skip)
{
	unsigned pos = 0;
	while (pos < t->n && t->r[pos].base < base)
		pos++;
	for (unsigned i = 0; i < t->n; i++) {
		if ((int)i == skip)
			continue;
		const struct bus_region *o = &t->r[i];
		if (base < o->base + o->len && o->base < base + len)
			return -1;
	}
	return (int)pos;
}

static int find_index(const struct bus_table *t, uint64_t base)
{
	for (unsigned i = 0; i < t->n; i++)
		if (t->r[i].base == base)
			return (int)i;
	return -1;
}

int bus_add(struct bus *bus, uint64_t base, uint64_t len, io_handler_fn fn, void *opaque,
	    const char *name, mc_err *err)
{
	if (len == 0 || base + len < base || !fn)
		return mc_errorf(err, 0, "%s %s: bad range", bus->name, name);
	pthread_mutex_lock(&bus->lock);
	const struct bus_table *cur = bus->cur;
	int r = -1;
	int pos = slot_for(cur, base, len, -1);
	if (cur->n >= BUS_MAX_REGIONS) {
		mc_errorf(err, 0, "%s %s: trap table full", bus->name, name);
	} else if (pos < 0) {
		mc_errorf(err, 0, "%s %s at 0x%llx overlaps another device", bus->name, name,
			  (unsigned long long)base);
	} else {
		struct bus_table *t = copy_table(cur, 1);
		if (!t) {
			mc_errorf(err, ENOMEM, "%s %s", bus->name, name);
		} else {
			memmove(&t->r[pos + 1], &t->r[pos],
				(t->n - (unsigned)pos) * sizeof(t->r[0]));
			t->r[pos] = (struct bus_region){base, len, fn, opaque, name};
			t->n++;
			r = publish(bus, t, err);
		}
	}
	pthread_mutex_unlock(&bus->lock);
	return r;
}

int bus_remove(struct bus *bus, uint64_t base, mc_err *err)
{
	pthread_mutex_lock(&bus->lock);
	const struct bus_table *cur = bus->cur;
	int r = -1;
	int i = find_index(cur, base);
	if (i < 0) {
		mc_errorf(err, 0, "%s: no region at 0x%llx", bus->name, (unsigned long long)base);
	} else {
		struct bus_table *t = copy_table(cur, 0);
		if (!t) {
			mc_errorf(err, ENOMEM, "%s: remove", bus->name);
		} else {
			memmove(&t->r[i], &t->r[i + 1], (t->n - (unsigned)i - 1) * sizeof(t->r[0]));
			t->n--;
			r = publish(bus, t, err);
		}
	}
	pthread_mutex_unlock(&bus->lock);
	return r;
}

int bus_move(struct bus *bus, uint64_t old_base, uint64_t new_base, mc_err *err)
{
	pthread_mutex_lock(&bus->lock);
	const struct bus_table *cur = bus->cur;
	int r = -1;
	int i = find_index(cur, old_base);
	if (i < 0) {
		mc_errorf(err, 0, "%s: no region at 0x%llx", bus->name,
			  (unsigned long long)old_base);
	} else if (new_base + cur->r[i].len < new_base ||
		   slot_for(cur, new_base, cur->r[i].len, i) < 0) {
		mc_errorf(err, 0, "%s %s: 0x%llx overlaps another device or wraps", bus->name,
			  cur->r[i].name, (unsigned long long)new_base);
	} else {
		struct bus_table *t = copy_table(cur, 0);
		if (!t) {
			mc_errorf(err, ENOMEM, "%s: move", bus->name);
		} else {
			struct bus_region moved = t->r[i];
			moved.base = new_base;
			memmove(&t->r[i], &t->r[i + 1], (t->n - (unsigned)i - 1) * sizeof(t->r[0]));
			t->n--;
			unsigned pos = 0;
			while (pos < t->n && t->r[pos].base < new_base)
				pos++;
			memmove(&t->r[pos + 1], &t->r[pos], (t->n - pos) * sizeof(t->r[0]));
			t->r[pos] = moved;
			t->n++;
			r = publish(bus, t, err);
		}
	}
	pthread_mutex_unlock(&bus->lock);
	return r;
}

static const struct bus_region *lookup(const struct bus_table *t, uint64_t addr)
{
	unsigned lo = 0, hi = t->n;
	while (lo < hi) { /* binary search on the sorted, non-overlapping ranges */
		unsigned mid = (lo + hi) / 2;
		const struct bus_region *r = &t->r[mid];
		if (addr < r->base)
			hi = mid;
		else if (addr - r->base >= r->len)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

bool bus_dispatch(struct bus *bus, unsigned reader, uint64_t addr, uint8_t *data, uint32_t len,
		  bool is_write)
{
	if (reader >= BUS_MAX_READERS)
		reader = BUS_MAX_READERS - 1;
	uint64_t *seq = &bus->readers[reader].seq;
	uint64_t s = __atomic_load_n(seq, __ATOMIC_RELAXED);
	__atomic_store_n(seq, s + 1, __ATOMIC_RELAXED); /* odd: inside */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	const struct bus_table *t = __atomic_load_n(&bus->cur, __ATOMIC_ACQUIRE);
	const struct bus_region *r = lookup(t, addr);
	if (r)
		r->fn(r->opaque, addr - r->base, data, len, is_write);
	__atomic_store_n(seq, s + 2, __ATOMIC_RELEASE); /* even: outside */
	if (r)
		return true;
	__atomic_add_fetch(&bus->unclaimed, 1, __ATOMIC_RELAXED);
	if (!is_write)
		memset(data, 0xff, len);
	return false;
}

bool bus_find(struct bus *bus, uint64_t addr, struct bus_region *out)
{
	pthread_mutex_lock(&bus->lock);
	const struct bus_region *r = lookup(bus->cur, addr);
	if (r)
		*out = *r;
	pthread_mutex_unlock(&bus->lock);
	return r != NULL;
}
