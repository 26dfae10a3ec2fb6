/* Dirty-page tracking for live migration (docs/migration.md): which pages of guest RAM were
 * written since the last look. Pages are numbered by their offset in guest RAM as minivm lays it
 * out (vm->gm: the bytes below the MMIO hole, then the ones above 4 GiB), one bit per page in a
 * caller's bitmap of vm->gm.size / 4096 bits.
 *
 *   dirty_start     turn tracking on for every RAM slot (every page counts as written once)
 *   dirty_collect   OR the pages written since the last collect into a bitmap
 *   dirty_reprotect write-protect again what the last collect reported: call it before those
 *                   pages are read, so a write after it shows up in the next collect
 *   dirty_stop      tracking off, slots as they were; dirty_free: leave it on (the VM is gone)
 *
 * The tracker is KVM's per-slot dirty bitmap (KVM_GET_DIRTY_LOG, with
 * KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 where offered). One tracker per VM at a time; its calls
 * come from one thread.
 */
#ifndef MINIVM_DIRTY_H
#define MINIVM_DIRTY_H

#include <stdint.h>

#include "error.h"

struct vm;
struct dirty;

int dirty_start(struct vm *vm, struct dirty **out, mc_err *err);
/* *count: the pages set in bm afterwards (bm's earlier bits included). */
int dirty_collect(struct dirty *d, uint64_t *bm, uint64_t *count, mc_err *err);
int dirty_reprotect(struct dirty *d, mc_err *err);
/* Both safe with NULL. */
void dirty_stop(struct dirty *d);
void dirty_free(struct dirty *d);

#endif
