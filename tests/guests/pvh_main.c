/* PVH side of the test guest: read struct hvm_start_info (32-bit code, paging off). */
#include <stdint.h>

#include "guest.h"

/* Written from xen/include/public/arch-x86/hvm/start_info.h, independently of vmm/pvh.h, so a
 * layout mistake there shows up here. */
#define HVM_START_MAGIC 0x336ec578u
struct hvm_start_info {
	uint32_t magic, version, flags, nr_modules;
	uint64_t modlist_paddr, cmdline_paddr, rsdp_paddr, memmap_paddr;
	uint32_t memmap_entries, reserved;
};
struct hvm_modlist_entry {
	uint64_t paddr, size, cmdline_paddr, reserved;
};
struct hvm_memmap_table_entry {
	uint64_t addr, size;
	uint32_t type, reserved;
};

__attribute__((noreturn)) void pvh_main(const struct hvm_start_info *si)
{
	struct boot_view bv = {.protocol = "PVH"};
	if (si->magic != HVM_START_MAGIC)
		bv.failed = 1;
	else if (si->version < 1 || !si->memmap_paddr)
		bv.failed = 2;
	if (!bv.failed) {
		bv.cmdline = (const char *)(uintptr_t)si->cmdline_paddr;
		bv.rsdp = (const uint8_t *)(uintptr_t)si->rsdp_paddr;
		if (si->nr_modules >= 1) {
			const struct hvm_modlist_entry *m =
			    (const void *)(uintptr_t)si->modlist_paddr;
			bv.initrd = (const uint8_t *)(uintptr_t)m->paddr;
			bv.initrd_size = m->size;
		}
		const struct hvm_memmap_table_entry *e = (const void *)(uintptr_t)si->memmap_paddr;
		bv.map_entries = si->memmap_entries;
		for (unsigned i = 0; i < si->memmap_entries; i++)
			if (e[i].type == 1)
				bv.ram_bytes += e[i].size;
	}
	guest_run(&bv);
}
