/* Unit tests for the Linux boot protocol side: bzImage header checks, loading, the zero page
 * with its e820 map, the guest memory map, command line building and initrd placement. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/error.h"
#include "vmm/boot/boot.h"
#include "vmm/bytes.h"
#include "vmm/boot/bzimage.h"
#include "vmm/guest_mem.h"
#include "vmm/layout.h"

#define IMG_LEN (2 * 512 + 4096)
#define GM_SIZE (64ull << 20)

/* A minimal, valid bzImage: one setup sector, a 4 KiB payload of 0xab. */
static uint8_t *make_bz(void)
{
	uint8_t *img = calloc(1, IMG_LEN);
	img[BP_HDR] = 1;
	put16(img + BP_BOOT_FLAG, 0xaa55);
	img[BP_JUMP + 1] = 0x66;
	memcpy(img + BP_HEADER_MAGIC, "HdrS", 4);
	put16(img + BP_VERSION, 0x020f);
	img[BP_LOADFLAGS] = LOADED_HIGH;
	put32(img + BP_INITRD_ADDR_MAX, 0x7fffffff);
	put16(img + BP_XLOADFLAGS, XLF_KERNEL_64);
	put32(img + BP_CMDLINE_SIZE, 2047);
	put64(img + BP_PREF_ADDRESS, 0x1000000);
	put32(img + BP_INIT_SIZE, 0x200000);
	memset(img + 1024, 0xab, 4096);
	return img;
}

static void expect_parse_error(uint8_t *img, size_t len, const char *needle)
{
	struct bz_info bz;
	mc_err err = NULL;
	assert_int_equal(bz_parse(img, len, &bz, &err), -1);
	assert_non_null(err);
	if (!strstr(err->msg, needle))
		fail_msg("error `%s` lacks `%s`", err->msg, needle);
	mc_error_free(&err);
}

static void parse_valid(void **state)
{
	(void)state;
	uint8_t *img = make_bz();
	struct bz_info bz;
	mc_err err = NULL;
	assert_int_equal(bz_parse(img, IMG_LEN, &bz, &err), 0);
	assert_null(err);
	assert_int_equal(bz.version, 0x020f);
	assert_int_equal(bz.setup_sects, 1);
	assert_int_equal(bz.payload_off, 1024);
	assert_int_equal(bz.payload_len, 4096);
	assert_int_equal(bz.pref_address, 0x1000000);
	assert_int_equal(bz.cmdline_size, 2047);
	assert_int_equal(bz.hdr_end, 0x268);
	img[BP_HDR] = 0; /* 0 means 4 setup sectors */
	assert_int_equal(bz_parse(img, IMG_LEN, &bz, &err), 0);
	assert_int_equal(bz.payload_off, 5 * 512);
	free(img);
}

static void parse_rejects(void **state)
{
	(void)state;
	uint8_t *img = make_bz();
	expect_parse_error(img, 0x100, "too short");
	img[BP_HEADER_MAGIC] = 'X';
	expect_parse_error(img, IMG_LEN, "HdrS");
	free(img);
	img = make_bz();
	put16(img + BP_VERSION, 0x020b);
	expect_parse_error(img, IMG_LEN, "too old");
	free(img);
	img = make_bz();
	put16(img + BP_XLOADFLAGS, 0);
	expect_parse_error(img, IMG_LEN, "64-bit");
	free(img);
	img = make_bz();
	img[BP_HDR] = 200; /* setup larger than the file */
	expect_parse_error(img, IMG_LEN, "covers the whole file");
	free(img);
	img = make_bz();
	put64(img + BP_PREF_ADDRESS, 0x1000);
	expect_parse_error(img, IMG_LEN, "load address");
	free(img);
	img = make_bz();
	put32(img + BP_INIT_SIZE, 16);
	expect_parse_error(img, IMG_LEN, "init_size");
	free(img);
	img = make_bz();
	put16(img + BP_BOOT_FLAG, 0);
	expect_parse_error(img, IMG_LEN, "boot flag");
	free(img);
}

