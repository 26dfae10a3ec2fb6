/* Coalesced writes: KVM's ring, replayed on the buses (coalesced.h). */
#include "coalesced.h"

#include <errno.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vm.h"

void coalesced_init(struct vm *vm)
{
	int page = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_MMIO);
	vm->coal_page = page > 0 ? page : 0;
	vm->coal_pio =
	    vm->coal_page && ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_PIO) > 0;
}

int coalesced_map(struct vm *vm, struct vcpu *v, mc_err *err)
{
	if (!vm->coal_page || vm->coal_ring)
		return 0;
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	if (v->run_size < ((size_t)vm->coal_page + 1) * pg)
		return mc_errorf(err, 0,
				 "vcpu%u: kvm_run mapping of %zu bytes has no page %d (the "
				 "coalesced ring)",
				 v->id, v->run_size, vm->coal_page);
	vm->coal_ring = (void *)((uint8_t *)v->run + (size_t)vm->coal_page * pg);
	vm->coal_max = (uint32_t)((pg - sizeof(struct kvm_coalesced_mmio_ring)) /
				  sizeof(struct kvm_coalesced_mmio));
	return 0;
}

int coalesced_add(struct vm *vm, uint64_t addr, uint32_t len, bool pio, mc_err *err)
{
	if (!vm->coal_page || (pio && !vm->coal_pio))
		return 0;
	struct kvm_coalesced_mmio_zone z = {.addr = addr, .size = len, .pio = pio};
	if (ioctl(vm->vm_fd, KVM_REGISTER_COALESCED_MMIO, &z) < 0)
		return mc_errorf(err, errno, "KVM_REGISTER_COALESCED_MMIO %s 0x%llx/%u",
				 pio ? "port" : "mmio", (unsigned long long)addr, len);
	return 1;
}

void coalesced_drain(struct vm *vm, unsigned vcpu)
{
	struct kvm_coalesced_mmio_ring *ring = vm->coal_ring;
	if (!ring || __atomic_load_n(&ring->first, __ATOMIC_ACQUIRE) ==
			 __atomic_load_n(&ring->last, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&vm->coal_lock);
	uint32_t first = __atomic_load_n(&ring->first, __ATOMIC_ACQUIRE);
	while (first != __atomic_load_n(&ring->last, __ATOMIC_ACQUIRE)) {
		/* the ring is KVM's, shared with the guest's vCPUs: take nothing on trust */
		if (first >= vm->coal_max)
			break;
		struct kvm_coalesced_mmio e = ring->coalesced_mmio[first];
		if (e.len >= 1 && e.len <= sizeof(e.data))
			bus_dispatch(e.pio ? &vm->pio : &vm->mmio, vcpu, e.phys_addr, e.data, e.len,
				     true);
		first = (first + 1) % vm->coal_max;
		__atomic_store_n(&ring->first, first, __ATOMIC_RELEASE);
		vm->coal_count++;
	}
	pthread_mutex_unlock(&vm->coal_lock);
}

uint64_t coalesced_count(struct vm *vm)
{
	pthread_mutex_lock(&vm->coal_lock);
	uint64_t n = vm->coal_count;
	pthread_mutex_unlock(&vm->coal_lock);
	return n;
}
