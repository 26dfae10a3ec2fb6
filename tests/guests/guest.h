/* What a test guest's entry head hands to guest_run(). */
#ifndef MINI_TEST_GUEST_H
#define MINI_TEST_GUEST_H

#include <stdint.h>

struct boot_view {
	const char *protocol; /* "PVH" or "bzImage" */
	const char *cmdline;
	const uint8_t *initrd;
	uint64_t initrd_size;
	const uint8_t *rsdp;
	uint64_t ram_bytes; /* sum of RAM entries in the memory map */
	unsigned map_entries;
	unsigned failed; /* a protocol-specific check that failed (1-19), 0 if none */
};

__attribute__((noreturn)) void guest_run(const struct boot_view *bv);

#endif
