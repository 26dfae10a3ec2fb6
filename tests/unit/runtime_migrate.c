/* Unit tests for the migration stream (lib/migstream.c) and the receiver's checks
 * (runtime/migrate_fs.c): CRC-32 values, a round trip through a pipe, a flipped byte caught
 * by the end marker, paths and image names refused. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <endian.h>

#include "lib/error.h"
#include "lib/migstream.h"
#include "runtime/migrate.h"

static void crc32_values(void **state)
{
	(void)state;
	/* zlib's crc32() of the same bytes */
	assert_int_equal(mc_crc32(0, "123456789", 9), 0xcbf43926u);
	assert_int_equal(mc_crc32(0, "", 0), 0);
	char buf[1000];
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (char)(i * 7 + 3);
	/* in pieces, from odd offsets (the 8-byte path and the byte path agree) */
	uint32_t whole = mc_crc32(0, buf, sizeof(buf)), parts = 0;
	for (size_t off = 0, n = 1; off < sizeof(buf); off += n, n = n * 3 + 1)
		parts = mc_crc32(parts, buf + off, off + n > sizeof(buf) ? sizeof(buf) - off : n);
	assert_int_equal(whole, parts);
}

/* Write a stream into a pipe (small enough for its buffer), flip one byte, read it back. */
static int round_trip(long flip, char *msg, size_t n)
{
	int p[2];
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	struct mc_ms *s = malloc(sizeof(*s));
	assert_non_null(s);
	mc_err err = NULL;
	mc_ms_init(s, p[1]);
	assert_int_equal(mc_ms_send_hello(s, CT_MIG_MAGIC, CT_MIG_VERSION, &err), 0);
	assert_int_equal(mc_ms_send(s, CT_MIG_IMAGE, "a.img", 5, "hello", 5, &err), 0);
	assert_int_equal(mc_ms_send(s, CT_MIG_IMAGE, "b.img", 5, NULL, 0, &err), 0);
	assert_int_equal(mc_ms_send_end(s, &err), 0);
	close(p[1]);
	uint8_t raw[512];
	ssize_t len = read(p[0], raw, sizeof(raw));
	close(p[0]);
	assert_true(len > 0 && len < (ssize_t)sizeof(raw));
	if (flip >= 0)
		raw[flip < len ? flip : len - 1] ^= 0x01;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(write(p[1], raw, (size_t)len), len);
	close(p[1]);
	mc_ms_init(s, p[0]);
	int ret = mc_ms_recv_hello(s, CT_MIG_MAGIC, CT_MIG_VERSION, &err);
	char meta[64], data[64];
	struct mc_ms_frame f = {0};
	for (int i = 0; ret == 0; i++) {
		ret = mc_ms_recv_frame(s, &f, meta, sizeof(meta) - 1, &err);
		if (ret < 0 || f.type == MC_MS_END)
			break;
		if (f.data_len > sizeof(data)) {
			ret = mc_errorf(&err, 0, "too long");
			break;
		}
		ret = mc_ms_recv_data(s, data, f.data_len, &err);
		if (ret == 0 && i == 0 && flip < 0) {
			assert_string_equal(meta, "a.img");
			assert_memory_equal(data, "hello", 5);
		}
	}
	close(p[0]);
	free(s);
	snprintf(msg, n, "%s", err ? mc_error_text(err) : "");
	mc_error_free(&err);
	return ret;
}

static void stream_round_trip(void **state)
{
	(void)state;
	char msg[256];
	assert_int_equal(round_trip(-1, msg, sizeof(msg)), 0);
	/* a byte in the first file's data: the end marker's checksum says so */
	assert_int_equal(round_trip(12 + 16 + 5 + 2, msg, sizeof(msg)), -1);
	assert_non_null(strstr(msg, "corrupted in transit"));
	/* the magic */
	assert_int_equal(round_trip(0, msg, sizeof(msg)), -1);
	assert_non_null(strstr(msg, "not a minict migration stream"));
	/* the end marker's count */
	assert_int_equal(round_trip(10000, msg, sizeof(msg)), -1);
	assert_non_null(strstr(msg, "end marker says"));
}

static void paths_and_names(void **state)
{
	(void)state;
	const char *good[] = {".", "a", "bin/sh", "a/b/c", "..a", "a..", ".hidden/x"};
	const char *bad[] = {"",     "/etc", "..", "../x", "a/../b",
			     "a/..", "a//b", "a/", "./a",  "a/./b"};
	mc_err err = NULL;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(ct_mig_check_path(good[i], strlen(good[i]), &err), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(ct_mig_check_path(bad[i], strlen(bad[i]), &err), -1);
		mc_error_free(&err);
	}
	assert_int_equal(ct_mig_check_path("a\0b", 3, &err), -1); /* a NUL inside */
	mc_error_free(&err);
	assert_int_equal(ct_mig_check_name("pages-1.img", 11, &err), 0);
	assert_int_equal(ct_mig_check_name("descriptors.json", 16, &err), 0);
	const char *badn[] = {"", ".x", "a/b", "..", "a b", "x\n"};
	for (size_t i = 0; i < sizeof(badn) / sizeof(badn[0]); i++) {
		assert_int_equal(ct_mig_check_name(badn[i], strlen(badn[i]), &err), -1);
		mc_error_free(&err);
	}
}

/* A rootfs entry whose path fills the largest meta the receiver takes: refused before it is
 * copied (the meta holds one byte more than CT_MIG_PATH_MAX). */
static void entry_path_too_long(void **state)
{
	(void)state;
	static uint8_t meta[CT_MIG_META_MAX];
	uint32_t plen = htole32(CT_MIG_META_MAX - CT_MIG_ENTRY_HDR);
	memcpy(meta + 28, &plen, 4);
	memset(meta + CT_MIG_ENTRY_HDR, 'a', CT_MIG_META_MAX - CT_MIG_ENTRY_HDR);
	mc_err err = NULL;
	assert_int_equal(ct_mig_recv_entry(NULL, -1, meta, CT_MIG_META_MAX, 0, false, &err), -1);
	assert_non_null(strstr(mc_error_text(err), "bad path"));
	mc_error_free(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(crc32_values),
	    cmocka_unit_test(stream_round_trip),
	    cmocka_unit_test(paths_and_names),
	    cmocka_unit_test(entry_path_too_long),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
