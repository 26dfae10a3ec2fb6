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
 * Two trackers, chosen when the VM is made (KVM refuses KVM_GET_DIRTY_LOG once a VM has rings):
 *   log   KVM's per-slot dirty bitmap (KVM_GET_DIRTY_LOG, with KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2
 *         where offered: collect reads it, reprotect is KVM_CLEAR_DIRTY_LOG);
 *   ring  KVM's per-vCPU dirty rings (KVM_CAP_DIRTY_LOG_RING_ACQ_REL, else _RING): every page a
 *         vCPU dirties is an entry; collect harvests every ring and resets them
 *         (KVM_RESET_DIRTY_RINGS, which write-protects those pages again), so reprotect has
 *         nothing left to do. A vCPU whose ring fills exits (KVM_EXIT_DIRTY_RING_FULL) and
 *         harvests all rings itself (dirty_ring_full) into the running tracker's bitmap.
 * One tracker per VM at a time; its calls come from one thread.
 */
#ifndef MINIVM_DIRTY_H
#define MINIVM_DIRTY_H

#include <stdint.h>

#include "error.h"

struct vm;
struct dirty;

enum dirty_track { DIRTY_TRACK_LOG, DIRTY_TRACK_RING };
/* "log" / "ring" -> *t; an error names the choices. */
int dirty_track_parse(const char *s, enum dirty_track *t, mc_err *err);
const char *dirty_track_name(enum dirty_track t);
/* Rings for vm, which has no vCPU yet: ring_bytes per vCPU (0: the most KVM offers, at most
 * 1 MiB). Fails when this KVM has no dirty ring. */
int dirty_ring_enable(struct vm *vm, uint32_t ring_bytes, mc_err *err);
/* From a vCPU thread after KVM_EXIT_DIRTY_RING_FULL: harvest every ring and reset them. */
void dirty_ring_full(struct vm *vm);

int dirty_start(struct vm *vm, struct dirty **out, mc_err *err);
/* *count: the pages set in bm afterwards (bm's earlier bits included). */
int dirty_collect(struct dirty *d, uint64_t *bm, uint64_t *count, mc_err *err);
int dirty_reprotect(struct dirty *d, mc_err *err);
enum dirty_track dirty_tracker(const struct dirty *d);
/* Ring entries harvested since dirty_start (a page dirtied twice between two harvests may be
 * two entries); 0 for the log. */
uint64_t dirty_ring_entries(struct dirty *d);
/* Both safe with NULL. */
void dirty_stop(struct dirty *d);
void dirty_free(struct dirty *d);

#endif
