/* Unit tests for the split virtqueue (vmm/virtio/virtqueue.c) over a plain buffer as guest RAM:
 * hand-made chains, good and bad, EVENT_IDX decisions across the 16-bit wrap, save/load. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/error.h"
#include "vmm/bytes.h"
#include "vmm/virtio/virtqueue.h"

#define MEM   (1u << 20)
#define QSIZE 16u
#define DESC  0x1000u
#define AVAIL 0x2000u
#define USED  0x3000u

static uint8_t *mem;
static struct guest_mem gm;
static struct virtq vq;
static struct iovec iov[QSIZE];
static struct virtq_elem el;

static void put_desc(uint64_t table, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	uint8_t *d = mem + table + 16 * i;
	put64(d, addr);
	put32(d + 8, len);
	put16(d + 12, flags);
	put16(d + 14, next);
}
static void desc(unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	put_desc(DESC, i, addr, len, flags, next);
}
static uint16_t avail_idx(void)
{
	return get16(mem + AVAIL + 2);
}
/* The driver makes head available. */
static void offer(uint16_t head)
{
	uint16_t idx = avail_idx();
	put16(mem + AVAIL + 4 + 2 * (idx % QSIZE), head);
	put16(mem + AVAIL + 2, (uint16_t)(idx + 1));
}
static uint16_t used_idx(void)
{
	return get16(mem + USED + 2);
}

static void fresh(uint64_t features)
{
	memset(mem, 0, MEM);
	virtq_init(&vq, &gm);
	vq.size = QSIZE;
	vq.desc_gpa = DESC;
	vq.avail_gpa = AVAIL;
	vq.used_gpa = USED;
	vq.features = features;
	mc_err err = NULL;
	assert_int_equal(virtq_enable(&vq, &err), 0);
	el = (struct virtq_elem){.iov = iov, .iov_max = QSIZE};
}

static int pop(void)
{
	mc_err err = NULL;
	int rc = virtq_pop(&vq, &el, &err);
	if (rc < 0) {
		assert_non_null(err);
		print_message("    (%s)\n", mc_error_text(err));
	} else {
		assert_null(err);
	}
	mc_error_free(&err);
	return rc;
}

/* A bad chain is consumed: the device fails it (used length 0) and the queue goes on. */
static void expect_bad_chain(uint16_t head)
{
	assert_int_equal(pop(), VIRTQ_BAD_CHAIN);
	assert_int_equal(el.head, head);
	assert_int_equal(virtq_push(&vq, el.head, 0, NULL), 0);
	assert_int_equal(pop(), VIRTQ_EMPTY);
}

static void assert_same(const struct virtq *a, const struct virtq *b)
{
	assert_ptr_equal(a->gm, b->gm);
	assert_int_equal(a->size, b->size);
	assert_int_equal(a->desc_gpa, b->desc_gpa);
	assert_int_equal(a->avail_gpa, b->avail_gpa);
	assert_int_equal(a->used_gpa, b->used_gpa);
	assert_int_equal(a->features, b->features);
	assert_int_equal(a->enabled, b->enabled);
	assert_int_equal(a->last_avail_idx, b->last_avail_idx);
	assert_int_equal(a->used_idx, b->used_idx);
	assert_int_equal(a->signalled_used, b->signalled_used);
	assert_int_equal(a->signalled_used_valid, b->signalled_used_valid);
	assert_int_equal(a->broken, b->broken);
	assert_ptr_equal(a->desc, b->desc);
	assert_ptr_equal(a->avail, b->avail);
	assert_ptr_equal(a->used, b->used);
}

static int setup(void **state)
{
	(void)state;
	mem = aligned_alloc(4096, MEM);
	if (!mem)
		return -1;
	gm_init(&gm, mem, MEM);
	return 0;
}
static int teardown(void **state)
{
	(void)state;
	free(mem);
	return 0;
}

