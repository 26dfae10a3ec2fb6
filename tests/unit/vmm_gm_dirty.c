/* Unit tests for the bitmap of minivm's own writes into guest RAM (vmm/gm_dirty.[ch]) and the
 * virtqueue's marks (vmm/virtio/virtqueue.c): marking only while a migration runs, ranges across
 * words and pages, a push marking exactly the used length of the chain's writable buffers (and
 * the used ring), a kernel writer's guest-physical log mapped to RAM pages above the hole. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/error.h"
#include "vmm/bytes.h"
#include "vmm/gm_dirty.h"
#include "vmm/virtio/virtqueue.h"

#define MEM   (1u << 20) /* 256 pages */
#define QSIZE 16u
#define DESC  0x1000u
#define AVAIL 0x2000u
#define USED  0x3000u

static uint8_t *mem;
static struct guest_mem gm;
static uint64_t bm[MEM / GM_PAGE / 64];

static int setup(void **state)
{
	(void)state;
	mem = aligned_alloc(4096, MEM);
	if (!mem)
		return -1;
	memset(mem, 0, MEM);
	gm_init(&gm, mem, MEM);
	mc_err err = NULL;
	return gm_dirty_init(&gm, &err);
}
static int teardown(void **state)
{
	(void)state;
	gm_dirty_log_stop(&gm);
	gm_dirty_free(&gm);
	free(mem);
	return 0;
}

/* The pages set in bm, as a list. */
static unsigned pages(uint64_t *out, unsigned max)
{
	unsigned n = 0;
	for (uint64_t p = 0; p < MEM / GM_PAGE; p++)
		if (bm[p / 64] >> (p % 64) & 1 && n < max)
			out[n++] = p;
	return n;
}

static void marks_only_while_on(void **state)
{
	(void)state;
	memset(bm, 0, sizeof(bm));
	gm_mark(&gm, mem + 5 * GM_PAGE, 1);
	assert_int_equal(gm_dirty_take(&gm, bm, MEM / GM_PAGE), 0);
	mc_err err = NULL;
	assert_int_equal(gm_dirty_log_start(&gm, &err), 0);
	gm_mark(&gm, mem + 4095, 2);		       /* pages 0 and 1 */
	gm_mark(&gm, mem + 60 * GM_PAGE, 9 * GM_PAGE); /* 60..68: across a word */
	gm_mark(&gm, mem + MEM - 1, 100);	       /* clipped at the end: page 255 */
	gm_mark(&gm, mem + MEM, 10);		       /* outside: nothing */
	struct iovec iov[2] = {{mem + 100 * GM_PAGE, 10}, {mem + 200 * GM_PAGE, GM_PAGE}};
	gm_mark_iov(&gm, iov, 2, 12); /* 10 bytes in page 100, 2 in page 200 */
	assert_int_equal(gm_dirty_take(&gm, bm, MEM / GM_PAGE), 2 + 9 + 1 + 2);
	uint64_t got[32];
	unsigned n = pages(got, 32);
	uint64_t want[] = {0, 1, 60, 61, 62, 63, 64, 65, 66, 67, 68, 100, 200, 255};
	assert_int_equal(n, sizeof(want) / sizeof(want[0]));
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(got[i], want[i]);
	/* taken: cleared */
	memset(bm, 0, sizeof(bm));
	assert_int_equal(gm_dirty_take(&gm, bm, MEM / GM_PAGE), 0);
	gm_dirty_log_stop(&gm);
	gm_mark(&gm, mem, 1);
	assert_int_equal(gm_dirty_take(&gm, bm, MEM / GM_PAGE), 0);
}

static void put_desc(unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	uint8_t *d = mem + DESC + 16 * i;
	put64(d, addr);
	put32(d + 8, len);
	put16(d + 12, flags);
	put16(d + 14, next);
}

