/* Snapshots of a paused VM (docs/snapshot.md): a directory with `state` (a header and
 * checksummed sections: vCPU registers and in-kernel state, irqchip, PIT, kvmclock, devices) and
 * `memory` (guest RAM, sparse). A restore maps `memory` MAP_PRIVATE, so it costs the same
 * whatever the guest's size.
 *
 *   save:    snap_save(vm, dir) while the VM is PAUSED
 *   restore: snap_open(dir) -> vm_create_from(..., snap->mem_fd) -> devices, vCPUs created as
 *            for a boot -> snap_apply(snap, vm) -> vm_start
 *
 * snap_parse() is the whole bounds-checked parser of a state file and needs no KVM (the
 * fuzz target tests/fuzz/vmm_snapshot.c calls it).
 */
#ifndef MINIVM_SNAPSHOT_H
#define MINIVM_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define SNAP_MAGIC	 "MINIVMSS"
#define SNAP_VERSION	 1u
#define SNAP_HEADER_LEN	 64u
#define SNAP_SECTION_HDR 16u
#define SNAP_STATE_MAX	 (64u << 20) /* the whole state file */
#define SNAP_SECTION_MAX (16u << 20)
#define SNAP_MAX_CPUS	 64u
#define SNAP_MSRS_MAX	 1024u
#define SNAP_FLAG_PIT	 1u
#define SNAP_STATE_FILE	 "state"
#define SNAP_MEMORY_FILE "memory"

/* Section types. VM-wide ones have index 0 (the irqchip: its chip id); vCPU ones the vCPU. */
enum snap_type {
	SNAP_CLOCK = 1,	     /* u64 kvmclock (KVM_GET_CLOCK), u64 realtime ns when saved */
	SNAP_IRQCHIP = 2,    /* struct kvm_irqchip, index 0 PIC master, 1 PIC slave, 2 IOAPIC */
	SNAP_PIT = 3,	     /* struct kvm_pit_state2 */
	SNAP_DEVICES = 4,    /* devices_save()'s stream */
	SNAP_MANIFEST = 5,   /* the device manifest (manifest.h; absent in older snapshots) */
	SNAP_REGS = 16,	     /* struct kvm_regs */
	SNAP_SREGS = 17,     /* struct kvm_sregs (when the host lacks SREGS2) */
	SNAP_SREGS2 = 18,    /* struct kvm_sregs2 */
	SNAP_FPU = 19,	     /* struct kvm_fpu (when the host lacks XSAVE) */
	SNAP_XSAVE = 20,     /* the XSAVE area, KVM_GET_XSAVE2's size (>= 4096) */
	SNAP_XCRS = 21,	     /* struct kvm_xcrs */
	SNAP_MSRS = 22,	     /* u32 count, then count x (u32 index, u32 0, u64 value) */
	SNAP_LAPIC = 23,     /* struct kvm_lapic_state */
	SNAP_EVENTS = 24,    /* struct kvm_vcpu_events */
	SNAP_MP_STATE = 25,  /* struct kvm_mp_state */
	SNAP_DEBUGREGS = 26, /* struct kvm_debugregs */
	SNAP_TYPE_MAX = 27,
};

struct snap_section {
	const uint8_t *p; /* NULL: absent */
	uint32_t len;
};

/* A parsed state file: sections point into buf. */
struct snap {
	uint32_t version, ncpus, flags, tsc_khz;
	uint64_t mem_size, saved_at_ns;
	struct snap_section sec[SNAP_TYPE_MAX][SNAP_MAX_CPUS];
	uint8_t *buf; /* owned (snap_open) */
	size_t len;
	int mem_fd; /* snap_open: `memory`, checked to hold mem_size bytes */
};

/* Parse and check a whole state file: magic, version, header CRC, geometry, every section's
 * bounds, CRC, type, index and length, the sections each vCPU needs, nothing left over. */
int snap_parse(const uint8_t *buf, size_t len, struct snap *s, mc_err *err);
/* Read and parse DIR/state, open DIR/memory. *out: freed with snap_close. */
int snap_open(const char *dir, struct snap **out, mc_err *err);
void snap_close(struct snap *s);

struct vm;
/* Put the saved state into a VM created with the snapshot's geometry, its devices and vCPUs
 * created and not started: irqchip, PIT, clock, then per vCPU in KVM's order, then devices. */
int snap_apply(const struct snap *s, struct vm *vm, mc_err *err);

struct snap_stats {
	uint64_t state_bytes, memory_bytes; /* memory: non-zero bytes written */
	uint64_t state_ns, memory_ns;
};
/* Save the PAUSED vm into dir (created if missing; files replaced atomically: a VM restored from
 * dir keeps its own mapping of the old memory file). */
int snap_save(struct vm *vm, const char *dir, struct snap_stats *st, mc_err *err);

struct state_w;
/* The state file's bytes (header and sections, no memory) of the PAUSED vm into *out (freed
 * with state_w_free): what snap_save writes as `state`, and what migration sends last. */
int snap_state(struct vm *vm, struct state_w *out, mc_err *err);

/* Which pages of guest RAM can hold data (snap_save's and migration's zero-page skipping):
 * false means the page reads as zero without looking (never touched in anonymous RAM, a hole
 * of the file a restored VM's RAM is mapped from); true: look (snap_page_zero). off is the
 * byte offset in RAM (vm->gm.host), increasing from one call to the next for speed. */
struct snap_scan;
struct snap_scan *snap_scan_new(const uint8_t *ram);
bool snap_scan_maybe_data(struct snap_scan *ps, uint64_t off);
void snap_scan_free(struct snap_scan *ps);
/* Is the 4 KiB page at p all zero? */
bool snap_page_zero(const uint8_t *p);

#endif
