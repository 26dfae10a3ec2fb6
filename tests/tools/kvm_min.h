/* Shared by kvm_smoke and kvm_floor: one vCPU in real mode at CS 0, ready to run the code at
 * rip. Returns the vCPU fd with *run (and *runsz) mapped, or -1 with errno and *what naming the
 * KVM call that failed. */
#ifndef MINIVM_TESTS_KVM_MIN_H
#define MINIVM_TESTS_KVM_MIN_H

#include <errno.h>
#include <linux/kvm.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

static inline int kvm_min_vcpu(int kvm, int vm, uint64_t rip, struct kvm_run **run, size_t *runsz,
			       const char **what)
{
	int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0)
		return *what = "KVM_CREATE_VCPU", -1;
	int sz = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (sz <= 0)
		return *what = "KVM_GET_VCPU_MMAP_SIZE", -1;
	*runsz = (size_t)sz;
	*run = mmap(NULL, *runsz, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (*run == MAP_FAILED)
		return *what = "mmap kvm_run", -1;
	struct kvm_sregs sregs;
	if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
		return *what = "KVM_GET_SREGS", -1;
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0)
		return *what = "KVM_SET_SREGS", -1;
	struct kvm_regs regs = {.rip = rip, .rflags = 0x2};
	if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
		return *what = "KVM_SET_REGS", -1;
	return vcpu;
}

#endif