static void push_marks_used_length(void **state)
{
	(void)state;
	struct virtq vq;
	virtq_init(&vq, &gm);
	vq.size = QSIZE;
	vq.desc_gpa = DESC;
	vq.avail_gpa = AVAIL;
	vq.used_gpa = USED;
	mc_err err = NULL;
	assert_int_equal(virtq_enable(&vq, &err), 0);
	/* a request: 16 readable bytes, then 8 KiB and 1 byte writable */
	put_desc(0, 0x10000, 16, VIRTQ_DESC_F_NEXT, 1);
	put_desc(1, 0x20000, 8192, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2);
	put_desc(2, 0x30000, 1, VIRTQ_DESC_F_WRITE, 0);
	put16(mem + AVAIL + 4, 0);
	put16(mem + AVAIL + 2, 1);
	assert_int_equal(gm_dirty_log_start(&gm, &err), 0);
	struct iovec iov[4];
	struct virtq_elem e = {.iov = iov, .iov_max = 4};
	assert_int_equal(virtq_pop(&vq, &e, &err), VIRTQ_OK);
	memset(bm, 0, sizeof(bm));
	gm_dirty_take(&gm, bm, MEM / GM_PAGE); /* the pop wrote nothing without EVENT_IDX */
	uint64_t got[8];
	assert_int_equal(pages(got, 8), 0);
	/* the device wrote 4097 bytes: the first 8 KiB buffer's pages 0x20 and 0x21 */
	assert_int_equal(virtq_push(&vq, e.head, 4097, &err), 0);
	assert_int_equal(gm_dirty_take(&gm, bm, MEM / GM_PAGE), 3);
	assert_int_equal(pages(got, 8), 3);
	assert_int_equal(got[0], USED / GM_PAGE);
	assert_int_equal(got[1], 0x20);
	assert_int_equal(got[2], 0x21);
	/* fill + flush (merged buffers): the same once published, the status byte's page too */
	put16(mem + AVAIL + 6, 0);
	put16(mem + AVAIL + 2, 2);
	assert_int_equal(virtq_pop(&vq, &e, &err), VIRTQ_OK);
	assert_int_equal(virtq_fill(&vq, 0, e.head, 8193, &err), 0);
	memset(bm, 0, sizeof(bm));
	assert_int_equal(gm_dirty_take(&gm, bm, MEM / GM_PAGE), 0);
	virtq_flush(&vq, 1);
	assert_int_equal(gm_dirty_take(&gm, bm, MEM / GM_PAGE), 4);
	assert_int_equal(pages(got, 8), 4);
	assert_int_equal(got[3], 0x30);
	gm_dirty_log_stop(&gm);
}

static uint64_t *seen_log;
static unsigned log_calls;
static void writer(void *opaque, uint64_t *log, uint64_t bytes)
{
	(void)opaque;
	(void)bytes;
	seen_log = log;
	log_calls++;
}

static void kernel_log_above_the_hole(void **state)
{
	(void)state;
	struct guest_mem big;
	gm_init(&big, NULL, 5ull << 30); /* never dereferenced: the log and bitmap only */
	mc_err err = NULL;
	assert_int_equal(gm_dirty_init(&big, &err), 0);
	assert_int_equal(gm_dirty_add_writer(&big, writer, NULL, &err), 0);
	assert_int_equal(gm_dirty_log_start(&big, &err), 0);
	assert_int_equal(log_calls, 1);
	assert_non_null(seen_log);
	uint64_t bytes;
	assert_ptr_equal(gm_dirty_log(&big, &bytes), seen_log);
	uint64_t hole = MMIO_HOLE_END / GM_PAGE, low = big.low_end / GM_PAGE;
	assert_true(bytes * 8 >= hole + (big.size - big.low_end) / GM_PAGE);
	seen_log[7 / 64] |= 1ull << 7;				/* RAM page 7 */
	seen_log[(hole + 5) / 64] |= 1ull << ((hole + 5) % 64); /* 4 GiB + 5 pages */
	seen_log[(low + 64) / 64] |= 1ull << ((low + 64) % 64); /* in the hole: no RAM */
	uint64_t npages = big.size / GM_PAGE;
	uint64_t *b = calloc(npages / 64, 8);
	assert_non_null(b);
	assert_int_equal(gm_dirty_take(&big, b, npages), 2);
	assert_true(b[0] >> 7 & 1);
	assert_true(b[(low + 5) / 64] >> ((low + 5) % 64) & 1);
	free(b);
	gm_dirty_log_stop(&big);
	assert_int_equal(log_calls, 2);
	assert_null(seen_log);
	assert_null(gm_dirty_log(&big, &bytes));
	gm_dirty_del_writer(&big, NULL);
	gm_dirty_free(&big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(marks_only_while_on, setup, teardown),
	    cmocka_unit_test_setup_teardown(push_marks_used_length, setup, teardown),
	    cmocka_unit_test(kernel_log_above_the_hole),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
