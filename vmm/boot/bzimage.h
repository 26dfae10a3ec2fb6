/* The Linux x86 boot protocol (Documentation/arch/x86/boot.rst): bzImage header parsing, loading
 * the protected-mode kernel and building the zero page (struct boot_params) with its e820 map.
 * We use the 64-bit entry point (protocol 2.12+, XLF_KERNEL_64): no real-mode code runs.
 */
#ifndef MINIVM_BZIMAGE_H
#define MINIVM_BZIMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "guest_mem.h"

/* Offsets in the zero page / bzImage (boot.rst, "THE REAL-MODE KERNEL HEADER"). */
#define BP_ACPI_RSDP_ADDR  0x070
#define BP_EXT_RAMDISK_IMG 0x0c0
#define BP_EXT_RAMDISK_SZ  0x0c4
#define BP_EXT_CMD_LINE	   0x0c8
#define BP_E820_ENTRIES	   0x1e8
#define BP_HDR		   0x1f1 /* setup_sects: start of struct setup_header */
#define BP_VID_MODE	   0x1fa
#define BP_BOOT_FLAG	   0x1fe /* 0xaa55 */
#define BP_JUMP		   0x200
#define BP_HEADER_MAGIC	   0x202 /* "HdrS" */
#define BP_VERSION	   0x206
#define BP_TYPE_OF_LOADER  0x210
#define BP_LOADFLAGS	   0x211
#define BP_RAMDISK_IMAGE   0x218
#define BP_RAMDISK_SIZE	   0x21c
#define BP_HEAP_END_PTR	   0x224
#define BP_CMD_LINE_PTR	   0x228
#define BP_INITRD_ADDR_MAX 0x22c
#define BP_KERNEL_ALIGN	   0x230
#define BP_RELOCATABLE	   0x234
#define BP_XLOADFLAGS	   0x236
#define BP_CMDLINE_SIZE	   0x238
#define BP_PREF_ADDRESS	   0x258
#define BP_INIT_SIZE	   0x260
#define BP_E820_TABLE	   0x2d0
#define BP_E820_MAX	   128
#define BP_SIZE		   4096

#define BZ_MIN_VERSION 0x020c /* 2.12: xloadflags, 64-bit entry */
#define XLF_KERNEL_64  0x1
#define LOADED_HIGH    0x01
#define CAN_USE_HEAP   0x80

struct bz_info {
	uint16_t version;
	uint8_t setup_sects;
	uint16_t xloadflags;
	uint32_t initrd_addr_max; /* highest address the initrd may end at (inclusive) */
	uint32_t cmdline_size;	  /* max command line length, without the NUL */
	uint64_t pref_address;	  /* where the protected-mode kernel is loaded */
	uint32_t init_size;	  /* bytes the kernel needs from pref_address while it starts */
	size_t hdr_end;		  /* end of the setup header in the image (0x202 + jump byte) */
	size_t payload_off;	  /* protected-mode kernel: file offset and length */
	size_t payload_len;
};

/* Validate a bzImage and fill *bz. Every header value is checked against len. */
int bz_parse(const uint8_t *img, size_t len, struct bz_info *bz, mc_err *err);

/* Copy the protected-mode kernel to bz->pref_address; checks it and init_size fit in RAM. */
int bz_load(const struct bz_info *bz, const uint8_t *img, struct guest_mem *gm, mc_err *err);

/* Build the zero page at BOOT_PARAMS_ADDR: the image's setup header, loader fields, command
 * line and initrd pointers, ACPI RSDP and the e820 map from gm_memory_map(). */
int bz_boot_params(const struct bz_info *bz, const uint8_t *img, struct guest_mem *gm,
		   uint64_t cmdline_gpa, uint64_t initrd_gpa, uint64_t initrd_size, uint64_t rsdp,
		   mc_err *err);

#endif
