/* libFuzzer target for minivm's kernel-image parsers: bzImage header and ELF/PVH. Whatever
 * parses is also loaded into a small guest memory, so the bounds checks on sizes and
 * addresses are exercised end to end. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/error.h"
#include "vmm/boot/bzimage.h"
#include "vmm/guest_mem.h"
#include "vmm/boot/pvh.h"

#define FUZZ_MEM (40u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *ram;
	if (!ram)
		ram = malloc(FUZZ_MEM);
	struct guest_mem gm;
	gm_init(&gm, ram, FUZZ_MEM);
	mc_err err = NULL;
	struct bz_info bz;
	if (bz_parse(data, size, &bz, &err) == 0) {
		if (bz_load(&bz, data, &gm, &err) == 0)
			bz_boot_params(&bz, data, &gm, 0x20000, 0, 0, 0xe0000, &err);
	}
	mc_error_free(&err);
	struct pvh_info pvh;
	if (pvh_parse(data, size, &pvh, &err) == 0)
		pvh_load(&pvh, data, &gm, &err);
	mc_error_free(&err);
	return 0;
}
