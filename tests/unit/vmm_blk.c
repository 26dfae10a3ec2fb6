/* Unit tests for virtio-blk (vmm/virtio/blk.c) and its backend (blk_io.c), without KVM: the
 * device runs through the virtio core with a transport that records notifications; requests are
 * hand-made chains (virtq_driver.h) in a calloc'ed guest RAM over a temporary image file. Every
 * test runs with both engines (io_uring, when this kernel allows it, and the thread pool). */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/error.h"
#include "vmm/bytes.h"
#include "vmm/virtio/blk.h"
#include "vmm/virtio/blk_io.h"
#include "vmm/virtio/virtio.h"
#include "vmm/vm.h"
#include "virtq_driver.h"

#define MEM	 (4u << 20)
#define QSIZE	 16u
#define RINGS	 0x1000u /* descriptors, avail +0x1000, used +0x2000 */
#define INDIRECT 0x8000u
#define HDR	 0x10000u
#define DATA	 0x20000u /* 64 KiB */
#define STATUS	 0x40000u
#define SECTORS	 2048u /* a 1 MiB image */

static uint8_t *ram;
static struct vm vm;
static struct devices devs;
static struct virtio_dev *vd;
static char img[64];
static int img_fd = -1;
static int engine = BLK_ENGINE_THREADS;
static struct vqd q0;

/* ---- the driver's side ------------------------------------------------------------------ */

static void desc(unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	vqd_desc(&q0, i, addr, len, flags, next);
}
static void indirect(unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	vqd_desc_put(ram + INDIRECT, i, addr, len, flags, next);
}
static void header(uint32_t type, uint64_t sector)
{
	put32(ram + HDR, type);
	put32(ram + HDR + 4, 0);
	put64(ram + HDR + 8, sector);
}
static uint16_t used_idx(void)
{
	return vqd_used_idx(&q0);
}

/* Offer head and kick; wait up to 3 s for the used ring to take it. Returns the used length. */
static uint32_t run(uint16_t head)
{
	return vqd_run(&q0, vd, 0, head);
}

/* A three-part request: header, data (len bytes at DATA; writable for reads), status. */
static uint8_t rw(uint32_t type, uint64_t sector, uint32_t len)
{
	header(type, sector);
	ram[STATUS] = 0xff;
	bool in = type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID;
	if (len) {
		desc(0, HDR, 16, VIRTQ_DESC_F_NEXT, 1);
		desc(1, DATA, len, (uint16_t)(VIRTQ_DESC_F_NEXT | (in ? VIRTQ_DESC_F_WRITE : 0)),
		     2);
		desc(2, STATUS, 1, VIRTQ_DESC_F_WRITE, 0);
	} else {
		desc(0, HDR, 16, VIRTQ_DESC_F_NEXT, 2);
		desc(2, STATUS, 1, VIRTQ_DESC_F_WRITE, 0);
	}
	uint32_t ul = run(0);
	assert_int_equal(ul, (in ? len : 0) + 1);
	return ram[STATUS];
}

/* Discard / write-zeroes with one segment. */
static uint8_t dwz(uint32_t type, uint64_t sector, uint32_t n, uint32_t flags)
{
	header(type, sector);
	put64(ram + HDR + 16, sector);
	put32(ram + HDR + 24, n);
	put32(ram + HDR + 28, flags);
	ram[STATUS] = 0xff;
	desc(0, HDR, 32, VIRTQ_DESC_F_NEXT, 1);
	desc(1, STATUS, 1, VIRTQ_DESC_F_WRITE, 0);
	assert_int_equal(run(0), 1);
	return ram[STATUS];
}

static void fill(uint8_t *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 7 + seed + (i >> 9));
}

static void driver_up(uint64_t features)
{
	vqd_init(&q0, ram, RINGS, QSIZE);
	vqd_up(vd, features, &q0, 1);
	assert_true(vd->started);
}

