/* Unit tests for post-copy's frame parsers (vmm/postcopy.c): the POSTCOPY page bitmap, the
 * post-copy phase's page frames (only pages still awaited, in bounds, raw) and the destination's
 * frames to the source (requests in bounds, ACK, done, ERR's message). Streams are written with
 * lib/migstream into a memfd and read back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/error.h"
#include "lib/migstream.h"
#include "vmm/bytes.h"
#include "vmm/migrate.h"
#include "vmm/postcopy.h"

#define NPAGES 100u /* not a multiple of 64: the bitmap's last word has room past the guest */

static struct mc_ms tx, rx;
static int fd = -1;

static void stream_new(void)
{
	if (fd >= 0)
		close(fd);
	fd = memfd_create("pc", MFD_CLOEXEC);
	assert_true(fd >= 0);
	mc_ms_init(&tx, fd);
}

static void frame(uint32_t type, const void *meta, uint32_t ml, const void *data, uint64_t dl)
{
	mc_err err = NULL;
	assert_int_equal(mc_ms_send(&tx, type, meta, ml, data, dl, &err), 0);
}

static void stream_read(void)
{
	mc_err err = NULL;
	assert_int_equal(mc_ms_flush(&tx, &err), 0);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	mc_ms_init(&rx, fd);
}

static void run_meta(uint8_t *m, uint64_t first, uint32_t n, uint32_t enc)
{
	put64(m, first);
	put32(m + 8, n);
	put32(m + 12, enc);
}

/* The bitmap frame as bytes: pages set in it, the header's count, its length in bytes. */
static int need_frame(const uint64_t *set, size_t nset, uint64_t count, uint64_t len,
		      uint64_t **need, uint64_t *pages, char *msg, size_t msglen)
{
	uint8_t meta[8], bm[64] = {0};
	put64(meta, count);
	for (size_t i = 0; i < nset; i++)
		bm[set[i] / 8] |= (uint8_t)(1u << (set[i] % 8));
	stream_new();
	frame(MIG_F_POSTCOPY, meta, 8, bm, len);
	stream_read();
	struct mc_ms_frame f;
	uint8_t m[MIG_META_MAX + 1];
	mc_err err = NULL;
	assert_int_equal(mc_ms_recv_frame(&rx, &f, m, MIG_META_MAX, &err), 0);
	int r = pc_recv_need(&rx, &f, m, NPAGES, need, pages, &err);
	if (r < 0)
		snprintf(msg, msglen, "%s", mc_error_text(err));
	mc_error_free(&err);
	return r;
}

static void test_need(void **state)
{
	(void)state;
	uint64_t *need = NULL, pages = 0;
	char msg[256];
	const uint64_t ok[] = {0, 1, 2, 99};
	assert_int_equal(need_frame(ok, 4, 4, 16, &need, &pages, msg, sizeof(msg)), 0);
	assert_int_equal(pages, 4);
	assert_int_equal(need[0], 7);
	assert_int_equal(need[1], 1ull << 35);
	/* a second bitmap */
	assert_int_equal(need_frame(ok, 4, 4, 16, &need, &pages, msg, sizeof(msg)), -1);
	assert_non_null(strstr(msg, "second"));
	free(need);
	need = NULL;
	/* the header's count differs */
	assert_int_equal(need_frame(ok, 4, 5, 16, &need, &pages, msg, sizeof(msg)), -1);
	assert_non_null(strstr(msg, "header says 5"));
	/* a page past the guest's 100 */
	const uint64_t past[] = {0, 100};
	assert_int_equal(need_frame(past, 2, 2, 16, &need, &pages, msg, sizeof(msg)), -1);
	assert_non_null(strstr(msg, "past the guest"));
	/* a bitmap of another length */
	assert_int_equal(need_frame(ok, 4, 4, 24, &need, &pages, msg, sizeof(msg)), -1);
	assert_non_null(strstr(msg, "want 8+16"));
	assert_null(need);
}

