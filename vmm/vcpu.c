/* vCPUs: creation (CPUID, MSRs, LAPIC, FPU, boot registers) and the one exit switch. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cleanup.h"
#include "coalesced.h"
#include "dirty.h"
#include "layout.h"
#include "log.h"
#include "throttle.h"
#include "timings.h"
#include "vm.h"

#define MSR_IA32_SYSENTER_CS  0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_IA32_MISC_ENABLE  0x1a0
#define MSR_MTRR_DEF_TYPE     0x2ff
#define MSR_STAR	      0xc0000081
#define MSR_LSTAR	      0xc0000082
#define MSR_CSTAR	      0xc0000083
#define MSR_SYSCALL_MASK      0xc0000084
#define MSR_KERNEL_GS_BASE    0xc0000102

#define CR0_PE	 0x1u
#define CR0_ET	 0x10u
#define CR0_PG	 0x80000000u
#define CR4_PAE	 0x20u
#define EFER_LME 0x100u
#define EFER_LMA 0x400u

/* Architectural reset-ish values Linux expects from a boot loader. The TSC is left alone:
 * KVM synchronizes it across vCPUs at creation, a late write from here would unsync it. A MSR the
 * host's KVM does not know (PVM lacks some) is skipped with a debug message: none is vital. */
static void set_msrs(struct vcpu *v)
{
	static const struct {
		uint32_t index;
		uint64_t value;
	} msrs[] = {
	    {MSR_IA32_SYSENTER_CS, 0},
	    {MSR_IA32_SYSENTER_ESP, 0},
	    {MSR_IA32_SYSENTER_EIP, 0},
	    {MSR_STAR, 0},
	    {MSR_LSTAR, 0},
	    {MSR_CSTAR, 0},
	    {MSR_SYSCALL_MASK, 0},
	    {MSR_KERNEL_GS_BASE, 0},
	    {MSR_IA32_MISC_ENABLE, 1 /* fast strings */},
	    {MSR_MTRR_DEF_TYPE, 1u << 11 | 6 /* MTRRs on, default write-back */},
	};
	_Alignas(struct kvm_msrs)
	    uint8_t buf[sizeof(struct kvm_msrs) + sizeof(struct kvm_msr_entry)];
	struct kvm_msrs *one = (struct kvm_msrs *)buf;
	for (size_t i = 0; i < MC_ARRAY_SIZE(msrs); i++) {
		memset(buf, 0, sizeof(buf));
		one->nmsrs = 1;
		one->entries[0].index = msrs[i].index;
		one->entries[0].data = msrs[i].value;
		if (ioctl(v->fd, KVM_SET_MSRS, one) != 1)
			mc_log_debug("vcpu%u: MSR 0x%x not settable here", v->id, msrs[i].index);
	}
}

/* LINT0 as ExtINT (the 8259 path) and LINT1 as NMI, as a PC BIOS leaves them. */
static int set_lapic(struct vcpu *v, mc_err *err)
{
	struct kvm_lapic_state la;
	if (ioctl(v->fd, KVM_GET_LAPIC, &la) < 0)
		return mc_errorf(err, errno, "vcpu%u: KVM_GET_LAPIC", v->id);
	uint32_t lint0, lint1;
	memcpy(&lint0, la.regs + 0x350, 4);
	memcpy(&lint1, la.regs + 0x360, 4);
	lint0 = (lint0 & ~0x700u) | 7u << 8;
	lint1 = (lint1 & ~0x700u) | 4u << 8;
	memcpy(la.regs + 0x350, &lint0, 4);
	memcpy(la.regs + 0x360, &lint1, 4);
	if (ioctl(v->fd, KVM_SET_LAPIC, &la) < 0)
		return mc_errorf(err, errno, "vcpu%u: KVM_SET_LAPIC", v->id);
	return 0;
}

static void seg(struct kvm_segment *s, uint16_t sel, uint8_t type, bool code64, bool tss)
{
	memset(s, 0, sizeof(*s));
	s->selector = sel;
	s->base = 0;
	s->limit = tss ? 0x67 : 0xffffffff;
	s->type = type;
	s->present = 1;
	s->s = tss ? 0 : 1;
	s->l = code64;
	s->db = (tss || code64) ? 0 : 1;
	s->g = tss ? 0 : 1;
}

