/* The floor of a KVM VMM on this host: only the KVM calls minivm needs (the VM, guest RAM
 * slots, the in-kernel irqchip, optionally the PIT, one vCPU, one KVM_RUN to the guest's first
 * port write, the teardown), each one timed. The guest is three real-mode instructions: write
 * one byte to COM1 (0x3f8) and halt. The probe copies that byte to stdout as a VMM's console
 * would, so a benchmark times it from the outside exactly as it times minivm (spawn -> first
 * console byte -> exit), and prints what each step cost on stderr, one line:
 *
 *   kvm_floor: open 0.05 create_vm 0.30 ram+slots 0.08 irqchip 1.20 vcpu 0.40 run 0.10
 *              close_vcpu 0.01 close_vm 11.9 (ms; total 14.0, to first byte 2.1)
 *
 * usage: kvm_floor [--mem MiB] [--no-irqchip] [--pit] [--slots-after-irqchip]
 *   default: minivm's order (slots before the irqchip, no PIT), 256 MiB in two slots
 *   when more than 3 GiB, else one.
 * Exit 0 when the guest's byte arrived, 1 on any failure (naming the step).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "kvm_min.h"

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static char report[1024];
static size_t report_len;
static double t_step, t_start;

/* Close the current step under NAME. */
static void step(const char *name)
{
	double t = now_ms();
	int n = snprintf(report + report_len, sizeof(report) - report_len, " %s %.2f", name,
			 t - t_step);
	if (n > 0 && (size_t)n < sizeof(report) - report_len)
		report_len += (size_t)n;
	t_step = t;
}

static int fail(const char *what)
{
	fprintf(stderr, "kvm_floor: %s: %s\n", what, strerror(errno));
	return 1;
}

static int add_slot(int vm, uint32_t slot, uint64_t gpa, uint64_t size, void *host)
{
	struct kvm_userspace_memory_region r = {.slot = slot,
						.guest_phys_addr = gpa,
						.memory_size = size,
						.userspace_addr = (uint64_t)(uintptr_t)host};
	return ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r);
}

int main(int argc, char **argv)
{
	uint64_t mem_mib = 256;
	bool irqchip = true, pit = false, slots_late = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--mem") == 0 && i + 1 < argc)
			mem_mib = strtoull(argv[++i], NULL, 0);
		else if (strcmp(argv[i], "--no-irqchip") == 0)
			irqchip = false;
		else if (strcmp(argv[i], "--pit") == 0)
			pit = true;
		else if (strcmp(argv[i], "--slots-after-irqchip") == 0)
			slots_late = true;
		else {
			fprintf(stderr, "usage: kvm_floor [--mem MiB] [--no-irqchip] [--pit] "
					"[--slots-after-irqchip]\n");
			return 2;
		}
	}
	if (mem_mib < 1 || mem_mib > 3072) {
		fprintf(stderr, "kvm_floor: --mem 1 to 3072 MiB\n");
		return 2;
	}
	if (pit && !irqchip) {
		fprintf(stderr, "kvm_floor: --pit needs the irqchip\n");
		return 2;
	}
	t_start = t_step = now_ms();
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		return fail("open /dev/kvm");
	if (ioctl(kvm, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
		return fail("KVM_GET_API_VERSION");
	step("open");
	int vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		return fail("KVM_CREATE_VM");
	if (ioctl(vm, KVM_SET_TSS_ADDR, 0xfffbd000ul) < 0)
		return fail("KVM_SET_TSS_ADDR");
	step("create_vm");

	size_t memsz = (size_t)mem_mib << 20;
	uint8_t *mem = mmap(NULL, memsz, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED)
		return fail("mmap guest RAM");
	/* mov dx,0x3f8; mov al,'.'; out dx,al; hlt (real mode, at 0x1000) */
	static const uint8_t code[] = {0xba, 0xf8, 0x03, 0xb0, '.', 0xee, 0xf4};
	memcpy(mem + 0x1000, code, sizeof(code));
	if (!slots_late) {
		if (add_slot(vm, 0, 0, memsz, mem) < 0)
			return fail("KVM_SET_USER_MEMORY_REGION");
		step("ram+slots");
	}
	if (irqchip) {
		if (ioctl(vm, KVM_CREATE_IRQCHIP, 0) < 0)
			return fail("KVM_CREATE_IRQCHIP");
		step("irqchip");
	}
	if (pit) {
		struct kvm_pit_config pc = {.flags = KVM_PIT_SPEAKER_DUMMY};
		if (ioctl(vm, KVM_CREATE_PIT2, &pc) < 0)
			return fail("KVM_CREATE_PIT2");
		step("pit");
	}
	if (slots_late) {
		if (add_slot(vm, 0, 0, memsz, mem) < 0)
			return fail("KVM_SET_USER_MEMORY_REGION");
		step("ram+slots(late)");
	}

	struct kvm_run *run;
	size_t runsz;
	const char *what;
	int vcpu = kvm_min_vcpu(kvm, vm, 0x1000, &run, &runsz, &what);
	if (vcpu < 0)
		return fail(what);
	step("vcpu");

	if (ioctl(vcpu, KVM_RUN, 0) < 0)
		return fail("KVM_RUN");
	if (run->exit_reason != KVM_EXIT_IO || run->io.port != 0x3f8 ||
	    run->io.direction != KVM_EXIT_IO_OUT) {
		fprintf(stderr, "kvm_floor: unexpected exit reason %u (port %#x)\n",
			run->exit_reason, run->exit_reason == KVM_EXIT_IO ? run->io.port : 0);
		return 1;
	}
	char byte = (char)((uint8_t *)run)[run->io.data_offset];
	if (write(STDOUT_FILENO, &byte, 1) != 1)
		return fail("write the guest's byte");
	step("run");
	double first = t_step - t_start;

	munmap(run, runsz);
	close(vcpu);
	step("close_vcpu");
	close(vm);
	step("close_vm");
	munmap(mem, memsz);
	close(kvm);
	step("unmap+close_kvm");
	fprintf(stderr, "kvm_floor:%s (ms; total %.2f, to first byte %.2f)\n", report,
		t_step - t_start, first);
	return 0;
}
