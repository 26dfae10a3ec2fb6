/* Coalesced writes (KVM_CAP_COALESCED_PIO and _MMIO): KVM takes a guest write to a registered
 * range without an exit to minivm and appends it to a ring it shares with us (a page of the
 * vCPUs' kvm_run mapping); minivm replays the ring, in order, on the bus after every KVM_RUN
 * that returns, before it handles that exit, parks the vCPU for a pause or saves anything. A
 * device therefore sees the same writes in the same order as if each had exited, only later:
 * right for a register whose write has no effect until another access exits, like conf1's
 * address at 0xcf8 (read back or used by the next 0xcfc access, which exits and replays it
 * first). QEMU coalesces 0xcf8 the same way. In the nested lab an exit to minivm costs about
 * 0.35 ms, so this halves the cost of a config space access through conf1.
 *
 * Where KVM lacks either capability, nothing is registered and the writes exit as before.
 */
#ifndef MINIVM_COALESCED_H
#define MINIVM_COALESCED_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"

struct vm;
struct vcpu;

/* At VM creation (coal_lock is made with the VM): whether KVM offers the ring and where it is
 * in the vCPU mapping. */
void coalesced_init(struct vm *vm);
/* vCPU 0's kvm_run is mapped: find the ring in it (error: KVM's mapping lacks it). */
int coalesced_map(struct vm *vm, struct vcpu *v, mc_err *err);
/* Coalesce writes to [addr, addr + len) (a port range when pio) for the VM's life: KVM drops
 * the zone with the VM (unregistering one waits for an SRCU grace period, 0.2-4 ms on this
 * project's host, a tiny guest's whole run). Returns 1 when registered, 0 when this KVM cannot
 * (the writes exit as before), -1 on an error. */
int coalesced_add(struct vm *vm, uint64_t addr, uint32_t len, bool pio, mc_err *err);
/* Replay the writes KVM queued (any vCPU thread, after its KVM_RUN returned). */
void coalesced_drain(struct vm *vm, unsigned vcpu);
/* Writes replayed so far (tests, debugging). */
uint64_t coalesced_count(struct vm *vm);

#endif