static void good_chain(void **state)
{
	(void)state;
	fresh(0);
	desc(0, 0x10000, 16, VIRTQ_DESC_F_NEXT, 5);
	desc(5, 0x10010, 32, VIRTQ_DESC_F_NEXT, 2);
	desc(2, 0x20000, 64, VIRTQ_DESC_F_WRITE, 0);
	assert_int_equal(pop(), VIRTQ_EMPTY);
	offer(0);
	assert_int_equal(virtq_pending(&vq), 1);
	assert_int_equal(pop(), VIRTQ_OK);
	assert_int_equal(el.head, 0);
	assert_int_equal(el.n_out, 2);
	assert_int_equal(el.n_in, 1);
	assert_int_equal(el.out_len, 48);
	assert_int_equal(el.in_len, 64);
	assert_ptr_equal(iov[0].iov_base, mem + 0x10000);
	assert_int_equal(iov[0].iov_len, 16);
	assert_ptr_equal(iov[1].iov_base, mem + 0x10010);
	assert_ptr_equal(iov[2].iov_base, mem + 0x20000);
	assert_int_equal(iov[2].iov_len, 64);
	assert_int_equal(pop(), VIRTQ_EMPTY);
	assert_int_equal(used_idx(), 0);
	assert_int_equal(virtq_push(&vq, 0, 10, NULL), 0);
	assert_int_equal(used_idx(), 1);
	assert_int_equal(get32(mem + USED + 4), 0);
	assert_int_equal(get32(mem + USED + 8), 10);
	mc_err err = NULL;
	assert_int_equal(virtq_push(&vq, QSIZE, 0, &err), -1);
	mc_error_free(&err);
	/* A chain using every descriptor is not too long. */
	for (unsigned i = 0; i < QSIZE; i++)
		desc(i, 0x10000 + 8 * i, 8, VIRTQ_DESC_F_NEXT, (uint16_t)((i + 1) % QSIZE));
	desc(QSIZE - 1, 0x30000, 8, VIRTQ_DESC_F_WRITE, 0);
	offer(0);
	assert_int_equal(pop(), VIRTQ_OK);
	assert_int_equal(el.n_out, QSIZE - 1);
	assert_int_equal(el.n_in, 1);
}