static int set_boot_regs(struct vcpu *v, mc_err *err)
{
	const struct boot_entry *be = &v->vm->entry;
	struct kvm_sregs sr;
	if (ioctl(v->fd, KVM_GET_SREGS, &sr) < 0)
		return mc_errorf(err, errno, "vcpu%u: KVM_GET_SREGS", v->id);
	bool lm = be->mode == BOOT_MODE_LONG64;
	seg(&sr.cs, BOOT_CS, 0xb, lm, false); /* execute/read, accessed */
	seg(&sr.ds, BOOT_DS, 0x3, false, false);
	sr.es = sr.fs = sr.gs = sr.ss = sr.ds;
	seg(&sr.tr, BOOT_TSS, 0xb, false, true); /* busy 32-bit TSS */
	sr.gdt.base = GDT_ADDR;
	sr.gdt.limit = 5 * 8 - 1;
	sr.idt.base = 0;
	sr.idt.limit = 0;
	if (lm) {
		sr.cr3 = PML4_ADDR;
		sr.cr4 = CR4_PAE;
		sr.cr0 = CR0_PE | CR0_ET | CR0_PG;
		sr.efer = EFER_LME | EFER_LMA;
	} else {
		sr.cr0 = CR0_PE | CR0_ET;
		sr.cr3 = sr.cr4 = 0;
		sr.efer = 0;
	}
	if (ioctl(v->fd, KVM_SET_SREGS, &sr) < 0)
		return mc_errorf(err, errno, "vcpu%u: KVM_SET_SREGS", v->id);
	struct kvm_regs r = {.rflags = 0x2, .rip = be->rip, .rsi = be->rsi, .rbx = be->rbx};
	if (ioctl(v->fd, KVM_SET_REGS, &r) < 0)
		return mc_errorf(err, errno, "vcpu%u: KVM_SET_REGS", v->id);
	return 0;
}

