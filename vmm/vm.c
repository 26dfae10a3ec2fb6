/* The VM: KVM set-up, guest RAM, vCPU threads, the state machine and how a run ends. */
#include "vm.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cleanup.h"
#include "coalesced.h"
#include "gm_dirty.h"
#include "layout.h"
#include "log.h"
#include "util.h"

static void kick_handler(int sig)
{
	(void)sig;
}

/* Ask KVM whether a capability is there (> 0). */
static int has_cap(int fd, long cap)
{
	return ioctl(fd, KVM_CHECK_EXTENSION, cap) > 0;
}

static int get_supported_cpuid(struct vm *vm, mc_err *err)
{
	for (unsigned n = 64; n <= 4096; n *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));
		if (!c)
			return mc_errorf(err, ENOMEM, "CPUID");
		c->nent = n;
		if (ioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
			/* The in-kernel LAPIC emulates the TSC-deadline timer, but KVM leaves the
			 * CPUID bit to the VMM (as QEMU does): with it Linux needs no LAPIC timer
			 * calibration. */
			bool deadline = has_cap(vm->kvm_fd, KVM_CAP_TSC_DEADLINE_TIMER);
			for (unsigned i = 0; i < c->nent && deadline; i++)
				if (c->entries[i].function == 1)
					c->entries[i].ecx |= 1u << 24;
			vm->cpuid = c;
			return 0;
		}
		int e = errno;
		free(c);
		if (e != E2BIG)
			return mc_errorf(err, e, "KVM_GET_SUPPORTED_CPUID");
	}
	return mc_errorf(err, E2BIG, "KVM_GET_SUPPORTED_CPUID");
}

/* Guest RAM, 2 MiB-aligned in our address space: KVM maps a guest page with a 2 MiB EPT/NPT
 * entry only where the host address and the guest address sit at the same offset within 2 MiB,
 * and mmap gives no such alignment by itself (before Linux 6.7). So: reserve 2 MiB more, keep
 * the aligned middle, give the ends back. NULL with errno on failure. */
static void *map_guest_ram(uint64_t mem, int fd)
{
	const uintptr_t align = 2u << 20;
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
	uint8_t *raw = mmap(NULL, mem + align, PROT_NONE, flags, -1, 0);
	if (raw == MAP_FAILED)
		return NULL;
	uint8_t *ram = (uint8_t *)(((uintptr_t)raw + align - 1) & ~(align - 1));
	if (ram > raw)
		munmap(raw, (size_t)(ram - raw));
	munmap(ram + mem, (size_t)(raw + align - ram));
	/* A snapshot's memory file (fd >= 0): mapped copy-on-write, read in page by page as the
	 * guest touches it, so a restore costs the same whatever the size. */
	if (fd >= 0 && mmap(ram, mem, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_FIXED | MAP_NORESERVE, fd, 0) == MAP_FAILED) {
		int saved = errno;
		munmap(ram, mem);
		errno = saved;
		return NULL;
	}
	if (fd < 0 && mprotect(ram, mem, PROT_READ | PROT_WRITE) < 0) {
		int saved = errno;
		munmap(ram, mem);
		errno = saved;
		return NULL;
	}
	return ram;
}