static uint64_t all_features(bool ro)
{
	uint64_t f = 1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_F_EVENT_IDX |
		     1ull << VIRTIO_F_INDIRECT_DESC | 1ull << VIRTIO_BLK_F_SEG_MAX |
		     1ull << VIRTIO_BLK_F_BLK_SIZE | 1ull << VIRTIO_BLK_F_FLUSH;
	return f | (ro ? 1ull << VIRTIO_BLK_F_RO
		       : 1ull << VIRTIO_BLK_F_DISCARD | 1ull << VIRTIO_BLK_F_WRITE_ZEROES);
}

static void make_disk(bool ro)
{
	mc_err err = NULL;
	struct blk_disk d = {.path = img, .ro = ro, .engine = engine};
	struct device *dev = virtio_blk_create(&d, 0, &vqd_transport, NULL, &err);
	assert_non_null(dev);
	if (devices_add(&devs, dev, &vm, &err) < 0)
		fail_msg("devices_add: %s", mc_error_text(err));
	vd = (struct virtio_dev *)dev;
	const char *want = engine == BLK_ENGINE_URING ? "io_uring" : "threads";
	assert_string_equal(virtio_blk_engine(dev), want);
	driver_up(all_features(ro));
}

/* The driver resets the device, clears its rings and brings it up again: a read works. */
static void driver_restart(void)
{
	vqd_reset(vd);
	assert_false(vd->started);
	memset(ram, 0, 0x8000);
	driver_up(all_features(false));
	assert_int_equal(rw(VIRTIO_BLK_T_IN, 0, 512), VIRTIO_BLK_S_OK);
}

static int setup(void **state)
{
	(void)state;
	memset(&devs, 0, sizeof(devs));
	snprintf(img, sizeof(img), "/tmp/vmm_blk.XXXXXX");
	img_fd = mkstemp(img);
	if (img_fd < 0)
		return -1;
	uint8_t *buf = malloc(SECTORS * 512);
	ssize_t n = -1;
	if (buf) {
		fill(buf, SECTORS * 512, 1);
		n = pwrite(img_fd, buf, SECTORS * 512, 0);
		free(buf);
	}
	ram = vqd_guest_ram(&vm, MEM);
	if (n == SECTORS * 512 && ram)
		return 0;
	free(ram);
	close(img_fd);
	unlink(img);
	return -1;
}

static int teardown(void **state)
{
	(void)state;
	devices_destroy(&devs);
	vd = NULL;
	close(img_fd);
	unlink(img);
	free(ram);
	return 0;
}

/* ---- tests -------------------------------------------------------------------------------- */

static void config_space(void **state)
{
	(void)state;
	make_disk(false);
	uint8_t c[8];
	virtio_config_read(vd, 0, c, 8);
	assert_int_equal(get64(c), SECTORS);
	virtio_config_read(vd, 12, c, 4);
	assert_int_equal(get32(c), VIRTIO_BLK_SEG_MAX);
	virtio_config_read(vd, 20, c, 4);
	assert_int_equal(get32(c), 512);
	virtio_config_read(vd, 40, c, 4);
	assert_int_equal(get32(c), 1);
	virtio_config_read(vd, 56, c, 1);
	assert_int_equal(c[0], 1);
	virtio_config_read(vd, 58, c, 4); /* past the end: zeros */
	assert_int_equal(get32(c), 0);
	uint64_t f = virtio_device_features(vd);
	assert_false(f & 1ull << VIRTIO_BLK_F_RO);
	assert_true(f & 1ull << VIRTIO_BLK_F_DISCARD);
	assert_true(f & 1ull << VIRTIO_BLK_F_FLUSH);
}

