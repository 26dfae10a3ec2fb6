/* Unit tests for the kernel-version checks of `minivm run` (vmm/boot/kver.h): the release named
 * by a bzImage's setup header, and the one in an initramfs's lib/modules/kver entry, with
 * malformed headers and archives refused rather than read past their end. */
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
#include "vmm/boot/kver.h"

static void bzimage_version(void **state)
{
	(void)state;
	uint8_t img[0x1000] = {0};
	char out[KVER_MAX];
	memcpy(img + 0x202, "HdrS", 4);
	img[0x206] = 0x0f, img[0x207] = 0x02; /* protocol 2.15 */
	const char *banner = "6.1.0-57-cloud-amd64 (debian-kernel@lists.debian.org) #1 SMP";
	memcpy(img + 0x800, banner, strlen(banner) + 1);
	img[0x20e] = 0x00, img[0x20f] = 0x06; /* 0x600 + 0x200 */
	assert_int_equal(kver_bzimage(img, sizeof(img), out, sizeof(out)), 20);
	assert_string_equal(out, "6.1.0-57-cloud-amd64");
	/* too small an output buffer: no answer rather than a cut one */
	assert_int_equal(kver_bzimage(img, sizeof(img), out, 8), 0);
	/* a pointer past the end */
	img[0x20e] = 0xff, img[0x20f] = 0xff;
	assert_int_equal(kver_bzimage(img, sizeof(img), out, sizeof(out)), 0);
	/* no pointer, no magic, too short */
	img[0x20e] = 0, img[0x20f] = 0;
	assert_int_equal(kver_bzimage(img, sizeof(img), out, sizeof(out)), 0);
	img[0x20e] = 0x00, img[0x20f] = 0x06;
	assert_int_equal(kver_bzimage(img, 0x300, out, sizeof(out)), 0);
	img[0x202] = 'X';
	assert_int_equal(kver_bzimage(img, sizeof(img), out, sizeof(out)), 0);
}

static void build(struct cpio *c, const char *kver_name, const char *kver)
{
	mc_err err = {0};
	assert_int_equal(cpio_add(c, "bin", S_IFDIR | 0755, NULL, 0, &err), 0);
	assert_int_equal(cpio_add(c, "bin/busybox", S_IFREG | 0755,
				  "\x7f"
				  "ELFxxxxxxx",
				  11, &err),
			 0);
	assert_int_equal(cpio_add(c, "lib", S_IFDIR | 0755, NULL, 0, &err), 0);
	assert_int_equal(cpio_add(c, "lib/modules", S_IFDIR | 0755, NULL, 0, &err), 0);
	if (kver_name)
		assert_int_equal(cpio_add(c, kver_name, S_IFREG | 0644, kver, strlen(kver), &err),
				 0);
	assert_int_equal(cpio_finish(c, &err), 0);
}

static void initrd_version(void **state)
{
	(void)state;
	char out[KVER_MAX];
	struct cpio c = {0};
	build(&c, "lib/modules/kver", "6.12.48+deb13-amd64\n");
	assert_int_equal(kver_initrd(c.data, c.len, out, sizeof(out)), 19);
	assert_string_equal(out, "6.12.48+deb13-amd64");
	/* every cut of the archive: no answer, never a read past the cut (ASan would see it) */
	for (size_t cut = 0; cut < c.len; cut++) {
		uint8_t *copy = malloc(cut ? cut : 1);
		memcpy(copy, c.data, cut);
		size_t n = kver_initrd(copy, cut, out, sizeof(out));
		assert_true(n == 0 || strcmp(out, "6.12.48+deb13-amd64") == 0);
		free(copy);
	}
	cpio_free(&c);

	/* "./" names, as cpio -o writes them from find . */
	struct cpio d = {0};
	build(&d, "./lib/modules/kver", "6.1.0-57-amd64");
	assert_int_equal(kver_initrd(d.data, d.len, out, sizeof(out)), 14);
	assert_string_equal(out, "6.1.0-57-amd64");
	/* a bad hex digit in a size: refused */
	d.data[6 + 6 * 8] = 'g';
	assert_int_equal(kver_initrd(d.data, d.len, out, sizeof(out)), 0);
	cpio_free(&d);

	/* no entry; a compressed (not newc) initrd */
	struct cpio e = {0};
	build(&e, NULL, NULL);
	assert_int_equal(kver_initrd(e.data, e.len, out, sizeof(out)), 0);
	cpio_free(&e);
	const uint8_t gz[] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0};
	assert_int_equal(kver_initrd(gz, sizeof(gz), out, sizeof(out)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(bzimage_version),
	    cmocka_unit_test(initrd_version),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
