/* Unit tests for copy-storage migration's pieces (docs/migration.md "Copy-storage"): the block
 * dirty bitmap virtio-blk keeps (vmm/virtio/blk_dirty.[ch]): marking only while on, ranges
 * across blocks and words, clamped to the image, a take that clears; and the DISK stream record
 * (vmm/mig_disk.[ch]) from source to destination through lib/migstream over a memfd into memfd
 * images: data and zero runs land where they belong, holes of the source go as zero markers
 * (and punch the destination), the blocks taken from the bitmap are what a round sends, and
 * hostile records (outside the image, across its end, wrapping, not whole sectors, a data
 * length that differs, too much data, an unknown disk or kind, zeros with data) are refused
 * with nothing written. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/error.h"
#include "lib/migstream.h"
#include "vmm/bytes.h"
#include "vmm/mig_disk.h"
#include "vmm/migrate.h"
#include "vmm/virtio/blk_dirty.h"

#define B BLK_DIRTY_BLOCK

static void bitmap_marks_and_takes(void **state)
{
	(void)state;
	struct blk_dirty d;
	mc_err err = NULL;
	/* 130 blocks and a bit: the last block is 512 bytes */
	uint64_t size = 130ull * B + 512;
	assert_int_equal(blk_dirty_init(&d, size, &err), 0);
	assert_int_equal(d.blocks, 131);
	assert_int_equal(blk_dirty_words(&d), 3);
	uint64_t out[3] = {0};
	blk_dirty_mark(&d, 0, 4096); /* off: nothing */
	assert_int_equal(blk_dirty_take(&d, out), 0);
	blk_dirty_start(&d);
	blk_dirty_mark(&d, B - 512, 1024);    /* blocks 0 and 1 */
	blk_dirty_mark(&d, 63 * B, 2 * B);    /* 63 and 64: across words */
	blk_dirty_mark(&d, 100 * B + 7, 1);   /* 100 */
	blk_dirty_mark(&d, 130 * B, 1 << 30); /* the last, clamped */
	blk_dirty_mark(&d, size, 512);	      /* past the end: nothing */
	blk_dirty_mark(&d, 5 * B, 0);	      /* empty */
	assert_int_equal(blk_dirty_take(&d, out), 6);
	assert_true(out[0] == (3ull | 1ull << 63));
	assert_true(out[1] == (1ull | 1ull << 36));
	assert_true(out[2] == 1ull << 2);
	memset(out, 0, sizeof(out));
	assert_int_equal(blk_dirty_take(&d, out), 0); /* cleared */
	blk_dirty_mark(&d, 0, 64 * B);		      /* a whole word */
	assert_int_equal(blk_dirty_take(&d, out), 64);
	assert_true(out[0] == ~0ull);
	blk_dirty_start(&d); /* cleared again, on */
	blk_dirty_mark(&d, 2 * B, 1);
	blk_dirty_stop(&d);
	blk_dirty_mark(&d, 3 * B, 1); /* off */
	memset(out, 0, sizeof(out));
	assert_int_equal(blk_dirty_take(&d, out), 1);
	assert_true(out[0] == 1ull << 2);
	blk_dirty_free(&d);
}

/* ---- the DISK record through a stream -------------------------------------------------- */

#define IMG (4u << 20)