static void read_write_flush(void **state)
{
	(void)state;
	make_disk(false);
	uint8_t want[8192], got[8192];
	/* read what the file holds */
	assert_int_equal(rw(VIRTIO_BLK_T_IN, 10, 4096), VIRTIO_BLK_S_OK);
	assert_int_equal(pread(img_fd, want, 4096, 10 * 512), 4096);
	assert_memory_equal(ram + DATA, want, 4096);
	/* write, then the file has it */
	fill(ram + DATA, 8192, 99);
	memcpy(want, ram + DATA, 8192);
	assert_int_equal(rw(VIRTIO_BLK_T_OUT, 2040, 4096), VIRTIO_BLK_S_OK); /* the last 8 */
	assert_int_equal(pread(img_fd, got, 4096, 2040 * 512), 4096);
	assert_memory_equal(got, want, 4096);
	assert_int_equal(rw(VIRTIO_BLK_T_FLUSH, 0, 0), VIRTIO_BLK_S_OK);
	/* the header and the data split oddly across descriptors, the data across three */
	header(VIRTIO_BLK_T_OUT, 100);
	desc(0, HDR, 5, VIRTQ_DESC_F_NEXT, 3);
	desc(3, HDR + 5, 11 + 1000, VIRTQ_DESC_F_NEXT, 4); /* header tail + data head */
	memcpy(ram + HDR + 16, want, 1000);
	desc(4, DATA + 1000, 24, VIRTQ_DESC_F_NEXT, 5);
	desc(5, DATA + 1024, 1024, VIRTQ_DESC_F_NEXT, 6);
	memcpy(ram + DATA + 1000, want + 1000, 1048);
	desc(6, STATUS, 1, VIRTQ_DESC_F_WRITE, 0);
	ram[STATUS] = 0xff;
	assert_int_equal(run(0), 1);
	assert_int_equal(ram[STATUS], VIRTIO_BLK_S_OK);
	assert_int_equal(pread(img_fd, got, 2048, 100 * 512), 2048);
	assert_memory_equal(got, want, 2048);
	/* a read whose status byte shares the last writable buffer */
	header(VIRTIO_BLK_T_IN, 100);
	desc(0, HDR, 16, VIRTQ_DESC_F_NEXT, 1);
	desc(1, DATA, 1500, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 2);
	desc(2, DATA + 1500, 549, VIRTQ_DESC_F_WRITE, 0);
	memset(ram + DATA, 0, 4096);
	assert_int_equal(run(0), 2049);
	assert_int_equal(ram[DATA + 2048], VIRTIO_BLK_S_OK);
	assert_memory_equal(ram + DATA, want, 2048);
	assert_true(vqd_notified() > 0);
}

