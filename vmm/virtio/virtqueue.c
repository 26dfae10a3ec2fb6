/* The device side of a split virtqueue (virtqueue.h). Ring layout (virtio 1.2, 2.7):
 *   descriptor table: size x {le64 addr; le32 len; le16 flags; le16 next}
 *   avail: le16 flags; le16 idx; le16 ring[size]; le16 used_event
 *   used:  le16 flags; le16 idx; {le32 id; le32 len} ring[size]; le16 avail_event
 * Ring fields are accessed with atomics on their own (aligned) addresses: the driver writes
 * them concurrently. Descriptors are copied once, then checked.
 */
#include "virtio/virtqueue.h"

#include <errno.h>
#include <string.h>

#include "bytes.h"
#include "gm_dirty.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "virtqueue.c accesses the little-endian rings natively"
#endif

#define DESC_SIZE 16u

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

static uint16_t ld16(const uint8_t *p, int order)
{
	return __atomic_load_n((const uint16_t *)(const void *)p, order);
}
static void st16(uint8_t *p, uint16_t v, int order)
{
	__atomic_store_n((uint16_t *)(void *)p, v, order);
}
static void st32(uint8_t *p, uint32_t v)
{
	__atomic_store_n((uint32_t *)(void *)p, v, __ATOMIC_RELAXED);
}

static uint64_t avail_bytes(uint32_t size)
{
	return 6 + 2 * (uint64_t)size;
}
static uint64_t used_bytes(uint32_t size)
{
	return 6 + 8 * (uint64_t)size;
}
static bool has(const struct virtq *vq, unsigned bit)
{
	return vq->features >> bit & 1;
}

static void read_desc(const uint8_t *table, uint32_t i, struct desc *d)
{
	uint8_t b[DESC_SIZE];
	memcpy(b, table + (size_t)i * DESC_SIZE, sizeof(b));
	d->addr = get64(b);
	d->len = get32(b + 8);
	d->flags = get16(b + 12);
	d->next = get16(b + 14);
}

/* ---- minivm's writes into guest RAM, marked for migration (gm_dirty.h) ---- */

/* Whether a migration wants our writes marked; our writes before the look (see gm_mark). */
static bool marking(const struct virtq *vq)
{
	struct gm_dirty *d = vq->gm->dirty;
	if (!d)
		return false;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return __atomic_load_n(&d->active, __ATOMIC_RELAXED);
}

/* The used ring's bytes [off, off + len) were written. */
static void mark_used(const struct virtq *vq, size_t off, size_t len)
{
	if (marking(vq))
		gm_mark(vq->gm, vq->used + off, len);
}

/* The device wrote the first len bytes of chain head's writable buffers (its used length):
 * walk the chain again (the driver does not reuse it before it sees the used element) and mark
 * them. Every index and address is checked as in walk(); a chain the driver changed meanwhile
 * only costs its own pages. */
static void mark_chain(const struct virtq *vq, uint16_t head, uint32_t len)
{
	const uint8_t *table = vq->desc;
	uint32_t n = vq->size, i = head, seen = 0;
	bool indirect = false;
	while (len && i < n && ++seen <= n) {
		struct desc d;
		read_desc(table, i, &d);
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			if (indirect || d.len % DESC_SIZE || d.len / DESC_SIZE > VIRTQ_MAX_SIZE ||
			    !(table = gm_ptr(vq->gm, d.addr, d.len)))
				return;
			indirect = true;
			n = d.len / DESC_SIZE;
			i = seen = 0;
			continue;
		}
		if (d.flags & VIRTQ_DESC_F_WRITE) {
			uint32_t k = d.len < len ? d.len : len;
			void *p = gm_ptr(vq->gm, d.addr, k);
			if (p)
				gm_mark(vq->gm, p, k);
			len -= k;
		}
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return;
		i = d.next;
	}
}

void virtq_init(struct virtq *vq, const struct guest_mem *gm)
{
	*vq = (struct virtq){.gm = gm};
}

void virtq_reset(struct virtq *vq)
{
	virtq_init(vq, vq->gm);
}

