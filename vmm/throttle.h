/* vCPU throttling for live migration's auto-converge (docs/migration.md): while a percentage P
 * is set, a thread kicks every vCPU out of KVM_RUN (immediate_exit and SIGUSR1, as a pause
 * does) after each time slice of THROTTLE_SLICE_MS it ran, and each vCPU then sleeps
 * P / (100 - P) slices, so it runs (100 - P)% of the time, as QEMU's cpu-throttle does. The
 * sleep ends early for a pause or the VM's end. */
#ifndef MINIVM_THROTTLE_H
#define MINIVM_THROTTLE_H

#include <stdint.h>

#include "error.h"

#define THROTTLE_SLICE_MS 10u
#define THROTTLE_MAX_PCT  99u

struct vm;
struct vcpu;
struct throttle;

int throttle_new(struct vm *vm, struct throttle **out, mc_err *err);
/* 0 stops throttling; above THROTTLE_MAX_PCT is THROTTLE_MAX_PCT. */
void throttle_set(struct throttle *t, uint32_t pct);
/* Throttling off, the thread gone. Safe with NULL. */
void throttle_free(struct throttle *t);
/* From a vCPU thread after KVM_RUN returned EINTR: sleep if the throttle kicked it. */
void throttle_vcpu(struct vcpu *v);

#endif