static void indirect(void **state)
{
	(void)state;
	const uint64_t t = 0x5000;
	put_desc(t, 0, 0x10000, 16, VIRTQ_DESC_F_NEXT, 1);
	put_desc(t, 1, 0x20000, 512, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 2);
	put_desc(t, 2, 0x20200, 1, VIRTQ_DESC_F_WRITE, 0);
	uint8_t table[48];
	memcpy(table, mem + t, sizeof(table));

	/* not negotiated */
	fresh(0);
	memcpy(mem + t, table, sizeof(table));
	desc(3, t, 48, VIRTQ_DESC_F_INDIRECT, 0);
	offer(3);
	expect_bad_chain(3);

	fresh(1ull << VIRTIO_F_INDIRECT_DESC);
	memcpy(mem + t, table, sizeof(table));
	desc(3, t, 48, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_WRITE, 0); /* WRITE is ignored */
	offer(3);
	assert_int_equal(pop(), VIRTQ_OK);
	assert_int_equal(el.head, 3);
	assert_int_equal(el.n_out, 1);
	assert_int_equal(el.n_in, 2);
	assert_int_equal(el.in_len, 513);
	assert_ptr_equal(iov[2].iov_base, mem + 0x20200);

	/* length not a multiple of 16, zero, INDIRECT with NEXT */
	desc(3, t, 40, VIRTQ_DESC_F_INDIRECT, 0);
	offer(3);
	assert_int_equal(pop(), VIRTQ_BAD_CHAIN);
	desc(3, t, 0, VIRTQ_DESC_F_INDIRECT, 0);
	offer(3);
	assert_int_equal(pop(), VIRTQ_BAD_CHAIN);
	desc(3, t, 48, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 4);
	desc(4, 0x10000, 16, 0, 0);
	offer(3);
	assert_int_equal(pop(), VIRTQ_BAD_CHAIN);
	/* table outside RAM, crossing its end */
	desc(3, MEM - 32, 48, VIRTQ_DESC_F_INDIRECT, 0);
	offer(3);
	assert_int_equal(pop(), VIRTQ_BAD_CHAIN);
	/* indirect after a direct descriptor */
	desc(4, 0x10000, 16, VIRTQ_DESC_F_NEXT, 3);
	desc(3, t, 48, VIRTQ_DESC_F_INDIRECT, 0);
	offer(4);
	assert_int_equal(pop(), VIRTQ_BAD_CHAIN);
	/* indirect within indirect */
	put_desc(t, 1, t, 48, VIRTQ_DESC_F_INDIRECT, 0);
	offer(3);
	assert_int_equal(pop(), VIRTQ_BAD_CHAIN);
	/* a loop inside the table; a next beyond the table's 3 entries */
	put_desc(t, 1, 0x20000, 512, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	offer(3);
	assert_int_equal(pop(), VIRTQ_BAD_CHAIN);
	put_desc(t, 1, 0x20000, 512, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 3);
	offer(3);
	assert_int_equal(pop(), VIRTQ_BAD_CHAIN);
	assert_int_equal(pop(), VIRTQ_EMPTY);
	/* the queue still works */
	memcpy(mem + t, table, sizeof(table));
	offer(3);
	assert_int_equal(pop(), VIRTQ_OK);
}

static void loop(void **state)
{
	(void)state;
	fresh(0);
	desc(0, 0x10000, 16, VIRTQ_DESC_F_NEXT, 1);
	desc(1, 0x10010, 16, VIRTQ_DESC_F_NEXT, 0);
	offer(0);
	expect_bad_chain(0);
	/* a descriptor pointing at itself */
	desc(7, 0x10000, 16, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 7);
	offer(7);
	expect_bad_chain(7);
	/* next >= size */
	desc(0, 0x10000, 16, VIRTQ_DESC_F_NEXT, QSIZE);
	offer(0);
	expect_bad_chain(0);
	/* and a good one after them */
	desc(0, 0x10000, 16, 0, 0);
	offer(0);
	assert_int_equal(pop(), VIRTQ_OK);
}

static void out_of_range(void **state)
{
	(void)state;
	fresh(0);
	desc(0, MEM - 8, 16, 0, 0); /* crosses the end */
	offer(0);
	expect_bad_chain(0);
	desc(0, MEM, 1, 0, 0);
	offer(0);
	expect_bad_chain(0);
	desc(0, 0x100000000ull, 16, 0, 0); /* the high RAM range this guest lacks */
	offer(0);
	expect_bad_chain(0);
	desc(0, MEM - 16, 16, 0, 0); /* the last 16 bytes are fine */
	offer(0);
	assert_int_equal(pop(), VIRTQ_OK);
}

static void overflow(void **state)
{
	(void)state;
	fresh(0);
	desc(0, 0xfffffffffffffff0ull, 0x20, 0, 0);
	offer(0);
	expect_bad_chain(0);
	desc(0, 0x1000, 0xffffffffu, VIRTQ_DESC_F_WRITE, 0);
	offer(0);
	expect_bad_chain(0);
	desc(0, 0x10000, 16, VIRTQ_DESC_F_NEXT, 1);
	desc(1, 0xffffffffffffffffull, 1, VIRTQ_DESC_F_WRITE, 0);
	offer(0);
	expect_bad_chain(0);
}

static void too_long(void **state)
{
	(void)state;
	fresh(0);
	for (unsigned i = 0; i < 4; i++)
		desc(i, 0x10000 + 16 * i, 16, VIRTQ_DESC_F_NEXT, (uint16_t)(i + 1));
	desc(4, 0x10040, 16, 0, 0);
	offer(0);
	el.iov_max = 4; /* five buffers do not fit */
	assert_int_equal(pop(), VIRTQ_BAD_CHAIN);
	el.iov_max = 5;
	offer(0);
	assert_int_equal(pop(), VIRTQ_OK);
	assert_int_equal(el.n_out, 5);
}

static void zero_length(void **state)
{
	(void)state;
	fresh(0);
	desc(0, 0x10000, 16, VIRTQ_DESC_F_NEXT, 1);
	desc(1, 0x20000, 0, VIRTQ_DESC_F_WRITE, 0);
	offer(0);
	expect_bad_chain(0);
}

static void write_before_read(void **state)
{
	(void)state;
	fresh(0);
	desc(0, 0x20000, 16, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	desc(1, 0x10000, 16, 0, 0);
	offer(0);
	expect_bad_chain(0);
	/* writable only is fine */
	desc(0, 0x20000, 16, VIRTQ_DESC_F_WRITE, 0);
	offer(0);
	assert_int_equal(pop(), VIRTQ_OK);
	assert_int_equal(el.n_out, 0);
	assert_int_equal(el.n_in, 1);
}

static void avail_too_far(void **state)
{
	(void)state;
	fresh(0);
	desc(0, 0x10000, 16, 0, 0);
	put16(mem + AVAIL + 2, QSIZE); /* exactly full is fine */
	assert_int_equal(pop(), VIRTQ_OK);
	put16(mem + AVAIL + 2, QSIZE + 2); /* 17 ahead of 1 */
	assert_int_equal(pop(), VIRTQ_BROKEN);
	assert_true(vq.broken);
	put16(mem + AVAIL + 2, 2);
	assert_int_equal(pop(), VIRTQ_BROKEN); /* stays broken until reset */
	assert_int_equal(virtq_pending(&vq), 0);
	/* behind last_avail_idx: a huge jump ahead modulo 2^16 */
	fresh(0);
	vq.last_avail_idx = 5;
	put16(mem + AVAIL + 2, 4);
	assert_int_equal(pop(), VIRTQ_BROKEN);
	/* a head >= size */
	fresh(0);
	offer(QSIZE);
	assert_int_equal(pop(), VIRTQ_BROKEN);
	/* popping a disabled queue */
	virtq_reset(&vq);
	assert_int_equal(pop(), VIRTQ_BROKEN);
}

static void enable_checks(void **state)
{
	(void)state;
	static const struct {
		uint32_t size;
		uint64_t d, a, u;
	} bad[] = {
	    {0, DESC, AVAIL, USED},	  {3, DESC, AVAIL, USED},	{65536, DESC, AVAIL, USED},
	    {16, DESC + 8, AVAIL, USED},  {16, DESC, AVAIL + 1, USED},	{16, DESC, AVAIL, USED + 2},
	    {16, MEM - 128, AVAIL, USED}, {16, DESC, AVAIL, MEM - 132}, {16, DESC, -2ull, USED},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		virtq_init(&vq, &gm);
		vq.size = bad[i].size;
		vq.desc_gpa = bad[i].d;
		vq.avail_gpa = bad[i].a;
		vq.used_gpa = bad[i].u;
		mc_err err = NULL;
		assert_int_equal(virtq_enable(&vq, &err), -1);
		assert_non_null(err);
		assert_false(vq.enabled);
		mc_error_free(&err);
	}
	/* the largest size; overlapping rings are the driver's business */
	virtq_init(&vq, &gm);
	vq.size = VIRTQ_MAX_SIZE;
	vq.desc_gpa = DESC;
	vq.avail_gpa = AVAIL;
	vq.used_gpa = USED;
	assert_int_equal(virtq_enable(&vq, NULL), 0);
	assert_true(vq.enabled);
}

static void event_idx_wrap(void **state)
{
	(void)state;
	assert_true(vring_need_event(65535, 0, 65535));	 /* 65535 -> 0 passes 65535 */
	assert_true(vring_need_event(65535, 1, 65534));	 /* a batch across the wrap */
	assert_true(vring_need_event(0, 2, 65533));	 /* the event after the wrap */
	assert_false(vring_need_event(1, 0, 65535));	 /* not reached yet */
	assert_false(vring_need_event(65534, 1, 65535)); /* already passed before old */
	assert_false(vring_need_event(5, 5, 5));	 /* nothing pushed */

	fresh(1ull << VIRTIO_F_EVENT_IDX);
	const uint16_t start = 65534;
	vq.last_avail_idx = vq.used_idx = start;
	put16(mem + AVAIL + 2, start);
	put16(mem + USED + 2, start);
	for (unsigned i = 0; i < 4; i++)
		desc(i, 0x10000, 16, VIRTQ_DESC_F_WRITE, 0);
	for (unsigned i = 0; i < 4; i++) {
		uint16_t idx = avail_idx();
		put16(mem + AVAIL + 4 + 2 * (idx % QSIZE), (uint16_t)i);
		put16(mem + AVAIL + 2, (uint16_t)(idx + 1));
	}
	assert_int_equal(avail_idx(), 2);
	assert_int_equal(virtq_pending(&vq), 4);
	const size_t ue = AVAIL + 4 + 2 * QSIZE, ae = USED + 4 + 8 * QSIZE;

	/* pop 1: avail_event follows last_avail_idx across the wrap */
	assert_int_equal(pop(), VIRTQ_OK);
	assert_int_equal(get16(mem + ae), 65535);
	assert_int_equal(virtq_push(&vq, el.head, 16, NULL), 0);
	assert_int_equal(used_idx(), 65535);
	put16(mem + ue, 0);
	assert_true(virtq_should_notify(&vq)); /* the first decision always notifies */

	/* pop 2: used.idx 65535 -> 0; the driver asked at 65535 */
	assert_int_equal(pop(), VIRTQ_OK);
	assert_int_equal(get16(mem + ae), 0);
	assert_int_equal(virtq_push(&vq, el.head, 16, NULL), 0);
	assert_int_equal(used_idx(), 0);
	put16(mem + ue, 65535);
	assert_true(virtq_should_notify(&vq));

	/* pop 3: the driver wants an interrupt only at 5 */
	assert_int_equal(pop(), VIRTQ_OK);
	assert_int_equal(virtq_push(&vq, el.head, 16, NULL), 0);
	put16(mem + ue, 5);
	assert_false(virtq_should_notify(&vq));
	/* no push since: never */
	put16(mem + ue, 1);
	assert_false(virtq_should_notify(&vq));

	/* pop 4: used_event 0 was passed two pushes ago, not by this one */
	assert_int_equal(pop(), VIRTQ_OK);
	assert_int_equal(get16(mem + ae), 2);
	assert_int_equal(virtq_push(&vq, el.head, 16, NULL), 0);
	assert_int_equal(used_idx(), 2);
	put16(mem + ue, 0);
	assert_false(virtq_should_notify(&vq));
	assert_int_equal(pop(), VIRTQ_EMPTY);

	/* set_notify with EVENT_IDX: avail_event at last_avail_idx, and a re-check */
	put16(mem + ae, 0);
	assert_false(virtq_set_notify(&vq, true));
	assert_int_equal(get16(mem + ae), 2);
	offer(0);
	assert_true(virtq_set_notify(&vq, true));
}

static void no_interrupt(void **state)
{
	(void)state;
	fresh(0);
	desc(0, 0x20000, 16, VIRTQ_DESC_F_WRITE, 0);
	offer(0);
	assert_int_equal(pop(), VIRTQ_OK);
	assert_int_equal(virtq_push(&vq, 0, 4, NULL), 0);
	assert_true(virtq_should_notify(&vq));
	put16(mem + AVAIL, VRING_AVAIL_F_NO_INTERRUPT);
	assert_false(virtq_should_notify(&vq));
	/* used_event is not looked at without the feature */
	put16(mem + AVAIL + 4 + 2 * QSIZE, 1234);
	put16(mem + AVAIL, 0);
	assert_true(virtq_should_notify(&vq));
	/* VRING_USED_F_NO_NOTIFY */
	assert_false(virtq_set_notify(&vq, false));
	assert_int_equal(get16(mem + USED), VRING_USED_F_NO_NOTIFY);
	offer(0);
	assert_true(virtq_set_notify(&vq, true));
	assert_int_equal(get16(mem + USED), 0);
	assert_int_equal(get16(mem + USED + 4 + 8 * QSIZE), 0); /* avail_event untouched */
}

/* hold_event (virtio-blk): while notifications are off, pops leave avail_event alone, so the
 * driver does not kick for buffers the device is still popping; enabling catches up. */
static void hold_event(void **state)
{
	(void)state;
	fresh(1ull << VIRTIO_F_EVENT_IDX);
	vq.hold_event = true;
	const size_t ae = USED + 4 + 8 * QSIZE;
	for (unsigned i = 0; i < 3; i++) {
		desc(i, 0x10000, 16, VIRTQ_DESC_F_WRITE, 0);
		offer((uint16_t)i);
	}
	assert_int_equal(pop(), VIRTQ_OK); /* notifications on: avail_event follows */
	assert_int_equal(get16(mem + ae), 1);
	assert_false(virtq_set_notify(&vq, false));
	assert_int_equal(pop(), VIRTQ_OK);
	assert_int_equal(pop(), VIRTQ_OK);
	assert_int_equal(get16(mem + ae), 1);		       /* held */
	assert_false(vring_need_event(get16(mem + ae), 4, 3)); /* the driver adds a 4th: no kick */
	offer(0);
	assert_true(virtq_set_notify(&vq, true)); /* caught up, and the 4th is seen */
	assert_int_equal(get16(mem + ae), 3);
	assert_int_equal(pop(), VIRTQ_OK);
	assert_int_equal(get16(mem + ae), 4); /* on again: follows */
	/* without hold_event (the default) pops move it even while off */
	vq.hold_event = false;
	assert_false(virtq_set_notify(&vq, false));
	offer(1);
	assert_int_equal(pop(), VIRTQ_OK);
	assert_int_equal(get16(mem + ae), 5);
}

static void save_load(void **state)
{
	(void)state;
	fresh(1ull << VIRTIO_F_EVENT_IDX | 1ull << VIRTIO_F_INDIRECT_DESC);
	desc(0, 0x20000, 16, VIRTQ_DESC_F_WRITE, 0);
	offer(0);
	offer(0);
	assert_int_equal(pop(), VIRTQ_OK);
	assert_int_equal(virtq_push(&vq, 0, 4, NULL), 0);
	assert_true(virtq_should_notify(&vq));
	struct state_w w = {0};
	virtq_save(&vq, &w);
	assert_false(w.oom);
	assert_int_equal(w.len, 45);

	struct virtq saved = vq;
	struct state_r r;
	state_r_init(&r, w.p, w.len);
	mc_err err = NULL;
	virtq_init(&vq, &gm);
	assert_int_equal(virtq_load(&vq, &r, &err), 0);
	assert_null(err);
	assert_int_equal(r.off, w.len);
	assert_same(&vq, &saved);
	assert_int_equal(pop(), VIRTQ_OK); /* the second buffer, where it was left */
	assert_int_equal(pop(), VIRTQ_EMPTY);

	/* cut short */
	state_r_init(&r, w.p, w.len - 1);
	assert_int_equal(virtq_load(&vq, &r, &err), -1);
	mc_error_free(&err);
	/* a bad size, rings outside RAM, a bad flag: refused, the queue unchanged */
	saved = vq;
	uint8_t bad[45];
	memcpy(bad, w.p, sizeof(bad));
	put32(bad, 24);
	state_r_init(&r, bad, sizeof(bad));
	assert_int_equal(virtq_load(&vq, &r, &err), -1);
	mc_error_free(&err);
	memcpy(bad, w.p, sizeof(bad));
	put64(bad + 5, MEM);
	state_r_init(&r, bad, sizeof(bad));
	assert_int_equal(virtq_load(&vq, &r, &err), -1);
	mc_error_free(&err);
	memcpy(bad, w.p, sizeof(bad));
	bad[4] = 2;
	state_r_init(&r, bad, sizeof(bad));
	assert_int_equal(virtq_load(&vq, &r, &err), -1);
	mc_error_free(&err);
	assert_same(&vq, &saved);
	state_w_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(good_chain),     cmocka_unit_test(indirect),
	    cmocka_unit_test(loop),	      cmocka_unit_test(out_of_range),
	    cmocka_unit_test(overflow),	      cmocka_unit_test(too_long),
	    cmocka_unit_test(zero_length),    cmocka_unit_test(write_before_read),
	    cmocka_unit_test(avail_too_far),  cmocka_unit_test(enable_checks),
	    cmocka_unit_test(event_idx_wrap), cmocka_unit_test(no_interrupt),
	    cmocka_unit_test(hold_event),     cmocka_unit_test(save_load),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