static int memimg(const char *name, uint64_t size)
{
	int fd = memfd_create(name, MFD_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	return fd;
}

struct rig {
	int pipe[2]; /* the stream: read, write */
	struct mc_ms *tx, *rx;
	struct mig_disk_dst dst;
	int dst_fd;
};

static void rig_open(struct rig *r, uint64_t size)
{
	/* the channel: a memfd written at one offset and read at another (no pipe to fill) */
	r->pipe[1] = memfd_create("stream", MFD_CLOEXEC);
	assert_true(r->pipe[1] >= 0);
	char p[64];
	snprintf(p, sizeof(p), "/proc/self/fd/%d", r->pipe[1]);
	r->pipe[0] = open(p, O_RDONLY | O_CLOEXEC);
	assert_true(r->pipe[0] >= 0);
	r->tx = malloc(sizeof(*r->tx));
	r->rx = malloc(sizeof(*r->rx));
	mc_ms_init(r->tx, r->pipe[1]);
	mc_ms_init(r->rx, r->pipe[0]);
	memset(&r->dst, 0, sizeof(r->dst));
	r->dst_fd = memimg("dst", size);
	mc_err err = NULL;
	assert_int_equal(mig_disk_dst_add(&r->dst, dup(r->dst_fd), size, "dst.img", &err), 0);
}

static void rig_close(struct rig *r)
{
	mig_disk_dst_close(&r->dst);
	close(r->dst_fd);
	close(r->pipe[0]);
	close(r->pipe[1]);
	free(r->tx);
	free(r->rx);
}

/* Receive every frame sent so far (the end frame closes them); returns mig_disk_recv's last
 * result, *errtext its error. */
static int rig_recv(struct rig *r, char *errtext, size_t max)
{
	mc_err err = NULL;
	assert_int_equal(mc_ms_send_end(r->tx, &err), 0);
	int res = 0;
	for (;;) {
		struct mc_ms_frame f;
		uint8_t meta[MIG_META_MAX + 1];
		if (mc_ms_recv_frame(r->rx, &f, meta, MIG_META_MAX, &err) < 0)
			fail_msg("recv: %s", mc_error_text(err));
		if (f.type == MC_MS_END)
			break;
		assert_int_equal(f.type, MIG_F_DISK);
		res = mig_disk_recv(&r->dst, r->rx, &f, meta, &err);
		if (res < 0) {
			snprintf(errtext, max, "%s", mc_error_text(err));
			mc_error_free(&err);
			break;
		}
	}
	return res;
}

static void send_raw(struct rig *r, uint32_t disk, uint32_t kind, uint64_t off, uint64_t len,
		     const void *data, uint64_t data_len)
{
	uint8_t meta[MIG_DISK_META];
	put32(meta, disk);
	put32(meta + 4, kind);
	put64(meta + 8, off);
	put64(meta + 16, len);
	mc_err err = NULL;
	assert_int_equal(mc_ms_send(r->tx, MIG_F_DISK, meta, sizeof(meta), data, data_len, &err),
			 0);
}

static void hostile(void **state)
{
	(void)state;
	static uint8_t data[MIG_DISK_RUN_MAX + 512];
	memset(data, 0x5a, sizeof(data));
	static const struct {
		uint32_t disk, kind;
		uint64_t off, len, data_len;
		const char *want;
	} c[] = {
	    {0, MIG_DISK_DATA, IMG - 512, 1024, 1024, "outside the image `dst.img`"},
	    {0, MIG_DISK_DATA, IMG, 512, 512, "outside the image"},
	    {0, MIG_DISK_ZERO, UINT64_MAX - 511, 1024, 0, "outside the image"},
	    {0, MIG_DISK_ZERO, 512, UINT64_MAX - 511, 0, "outside the image"},
	    {0, MIG_DISK_DATA, 100, 512, 512, "not whole sectors"},
	    {0, MIG_DISK_DATA, 0, 1000, 1000, "not whole sectors"},
	    {0, MIG_DISK_ZERO, 0, 0, 0, "not whole sectors"},
	    {0, MIG_DISK_DATA, 0, 4096, 512, "512 bytes of data for 4096"},
	    {0, MIG_DISK_DATA, 0, MIG_DISK_RUN_MAX + 512, MIG_DISK_RUN_MAX + 512, "at most"},
	    {1, MIG_DISK_DATA, 0, 512, 512, "disk 1, but 1 disk image was announced"},
	    {0, 9, 0, 512, 0, "unknown kind 9"},
	    {0, MIG_DISK_ZERO, 0, 512, 512, "zeros with 512 bytes of data"},
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct rig r;
		rig_open(&r, IMG);
		send_raw(&r, c[i].disk, c[i].kind, c[i].off, c[i].len, data, c[i].data_len);
		char e[512] = "";
		assert_int_equal(rig_recv(&r, e, sizeof(e)), -1);
		if (!strstr(e, c[i].want))
			fail_msg("case %zu: `%s` not in `%s`", i, c[i].want, e);
		struct stat st;
		assert_int_equal(fstat(r.dst_fd, &st), 0);
		assert_int_equal(st.st_size, IMG);
		assert_int_equal(st.st_blocks, 0); /* nothing written */
		rig_close(&r);
	}
	/* a short meta */
	struct rig r;
	rig_open(&r, IMG);
	mc_err err = NULL;
	assert_int_equal(mc_ms_send(r.tx, MIG_F_DISK, data, 16, NULL, 0, &err), 0);
	char e[512] = "";
	assert_int_equal(rig_recv(&r, e, sizeof(e)), -1);
	assert_non_null(strstr(e, "meta of 16 bytes, want 24"));
	rig_close(&r);
}

/* The source's first pass and a round, against a memfd image with data, holes and zeros. */
static void first_pass_and_round(void **state)
{
	(void)state;
	struct rig r;
	rig_open(&r, IMG);
	/* the destination holds other data where the source has holes and zeros */
	static uint8_t junk[B];
	memset(junk, 0xee, sizeof(junk));
	assert_int_equal(pwrite(r.dst_fd, junk, B, 10 * B), (ssize_t)B);
	assert_int_equal(pwrite(r.dst_fd, junk, B, 20 * B), (ssize_t)B);
	int sfd = memimg("src", IMG);
	static uint8_t buf[3 * B];
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7 + 1);
	assert_int_equal(pwrite(sfd, buf, 3 * B, 2 * B), (ssize_t)(3 * B)); /* 2-4 */
	memset(buf, 0, B);
	assert_int_equal(pwrite(sfd, buf, B, 20 * B), (ssize_t)B); /* written zeros */
	assert_int_equal(pwrite(sfd, "tail", 4, IMG - 4), 4);	   /* the last block */
	struct blk_dirty bd;
	mc_err err = NULL;
	assert_int_equal(blk_dirty_init(&bd, IMG, &err), 0);
	struct mig_disk_src s = {0};
	s.n = 1;
	s.d[0].fd = sfd;
	s.d[0].size = IMG;
	s.d[0].dirty = &bd;
	s.d[0].path = "src.img";
	s.d[0].pending = calloc(blk_dirty_words(&bd), 8);
	s.buf = malloc(MIG_DISK_RUN_MAX);
	mig_disk_track(&s, true);
	assert_int_equal(mig_disk_send_all(&s, r.tx, &err), 0);
	char e[512] = "";
	assert_int_equal(rig_recv(&r, e, sizeof(e)), 0);
	assert_int_equal(s.data_bytes, 4 * B);
	assert_int_equal(s.zero_bytes, IMG - 4 * B);
	assert_int_equal(r.dst.data_bytes, 4 * B);
	static uint8_t a[IMG], b[IMG];
	assert_int_equal(pread(sfd, a, IMG, 0), (ssize_t)IMG);
	assert_int_equal(pread(r.dst_fd, b, IMG, 0), (ssize_t)IMG);
	assert_memory_equal(a, b, IMG);

	/* a round: the guest writes blocks 7 and 8 and zeroes 3; the marks say which */
	memset(buf, 0x33, 2 * B);
	assert_int_equal(pwrite(sfd, buf, 2 * B, 7 * B), (ssize_t)(2 * B));
	blk_dirty_mark(&bd, 7 * B, 2 * B);
	memset(buf, 0, B);
	assert_int_equal(pwrite(sfd, buf, B, 3 * B), (ssize_t)B);
	blk_dirty_mark(&bd, 3 * B, B);
	assert_int_equal(mig_disk_collect(&s), 3 * B);
	uint64_t covered = 0;
	assert_int_equal(mig_disk_send_pending(&s, r.tx, false, &covered, &err), 0);
	assert_int_equal(covered, 3 * B);
	assert_int_equal(rig_recv(&r, e, sizeof(e)), 0);
	assert_int_equal(s.data_bytes, 6 * B);
	assert_int_equal(pread(sfd, a, IMG, 0), (ssize_t)IMG);
	assert_int_equal(pread(r.dst_fd, b, IMG, 0), (ssize_t)IMG);
	assert_memory_equal(a, b, IMG);
	assert_int_equal(mig_disk_collect(&s), 0); /* nothing new */
	assert_int_equal(mig_disk_dst_sync(&r.dst, &err), 0);
	mig_disk_src_close(&s); /* closes sfd */
	blk_dirty_free(&bd);
	rig_close(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(bitmap_marks_and_takes),
	    cmocka_unit_test(hostile),
	    cmocka_unit_test(first_pass_and_round),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
