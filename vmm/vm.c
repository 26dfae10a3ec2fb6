/* The VM: KVM set-up, guest RAM, vCPU threads and how a run ends. */
#include "vm.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cleanup.h"
#include "layout.h"
#include "log.h"

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

static int add_slot(struct vm *vm, uint32_t slot, uint64_t gpa, uint64_t size, void *host,
		    mc_err *err)
{
	struct kvm_userspace_memory_region r = {.slot = slot,
						.guest_phys_addr = gpa,
						.memory_size = size,
						.userspace_addr = (uint64_t)(uintptr_t)host};
	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
		return mc_errorf(err, errno, "KVM_SET_USER_MEMORY_REGION (slot %u, %llu MiB)", slot,
				 (unsigned long long)(size >> 20));
	return 0;
}

/* Guest RAM, 2 MiB-aligned in our address space: KVM maps a guest page with a 2 MiB EPT/NPT
 * entry only where the host address and the guest address sit at the same offset within 2 MiB,
 * and mmap gives no such alignment by itself (before Linux 6.7). So: reserve 2 MiB more, keep
 * the aligned middle, give the ends back. NULL with errno on failure. */
static void *map_guest_ram(uint64_t mem)
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
	if (mprotect(ram, mem, PROT_READ | PROT_WRITE) < 0) {
		int saved = errno;
		munmap(ram, mem);
		errno = saved;
		return NULL;
	}
	return ram;
}

int vm_create(struct vm *vm, unsigned ncpus, uint64_t mem, bool pit, mc_err *err)
{
	memset(vm, 0, sizeof(*vm));
	vm->kvm_fd = vm->vm_fd = -1;
	vm->guest_status = -1;
	vm->ncpus = ncpus;
	vm->pio.name = "port";
	vm->mmio.name = "mmio";
	pthread_mutex_init(&vm->end_lock, NULL);
	for (unsigned i = 0; i < VM_MAX_CPUS; i++)
		vm->vcpus[i].fd = -1;

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
	if (has_cap(vm->kvm_fd, KVM_CAP_SET_TSS_ADDR) &&
	    ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)TSS_KVM_ADDR) < 0)
		return mc_errorf(err, errno, "KVM_SET_TSS_ADDR");
	/* Guest RAM before the irqchip: once a VM has one, every KVM_SET_USER_MEMORY_REGION
	 * waits for an SRCU grace period (several ms on some hosts); before, it costs ~0.1 ms. */
	void *ram = map_guest_ram(mem);
	if (!ram)
		return mc_errorf(err, errno, "mmap %llu MiB of guest memory",
				 (unsigned long long)(mem >> 20));
	vm->ram = ram;
	gm_init(&vm->gm, ram, mem);
	madvise(ram, mem, MADV_HUGEPAGE); /* fewer EPT/NPT walks; fine if unsupported */
	/* ...except the first 2 MiB, which holds only small things (boot tables, the command line,
	 * ACPI, a tiny kernel) and which Linux maps with 4 KiB pages anyway: zeroing a whole huge
	 * page there at the loader's first write costs 0.1-0.4 ms of set-up (more when the host
	 * compacts memory for it), a few 4 KiB pages 0.01 ms. */
	madvise(ram, 2u << 20, MADV_NOHUGEPAGE);
	/* The helper that releases the VM after minivm exits (vm_release_detached) needs no
	 * copy of guest RAM's page tables. */
	madvise(ram, mem, MADV_DONTFORK);
	if (add_slot(vm, 0, 0, vm->gm.low_end, ram, err) < 0)
		return -1;
	if (mem > vm->gm.low_end &&
	    add_slot(vm, 1, MMIO_HOLE_END, mem - vm->gm.low_end, vm->ram + vm->gm.low_end, err) < 0)
		return -1;
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return mc_errorf(err, errno, "KVM_CREATE_IRQCHIP");
	if (pit) {
		struct kvm_pit_config pc = {.flags = KVM_PIT_SPEAKER_DUMMY};
		if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pc) < 0)
			return mc_errorf(err, errno, "KVM_CREATE_PIT2");
	}
	return get_supported_cpuid(vm, err);
}

