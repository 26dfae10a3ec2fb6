/* One KVM virtual machine: guest RAM and its memory slots, the in-kernel irqchip (and PIT),
 * the interrupt layer, the two buses, the device registry, the vCPU threads and the VM's state.
 *
 *   CREATED --vm_start--> RUNNING --vm_pause--> PAUSED --vm_resume--> RUNNING
 *      any state --vm_end (poweroff, reboot, a fatal exit, a signal)--> STOPPED (after vm_join)
 *
 * PAUSED means every vCPU thread is parked outside KVM_RUN, after a KVM_RUN that returned
 * EINTR, so any I/O a vCPU exited for is complete in KVM (its documented condition for a
 * consistent state), and every device's pause op has run. vm_pause/vm_resume are called by
 * the control thread (the event loop), vm_end by anyone.
 */
#ifndef MINIVM_VM_H
#define MINIVM_VM_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "bus.h"
#include "device.h"
#include "error.h"
#include "guest_mem.h"
#include "irq.h"
#include "memslots.h"

#define VM_MAX_CPUS 64

enum boot_mode { BOOT_MODE_LONG64, BOOT_MODE_PROT32 };
/* How the boot vCPU starts: mode, entry point and the pointer register (rsi or rbx). */
struct boot_entry {
	enum boot_mode mode;
	uint64_t rip;
	uint64_t rsi, rbx;
	const char *protocol; /* "bzImage" or "PVH" */
};

enum vm_state { VM_STATE_CREATED, VM_STATE_RUNNING, VM_STATE_PAUSED, VM_STATE_STOPPED };

enum vm_end {
	VM_RUNNING,
	VM_POWEROFF, /* the guest powered off (ACPI S5, KVM's shutdown event) */
	VM_STOPPED,  /* minivm stopped it: the control API's stop, snapshot --stop, migrated */
	VM_REBOOT,
	VM_FAILED,   /* a vCPU hit something fatal: end_msg says what */
	VM_SIGNALED, /* minivm got SIGINT/SIGTERM */
};

struct vm;
struct vcpu {
	struct vm *vm;
	unsigned id;
	int fd;
	struct kvm_run *run;
	size_t run_size;
	pthread_t thread;
	bool started;
	bool quiet;		    /* the last KVM_RUN returned EINTR: no exit left to complete */
	struct kvm_dirty_gfn *ring; /* the dirty ring (dirty.h), vm->ring_entries long, or NULL */
	uint32_t ring_next;	    /* the next entry to harvest (vm->ring_lock) */
	bool throttle_kick;	    /* throttle.h: kicked out of KVM_RUN to sleep a while */
};

struct vm {
	int kvm_fd, vm_fd;
	uint8_t *ram;
	struct guest_mem gm;
	struct memslots slots;
	struct irq_chip irq;
	struct bus pio, mmio;
	struct devices devices;
	unsigned ncpus;
	struct vcpu vcpus[VM_MAX_CPUS];
	struct kvm_cpuid2 *cpuid; /* KVM_GET_SUPPORTED_CPUID, adjusted per vCPU at creation */
	struct boot_entry entry;

	/* The dirty ring (dirty.h: dirty_ring_enable, before the vCPUs exist): entries per
	 * vCPU, 0 without. Harvested under ring_lock into ring_bm (a tracker's), else dropped. */
	uint32_t ring_entries;
	pthread_mutex_t ring_lock;
	uint64_t *ring_bm;
	uint64_t ring_harvested; /* entries taken from the rings so far (ring_lock) */
	/* Auto-converge (throttle.h): the share of each time slice vCPUs sleep, 0-99 (%). */
	uint32_t throttle_pct;
	/* Coalesced writes (coalesced.h): KVM's ring page in vCPU 0's mapping (coal_page: its
	 * page offset, 0 without), replayed under coal_lock. */
	int coal_page;
	bool coal_pio;
	struct kvm_coalesced_mmio_ring *coal_ring;
	uint32_t coal_max;
	pthread_mutex_t coal_lock;
	uint64_t coal_count;