void vm_ram_thp(struct vm *vm, bool on)
{
	/* fewer EPT/NPT walks; fine if unsupported */
	madvise(vm->ram, vm->gm.size, on ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	/* ...except the first 2 MiB, which holds only small things (boot tables, the command line,
	 * ACPI, a tiny kernel) and which Linux maps with 4 KiB pages anyway: zeroing a whole huge
	 * page there at the loader's first write costs 0.1-0.4 ms of set-up (more when the host
	 * compacts memory for it), a few 4 KiB pages 0.01 ms. */
	if (on)
		madvise(vm->ram, 2u << 20, MADV_NOHUGEPAGE);
}

int vm_create(struct vm *vm, unsigned ncpus, uint64_t mem, bool pit, mc_err *err)
{
	return vm_create_from(vm, ncpus, mem, pit, -1, err);
}

int vm_create_from(struct vm *vm, unsigned ncpus, uint64_t mem, bool pit, int mem_fd, mc_err *err)
{
	memset(vm, 0, sizeof(*vm));
	vm->kvm_fd = vm->vm_fd = vm->end_fd = -1;
	vm->irq.vm_fd = -1;
	vm->guest_status = -1;
	vm->ncpus = ncpus;
	vm->state = VM_STATE_CREATED;
	pthread_mutex_init(&vm->end_lock, NULL);
	pthread_mutex_init(&vm->state_lock, NULL);
	pthread_mutex_init(&vm->coal_lock, NULL);
	pthread_cond_init(&vm->state_cond, NULL);
	for (unsigned i = 0; i < VM_MAX_CPUS; i++)
		vm->vcpus[i].fd = -1;
	if (bus_init(&vm->pio, "port", err) < 0 || bus_init(&vm->mmio, "mmio", err) < 0)
		return -1;
	vm->end_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->end_fd < 0)
		return mc_errorf(err, errno, "eventfd");

	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0)
		return mc_errorf(err, errno, "open `/dev/kvm`%s",
				 errno == ENOENT ? " (no KVM here: see `minivm doctor`)"
				 : errno == EACCES
				     ? " (no permission: join the kvm group or run as root)"
				     : "");
	int api = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
	if (api != KVM_API_VERSION)
		return mc_errorf(err, 0, "/dev/kvm speaks API version %d, not %d", api,
				 KVM_API_VERSION);
	static const struct {
		long cap;
		const char *name;
	} need[] = {{KVM_CAP_IRQCHIP, "IRQCHIP"},
		    {KVM_CAP_USER_MEMORY, "USER_MEMORY"},
		    {KVM_CAP_EXT_CPUID, "EXT_CPUID"},
		    {KVM_CAP_IMMEDIATE_EXIT, "IMMEDIATE_EXIT"}};
	if (pit && !has_cap(vm->kvm_fd, KVM_CAP_PIT2))
		return mc_errorf(err, 0,
				 "--pit: /dev/kvm lacks KVM_CAP_PIT2 (see `minivm doctor`)");
	for (size_t i = 0; i < MC_ARRAY_SIZE(need); i++)
		if (!has_cap(vm->kvm_fd, need[i].cap))
			return mc_errorf(err, 0, "/dev/kvm lacks KVM_CAP_%s (see `minivm doctor`)",
					 need[i].name);
	int max_cpus = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (max_cpus <= 0)
		max_cpus = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	if (max_cpus > 0 && ncpus > (unsigned)max_cpus)
		return mc_errorf(err, 0, "--cpus %u: this KVM supports at most %d", ncpus,
				 max_cpus);

	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0)
		return mc_errorf(err, errno, "KVM_CREATE_VM");
	memslots_init(&vm->slots, vm->vm_fd);
	if (has_cap(vm->kvm_fd, KVM_CAP_SET_TSS_ADDR) &&
	    ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)TSS_KVM_ADDR) < 0)
		return mc_errorf(err, errno, "KVM_SET_TSS_ADDR");
	/* Guest RAM before the irqchip: once a VM has one, every KVM_SET_USER_MEMORY_REGION
	 * waits for an SRCU grace period (several ms on some hosts); before, it costs ~0.1 ms. */
	void *ram = map_guest_ram(mem, mem_fd);
	if (!ram)
		return mc_errorf(err, errno, "mmap %llu MiB of guest memory",
				 (unsigned long long)(mem >> 20));
	vm->ram = ram;
	gm_init(&vm->gm, ram, mem);
	if (gm_dirty_init(&vm->gm, err) < 0)
		return -1;
	vm_ram_thp(vm, true);
	/* The helper that releases the VM after minivm exits (vm_release_detached) needs no
	 * copy of guest RAM's page tables. */
	madvise(ram, mem, MADV_DONTFORK);
	if (memslots_add(&vm->slots, 0, vm->gm.low_end, ram, 0, NULL, err) < 0)
		return -1;
	if (mem > vm->gm.low_end && memslots_add(&vm->slots, MMIO_HOLE_END, mem - vm->gm.low_end,
						 vm->ram + vm->gm.low_end, 0, NULL, err) < 0)
		return -1;
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return mc_errorf(err, errno, "KVM_CREATE_IRQCHIP");
	if (irq_chip_init(&vm->irq, vm->kvm_fd, vm->vm_fd, err) < 0)
		return -1;
	coalesced_init(vm);
	if (pit) {
		struct kvm_pit_config pc = {.flags = KVM_PIT_SPEAKER_DUMMY};
		if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pc) < 0)
			return mc_errorf(err, errno, "KVM_CREATE_PIT2");
	}
	return get_supported_cpuid(vm, err);
}

