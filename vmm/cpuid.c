/* Per-vCPU CPUID: KVM's supported set, with a consistent topology (one package, ncpus cores,
 * one thread each) and each vCPU's APIC id, so the guest's view matches our MADT. */
#include <stdlib.h>
#include <string.h>

#include "vm.h"

static unsigned bits_for(unsigned n)
{
	unsigned b = 0;
	while ((1u << b) < n)
		b++;
	return b;
}

struct kvm_cpuid2 *cpuid_for_vcpu(const struct kvm_cpuid2 *base, unsigned ncpus, unsigned id)
{
	size_t size = sizeof(*base) + base->nent * sizeof(base->entries[0]);
	struct kvm_cpuid2 *c = malloc(size);
	if (!c)
		return NULL;
	memcpy(c, base, size);
	unsigned core_bits = bits_for(ncpus);
	for (unsigned i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];
		switch (e->function) {
		case 1:
			/* EBX[31:24] initial APIC id, [23:16] logical processors per package. */
			e->ebx = (e->ebx & 0xffff) | id << 24 | (ncpus & 0xff) << 16;
			if (ncpus > 1)
				e->edx |= 1u << 28; /* HTT: the package field above is valid */
			e->ecx |= 1u << 31;	    /* running on a hypervisor */
			break;
		case 4: /* deterministic cache parameters (Intel) */
			if ((e->eax & 0x1f) == 0)
				break;
			e->eax &= 0x3fff;
			e->eax |= (ncpus - 1) << 26; /* cores per package - 1 */
			if (((e->eax >> 5) & 7) >= 3)
				e->eax |= (ncpus - 1) << 14; /* L3 shared by all */
			break;
		case 0xb:
		case 0x1f: /* extended topology: SMT level (1 thread), core level (ncpus) */
			e->edx = id;
			if (e->index == 0) {
				e->eax = 0;
				e->ebx = 1;
				e->ecx = 1u << 8;
			} else if (e->index == 1) {
				e->eax = core_bits;
				e->ebx = ncpus;
				e->ecx = 2u << 8 | 1;
			} else {
				e->eax = e->ebx = 0;
				e->ecx = e->index;
			}
			break;
		case 0x80000008: /* AMD: cores per package - 1, APIC id bits for the core */
			e->ecx = (e->ecx & ~0xf0ffu) | (core_bits << 12) | ((ncpus - 1) & 0xff);
			break;
		case 0x8000001e: /* AMD TOPOEXT: extended APIC id, core id, one thread per core */
			e->eax = id;
			e->ebx = id & 0xff;
			e->ecx = 0;
			break;
		}
	}
	return c;
}