	/* The state machine (state_lock, state_cond). */
	pthread_mutex_t state_lock;
	pthread_cond_t state_cond;
	enum vm_state state;
	bool pause_req;	 /* read by vCPU threads without the lock */
	unsigned parked; /* vCPU threads parked for a pause */
	unsigned live;	 /* vCPU threads not yet ended */
	int end_fd;	 /* eventfd, readable once the VM has ended (the event loop watches it) */

	pthread_mutex_t end_lock;
	enum vm_end end;
	char end_msg[512];
	int signal;	  /* VM_SIGNALED: which signal */
	int guest_status; /* the guest command's exit status from the debug port, or -1 */
};

/* pit: also create the in-kernel 8254 (KVM_CREATE_PIT2). */
int vm_create(struct vm *vm, unsigned ncpus, uint64_t mem, bool pit, mc_err *err);
/* Likewise with guest RAM mapped MAP_PRIVATE from mem_fd (a snapshot's memory file, mem bytes);
 * mem_fd -1: anonymous memory. */
int vm_create_from(struct vm *vm, unsigned ncpus, uint64_t mem, bool pit, int mem_fd, mc_err *err);
/* Transparent huge pages for guest RAM's first touches (MADV_HUGEPAGE, the default), or 4 KiB
 * pages (MADV_NOHUGEPAGE: an incoming migration's receive, see migrate.c). The first 2 MiB
 * always get 4 KiB pages. */
void vm_ram_thp(struct vm *vm, bool on);
/* Create the vCPUs (CPUID, MSRs, LAPIC, registers for vm->entry). */
int vm_create_vcpus(struct vm *vm, mc_err *err);
/* Start a thread per vCPU: CREATED -> RUNNING. */
int vm_start(struct vm *vm, mc_err *err);
/* Park every vCPU and quiesce the devices: RUNNING -> PAUSED. *ns: how long it took. */
int vm_pause(struct vm *vm, uint64_t *ns, mc_err *err);
/* PAUSED -> RUNNING; *ns: until every vCPU left its parking place. */
int vm_resume(struct vm *vm, uint64_t *ns, mc_err *err);
enum vm_state vm_state(struct vm *vm);
const char *vm_state_name(enum vm_state s);
/* Wait for the vCPU threads after the VM ended: -> STOPPED. Fails with end_msg on VM_FAILED. */
int vm_join(struct vm *vm, mc_err *err);
/* End the VM (first caller wins), kick every vCPU out of KVM_RUN (parked ones too) and wake
 * the event loop. Thread-safe. */
void vm_end(struct vm *vm, enum vm_end why, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
bool vm_ended(struct vm *vm);
void vm_set_guest_status(struct vm *vm, int status);
/* "vcpu0 RIP 0x..., vcpu1 RIP 0x..." for reports (after vm_join). */
void vm_describe_cpus(struct vm *vm, char *buf, size_t len);
void vm_destroy(struct vm *vm);
/* Like vm_destroy, but KVM's own teardown (the irqchip's and PIT's SRCU grace periods, ~10-25
 * ms on some hosts) happens in a helper process after we exit: the helper holds the last
 * references to the VM, vCPU and /dev/kvm files, and our stdin, stdout and stderr, and exits
 * once we are gone, so a reader of our output sees EOF only when every KVM object is released.
 * Falls back to vm_destroy when the helper cannot be started. */
void vm_release_detached(struct vm *vm);

/* vcpu.c */
int vcpu_create(struct vm *vm, unsigned id, mc_err *err);
void *vcpu_thread(void *arg);
void vcpu_destroy(struct vcpu *v);

/* cpuid.c: copy of base with the topology and APIC id of vCPU id out of ncpus. */
struct kvm_cpuid2 *cpuid_for_vcpu(const struct kvm_cpuid2 *base, unsigned ncpus, unsigned id);

#endif
