/* PVH entry of an uncompressed ELF kernel (xen/include/public/arch-x86/hvm/start_info.h): the
 * ELF note XEN_ELFNOTE_PHYS32_ENTRY names a 32-bit protected-mode entry point (paging off) that
 * receives the physical address of struct hvm_start_info in %ebx.
 */
#ifndef MINIVM_PVH_H
#define MINIVM_PVH_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "guest_mem.h"

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define HVM_START_MAGIC		 0x336ec578u
#define PVH_MAX_SEGMENTS	 16

struct hvm_start_info {
	uint32_t magic;
	uint32_t version; /* 1: has the memory map fields */
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;
	uint32_t memmap_entries;
	uint32_t reserved;
};
struct hvm_modlist_entry {
	uint64_t paddr, size, cmdline_paddr, reserved;
};
struct hvm_memmap_table_entry {
	uint64_t addr, size;
	uint32_t type, reserved;
};

struct pvh_segment {
	uint64_t offset, paddr, filesz, memsz;
};
struct pvh_info {
	uint32_t entry; /* 32-bit physical entry point */
	size_t nseg;
	struct pvh_segment seg[PVH_MAX_SEGMENTS];
	uint64_t lo, hi; /* physical range covered by the loadable segments */
};

/* Validate an ELF64 x86-64 image, find its PVH entry note and loadable segments. */
int pvh_parse(const uint8_t *img, size_t len, struct pvh_info *info, mc_err *err);
/* Copy the segments to their physical addresses (zero-filling bss); checks they fit in RAM. */
int pvh_load(const struct pvh_info *info, const uint8_t *img, struct guest_mem *gm, mc_err *err);
/* Build hvm_start_info at START_INFO_ADDR with the memory map, command line, initrd module. */
int pvh_start_info(struct guest_mem *gm, uint64_t cmdline_gpa, uint64_t initrd_gpa,
		   uint64_t initrd_size, uint64_t rsdp, mc_err *err);

#endif