int vm_add_devices(struct vm *vm, int console_fd, mc_err *err)
{
	return devices_register(vm, console_fd, err);
}

int vm_create_vcpus(struct vm *vm, mc_err *err)
{
	for (unsigned i = 0; i < vm->ncpus; i++)
		if (vcpu_create(vm, i, err) < 0)
			return -1;
	return 0;
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
	__atomic_store_n(&vm->end, why, __ATOMIC_RELEASE);
	for (unsigned i = 0; i < vm->ncpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		if (!v->started)
			continue;
		__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_RELEASE);
		pthread_kill(v->thread, SIGUSR1);
	}
	pthread_mutex_unlock(&vm->end_lock);
}

/* SIGINT/SIGTERM reach only the main thread, vCPU 0 (every other thread blocks them): the
 * handler notes the signal and makes vCPU 0's KVM_RUN return (EINTR now, or at once on its next
 * entry); vCPU 0's loop then ends the VM. */
static struct vm *signaled_vm;
static void stop_handler(int sig)
{
	struct vm *vm = signaled_vm;
	if (!vm)
		return;
	__atomic_store_n(&vm->pending_signal, sig, __ATOMIC_RELEASE);
	struct kvm_run *run = vm->vcpus[0].run;
	if (run)
		__atomic_store_n(&run->immediate_exit, 1, __ATOMIC_RELEASE);
}

int vm_run(struct vm *vm, mc_err *err)
{
	struct sigaction sa = {.sa_handler = kick_handler};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	/* The other vCPU threads start with SIGUSR1, SIGINT and SIGTERM blocked; each unblocks
	 * SIGUSR1 (its kick) itself. */
	sigset_t block;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigset_t old;
	pthread_sigmask(SIG_BLOCK, &block, &old);
	signaled_vm = vm;
	struct sigaction stop = {.sa_handler = stop_handler};
	sigemptyset(&stop.sa_mask);
	sigaction(SIGINT, &stop, NULL);
	sigaction(SIGTERM, &stop, NULL);

	pthread_mutex_lock(&vm->end_lock); /* vm_end waits until every thread is known */
	struct vcpu *boot = &vm->vcpus[0];
	boot->thread = pthread_self();
	boot->started = true;
	for (unsigned i = 1; i < vm->ncpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		int e = pthread_create(&v->thread, NULL, vcpu_thread, v);
		if (e) {
			pthread_mutex_unlock(&vm->end_lock);
			vm_end(vm, VM_FAILED, "start vCPU %u: %s", i, strerror(e));
			pthread_mutex_lock(&vm->end_lock);
			break;
		}
		v->started = true;
	}
	pthread_mutex_unlock(&vm->end_lock);

	/* vCPU 0 runs here, on the main thread: no thread to create and schedule before the
	 * guest's first instruction. */
	sigset_t run_mask = old;
	sigdelset(&run_mask, SIGUSR1);
	sigdelset(&run_mask, SIGINT);
	sigdelset(&run_mask, SIGTERM);
	pthread_sigmask(SIG_SETMASK, &run_mask, NULL);
	vcpu_thread(boot);
	pthread_sigmask(SIG_BLOCK, &block, NULL);

	for (unsigned i = 1; i < vm->ncpus; i++)
		if (vm->vcpus[i].started)
			pthread_join(vm->vcpus[i].thread, NULL);
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
	for (unsigned i = 0; i < vm->ncpus; i++)
		vcpu_destroy(&vm->vcpus[i]);
	if (vm->ram)
		munmap(vm->ram, vm->gm.size);
	vm->ram = NULL;
	uart_destroy(&vm->uart);
	free(vm->cpuid);
	vm->cpuid = NULL;
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	vm->vm_fd = vm->kvm_fd = -1;
	pthread_mutex_destroy(&vm->end_lock);
}
