#include "guest_mem.h"

size_t gm_memory_map(const struct guest_mem *gm, struct mem_range *out, size_t max)
{
	struct mem_range all[4];
	size_t n = 0;
	uint64_t low_ram = gm->low_end < EBDA_START ? gm->low_end : EBDA_START;
	all[n++] = (struct mem_range){0, low_ram, MEM_RAM};
	/* EBDA, VGA hole, option ROMs, BIOS area (our ACPI tables live at 0xe0000). */
	all[n++] = (struct mem_range){EBDA_START, HIGH_MEM_START - EBDA_START, MEM_RESERVED};
	if (gm->low_end > HIGH_MEM_START)
		all[n++] =
		    (struct mem_range){HIGH_MEM_START, gm->low_end - HIGH_MEM_START, MEM_RAM};
	if (gm->size > gm->low_end)
		all[n++] = (struct mem_range){MMIO_HOLE_END, gm->size - gm->low_end, MEM_RAM};
	if (n > max)
		n = max;
	for (size_t i = 0; i < n; i++)
		out[i] = all[i];
	return n;
}