static int resolve(const struct virtq *vq, uint64_t gpa, uint64_t len, uint64_t align,
		   const char *what, uint8_t **out, mc_err *err)
{
	if (gpa & (align - 1))
		return mc_errorf(err, EINVAL, "virtqueue %s at %#llx: not %llu-byte aligned", what,
				 (unsigned long long)gpa, (unsigned long long)align);
	uint8_t *p = gm_ptr(vq->gm, gpa, len);
	if (!p)
		return mc_errorf(err, EFAULT, "virtqueue %s [%#llx, +%#llx): outside guest RAM",
				 what, (unsigned long long)gpa, (unsigned long long)len);
	if ((uintptr_t)p & (align - 1))
		return mc_errorf(err, EINVAL, "virtqueue %s: host mapping not aligned", what);
	*out = p;
	return 0;
}

int virtq_enable(struct virtq *vq, mc_err *err)
{
	uint32_t n = vq->size;
	if (n == 0 || n > VIRTQ_MAX_SIZE || (n & (n - 1)))
		return mc_errorf(err, EINVAL, "virtqueue size %u: not a power of two in [1, %u]", n,
				 VIRTQ_MAX_SIZE);
	uint8_t *d, *a, *u;
	if (resolve(vq, vq->desc_gpa, DESC_SIZE * (uint64_t)n, 16, "descriptor table", &d, err) <
		0 ||
	    resolve(vq, vq->avail_gpa, avail_bytes(n), 2, "available ring", &a, err) < 0 ||
	    resolve(vq, vq->used_gpa, used_bytes(n), 4, "used ring", &u, err) < 0)
		return -1;
	vq->desc = d;
	vq->avail = a;
	vq->used = u;
	vq->enabled = true;
	return 0;
}

uint16_t virtq_pending(const struct virtq *vq)
{
	if (!vq->enabled || vq->broken)
		return 0;
	return (uint16_t)(ld16(vq->avail + 2, __ATOMIC_ACQUIRE) - vq->last_avail_idx);
}

/* Walk the chain starting at head into e. Every index, address, length and flag is checked
 * here; at most `n` descriptors are visited per table. */
static int walk(struct virtq *vq, struct virtq_elem *e, uint16_t head, mc_err *err)
{
	const uint8_t *table = vq->desc;
	uint32_t n = vq->size, i = head, seen = 0;
	bool indirect = false;
	for (;;) {
		if (i >= n)
			return mc_errorf(err, EINVAL, "descriptor index %u >= %s size %u", i,
					 indirect ? "indirect table" : "queue", n);
		if (++seen > n)
			return mc_errorf(err, EINVAL, "chain longer than %u (a loop?)", n);
		struct desc d;
		read_desc(table, i, &d);
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			if (!has(vq, VIRTIO_F_INDIRECT_DESC))
				return mc_errorf(err, EINVAL,
						 "indirect descriptor %u: feature not negotiated",
						 i);
			if (indirect)
				return mc_errorf(err, EINVAL,
						 "indirect descriptor inside an indirect table");
			if (seen != 1)
				return mc_errorf(err, EINVAL,
						 "indirect descriptor %u not at the chain's head",
						 i);
			if (d.flags & VIRTQ_DESC_F_NEXT)
				return mc_errorf(err, EINVAL,
						 "indirect descriptor %u has VIRTQ_DESC_F_NEXT", i);
			if (d.len == 0 || d.len % DESC_SIZE || d.len / DESC_SIZE > VIRTQ_MAX_SIZE)
				return mc_errorf(
				    err, EINVAL,
				    "indirect table length %u: not a non-zero multiple of %u up to "
				    "%u entries",
				    d.len, DESC_SIZE, VIRTQ_MAX_SIZE);
			table = gm_ptr(vq->gm, d.addr, d.len);
			if (!table)
				return mc_errorf(err, EFAULT,
						 "indirect table [%#llx, +%#x): outside guest RAM",
						 (unsigned long long)d.addr, d.len);
			indirect = true;
			n = d.len / DESC_SIZE;
			i = 0;
			seen = 0;
			continue;
		}
		if (d.len == 0)
			return mc_errorf(err, EINVAL, "descriptor %u: zero length", i);
		void *p = gm_ptr(vq->gm, d.addr, d.len);
		if (!p)
			return mc_errorf(err, EFAULT,
					 "descriptor %u [%#llx, +%#x): outside guest RAM", i,
					 (unsigned long long)d.addr, d.len);
		bool wr = d.flags & VIRTQ_DESC_F_WRITE;
		if (!wr && e->n_in)
			return mc_errorf(err, EINVAL,
					 "descriptor %u: readable after a writable one", i);
		if (e->n_out + e->n_in >= e->iov_max)
			return mc_errorf(err, EINVAL, "more than %u buffers", e->iov_max);
		e->iov[e->n_out + e->n_in] = (struct iovec){.iov_base = p, .iov_len = d.len};
		if (wr) {
			e->n_in++;
			e->in_len += d.len;
		} else {
			e->n_out++;
			e->out_len += d.len;
		}
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		i = d.next;
	}
}

