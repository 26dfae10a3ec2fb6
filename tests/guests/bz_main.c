/* bzImage side of the test guest: read the zero page (64-bit code, identity-mapped). */
#include <stdint.h>

#include "guest.h"

/* Zero page offsets from Documentation/arch/x86/zero-page.rst and boot.rst, independently of
 * vmm/bzimage.h. */
#define BP_ACPI_RSDP_ADDR  0x070
#define BP_EXT_RAMDISK_IMG 0x0c0
#define BP_EXT_CMD_LINE	   0x0c8
#define BP_E820_ENTRIES	   0x1e8
#define BP_HEADER_MAGIC	   0x202
#define BP_TYPE_OF_LOADER  0x210
#define BP_LOADFLAGS	   0x211
#define BP_RAMDISK_IMAGE   0x218
#define BP_RAMDISK_SIZE	   0x21c
#define BP_CMD_LINE_PTR	   0x228
#define BP_E820_TABLE	   0x2d0
#define BP_E820_MAX	   128
#define CAN_USE_HEAP	   0x80

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd64(const uint8_t *p)
{
	return rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

__attribute__((noreturn)) void bz_main(const uint8_t *bp)
{
	struct boot_view bv = {.protocol = "bzImage"};
	if (rd32(bp + BP_HEADER_MAGIC) != 0x53726448) /* "HdrS" copied from our header */
		bv.failed = 1;
	else if (bp[BP_TYPE_OF_LOADER] != 0xff || !(bp[BP_LOADFLAGS] & CAN_USE_HEAP))
		bv.failed = 2;
	if (!bv.failed) {
		bv.cmdline = (const char *)(uintptr_t)(rd32(bp + BP_CMD_LINE_PTR) |
						       (uint64_t)rd32(bp + BP_EXT_CMD_LINE) << 32);
		bv.rsdp = (const uint8_t *)(uintptr_t)rd64(bp + BP_ACPI_RSDP_ADDR);
		bv.initrd =
		    (const uint8_t *)(uintptr_t)(rd32(bp + BP_RAMDISK_IMAGE) |
						 (uint64_t)rd32(bp + BP_EXT_RAMDISK_IMG) << 32);
		bv.initrd_size = rd32(bp + BP_RAMDISK_SIZE);
		bv.map_entries = bp[BP_E820_ENTRIES];
		for (unsigned i = 0; i < bv.map_entries && i < BP_E820_MAX; i++) {
			const uint8_t *e = bp + BP_E820_TABLE + 20 * i;
			if (rd32(e + 16) == 1)
				bv.ram_bytes += rd64(e + 8);
		}
	}
	guest_run(&bv);
}