int vm_create_vcpus(struct vm *vm, mc_err *err)
{
	for (unsigned i = 0; i < vm->ncpus; i++)
		if (vcpu_create(vm, i, err) < 0)
			return -1;
	return 0;
}

static void wake_end_fd(struct vm *vm)
{
	uint64_t one = 1;
	ssize_t w = write(vm->end_fd, &one, sizeof(one));
	(void)w; /* a full counter is still readable */
}

void vm_end(struct vm *vm, enum vm_end why, const char *fmt, ...)
{
	pthread_mutex_lock(&vm->end_lock);
	if (vm->end != VM_RUNNING) {
		pthread_mutex_unlock(&vm->end_lock);
		return;
	}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(vm->end_msg, sizeof(vm->end_msg), fmt, ap);
	va_end(ap);
	__atomic_store_n(&vm->end, why, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&vm->end_lock);
	/* Out of KVM_RUN (the store to immediate_exit covers a vCPU about to enter it), out of a
	 * pause (the broadcast), and the event loop learns it (end_fd). */
	pthread_mutex_lock(&vm->state_lock);
	for (unsigned i = 0; i < vm->ncpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		if (!v->started)
			continue;
		__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
		pthread_kill(v->thread, SIGUSR1);
	}
	pthread_cond_broadcast(&vm->state_cond);
	pthread_mutex_unlock(&vm->state_lock);
	wake_end_fd(vm);
}

bool vm_ended(struct vm *vm)
{
	return __atomic_load_n(&vm->end, __ATOMIC_SEQ_CST) != VM_RUNNING;
}

void vm_set_guest_status(struct vm *vm, int status)
{
	__atomic_store_n(&vm->guest_status, status, __ATOMIC_RELEASE);
}

const char *vm_state_name(enum vm_state s)
{
	switch (s) {
	case VM_STATE_CREATED:
		return "created";
	case VM_STATE_RUNNING:
		return "running";
	case VM_STATE_PAUSED:
		return "paused";
	case VM_STATE_STOPPED:
		return "stopped";
	}
	return "?";
}

enum vm_state vm_state(struct vm *vm)
{
	pthread_mutex_lock(&vm->state_lock);
	enum vm_state s = vm->state;
	pthread_mutex_unlock(&vm->state_lock);
	return s;
}

int vm_start(struct vm *vm, mc_err *err)
{
	struct sigaction sa = {.sa_handler = kick_handler};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	/* vCPU threads inherit this mask (SIGUSR1 too: each unblocks it, its kick, itself):
	 * SIGINT, SIGTERM and SIGUSR2 stay for the event loop's signalfd. */
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	int r = 0;
	pthread_mutex_lock(&vm->state_lock);
	if (vm->state != VM_STATE_CREATED) {
		r = mc_errorf(err, 0, "start: the VM is %s", vm_state_name(vm->state));
		goto out;
	}
	vm->state = VM_STATE_RUNNING;
	for (unsigned i = 0; i < vm->ncpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		v->quiet = true;
		int e = pthread_create(&v->thread, NULL, vcpu_thread, v);
		if (e) {
			pthread_mutex_unlock(&vm->state_lock);
			vm_end(vm, VM_FAILED, "start vCPU %u: %s", i, strerror(e));
			pthread_mutex_lock(&vm->state_lock);
			break;
		}
		char name[16];
		snprintf(name, sizeof(name), "vcpu%u", i);
		pthread_setname_np(v->thread, name);
		v->started = true;
		vm->live++;
	}
out:
	pthread_mutex_unlock(&vm->state_lock);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return r;
}

int vm_pause(struct vm *vm, uint64_t *ns, mc_err *err)
{
	uint64_t t0 = mc_now_ns();
	pthread_mutex_lock(&vm->state_lock);
	if (vm->state != VM_STATE_RUNNING || vm_ended(vm)) {
		enum vm_state s = vm->state;
		pthread_mutex_unlock(&vm->state_lock);
		return mc_errorf(err, 0, "pause: the VM is %s",
				 vm_ended(vm) ? "ending" : vm_state_name(s));
	}
	__atomic_store_n(&vm->pause_req, true, __ATOMIC_SEQ_CST);
	for (unsigned i = 0; i < vm->ncpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		if (!v->started)
			continue;
		__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
		pthread_kill(v->thread, SIGUSR1);
	}
	while (vm->parked < vm->live && !vm_ended(vm))
		pthread_cond_wait(&vm->state_cond, &vm->state_lock);
	if (vm_ended(vm)) {
		__atomic_store_n(&vm->pause_req, false, __ATOMIC_SEQ_CST);
		pthread_mutex_unlock(&vm->state_lock);
		return mc_errorf(err, 0, "pause: the VM ended meanwhile");
	}
	vm->state = VM_STATE_PAUSED;
	pthread_mutex_unlock(&vm->state_lock);
	devices_pause(&vm->devices);
	/* Nobody dispatches now: old bus tables can all go. */
	bus_reclaim(&vm->pio);
	bus_reclaim(&vm->mmio);
	if (ns)
		*ns = mc_now_ns() - t0;
	return 0;
}

