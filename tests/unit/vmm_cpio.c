/* Unit tests for the newc cpio writer and the argument archive minivm appends to the initrd:
 * header fields, 4-byte alignment of every header, name and data, sizes, the trailer, and the
 * NUL-terminated argv/env files (vmm/boot/cpio.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "lib/error.h"
#include "vmm/boot/cpio.h"

struct entry {
	char name[64];
	uint32_t fields[13];
	const uint8_t *data;
	size_t hdr_off, data_off;
};

static uint32_t hex8(const uint8_t *p)
{
	char s[9];
	memcpy(s, p, 8);
	s[8] = '\0';
	for (int i = 0; i < 8; i++)
		assert_true((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'F'));
	return (uint32_t)strtoul(s, NULL, 16);
}

/* Walk the archive the way the kernel does; returns the number of entries (trailer included). */
static size_t walk(const struct cpio *c, struct entry *out, size_t max)
{
	size_t off = 0, n = 0;
	while (off < c->len) {
		assert_true(n < max);
		struct entry *e = &out[n++];
		assert_int_equal(off & 3, 0);
		assert_true(off + CPIO_HDR_LEN <= c->len);
		assert_memory_equal(c->data + off, "070701", 6);
		for (int i = 0; i < 13; i++)
			e->fields[i] = hex8(c->data + off + 6 + 8 * i);
		size_t namesize = e->fields[11], filesize = e->fields[6];
		assert_true(namesize > 0 && namesize < sizeof(e->name));
		memcpy(e->name, c->data + off + CPIO_HDR_LEN, namesize);
		assert_int_equal(e->name[namesize - 1], '\0'); /* the NUL is counted */
		e->hdr_off = off;
		e->data_off = (off + CPIO_HDR_LEN + namesize + 3) & ~(size_t)3;
		for (size_t i = off + CPIO_HDR_LEN + namesize; i < e->data_off; i++)
			assert_int_equal(c->data[i], 0); /* padding is zeros */
		e->data = c->data + e->data_off;
		off = (e->data_off + filesize + 3) & ~(size_t)3;
		for (size_t i = e->data_off + filesize; i < off; i++)
			assert_int_equal(c->data[i], 0);
		assert_true(off <= c->len);
	}
	assert_int_equal(off, c->len);
	return n;
}

static void entries_and_alignment(void **state)
{
	(void)state;
	mc_err err = NULL;
	struct cpio c = {0};
	/* names and sizes of every length modulo 4, so each padding case occurs */
	const char *names[] = {"a", "ab", "abc", "abcd", "abcde"};
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(cpio_add(&c, names[i], S_IFREG | 0444, "xyzw!", i, &err), 0);
	assert_int_equal(cpio_add(&c, "d", S_IFDIR | 0755, "", 0, &err), 0);
	assert_int_equal(cpio_finish(&c, &err), 0);
	assert_int_equal(c.len & 3, 0);
	struct entry e[8];
	assert_int_equal(walk(&c, e, 8), 7);
	for (size_t i = 0; i < 5; i++) {
		assert_string_equal(e[i].name, names[i]);
		assert_int_equal(e[i].fields[0], i + 1);	  /* ino */
		assert_int_equal(e[i].fields[1], S_IFREG | 0444); /* mode */
		assert_int_equal(e[i].fields[4], 1);		  /* nlink */
		assert_int_equal(e[i].fields[6], i);		  /* filesize */
		assert_int_equal(e[i].fields[11], strlen(names[i]) + 1);
		assert_int_equal(e[i].data_off & 3, 0);
		assert_memory_equal(e[i].data, "xyzw!", i);
	}
	/* the first header: 110 bytes + "a\0" = 112, data right after */
	assert_int_equal(e[0].data_off, 112);
	assert_int_equal(e[1].hdr_off, 112);
	assert_int_equal(e[5].fields[1], S_IFDIR | 0755);
	assert_int_equal(e[5].fields[4], 2);
	assert_string_equal(e[6].name, "TRAILER!!!");
	assert_int_equal(e[6].fields[0], 0);
	assert_int_equal(e[6].fields[6], 0);
	cpio_free(&c);
	assert_null(c.data);
}

static void args_archive(void **state)
{
	(void)state;
	mc_err err = NULL;
	struct cpio c;
	char *args[] = {"sh", "-c", "printf \"a\\tb\\n\" '$x' `y`", "", " ", "caf\xc3\xa9\n"};
	char *env[] = {"A=1", "B=", "C=x=y\nz"};
	assert_int_equal(boot_args_archive(args, 6, env, 3, &c, &err), 0);
	struct entry e[8];
	assert_int_equal(walk(&c, e, 8), 4);
	assert_string_equal(e[0].name, BOOT_ARGS_DIR);
	assert_int_equal(e[0].fields[1], S_IFDIR | 0755);
	assert_string_equal(e[1].name, BOOT_ARGV_FILE);
	assert_string_equal(e[2].name, BOOT_ENV_FILE);
	assert_string_equal(e[3].name, "TRAILER!!!");
	/* argv: every argument followed by one NUL, bytes unchanged */
	size_t want = 0;
	for (size_t i = 0; i < 6; i++)
		want += strlen(args[i]) + 1;
	assert_int_equal(e[1].fields[6], want);
	const char *p = (const char *)e[1].data;
	for (size_t i = 0; i < 6; i++) {
		assert_string_equal(p, args[i]);
		p += strlen(args[i]) + 1;
	}
	p = (const char *)e[2].data;
	assert_int_equal(e[2].fields[6], 4 + 3 + 8);
	for (size_t i = 0; i < 3; i++) {
		assert_string_equal(p, env[i]);
		p += strlen(env[i]) + 1;
	}
	cpio_free(&c);

	/* no arguments, no variables: the files exist and are empty */
	assert_int_equal(boot_args_archive(NULL, 0, NULL, 0, &c, &err), 0);
	assert_int_equal(walk(&c, e, 8), 4);
	assert_int_equal(e[1].fields[6], 0);
	assert_int_equal(e[2].fields[6], 0);
	cpio_free(&c);

	/* 64 KiB of arguments */
	static char big[1024];
	memset(big, 'q', sizeof(big) - 1);
	char *many[64];
	for (size_t i = 0; i < 64; i++)
		many[i] = big;
	assert_int_equal(boot_args_archive(many, 64, NULL, 0, &c, &err), 0);
	assert_int_equal(walk(&c, e, 8), 4);
	assert_int_equal(e[1].fields[6], 64 * 1024);
	cpio_free(&c);
}

static void bad_env(void **state)
{
	(void)state;
	mc_err err = NULL;
	struct cpio c;
	char *noeq[] = {"A=1", "JUSTNAME"};
	assert_int_equal(boot_args_archive(NULL, 0, noeq, 2, &c, &err), -1);
	assert_non_null(strstr(err->msg, "`JUSTNAME` is not NAME=VALUE"));
	assert_null(c.data);
	mc_error_free(&err);
	char *noname[] = {"=v"};
	assert_int_equal(boot_args_archive(NULL, 0, noname, 1, &c, &err), -1);
	mc_error_free(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(entries_and_alignment),
	    cmocka_unit_test(args_archive),
	    cmocka_unit_test(bad_env),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