static void load_and_zero_page(void **state)
{
	(void)state;
	uint8_t *img = make_bz();
	struct bz_info bz;
	mc_err err = NULL;
	assert_int_equal(bz_parse(img, IMG_LEN, &bz, &err), 0);
	struct guest_mem gm;
	gm_init(&gm, calloc(1, GM_SIZE), GM_SIZE);
	assert_int_equal(bz_load(&bz, img, &gm, &err), 0);
	assert_int_equal(gm.host[0x1000000], 0xab);
	assert_int_equal(gm.host[0x1000000 + 4095], 0xab);
	assert_int_equal(gm.host[0x1000000 + 4096], 0);
	assert_int_equal(
	    bz_boot_params(&bz, img, &gm, CMDLINE_ADDR, 0x3000000, 1234, 0xe0000, &err), 0);
	uint8_t *bp = gm.host + BOOT_PARAMS_ADDR;
	assert_memory_equal(bp + BP_HEADER_MAGIC, "HdrS", 4);
	assert_int_equal(get16(bp + BP_VERSION), 0x020f);
	assert_int_equal(bp[BP_TYPE_OF_LOADER], 0xff);
	assert_true(bp[BP_LOADFLAGS] & CAN_USE_HEAP);
	assert_true(bp[BP_LOADFLAGS] & LOADED_HIGH);
	assert_int_equal(get32(bp + BP_CMD_LINE_PTR), CMDLINE_ADDR);
	assert_int_equal(get32(bp + BP_RAMDISK_IMAGE), 0x3000000);
	assert_int_equal(get32(bp + BP_RAMDISK_SIZE), 1234);
	assert_int_equal(get64(bp + BP_ACPI_RSDP_ADDR), 0xe0000);
	/* e820: low RAM, legacy hole, RAM from 1 MiB to the end */
	assert_int_equal(bp[BP_E820_ENTRIES], 3);
	uint8_t *e = bp + BP_E820_TABLE;
	assert_int_equal(get64(e), 0);
	assert_int_equal(get64(e + 8), EBDA_START);
	assert_int_equal(get32(e + 16), 1);
	assert_int_equal(get64(e + 20), EBDA_START);
	assert_int_equal(get32(e + 36), 2);
	assert_int_equal(get64(e + 40), HIGH_MEM_START);
	assert_int_equal(get64(e + 48), GM_SIZE - HIGH_MEM_START);
	assert_int_equal(get32(e + 56), 1);
	/* a kernel whose init_size does not fit */
	gm_init(&gm, gm.host, 0x1100000);
	assert_int_equal(bz_load(&bz, img, &gm, &err), -1);
	assert_non_null(strstr(err->msg, "too small"));
	mc_error_free(&err);
	free(gm.host);
	free(img);
}

static void memory_map_above_4g(void **state)
{
	(void)state;
	struct guest_mem gm;
	gm_init(&gm, NULL, 5ull << 30);
	assert_int_equal(gm.low_end, MMIO_HOLE_START);
	struct mem_range m[8];
	size_t n = gm_memory_map(&gm, m, 8);
	assert_int_equal(n, 4);
	assert_int_equal(m[2].addr, HIGH_MEM_START);
	assert_int_equal(m[2].addr + m[2].size, MMIO_HOLE_START);
	assert_int_equal(m[3].addr, MMIO_HOLE_END);
	assert_int_equal(m[3].size, (5ull << 30) - MMIO_HOLE_START);
	/* gm_ptr checks bounds on both sides of the hole */
	gm.host = (uint8_t *)0x1000;
	assert_non_null(gm_ptr(&gm, MMIO_HOLE_START - 8, 8));
	assert_null(gm_ptr(&gm, MMIO_HOLE_START - 8, 9));
	assert_null(gm_ptr(&gm, MMIO_HOLE_START, 1));
	assert_non_null(gm_ptr(&gm, MMIO_HOLE_END, 4096));
	assert_null(gm_ptr(&gm, MMIO_HOLE_END + m[3].size - 4, 8));
	assert_null(gm_ptr(&gm, UINT64_MAX - 2, 8));
}

static void cmdline_building(void **state)
{
	(void)state;
	char out[64];
	mc_err err = NULL;
	assert_int_equal(boot_build_cmdline("console=ttyS0 quiet", out, sizeof(out) - 1, &err), 0);
	assert_string_equal(out, "console=ttyS0 quiet"); /* kernel parameters only */
	assert_int_equal(boot_build_cmdline("console=ttyS0 quiet", out, 19, &err), 0);
	assert_int_equal(boot_build_cmdline("console=ttyS0 quiet", out, 18, &err), -1);
	assert_non_null(strstr(err->msg, "longer than 18"));
	mc_error_free(&err);
}

static void initrd_placement(void **state)
{
	(void)state;
	uint64_t a = 0;
	assert_int_equal(boot_place_initrd(0x1800, 0x100000, 0x800000, &a), 0);
	assert_int_equal(a, 0x800000 - 0x2000); /* page aligned, ends below the limit */
	assert_int_equal(boot_place_initrd(0x800000, 0x100000, 0x800000, &a), -1);
	assert_int_equal(boot_place_initrd(0x900000, 0, 0x800000, &a), -1);
	assert_int_equal(boot_place_initrd(0x700000, 0x100000, 0x800000, &a), 0);
	assert_int_equal(a, 0x100000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(parse_valid),	  cmocka_unit_test(parse_rejects),
	    cmocka_unit_test(load_and_zero_page), cmocka_unit_test(memory_map_above_4g),
	    cmocka_unit_test(cmdline_building),	  cmocka_unit_test(initrd_placement),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