int virtq_pop(struct virtq *vq, struct virtq_elem *e, mc_err *err)
{
	e->head = 0;
	e->n_out = e->n_in = 0;
	e->out_len = e->in_len = 0;
	if (!vq->enabled || vq->broken) {
		mc_errorf(err, EINVAL, "virtqueue %s",
			  vq->broken ? "broken, needs a reset" : "not enabled");
		return VIRTQ_BROKEN;
	}
	uint16_t avail_idx = ld16(vq->avail + 2, __ATOMIC_ACQUIRE);
	uint16_t ahead = (uint16_t)(avail_idx - vq->last_avail_idx);
	if (ahead > vq->size) {
		vq->broken = true;
		mc_errorf(err, EINVAL, "avail.idx %u is %u ahead of %u (queue size %u)", avail_idx,
			  ahead, vq->last_avail_idx, vq->size);
		return VIRTQ_BROKEN;
	}
	if (ahead == 0)
		return VIRTQ_EMPTY;
	uint16_t head =
	    ld16(vq->avail + 4 + 2 * (vq->last_avail_idx & (vq->size - 1)), __ATOMIC_RELAXED);
	if (head >= vq->size) {
		vq->broken = true;
		mc_errorf(err, EINVAL, "avail ring entry %u: head %u >= queue size %u",
			  vq->last_avail_idx, head, vq->size);
		return VIRTQ_BROKEN;
	}
	vq->last_avail_idx++;
	if (has(vq, VIRTIO_F_EVENT_IDX) && !(vq->hold_event && vq->notify_off)) {
		st16(vq->used + 4 + 8 * (size_t)vq->size, vq->last_avail_idx, __ATOMIC_RELAXED);
		mark_used(vq, 4 + 8 * (size_t)vq->size, 2);
	}
	e->head = head;
	if (walk(vq, e, head, err) < 0) {
		mc_wrap(err, "chain at head %u", head);
		return VIRTQ_BAD_CHAIN;
	}
	return VIRTQ_OK;
}

int virtq_push(struct virtq *vq, uint16_t head, uint32_t len, mc_err *err)
{
	if (!vq->enabled)
		return mc_errorf(err, EINVAL, "virtqueue not enabled");
	if (head >= vq->size)
		return mc_errorf(err, EINVAL, "used head %u >= queue size %u", head, vq->size);
	uint8_t *el = vq->used + 4 + 8 * (size_t)(vq->used_idx & (vq->size - 1));
	st32(el, head);
	st32(el + 4, len);
	vq->used_idx++;
	st16(vq->used + 2, vq->used_idx, __ATOMIC_RELEASE);
	if (marking(vq)) {
		mark_chain(vq, head, len);
		mark_used(vq, 2, 2);
		mark_used(vq, (size_t)(el - vq->used), 8);
	}
	return 0;
}

int virtq_fill(struct virtq *vq, unsigned i, uint16_t head, uint32_t len, mc_err *err)
{
	if (!vq->enabled)
		return mc_errorf(err, EINVAL, "virtqueue not enabled");
	if (head >= vq->size || i >= vq->size)
		return mc_errorf(err, EINVAL, "used head %u (element %u) >= queue size %u", head, i,
				 vq->size);
	uint8_t *el = vq->used + 4 + 8 * (size_t)((vq->used_idx + i) & (vq->size - 1));
	st32(el, head);
	st32(el + 4, len);
	return 0;
}

void virtq_flush(struct virtq *vq, unsigned n)
{
	if (!vq->enabled || n == 0)
		return;
	uint16_t first = vq->used_idx;
	vq->used_idx = (uint16_t)(vq->used_idx + n);
	st16(vq->used + 2, vq->used_idx, __ATOMIC_RELEASE);
	if (!marking(vq))
		return;
	/* The elements virtq_fill wrote: their chains' buffers (written before the fill, and
	 * after it: virtio-net's num_buffers), and the ring. */
	mark_used(vq, 2, 2);
	for (unsigned i = 0; i < n && i < vq->size; i++) {
		size_t off = 4 + 8 * (size_t)((uint16_t)(first + i) & (vq->size - 1));
		uint32_t el[2];
		memcpy(el, vq->used + off, sizeof(el));
		if (el[0] < vq->size)
			mark_chain(vq, (uint16_t)el[0], el[1]);
		mark_used(vq, off, 8);
	}
}

