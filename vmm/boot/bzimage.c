#include "bzimage.h"

#include <string.h>

#include "bytes.h"
#include "layout.h"

int bz_parse(const uint8_t *img, size_t len, struct bz_info *bz, mc_err *err)
{
	memset(bz, 0, sizeof(*bz));
	if (len < BP_INIT_SIZE + 4)
		return mc_errorf(err, 0, "bzImage: file too short (%zu bytes)", len);
	if (memcmp(img + BP_HEADER_MAGIC, "HdrS", 4) != 0)
		return mc_errorf(err, 0, "bzImage: no `HdrS` header magic");
	if (get16(img + BP_BOOT_FLAG) != 0xaa55)
		return mc_errorf(err, 0, "bzImage: bad boot flag 0x%04x",
				 get16(img + BP_BOOT_FLAG));
	bz->version = get16(img + BP_VERSION);
	if (bz->version < BZ_MIN_VERSION)
		return mc_errorf(
		    err, 0, "bzImage: boot protocol %u.%02u is too old (64-bit entry needs 2.12)",
		    bz->version >> 8, bz->version & 0xff);
	bz->xloadflags = get16(img + BP_XLOADFLAGS);
	if (!(bz->xloadflags & XLF_KERNEL_64))
		return mc_errorf(err, 0,
				 "bzImage: kernel has no 64-bit entry point (XLF_KERNEL_64)");
	if (!(img[BP_LOADFLAGS] & LOADED_HIGH))
		return mc_errorf(err, 0, "bzImage: kernel is not loaded high (zImage?)");
	bz->setup_sects = img[BP_HDR] ? img[BP_HDR] : 4;
	bz->hdr_end = 0x202 + img[BP_JUMP + 1];
	if (bz->hdr_end > BP_E820_TABLE)
		return mc_errorf(err, 0, "bzImage: setup header too long (%zu)", bz->hdr_end);
	bz->payload_off = ((size_t)bz->setup_sects + 1) * 512;
	if (bz->payload_off >= len)
		return mc_errorf(err, 0, "bzImage: setup (%zu bytes) covers the whole file",
				 bz->payload_off);
	bz->payload_len = len - bz->payload_off;
	bz->initrd_addr_max = get32(img + BP_INITRD_ADDR_MAX);
	bz->cmdline_size = get32(img + BP_CMDLINE_SIZE);
	bz->pref_address = get64(img + BP_PREF_ADDRESS);
	bz->init_size = get32(img + BP_INIT_SIZE);
	if (bz->pref_address < HIGH_MEM_START || bz->pref_address >= MMIO_HOLE_START ||
	    bz->pref_address & 0xfff)
		return mc_errorf(err, 0, "bzImage: unusable load address 0x%llx",
				 (unsigned long long)bz->pref_address);
	if (bz->init_size < bz->payload_len)
		return mc_errorf(err, 0, "bzImage: init_size %u is smaller than the kernel (%zu)",
				 bz->init_size, bz->payload_len);
	if (bz->cmdline_size == 0)
		return mc_errorf(err, 0, "bzImage: cmdline_size is 0");
	return 0;
}

int bz_load(const struct bz_info *bz, const uint8_t *img, struct guest_mem *gm, mc_err *err)
{
	if (!gm_ptr(gm, bz->pref_address, bz->init_size))
		return mc_errorf(
		    err, 0,
		    "guest memory (%llu MiB) too small for this kernel: it needs %llu MiB "
		    "from 0x%llx while it starts",
		    (unsigned long long)(gm->size >> 20),
		    (unsigned long long)((bz->pref_address + bz->init_size) >> 20) + 1,
		    (unsigned long long)bz->pref_address);
	memcpy(gm_ptr(gm, bz->pref_address, bz->payload_len), img + bz->payload_off,
	       bz->payload_len);
	return 0;
}

int bz_boot_params(const struct bz_info *bz, const uint8_t *img, struct guest_mem *gm,
		   uint64_t cmdline_gpa, uint64_t initrd_gpa, uint64_t initrd_size, uint64_t rsdp,
		   mc_err *err)
{
	uint8_t *bp = gm_ptr(gm, BOOT_PARAMS_ADDR, BP_SIZE);
	if (!bp)
		return mc_errorf(err, 0, "zero page: guest memory too small");
	memset(bp, 0, BP_SIZE);
	memcpy(bp + BP_HDR, img + BP_HDR, bz->hdr_end - BP_HDR);
	put16(bp + BP_VID_MODE, 0xffff); /* "normal" */
	bp[BP_TYPE_OF_LOADER] = 0xff;	 /* undefined loader */
	bp[BP_LOADFLAGS] |= CAN_USE_HEAP;
	put16(bp + BP_HEAP_END_PTR, 0xfe00);
	put32(bp + BP_CMD_LINE_PTR, (uint32_t)cmdline_gpa);
	put32(bp + BP_EXT_CMD_LINE, (uint32_t)(cmdline_gpa >> 32));
	if (initrd_size) {
		if (initrd_size > UINT32_MAX)
			return mc_errorf(err, 0, "initrd larger than 4 GiB");
		put32(bp + BP_RAMDISK_IMAGE, (uint32_t)initrd_gpa);
		put32(bp + BP_EXT_RAMDISK_IMG, (uint32_t)(initrd_gpa >> 32));
		put32(bp + BP_RAMDISK_SIZE, (uint32_t)initrd_size);
	}
	put64(bp + BP_ACPI_RSDP_ADDR, rsdp);
	struct mem_range map[BP_E820_MAX];
	size_t n = gm_memory_map(gm, map, BP_E820_MAX);
	bp[BP_E820_ENTRIES] = (uint8_t)n;
	for (size_t i = 0; i < n; i++) {
		uint8_t *e = bp + BP_E820_TABLE + 20 * i;
		put64(e, map[i].addr);
		put64(e + 8, map[i].size);
		put32(e + 16, map[i].type);
	}
	return 0;
}