int vm_resume(struct vm *vm, uint64_t *ns, mc_err *err)
{
	uint64_t t0 = mc_now_ns();
	pthread_mutex_lock(&vm->state_lock);
	if (vm->state != VM_STATE_PAUSED) {
		enum vm_state s = vm->state;
		pthread_mutex_unlock(&vm->state_lock);
		return mc_errorf(err, 0, "resume: the VM is %s", vm_state_name(s));
	}
	pthread_mutex_unlock(&vm->state_lock);
	devices_resume(&vm->devices);
	pthread_mutex_lock(&vm->state_lock);
	__atomic_store_n(&vm->pause_req, false, __ATOMIC_SEQ_CST);
	pthread_cond_broadcast(&vm->state_cond);
	while (vm->parked > 0 && !vm_ended(vm))
		pthread_cond_wait(&vm->state_cond, &vm->state_lock);
	vm->state = VM_STATE_RUNNING;
	pthread_mutex_unlock(&vm->state_lock);
	if (ns)
		*ns = mc_now_ns() - t0;
	return 0;
}

int vm_join(struct vm *vm, mc_err *err)
{
	for (unsigned i = 0; i < vm->ncpus; i++)
		if (vm->vcpus[i].started)
			pthread_join(vm->vcpus[i].thread, NULL);
	pthread_mutex_lock(&vm->state_lock);
	vm->state = VM_STATE_STOPPED;
	pthread_mutex_unlock(&vm->state_lock);
	if (vm->end == VM_FAILED)
		return mc_errorf(err, 0, "%s", vm->end_msg);
	return 0;
}

void vm_describe_cpus(struct vm *vm, char *buf, size_t len)
{
	size_t n = 0;
	buf[0] = '\0';
	for (unsigned i = 0; i < vm->ncpus && n < len; i++) {
		struct kvm_regs r;
		if (vm->vcpus[i].fd < 0 || ioctl(vm->vcpus[i].fd, KVM_GET_REGS, &r) < 0)
			continue;
		int w = snprintf(buf + n, len - n, "%svcpu%u RIP 0x%llx", n ? ", " : "", i,
				 (unsigned long long)r.rip);
		if (w < 0)
			break;
		n += (size_t)w;
	}
}

void vm_release_detached(struct vm *vm)
{
	int p[2];
	if (vm->vm_fd < 0 || pipe2(p, O_CLOEXEC) < 0) {
		vm_destroy(vm);
		return;
	}
	pid_t pid = fork();
	if (pid == 0) {
		/* The helper (single-threaded, inherits our blocked SIGINT/SIGTERM): wait until
		 * the parent has dropped its references, then exit, which drops the last ones. */
		close(p[1]);
		char c;
		while (read(p[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(p[0]);
	/* Our own references: not the last ones when the helper runs, so this does not wait. */
	vm_destroy(vm);
	close(p[1]);
}

void vm_destroy(struct vm *vm)
{
	devices_destroy(&vm->devices);
	bus_destroy(&vm->pio);
	bus_destroy(&vm->mmio);
	irq_chip_destroy(&vm->irq);
	for (unsigned i = 0; i < vm->ncpus; i++)
		vcpu_destroy(&vm->vcpus[i]);
	if (vm->ram)
		munmap(vm->ram, vm->gm.size);
	vm->ram = NULL;
	gm_dirty_free(&vm->gm);
	if (vm->end_fd >= 0)
		close(vm->end_fd);
	vm->end_fd = -1;
	free(vm->cpuid);
	vm->cpuid = NULL;
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	vm->vm_fd = vm->kvm_fd = -1;
	pthread_mutex_destroy(&vm->end_lock);
	pthread_cond_destroy(&vm->state_cond);
	pthread_mutex_destroy(&vm->state_lock);
	pthread_mutex_destroy(&vm->coal_lock);
}