void virtq_unpop(struct virtq *vq, uint16_t n)
{
	vq->last_avail_idx = (uint16_t)(vq->last_avail_idx - n);
	if (vq->enabled && has(vq, VIRTIO_F_EVENT_IDX)) {
		st16(vq->used + 4 + 8 * (size_t)vq->size, vq->last_avail_idx, __ATOMIC_RELAXED);
		mark_used(vq, 4 + 8 * (size_t)vq->size, 2);
	}
}

bool virtq_should_notify(struct virtq *vq)
{
	if (!vq->enabled)
		return false;
	/* used.idx is published; order it before reading the driver's suppression fields
	 * (the driver does the mirror image). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!has(vq, VIRTIO_F_EVENT_IDX))
		return !(ld16(vq->avail, __ATOMIC_RELAXED) & VRING_AVAIL_F_NO_INTERRUPT);
	uint16_t old = vq->signalled_used, new_idx = vq->used_idx;
	bool valid = vq->signalled_used_valid;
	vq->signalled_used = new_idx;
	vq->signalled_used_valid = true;
	uint16_t event = ld16(vq->avail + 4 + 2 * (size_t)vq->size, __ATOMIC_RELAXED);
	return !valid || vring_need_event(event, new_idx, old);
}

bool virtq_set_notify(struct virtq *vq, bool enable)
{
	if (!vq->enabled || vq->broken)
		return false;
	vq->notify_off = !enable;
	if (has(vq, VIRTIO_F_EVENT_IDX)) {
		/* pop keeps avail_event at last_avail_idx (unless hold_event: then it stays
		 * where the last enable put it, and the driver does not kick until the next
		 * enable), so the driver kicks at most once per batch we have not taken yet. */
		if (enable) {
			st16(vq->used + 4 + 8 * (size_t)vq->size, vq->last_avail_idx,
			     __ATOMIC_RELAXED);
			mark_used(vq, 4 + 8 * (size_t)vq->size, 2);
		}
	} else {
		uint16_t f = ld16(vq->used, __ATOMIC_RELAXED);
		f = enable ? (uint16_t)(f & ~VRING_USED_F_NO_NOTIFY)
			   : (uint16_t)(f | VRING_USED_F_NO_NOTIFY);
		st16(vq->used, f, __ATOMIC_RELAXED);
		mark_used(vq, 0, 2);
	}
	if (!enable)
		return false;
	/* Our store before the driver's next avail.idx read; its avail.idx store before our
	 * re-check: a buffer added meanwhile is seen here or kicked. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return virtq_pending(vq) != 0;
}

void virtq_save(const struct virtq *vq, struct state_w *w)
{
	state_put32(w, vq->size);
	state_put8(w, vq->enabled);
	state_put64(w, vq->desc_gpa);
	state_put64(w, vq->avail_gpa);
	state_put64(w, vq->used_gpa);
	state_put64(w, vq->features);
	state_put16(w, vq->last_avail_idx);
	state_put16(w, vq->used_idx);
	state_put16(w, vq->signalled_used);
	state_put8(w, vq->signalled_used_valid);
	state_put8(w, vq->broken);
}

int virtq_load(struct virtq *vq, struct state_r *r, mc_err *err)
{
	struct virtq v;
	virtq_init(&v, vq->gm);
	v.size = state_get32(r);
	uint8_t enabled = state_get8(r);
	v.desc_gpa = state_get64(r);
	v.avail_gpa = state_get64(r);
	v.used_gpa = state_get64(r);
	v.features = state_get64(r);
	v.last_avail_idx = state_get16(r);
	v.used_idx = state_get16(r);
	v.signalled_used = state_get16(r);
	uint8_t valid = state_get8(r), broken = state_get8(r);
	if (r->bad)
		return mc_errorf(err, EINVAL, "virtqueue state: cut short");
	if (enabled > 1 || valid > 1 || broken > 1)
		return mc_errorf(err, EINVAL, "virtqueue state: bad flag byte");
	v.signalled_used_valid = valid;
	v.broken = broken;
	if (enabled && virtq_enable(&v, err) < 0)
		return mc_wrap(err, "virtqueue state");
	if (!enabled && v.size > VIRTQ_MAX_SIZE)
		return mc_errorf(err, EINVAL, "virtqueue state: size %u", v.size);
	*vq = v;
	return 0;
}
