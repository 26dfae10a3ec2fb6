/* The memory-slot table (memslots.h). */
#include "memslots.h"

#include <errno.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>

void memslots_init(struct memslots *m, int vm_fd)
{
	memset(m, 0, sizeof(*m));
	m->vm_fd = vm_fd;
}

static int kvm_set(struct memslots *m, const struct memslot *s, uint64_t size, mc_err *err)
{
	if (m->vm_fd < 0)
		return 0;
	struct kvm_userspace_memory_region r = {.slot = s->id,
						.flags = s->flags,
						.guest_phys_addr = s->gpa,
						.memory_size = size,
						.userspace_addr = (uint64_t)(uintptr_t)s->host};
	if (ioctl(m->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
		return mc_errorf(
		    err, errno,
		    "KVM_SET_USER_MEMORY_REGION (slot %u, %llu MiB at 0x%llx, flags 0x%x)", s->id,
		    (unsigned long long)(size >> 20), (unsigned long long)s->gpa, s->flags);
	return 0;
}

int memslots_add(struct memslots *m, uint64_t gpa, uint64_t size, void *host, uint32_t flags,
		 uint32_t *id, mc_err *err)
{
	if (size == 0 || (gpa | size | (uint64_t)(uintptr_t)host) & 0xfff || gpa + size < gpa)
		return mc_errorf(err, 0, "memory slot 0x%llx+0x%llx: empty, unaligned or wrapping",
				 (unsigned long long)gpa, (unsigned long long)size);
	if (flags & ~(uint32_t)(KVM_MEM_LOG_DIRTY_PAGES | KVM_MEM_READONLY))
		return mc_errorf(err, 0, "memory slot: unknown flags 0x%x", flags);
	int free_id = -1;
	for (unsigned i = 0; i < MEMSLOTS_MAX; i++) {
		const struct memslot *s = &m->s[i];
		if (!s->used) {
			if (free_id < 0)
				free_id = (int)i;
			continue;
		}
		if (gpa < s->gpa + s->size && s->gpa < gpa + size)
			return mc_errorf(err, 0,
					 "memory slot at 0x%llx overlaps slot %u (0x%llx+0x%llx)",
					 (unsigned long long)gpa, s->id, (unsigned long long)s->gpa,
					 (unsigned long long)s->size);
	}
	if (free_id < 0)
		return mc_errorf(err, 0, "memory slots: all %d in use", MEMSLOTS_MAX);
	struct memslot s = {.id = (uint32_t)free_id,
			    .flags = flags,
			    .gpa = gpa,
			    .size = size,
			    .host = host,
			    .used = true};
	if (kvm_set(m, &s, size, err) < 0)
		return -1;
	m->s[free_id] = s;
	if (id)
		*id = s.id;
	return 0;
}

static struct memslot *get(struct memslots *m, uint32_t id, mc_err *err)
{
	if (id >= MEMSLOTS_MAX || !m->s[id].used) {
		mc_errorf(err, 0, "memory slot %u does not exist", id);
		return NULL;
	}
	return &m->s[id];
}

int memslots_set_flags(struct memslots *m, uint32_t id, uint32_t flags, mc_err *err)
{
	struct memslot *s = get(m, id, err);
	if (!s)
		return -1;
	if (flags & ~(uint32_t)(KVM_MEM_LOG_DIRTY_PAGES | KVM_MEM_READONLY))
		return mc_errorf(err, 0, "memory slot %u: unknown flags 0x%x", id, flags);
	struct memslot n = *s;
	n.flags = flags;
	if (kvm_set(m, &n, n.size, err) < 0)
		return -1;
	*s = n;
	return 0;
}

int memslots_remove(struct memslots *m, uint32_t id, mc_err *err)
{
	struct memslot *s = get(m, id, err);
	if (!s)
		return -1;
	if (kvm_set(m, s, 0, err) < 0)
		return -1;
	memset(s, 0, sizeof(*s));
	return 0;
}

const struct memslot *memslots_find(const struct memslots *m, uint64_t gpa)
{
	for (unsigned i = 0; i < MEMSLOTS_MAX; i++)
		if (m->s[i].used && gpa >= m->s[i].gpa && gpa - m->s[i].gpa < m->s[i].size)
			return &m->s[i];
	return NULL;
}
