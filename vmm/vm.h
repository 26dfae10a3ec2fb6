/* One KVM virtual machine: guest RAM, in-kernel irqchip and PIT, vCPU threads, the trap tables
 * and the devices. vm_create() sets it up, vm_run() runs it until the guest powers off or
 * reboots or a vCPU hits something fatal, vm_destroy() releases everything.
 */
#ifndef MINIVM_VM_H
#define MINIVM_VM_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "guest_mem.h"
#include "io.h"
#include "hw/uart.h"

#define VM_MAX_CPUS 64

enum boot_mode { BOOT_MODE_LONG64, BOOT_MODE_PROT32 };
/* How the boot vCPU starts: mode, entry point and the pointer register (rsi or rbx). */
struct boot_entry {
	enum boot_mode mode;
	uint64_t rip;
	uint64_t rsi, rbx;
	const char *protocol; /* "bzImage" or "PVH" */
};

enum vm_end {
	VM_RUNNING,
	VM_POWEROFF,
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
};

struct vm {
	int kvm_fd, vm_fd;
	uint8_t *ram;
	struct guest_mem gm;
	unsigned ncpus;
	struct vcpu vcpus[VM_MAX_CPUS];
	struct kvm_cpuid2 *cpuid; /* KVM_GET_SUPPORTED_CPUID, adjusted per vCPU at creation */
	struct io_bus pio, mmio;
	struct uart uart;
	struct boot_entry entry;

	pthread_mutex_t end_lock;
	enum vm_end end;
	char end_msg[512];
	int signal;	    /* VM_SIGNALED: which signal */
	int pending_signal; /* SIGINT/SIGTERM caught, not yet acted on (vCPU 0 does) */
	uint8_t pm1_evt[4]; /* ACPI PM1a status and enable (under end_lock) */
	int guest_status;   /* the guest command's exit status from the debug port, or -1 */
};

/* pit: also create the in-kernel 8254 (KVM_CREATE_PIT2). */
int vm_create(struct vm *vm, unsigned ncpus, uint64_t mem, bool pit, mc_err *err);
/* Register the platform devices (UART, debug port, ACPI sleep/reset, i8042, CMOS). */
int vm_add_devices(struct vm *vm, int console_fd, mc_err *err);
/* Create the vCPUs (CPUID, MSRs, LAPIC, registers for vm->entry). */
int vm_create_vcpus(struct vm *vm, mc_err *err);
/* Run vCPU 0 on the calling thread and a thread per other vCPU until the VM ends. */
int vm_run(struct vm *vm, mc_err *err);
/* End the VM (first caller wins) and kick every vCPU out of KVM_RUN. Thread-safe. */
void vm_end(struct vm *vm, enum vm_end why, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* "vcpu0 RIP 0x..., vcpu1 RIP 0x..." for reports (after vm_run returned). */
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

/* devices.c */
int devices_register(struct vm *vm, int console_fd, mc_err *err);

#endif