static uint64_t need_bits[2];
static uint8_t buf[PC_BUF];

static int one_run(struct pc_run *run, char *msg, size_t msglen)
{
	mc_err err = NULL;
	int r = pc_recv_run(&rx, need_bits, NPAGES, buf, run, &err);
	if (r < 0)
		snprintf(msg, msglen, "%s", mc_error_text(err));
	mc_error_free(&err);
	return r;
}

static void test_runs(void **state)
{
	(void)state;
	static uint8_t pages[3 * MIG_PAGE];
	uint8_t m[16];
	char msg[256];
	struct pc_run run;
	need_bits[0] = 0xf; /* pages 0-3 */
	need_bits[1] = 0;
	memset(pages, 0x5a, sizeof(pages));
	stream_new();
	run_meta(m, 0, 2, MIG_ENC_RAW);
	frame(MIG_F_PAGES, m, 16, pages, 2 * MIG_PAGE);
	run_meta(m, 2, 2, 0);
	frame(MIG_F_ZERO, m, 16, NULL, 0);
	mc_err err = NULL;
	assert_int_equal(mc_ms_send_end(&tx, &err), 0);
	stream_read();
	assert_int_equal(one_run(&run, msg, sizeof(msg)), 0);
	assert_false(run.zero || run.end);
	assert_int_equal(run.first, 0);
	assert_int_equal(run.n, 2);
	assert_int_equal(buf[0], 0x5a);
	assert_int_equal(buf[2 * MIG_PAGE - 1], 0x5a);
	assert_int_equal(one_run(&run, msg, sizeof(msg)), 0);
	assert_true(run.zero);
	assert_int_equal(run.first, 2);
	assert_int_equal(one_run(&run, msg, sizeof(msg)), 0);
	assert_true(run.end);

	/* refused, one by one */
	static const struct {
		uint32_t type;
		uint64_t first;
		uint32_t n, enc;
		uint64_t len;
		const char *says;
	} bad[] = {
	    {MIG_F_PAGES, 4, 1, MIG_ENC_RAW, MIG_PAGE, "page 4 is not one"},
	    {MIG_F_PAGES, 3, 2, MIG_ENC_RAW, 2 * MIG_PAGE, "page 4 is not one"},
	    {MIG_F_PAGES, NPAGES, 1, MIG_ENC_RAW, MIG_PAGE, "outside the guest"},
	    {MIG_F_PAGES, 0, 0, MIG_ENC_RAW, 0, "outside the guest"},
	    {MIG_F_PAGES, 0, 257, MIG_ENC_RAW, 257ull * MIG_PAGE, "outside the guest"},
	    {MIG_F_PAGES, 0, 1, MIG_ENC_ZLIB, 100, "encoding 1"},
	    {MIG_F_PAGES, 0, 2, MIG_ENC_RAW, MIG_PAGE, "4096 bytes"},
	    {MIG_F_ZERO, 0, 1, 0, MIG_PAGE, "4096 bytes"},
	    {MIG_F_ROUND, 0, 1, 0, 0, "frame type 4"},
	    {MIG_F_STATE, 0, 1, 0, 0, "frame type 5"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		stream_new();
		run_meta(m, bad[i].first, bad[i].n, bad[i].enc);
		uint64_t len = bad[i].len > sizeof(pages) ? 0 : bad[i].len;
		frame(bad[i].type, m, 16, len ? pages : NULL, len);
		stream_read();
		assert_int_equal(one_run(&run, msg, sizeof(msg)), -1);
		if (!strstr(msg, bad[i].says))
			fail_msg("case %zu: `%s` does not say `%s`", i, msg, bad[i].says);
	}
	/* a page that came already (its bit cleared by the receiver) is refused */
	need_bits[0] = 0xe;
	stream_new();
	run_meta(m, 0, 1, MIG_ENC_RAW);
	frame(MIG_F_PAGES, m, 16, pages, MIG_PAGE);
	stream_read();
	assert_int_equal(one_run(&run, msg, sizeof(msg)), -1);
	assert_non_null(strstr(msg, "page 0 is not one"));
}

static int one_reply(struct pc_reply *r, char *msg, size_t msglen)
{
	mc_err err = NULL;
	int ret = pc_recv_reply(&rx, NPAGES, r, &err);
	if (ret < 0)
		snprintf(msg, msglen, "%s", mc_error_text(err));
	mc_error_free(&err);
	return ret;
}

static void test_replies(void **state)
{
	(void)state;
	static struct pc_reply r;
	uint8_t m[16];
	char msg[1200];
	stream_new();
	run_meta(m, 98, 2, 0);
	frame(MIG_F_PC_REQ, m, 16, NULL, 0);
	frame(MIG_F_ACK, "{\"load_ms\":1.5}", 15, NULL, 0);
	frame(MIG_F_PC_DONE, NULL, 0, NULL, 0);
	frame(MIG_F_ERR, "out of memory", 13, NULL, 0);
	stream_read();
	assert_int_equal(one_reply(&r, msg, sizeof(msg)), 0);
	assert_int_equal(r.type, MIG_F_PC_REQ);
	assert_int_equal(r.first, 98);
	assert_int_equal(r.n, 2);
	assert_int_equal(one_reply(&r, msg, sizeof(msg)), 0);
	assert_int_equal(r.type, MIG_F_ACK);
	assert_string_equal(r.meta, "{\"load_ms\":1.5}");
	assert_int_equal(one_reply(&r, msg, sizeof(msg)), 0);
	assert_int_equal(r.type, MIG_F_PC_DONE);
	assert_int_equal(one_reply(&r, msg, sizeof(msg)), -1);
	assert_string_equal(msg, "the destination failed: out of memory");
	assert_int_equal(one_reply(&r, msg, sizeof(msg)), -1); /* the end of the stream */

	static const struct {
		uint32_t type, ml;
		uint64_t first;
		uint32_t n, pad;
		uint64_t dl;
		const char *says;
	} bad[] = {
	    {MIG_F_PC_REQ, 16, 99, 2, 0, 0, "pages 99+2"},
	    {MIG_F_PC_REQ, 16, NPAGES, 1, 0, 0, "pages 100+1"},
	    {MIG_F_PC_REQ, 16, 0, 0, 0, 0, "pages 0+0"},
	    {MIG_F_PC_REQ, 16, 0, 257, 0, 0, "pages 0+257"},
	    {MIG_F_PC_REQ, 16, 0, 1, 7, 0, "pages 0+1"},
	    {MIG_F_PC_REQ, 12, 0, 1, 0, 0, "request of 12 bytes"},
	    {MIG_F_PC_REQ, 16, 0, 1, 0, 8, "has data"},
	    {MIG_F_PC_DONE, 8, 0, 1, 0, 0, "done frame with meta"},
	    {MIG_F_READY, 0, 0, 0, 0, 0, "unexpected frame type 16"},
	    {MIG_F_PAGES, 16, 0, 1, 0, 0, "unexpected frame type 2"},
	};
	static const uint8_t zero8[8];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		stream_new();
		run_meta(m, bad[i].first, bad[i].n, bad[i].pad);
		frame(bad[i].type, bad[i].ml ? m : NULL, bad[i].ml, bad[i].dl ? zero8 : NULL,
		      bad[i].dl);
		stream_read();
		assert_int_equal(one_reply(&r, msg, sizeof(msg)), -1);
		if (!strstr(msg, bad[i].says))
			fail_msg("case %zu: `%s` does not say `%s`", i, msg, bad[i].says);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_need),
	    cmocka_unit_test(test_runs),
	    cmocka_unit_test(test_replies),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
