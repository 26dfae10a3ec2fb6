/* The smallest KVM program: one vCPU in real mode runs `mov al,42; out 0x10,al; hlt`.
 * Proves that a /dev/kvm (the lab's nested one, or a host's) really runs guest code.
 * Exit 0 when the guest's port write and halt arrive as expected. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kvm_min.h"

static int fail(const char *what)
{
	fprintf(stderr, "kvm_smoke: %s: %s\n", what, strerror(errno));
	return 1;
}

int main(void)
{
	const unsigned char code[] = {0xb0, 0x2a, 0xe6, 0x10, 0xf4};
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		return fail("open /dev/kvm");
	if (ioctl(kvm, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
		return fail("KVM_GET_API_VERSION");
	int vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		return fail("KVM_CREATE_VM");
	size_t memsz = 0x10000;
	unsigned char *mem =
	    mmap(NULL, memsz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return fail("mmap");
	memcpy(mem + 0x1000, code, sizeof(code));
	struct kvm_userspace_memory_region region = {
	    .slot = 0, .guest_phys_addr = 0, .memory_size = memsz, .userspace_addr = (__u64)mem};
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		return fail("KVM_SET_USER_MEMORY_REGION");
	struct kvm_run *run;
	size_t runsz;
	const char *what;
	int vcpu = kvm_min_vcpu(kvm, vm, 0x1000, &run, &runsz, &what);
	if (vcpu < 0)
		return fail(what);
	int saw_out = 0;
	for (int i = 0; i < 16; i++) {
		if (ioctl(vcpu, KVM_RUN, 0) < 0)
			return fail("KVM_RUN");
		switch (run->exit_reason) {
		case KVM_EXIT_IO:
			if (run->io.direction == KVM_EXIT_IO_OUT && run->io.port == 0x10 &&
			    ((unsigned char *)run)[run->io.data_offset] == 42) {
				saw_out = 1;
				continue;
			}
			fprintf(stderr, "kvm_smoke: unexpected I/O on port %#x\n", run->io.port);
			return 1;
		case KVM_EXIT_HLT:
			if (!saw_out) {
				fprintf(stderr, "kvm_smoke: halted before the port write\n");
				return 1;
			}
			printf("kvm_smoke: guest wrote 42 to port 0x10 and halted\n");
			return 0;
		default:
			fprintf(stderr, "kvm_smoke: unexpected exit reason %u\n", run->exit_reason);
			return 1;
		}
	}
	fprintf(stderr, "kvm_smoke: guest did not halt\n");
	return 1;
}