static void get_id_and_unsupported(void **state)
{
	(void)state;
	make_disk(false);
	memset(ram + DATA, 0xee, 64);
	assert_int_equal(rw(VIRTIO_BLK_T_GET_ID, 0, 20), VIRTIO_BLK_S_OK);
	assert_memory_equal(ram + DATA, "mv", 2);
	assert_int_equal(ram[DATA + 20], 0xee); /* nothing past the 20 bytes */
	char id[21] = {0};
	memcpy(id, ram + DATA, 20);
	assert_int_equal(strlen(id), 20);
	assert_int_equal(rw(99, 0, 0), VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(rw(10 /* GET_LIFETIME */, 0, 0), VIRTIO_BLK_S_UNSUPP);
}

static bool zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static void discard_write_zeroes(void **state)
{
	(void)state;
	make_disk(false);
	uint8_t got[8192];
	assert_int_equal(dwz(VIRTIO_BLK_T_WRITE_ZEROES, 16, 8, 0), VIRTIO_BLK_S_OK);
	assert_int_equal(pread(img_fd, got, 8192, 15 * 512), 8192);
	assert_false(zero(got, 512));
	assert_true(zero(got + 512, 4096));
	assert_false(zero(got + 512 + 4096, 512));
	assert_int_equal(dwz(VIRTIO_BLK_T_WRITE_ZEROES, 64, 16, VIRTIO_BLK_DWZ_F_UNMAP),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(pread(img_fd, got, 8192, 64 * 512), 8192);
	assert_true(zero(got, 8192));
	struct stat st0, st1;
	assert_int_equal(fstat(img_fd, &st0), 0);
	assert_int_equal(dwz(VIRTIO_BLK_T_DISCARD, 256, 256, 0), VIRTIO_BLK_S_OK);
	assert_int_equal(fstat(img_fd, &st1), 0);
	assert_int_equal(st1.st_size, st0.st_size); /* KEEP_SIZE */
	/* bad segments */
	assert_int_equal(dwz(VIRTIO_BLK_T_DISCARD, 0, 8, VIRTIO_BLK_DWZ_F_UNMAP),
			 VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(dwz(VIRTIO_BLK_T_WRITE_ZEROES, 0, 8, 6), VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(dwz(VIRTIO_BLK_T_DISCARD, SECTORS - 4, 8, 0), VIRTIO_BLK_S_IOERR);
	assert_int_equal(dwz(VIRTIO_BLK_T_WRITE_ZEROES, UINT64_MAX - 2, 8, 0), VIRTIO_BLK_S_IOERR);
	assert_int_equal(dwz(VIRTIO_BLK_T_WRITE_ZEROES, 0, VIRTIO_BLK_MAX_SECTORS + 1, 0),
			 VIRTIO_BLK_S_IOERR);
	/* two segments: more than max_discard_seg */
	header(VIRTIO_BLK_T_DISCARD, 0);
	memset(ram + HDR + 16, 0, 32);
	put32(ram + HDR + 24, 8);
	put32(ram + HDR + 40, 8);
	desc(0, HDR, 48, VIRTQ_DESC_F_NEXT, 1);
	desc(1, STATUS, 1, VIRTQ_DESC_F_WRITE, 0);
	run(0);
	assert_int_equal(ram[STATUS], VIRTIO_BLK_S_UNSUPP);
	/* a segment cut short */
	desc(0, HDR, 24, VIRTQ_DESC_F_NEXT, 1);
	run(0);
	assert_int_equal(ram[STATUS], VIRTIO_BLK_S_IOERR);
}

static void out_of_range(void **state)
{
	(void)state;
	make_disk(false);
	assert_int_equal(rw(VIRTIO_BLK_T_IN, SECTORS, 512), VIRTIO_BLK_S_IOERR);
	assert_int_equal(rw(VIRTIO_BLK_T_IN, SECTORS - 1, 1024), VIRTIO_BLK_S_IOERR);
	assert_int_equal(rw(VIRTIO_BLK_T_OUT, UINT64_MAX, 512), VIRTIO_BLK_S_IOERR);
	assert_int_equal(rw(VIRTIO_BLK_T_OUT, (UINT64_MAX / 512) + 1, 512), VIRTIO_BLK_S_IOERR);
	assert_int_equal(rw(VIRTIO_BLK_T_IN, 0, 100), VIRTIO_BLK_S_IOERR); /* not whole sectors */
	assert_int_equal(rw(VIRTIO_BLK_T_IN, SECTORS - 1, 512), VIRTIO_BLK_S_OK);
	assert_int_equal(rw(VIRTIO_BLK_T_IN, SECTORS, 0), VIRTIO_BLK_S_OK); /* empty, at the end */
}

static void read_only(void **state)
{
	(void)state;
	make_disk(true);
	assert_true(virtio_device_features(vd) & 1ull << VIRTIO_BLK_F_RO);
	assert_false(virtio_device_features(vd) & 1ull << VIRTIO_BLK_F_DISCARD);
	uint8_t before[512], after[512];
	assert_int_equal(pread(img_fd, before, 512, 0), 512);
	memset(ram + DATA, 0x55, 512);
	assert_int_equal(rw(VIRTIO_BLK_T_OUT, 0, 512), VIRTIO_BLK_S_IOERR);
	assert_int_equal(dwz(VIRTIO_BLK_T_DISCARD, 0, 8, 0), VIRTIO_BLK_S_IOERR);
	assert_int_equal(dwz(VIRTIO_BLK_T_WRITE_ZEROES, 0, 8, 0), VIRTIO_BLK_S_IOERR);
	assert_int_equal(rw(VIRTIO_BLK_T_FLUSH, 0, 0), VIRTIO_BLK_S_OK);
	assert_int_equal(rw(VIRTIO_BLK_T_IN, 0, 512), VIRTIO_BLK_S_OK);
	assert_int_equal(pread(img_fd, after, 512, 0), 512);
	assert_memory_equal(before, after, 512);
	assert_memory_equal(ram + DATA, before, 512);
}

static void bad_chains(void **state)
{
	(void)state;
	make_disk(false);
	/* header too short: IOERR in the status byte */
	header(VIRTIO_BLK_T_IN, 0);
	desc(0, HDR, 8, VIRTQ_DESC_F_NEXT, 1);
	desc(1, STATUS, 1, VIRTQ_DESC_F_WRITE, 0);
	ram[STATUS] = 0xff;
	assert_int_equal(run(0), 1);
	assert_int_equal(ram[STATUS], VIRTIO_BLK_S_IOERR);
	/* no status byte (nothing writable): used length 0, nothing written */
	desc(0, HDR, 16, VIRTQ_DESC_F_NEXT, 1);
	desc(1, DATA, 512, 0, 0);
	ram[STATUS] = 0xff;
	assert_int_equal(run(0), 0);
	assert_int_equal(ram[STATUS], 0xff);
	/* the status byte read-only after a writable buffer: the chain is malformed */
	desc(0, HDR, 16, VIRTQ_DESC_F_NEXT, 1);
	desc(1, DATA, 512, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 2);
	desc(2, STATUS, 1, 0, 0);
	assert_int_equal(run(0), 0);
	assert_int_equal(ram[STATUS], 0xff);
	/* a loop */
	desc(0, HDR, 16, VIRTQ_DESC_F_NEXT, 1);
	desc(1, DATA, 512, VIRTQ_DESC_F_NEXT, 0);
	assert_int_equal(run(0), 0);
	/* outside guest RAM */
	desc(0, MEM - 8, 16, VIRTQ_DESC_F_NEXT, 1);
	desc(1, STATUS, 1, VIRTQ_DESC_F_WRITE, 0);
	assert_int_equal(run(0), 0);
	/* too many segments: an indirect table of 300 (more than seg_max + 2) */
	header(VIRTIO_BLK_T_IN, 0);
	indirect(0, HDR, 16, VIRTQ_DESC_F_NEXT, 1);
	for (unsigned i = 1; i < 299; i++)
		indirect(i, DATA + 512 * (i % 64), 512, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT,
			 (uint16_t)(i + 1));
	indirect(299, STATUS, 1, VIRTQ_DESC_F_WRITE, 0);
	desc(0, INDIRECT, 300 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	ram[STATUS] = 0xff;
	assert_int_equal(run(0), 0);
	assert_int_equal(ram[STATUS], 0xff);
	/* exactly seg_max data buffers through an indirect table: fine */
	unsigned n = VIRTIO_BLK_SEG_MAX + 2;
	for (unsigned i = 1; i < n - 1; i++)
		indirect(i, DATA + 512 * (i % 64), 512, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT,
			 (uint16_t)(i + 1));
	indirect(n - 1, STATUS, 1, VIRTQ_DESC_F_WRITE, 0);
	desc(0, INDIRECT, n * 16, VIRTQ_DESC_F_INDIRECT, 0);
	assert_int_equal(run(0), VIRTIO_BLK_SEG_MAX * 512 + 1);
	assert_int_equal(ram[STATUS], VIRTIO_BLK_S_OK);
	/* the device goes on */
	assert_int_equal(rw(VIRTIO_BLK_T_IN, 0, 512), VIRTIO_BLK_S_OK);
	assert_false(virtio_get_status(vd) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
}

static void broken_ring(void **state)
{
	(void)state;
	make_disk(false);
	/* avail.idx far ahead: the ring is corrupt, the device needs a reset */
	vqd_set_avail_idx(&q0, 1000);
	virtio_kick(vd, 0);
	assert_true(vqd_wait_status(vd, VIRTIO_STATUS_DEVICE_NEEDS_RESET));
	/* the config interrupt follows the status bit */
	assert_true(vqd_wait_count(&vqd_rec.notify_cfg, 1));
	assert_int_equal(atomic_load(&vqd_rec.notify_cfg), 1);
	/* the driver resets and starts over: it works again */
	driver_restart();
}

static void host_error(void **state)
{
	(void)state;
	make_disk(false);
	/* the image shrinks under the device: a read past its new end is an I/O error */
	assert_int_equal(ftruncate(img_fd, 512 * 1024), 0);
	assert_int_equal(rw(VIRTIO_BLK_T_IN, 1500, 512), VIRTIO_BLK_S_IOERR);
	assert_int_equal(rw(VIRTIO_BLK_T_IN, 10, 512), VIRTIO_BLK_S_OK);
}

static void pause_resume_reset(void **state)
{
	(void)state;
	make_disk(false);
	devices_pause(&devs);
	/* offered while paused: not taken */
	header(VIRTIO_BLK_T_IN, 0);
	desc(0, HDR, 16, VIRTQ_DESC_F_NEXT, 1);
	desc(1, DATA, 512, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 2);
	desc(2, STATUS, 1, VIRTQ_DESC_F_WRITE, 0);
	vqd_push(&q0, 0);
	virtio_kick(vd, 0);
	usleep(50000);
	assert_int_equal(used_idx(), 0);
	devices_resume(&devs);
	vqd_wait_used(&q0, 1);
	assert_int_equal(used_idx(), 1);
	assert_int_equal(ram[STATUS], VIRTIO_BLK_S_OK);
	/* many requests in flight, then a pause: each is complete when it returns */
	for (unsigned i = 0; i < 5; i++) {
		unsigned h = 3 * i;
		desc(h, HDR, 16, VIRTQ_DESC_F_NEXT, (uint16_t)(h + 1));
		desc(h + 1, DATA + 4096 * i, 4096, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT,
		     (uint16_t)(h + 2));
		desc(h + 2, STATUS + i, 1, VIRTQ_DESC_F_WRITE, 0);
		vqd_push(&q0, (uint16_t)h);
	}
	virtio_kick(vd, 0);
	usleep(1000);
	devices_pause(&devs);
	uint16_t u = used_idx();
	usleep(20000);
	assert_int_equal(used_idx(), u); /* nothing moves while paused */
	devices_resume(&devs);
	vqd_wait_used(&q0, 6);
	assert_int_equal(used_idx(), 6);
	/* a driver reset with the device idle, then up again */
	driver_restart();
}

static void save_load_restart(void **state)
{
	(void)state;
	make_disk(false);
	assert_int_equal(rw(VIRTIO_BLK_T_IN, 0, 512), VIRTIO_BLK_S_OK);
	devices_pause(&devs);
	struct state_w w = {0};
	mc_err err = NULL;
	assert_int_equal(devices_save(&devs, &w, &err), 0);
	/* the same device, loaded while paused, restarts and serves the next request */
	if (devices_load(&devs, w.p, w.len, &err) < 0)
		fail_msg("load: %s", mc_error_text(err));
	state_w_free(&w);
	devices_resume(&devs);
	assert_true(vd->started);
	assert_int_equal(rw(VIRTIO_BLK_T_IN, 1, 512), VIRTIO_BLK_S_OK);
}

static void no_flush_feature(void **state)
{
	(void)state;
	mc_err err = NULL;
	struct blk_disk d = {.path = img, .engine = engine};
	struct device *dev = virtio_blk_create(&d, 3, &vqd_transport, NULL, &err);
	assert_non_null(dev);
	assert_string_equal(dev->name, "virtio-blk3");
	assert_int_equal(devices_add(&devs, dev, &vm, &err), 0);
	vd = (struct virtio_dev *)dev;
	driver_up(1ull << VIRTIO_F_VERSION_1); /* no FLUSH: write-through, still correct */
	fill(ram + DATA, 512, 5);
	assert_int_equal(rw(VIRTIO_BLK_T_OUT, 7, 512), VIRTIO_BLK_S_OK);
	uint8_t got[512];
	assert_int_equal(pread(img_fd, got, 512, 7 * 512), 512);
	assert_memory_equal(got, ram + DATA, 512);
	/* discard not negotiated */
	assert_int_equal(dwz(VIRTIO_BLK_T_DISCARD, 0, 8, 0), VIRTIO_BLK_S_UNSUPP);
}

/* ---- bad input (no engine needed) --------------------------------------------------------- */

static void parse_and_check(void **state)
{
	(void)state;
	mc_err err = NULL;
	struct blk_disk d;
	char a[] = "/x/y.img,ro,direct,engine=threads";
	assert_int_equal(virtio_blk_parse(a, &d, &err), 0);
	assert_string_equal(d.path, "/x/y.img");
	assert_true(d.ro && d.direct);
	assert_int_equal(d.engine, BLK_ENGINE_THREADS);
	char b[] = "/x,rw";
	assert_int_equal(virtio_blk_parse(b, &d, &err), -1);
	assert_non_null(strstr(err->msg, "unknown option `rw`"));
	mc_error_free(&err);
	char c[] = ",ro";
	assert_int_equal(virtio_blk_parse(c, &d, &err), -1);
	mc_error_free(&err);
	char e[] = "/x,engine=aio";
	assert_int_equal(virtio_blk_parse(e, &d, &err), -1);
	mc_error_free(&err);

	d = (struct blk_disk){.path = "/nonexistent/disk.img"};
	assert_int_equal(virtio_blk_check(&d, &err), -1);
	assert_int_equal(err->errnum, ENOENT);
	mc_error_free(&err);
	d.path = "/tmp";
	assert_int_equal(virtio_blk_check(&d, &err), -1);
	assert_int_equal(err->errnum, EISDIR);
	mc_error_free(&err);
	d.ro = true;
	assert_int_equal(virtio_blk_check(&d, &err), -1);
	assert_non_null(strstr(err->msg, "not a regular file"));
	mc_error_free(&err);
	d.ro = false;
	assert_int_equal(ftruncate(img_fd, 0), 0);
	d.path = img;
	assert_int_equal(virtio_blk_check(&d, &err), -1);
	assert_non_null(strstr(err->msg, "empty"));
	mc_error_free(&err);
	assert_int_equal(ftruncate(img_fd, 1000), 0);
	assert_int_equal(virtio_blk_check(&d, &err), -1);
	assert_non_null(strstr(err->msg, "multiple of 512"));
	mc_error_free(&err);
	assert_int_equal(ftruncate(img_fd, 4096), 0);
	assert_int_equal(virtio_blk_check(&d, &err), 0);
}

/* A driver that kicks only when EVENT_IDX asks for it (avail_event, as Linux does), with up to 8
 * reads in flight posted in bursts: the device holds kicks while it pops and while 4 or more
 * requests are in flight (completion passes pop then), and must still see every request
 * (a lost wake-up times out here); every read returns the image's bytes. */
static void event_idx_driver(void **state)
{
	(void)state;
	make_disk(false);
	enum { SLOTS = 8, TOTAL = 400, LEN = 4096, STRIDE = 8192 };
	static uint8_t img_bytes[SECTORS * 512];
	assert_int_equal(pread(img_fd, img_bytes, sizeof(img_bytes), 0), sizeof(img_bytes));
	uint64_t sector[SLOTS];
	bool busy[SLOTS] = {false};
	unsigned posted = 0, done = 0, kicks = 0, inflight = 0;
	uint16_t seen = used_idx();
	uint8_t *avail_event = ram + q0.used + 4 + 8 * QSIZE;
	while (done < TOTAL) {
		/* a burst: every free slot */
		for (unsigned s = 0; s < SLOTS && posted < TOTAL; s++) {
			if (busy[s])
				continue;
			sector[s] = (posted * 37u) % (SECTORS - 8);
			put32(ram + HDR + 16 * s, VIRTIO_BLK_T_IN);
			put32(ram + HDR + 16 * s + 4, 0);
			put64(ram + HDR + 16 * s + 8, sector[s]);
			ram[DATA + STRIDE * s + LEN] = 0xff; /* the status byte */
			desc(2 * s, HDR + 16 * s, 16, VIRTQ_DESC_F_NEXT, (uint16_t)(2 * s + 1));
			desc(2 * s + 1, DATA + STRIDE * s, LEN + 1, VIRTQ_DESC_F_WRITE, 0);
			vqd_push(&q0, (uint16_t)(2 * s));
			busy[s] = true;
			posted++;
			inflight++;
			/* avail.idx published before avail_event is read (virtio_mb) */
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
			uint16_t ev =
			    __atomic_load_n((uint16_t *)(void *)avail_event, __ATOMIC_RELAXED);
			if (vring_need_event(ev, q0.avail_idx, (uint16_t)(q0.avail_idx - 1))) {
				virtio_kick(vd, 0);
				kicks++;
			}
		}
		/* at least one completion (3 s at most: a request nobody pops fails here) */
		assert_true(vqd_wait_used(&q0, (uint16_t)(seen + 1)));
		uint16_t u = used_idx();
		for (; seen != u; seen++) {
			uint32_t id, len;
			vqd_used_elem(&q0, seen, &id, &len);
			assert_true(id % 2 == 0 && id / 2 < SLOTS && busy[id / 2]);
			unsigned s = id / 2;
			assert_int_equal(len, LEN + 1);
			assert_int_equal(ram[DATA + STRIDE * s + LEN], VIRTIO_BLK_S_OK);
			assert_memory_equal(ram + DATA + STRIDE * s, img_bytes + sector[s] * 512,
					    LEN);
			busy[s] = false;
			inflight--;
			done++;
		}
	}
	assert_int_equal(inflight, 0);
	assert_true(kicks >= 1 && kicks <= TOTAL);
	print_message("%u requests, %u kicks\n", TOTAL, kicks);
}

#define BLK_TESTS                                                                                  \
	cmocka_unit_test_setup_teardown(config_space, setup, teardown),                            \
	    cmocka_unit_test_setup_teardown(read_write_flush, setup, teardown),                    \
	    cmocka_unit_test_setup_teardown(get_id_and_unsupported, setup, teardown),              \
	    cmocka_unit_test_setup_teardown(discard_write_zeroes, setup, teardown),                \
	    cmocka_unit_test_setup_teardown(out_of_range, setup, teardown),                        \
	    cmocka_unit_test_setup_teardown(read_only, setup, teardown),                           \
	    cmocka_unit_test_setup_teardown(bad_chains, setup, teardown),                          \
	    cmocka_unit_test_setup_teardown(broken_ring, setup, teardown),                         \
	    cmocka_unit_test_setup_teardown(host_error, setup, teardown),                          \
	    cmocka_unit_test_setup_teardown(pause_resume_reset, setup, teardown),                  \
	    cmocka_unit_test_setup_teardown(save_load_restart, setup, teardown),                   \
	    cmocka_unit_test_setup_teardown(no_flush_feature, setup, teardown),                    \
	    cmocka_unit_test_setup_teardown(event_idx_driver, setup, teardown)

static bool uring_works(void)
{
	struct io_uring r;
	if (io_uring_queue_init(4, &r, 0) < 0)
		return false;
	io_uring_queue_exit(&r);
	return true;
}

int main(void)
{
	const struct CMUnitTest threads[] = {
	    BLK_TESTS, cmocka_unit_test_setup_teardown(parse_and_check, setup, teardown)};
	const struct CMUnitTest uring[] = {BLK_TESTS};
	int failed = cmocka_run_group_tests_name("virtio-blk, threads", threads, NULL, NULL);
	/* io_uring where this kernel allows it (sysctl kernel.io_uring_disabled, seccomp). */
	if (!uring_works()) {
		print_message("io_uring unavailable here: its group is skipped\n");
		return failed;
	}
	engine = BLK_ENGINE_URING;
	failed += cmocka_run_group_tests_name("virtio-blk, io_uring", uring, NULL, NULL);
	return failed;
}