int vcpu_create(struct vm *vm, unsigned id, mc_err *err)
{
	struct vcpu *v = &vm->vcpus[id];
	v->vm = vm;
	v->id = id;
	v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (v->fd < 0)
		return mc_errorf(err, errno, "vcpu%u: KVM_CREATE_VCPU", id);
	int sz = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (sz < (int)sizeof(struct kvm_run))
		return mc_errorf(err, errno, "KVM_GET_VCPU_MMAP_SIZE");
	v->run_size = (size_t)sz;
	void *run = mmap(NULL, v->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (run == MAP_FAILED)
		return mc_errorf(err, errno, "vcpu%u: mmap kvm_run", id);
	v->run = run;
	if (id == 0 && coalesced_map(vm, v, err) < 0)
		return -1;
	if (vm->ring_entries) {
		long pg = sysconf(_SC_PAGESIZE);
		void *ring = mmap(NULL, (size_t)vm->ring_entries * sizeof(struct kvm_dirty_gfn),
				  PROT_READ | PROT_WRITE, MAP_SHARED, v->fd,
				  (off_t)KVM_DIRTY_LOG_PAGE_OFFSET * pg);
		if (ring == MAP_FAILED)
			return mc_errorf(err, errno, "vcpu%u: mmap the dirty ring", id);
		v->ring = ring;
	}

	_cleanup_free_ struct kvm_cpuid2 *c = cpuid_for_vcpu(vm->cpuid, vm->ncpus, id);
	if (!c)
		return mc_errorf(err, ENOMEM, "vcpu%u: CPUID", id);
	if (ioctl(v->fd, KVM_SET_CPUID2, c) < 0)
		return mc_errorf(err, errno, "vcpu%u: KVM_SET_CPUID2", id);
	set_msrs(v);
	if (set_lapic(v, err) < 0)
		return -1;
	struct kvm_fpu fpu = {.fcw = 0x37f, .mxcsr = 0x1f80};
	if (ioctl(v->fd, KVM_SET_FPU, &fpu) < 0)
		return mc_errorf(err, errno, "vcpu%u: KVM_SET_FPU", id);
	/* The boot vCPU starts at the kernel entry; the others wait for INIT/SIPI in the
	 * in-kernel LAPIC (KVM's default MP state for non-BSPs). */
	if (id == 0 && set_boot_regs(v, err) < 0)
		return -1;
	return 0;
}

void vcpu_destroy(struct vcpu *v)
{
	if (v->run)
		munmap(v->run, v->run_size);
	if (v->ring)
		munmap(v->ring, (size_t)v->vm->ring_entries * sizeof(struct kvm_dirty_gfn));
	v->ring = NULL;
	if (v->fd > 0)
		close(v->fd);
	v->run = NULL;
	v->fd = -1;
}

/* A fatal exit: report where the guest was and a hint, then end the VM. */
static void fatal(struct vcpu *v, const char *what, const char *hint)
{
	struct kvm_regs r;
	struct kvm_sregs sr;
	unsigned long long rip = 0, cr0 = 0;
	if (ioctl(v->fd, KVM_GET_REGS, &r) == 0)
		rip = r.rip;
	if (ioctl(v->fd, KVM_GET_SREGS, &sr) == 0)
		cr0 = sr.cr0;
	vm_end(v->vm, VM_FAILED, "vcpu%u: %s at RIP 0x%llx (CR0 0x%llx)%s%s", v->id, what, rip, cr0,
	       hint ? "; " : "", hint ? hint : "");
}

static const char *pvm_hint(void)
{
	if (access("/sys/module/kvm_pvm", F_OK) == 0)
		return "this host's /dev/kvm is PVM, which cannot run stock kernels: "
		       "run in the lab (build/bin/minilab run -- ...), see `minivm doctor`";
	return NULL;
}

static void handle_io(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	uint32_t size = run->io.size;
	if ((size != 1 && size != 2 && size != 4) || run->io.count == 0 ||
	    run->io.data_offset + (uint64_t)size * run->io.count > v->run_size)
		return;
	for (uint32_t i = 0; i < run->io.count; i++, data += size)
		bus_dispatch(&v->vm->pio, v->id, run->io.port, data, size,
			     run->io.direction == KVM_EXIT_IO_OUT);
}

static void handle_exit(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	char buf[160];
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		handle_io(v);
		break;
	case KVM_EXIT_MMIO:
		if (run->mmio.len >= 1 && run->mmio.len <= 8)
			bus_dispatch(&v->vm->mmio, v->id, run->mmio.phys_addr, run->mmio.data,
				     run->mmio.len, run->mmio.is_write);
		break;
	case KVM_EXIT_INTR:
		break;
	case KVM_EXIT_DIRTY_RING_FULL: /* harvest and reset, then the vCPU goes on */
		dirty_ring_full(v->vm);
		break;
	case KVM_EXIT_HLT:
		fatal(v, "guest halted (KVM_EXIT_HLT)",
		      "the guest stopped with HLT and nothing to wake it");
		break;
	case KVM_EXIT_SHUTDOWN:
		fatal(v, "guest triple fault (KVM_EXIT_SHUTDOWN)",
		      "the guest crashed early; try --console stdio and earlyprintk=serial");
		break;
	case KVM_EXIT_SYSTEM_EVENT:
		if (run->system_event.type == KVM_SYSTEM_EVENT_RESET)
			vm_end(v->vm, VM_REBOOT, "guest reset");
		else
			vm_end(v->vm, VM_POWEROFF, "guest system event %u", run->system_event.type);
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		snprintf(buf, sizeof(buf), "KVM internal error, suberror %u%s",
			 run->internal.suberror,
			 run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION
			     ? " (instruction emulation failed)"
			     : "");
		fatal(v, buf, pvm_hint());
		break;
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(buf, sizeof(buf), "VM entry failed, hardware reason 0x%llx",
			 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		fatal(v, buf, "invalid guest register state");
		break;
	default:
		snprintf(buf, sizeof(buf), "unhandled KVM exit reason %u", run->exit_reason);
		fatal(v, buf, NULL);
		break;
	}
}

/* Parked for a pause until resumed or ended. Only after a KVM_RUN that returned EINTR: KVM
 * completes an I/O exit's instruction on the next KVM_RUN, so a vCPU parked right after an exit
 * would leave it half done in a saved state. */
static void park(struct vcpu *v)
{
	struct vm *vm = v->vm;
	pthread_mutex_lock(&vm->state_lock);
	vm->parked++;
	pthread_cond_broadcast(&vm->state_cond);
	while (__atomic_load_n(&vm->pause_req, __ATOMIC_SEQ_CST) && !vm_ended(vm))
		pthread_cond_wait(&vm->state_cond, &vm->state_lock);
	vm->parked--;
	pthread_cond_broadcast(&vm->state_cond);
	/* Back into the guest. A new pause can only be asked for after we let go of the lock, and
	 * it sets immediate_exit after its request, so clearing it here loses nothing; vm_end sets
	 * `end` first and the loop checks it after this. */
	__atomic_store_n(&v->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&vm->state_lock);
}

void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	struct vm *vm = v->vm;
	/* SIGUSR1 kicks us out of KVM_RUN; every other signal is the event loop's. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	for (;;) {
		if (vm_ended(vm))
			break;
		if (__atomic_load_n(&vm->pause_req, __ATOMIC_SEQ_CST) && v->quiet) {
			park(v);
			continue;
		}
		if (v->id == 0)
			timings_mark(MS_ENTRY);
		int r = ioctl(v->fd, KVM_RUN, 0);
		/* writes KVM queued without an exit come first: this exit, a pause, a save may
		 * depend on them (conf1's address before its data) */
		coalesced_drain(vm, v->id);
		if (r < 0) {
			if (errno == EINTR) {
				v->quiet = true;
				throttle_vcpu(v);
				continue;
			}
			if (errno == EAGAIN)
				continue;
			char buf[96];
			snprintf(buf, sizeof(buf), "KVM_RUN failed: %s", strerror(errno));
			fatal(v, buf, pvm_hint());
			break;
		}
		v->quiet = false;
		handle_exit(v);
	}
	pthread_mutex_lock(&vm->state_lock);
	vm->live--;
	pthread_cond_broadcast(&vm->state_cond);
	pthread_mutex_unlock(&vm->state_lock);
	return NULL;
}
