/* The VM's memory-slot table: what KVM was told (KVM_SET_USER_MEMORY_REGION), slot by slot, with
 * the flags each carries (KVM_MEM_LOG_DIRTY_PAGES for migration, KVM_MEM_READONLY). Changing a
 * slot's flags re-registers it. Guest RAM itself is described by struct guest_mem, whose gm_ptr()
 * stays the one bounds-checked way from a guest-physical address to a host pointer.
 *
 * The table part (memslots_add, _find, _set_flags without a VM fd) needs no KVM; with vm_fd >= 0
 * every change is also made in KVM.
 */
#ifndef MINIVM_MEMSLOTS_H
#define MINIVM_MEMSLOTS_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"

#define MEMSLOTS_MAX 32

struct memslot {
	uint32_t id;
	uint32_t flags; /* KVM_MEM_* */
	uint64_t gpa, size;
	void *host;
	bool used;
};

struct memslots {
	int vm_fd; /* -1: table only (tests) */
	struct memslot s[MEMSLOTS_MAX];
};

void memslots_init(struct memslots *m, int vm_fd);
/* A new slot for [gpa, gpa+size) at host; page-aligned, no overlap. *id: its slot number. */
int memslots_add(struct memslots *m, uint64_t gpa, uint64_t size, void *host, uint32_t flags,
		 uint32_t *id, mc_err *err);
/* Change a slot's flags (e.g. turn dirty logging on or off). */
int memslots_set_flags(struct memslots *m, uint32_t id, uint32_t flags, mc_err *err);
/* Remove a slot (size 0 in KVM). */
int memslots_remove(struct memslots *m, uint32_t id, mc_err *err);
/* The slot holding gpa, or NULL. */
const struct memslot *memslots_find(const struct memslots *m, uint64_t gpa);

#endif
