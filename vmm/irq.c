/* Interrupts: routing table, GSIs, lines, MSI, irqfd, ioeventfd (irq.h). */
#include "irq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

static void add_irqchip(struct irq_routes *t, uint32_t gsi, uint32_t chip, uint32_t pin)
{
	t->e[t->n++] = (struct kvm_irq_routing_entry){.gsi = gsi,
						      .type = KVM_IRQ_ROUTING_IRQCHIP,
						      .u.irqchip = {.irqchip = chip, .pin = pin}};
}

void irq_routes_init(struct irq_routes *t)
{
	memset(t, 0, sizeof(*t));
	for (uint32_t i = 0; i < IRQ_IOAPIC_PINS; i++) {
		if (i < IRQ_PIC_PINS)
			add_irqchip(t, i, i < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE,
				    i % 8);
		add_irqchip(t, i, KVM_IRQCHIP_IOAPIC, i);
	}
}

static bool gsi_used(const struct irq_routes *t, uint32_t gsi)
{
	return t->gsi_used[gsi / 64] >> (gsi % 64) & 1;
}

int irq_routes_alloc_gsi(struct irq_routes *t)
{
	for (uint32_t g = IRQ_FIRST_DYNAMIC_GSI; g < IRQ_MAX_GSI; g++)
		if (!gsi_used(t, g)) {
			t->gsi_used[g / 64] |= 1ull << (g % 64);
			return (int)g;
		}
	return -1;
}

static void drop_routes(struct irq_routes *t, uint32_t gsi)
{
	unsigned k = 0;
	for (unsigned i = 0; i < t->n; i++)
		if (t->e[i].gsi != gsi)
			t->e[k++] = t->e[i];
	t->n = k;
}

void irq_routes_free_gsi(struct irq_routes *t, uint32_t gsi)
{
	if (gsi < IRQ_FIRST_DYNAMIC_GSI || gsi >= IRQ_MAX_GSI)
		return;
	t->gsi_used[gsi / 64] &= ~(1ull << (gsi % 64));
	drop_routes(t, gsi);
}

int irq_routes_set_msi(struct irq_routes *t, uint32_t gsi, uint64_t addr, uint32_t data,
		       mc_err *err)
{
	if (gsi < IRQ_FIRST_DYNAMIC_GSI || gsi >= IRQ_MAX_GSI || !gsi_used(t, gsi))
		return mc_errorf(err, 0, "MSI route: GSI %u was not allocated", gsi);
	drop_routes(t, gsi);
	if (t->n >= IRQ_MAX_ROUTES)
		return mc_errorf(err, 0, "MSI route: routing table full");
	t->e[t->n++] = (struct kvm_irq_routing_entry){
	    .gsi = gsi,
	    .type = KVM_IRQ_ROUTING_MSI,
	    .u.msi = {
		.address_lo = (uint32_t)addr, .address_hi = (uint32_t)(addr >> 32), .data = data}};
	return 0;
}

const struct kvm_irq_routing_entry *irq_routes_find(const struct irq_routes *t, uint32_t gsi,
						    uint32_t type)
{
	for (unsigned i = 0; i < t->n; i++)
		if (t->e[i].gsi == gsi && t->e[i].type == type)
			return &t->e[i];
	return NULL;
}

static int has_cap(int fd, long cap)
{
	return ioctl(fd, KVM_CHECK_EXTENSION, cap) > 0;
}

int irq_chip_init(struct irq_chip *c, int kvm_fd, int vm_fd, mc_err *err)
{
	(void)err;
	c->vm_fd = vm_fd;
	c->has_routing = has_cap(kvm_fd, KVM_CAP_IRQ_ROUTING);
	c->has_irqfd = has_cap(kvm_fd, KVM_CAP_IRQFD);
	c->has_ioeventfd = has_cap(kvm_fd, KVM_CAP_IOEVENTFD);
	c->has_msi = has_cap(kvm_fd, KVM_CAP_SIGNAL_MSI);
	pthread_mutex_init(&c->lock, NULL);
	irq_routes_init(&c->routes);
	c->dirty = false; /* KVM starts with the same table */
	return 0;
}

void irq_chip_destroy(struct irq_chip *c)
{
	if (c->vm_fd >= 0)
		pthread_mutex_destroy(&c->lock);
	c->vm_fd = -1;
}

void irq_line_init(struct irq_line *l, struct irq_chip *c, uint32_t gsi, bool level_triggered)
{
	*l = (struct irq_line){.chip = c, .gsi = gsi, .level_triggered = level_triggered};
}

static int kvm_irq_line(struct irq_chip *c, uint32_t gsi, uint32_t level, mc_err *err)
{
	struct kvm_irq_level irq = {.irq = gsi, .level = level};
	if (ioctl(c->vm_fd, KVM_IRQ_LINE, &irq) < 0)
		return mc_errorf(err, errno, "KVM_IRQ_LINE %u", gsi);
	return 0;
}

int irq_line_set(struct irq_line *l, int level, mc_err *err)
{
	if (l->gsi >= IRQ_MAX_GSI)
		return mc_errorf(err, 0, "interrupt line: GSI %u out of range", l->gsi);
	level = level != 0;
	if (l->level_triggered) {
		if (level == l->level)
			return 0;
		l->level = level;
		return kvm_irq_line(l->chip, l->gsi, (uint32_t)level, err);
	}
	if (!level)
		return 0;
	if (kvm_irq_line(l->chip, l->gsi, 1, err) < 0)
		return -1;
	return kvm_irq_line(l->chip, l->gsi, 0, err);
}

/* Under the lock. */
static int commit_locked(struct irq_chip *c, mc_err *err)
{
	if (!c->dirty)
		return 0;
	if (!c->has_routing)
		return mc_errorf(err, 0, "this KVM has no KVM_CAP_IRQ_ROUTING (MSI routes)");
	size_t n = c->routes.n;
	struct kvm_irq_routing *r = calloc(1, sizeof(*r) + n * sizeof(r->entries[0]));
	if (!r)
		return mc_errorf(err, ENOMEM, "KVM_SET_GSI_ROUTING");
	r->nr = (uint32_t)n;
	memcpy(r->entries, c->routes.e, n * sizeof(r->entries[0]));
	int rc = ioctl(c->vm_fd, KVM_SET_GSI_ROUTING, r);
	int e = errno;
	free(r);
	if (rc < 0)
		return mc_errorf(err, e, "KVM_SET_GSI_ROUTING (%zu routes)", n);
	c->dirty = false;
	c->commits++;
	return 0;
}

int irq_commit(struct irq_chip *c, mc_err *err)
{
	pthread_mutex_lock(&c->lock);
	int r = commit_locked(c, err);
	pthread_mutex_unlock(&c->lock);
	return r;
}

int irq_msi_alloc(struct irq_chip *c, uint64_t addr, uint32_t data, bool defer, uint32_t *gsi,
		  mc_err *err)
{
	pthread_mutex_lock(&c->lock);
	int r = -1;
	int g = irq_routes_alloc_gsi(&c->routes);
	if (g < 0) {
		mc_errorf(err, 0, "MSI: no free GSI (%d in use)", IRQ_MAX_GSI);
	} else if (irq_routes_set_msi(&c->routes, (uint32_t)g, addr, data, err) == 0) {
		c->dirty = true;
		r = defer ? 0 : commit_locked(c, err);
		if (r < 0)
			irq_routes_free_gsi(&c->routes, (uint32_t)g);
		else
			*gsi = (uint32_t)g;
	}
	pthread_mutex_unlock(&c->lock);
	return r;
}

int irq_msi_update(struct irq_chip *c, uint32_t gsi, uint64_t addr, uint32_t data, bool defer,
		   mc_err *err)
{
	pthread_mutex_lock(&c->lock);
	int r = irq_routes_set_msi(&c->routes, gsi, addr, data, err);
	if (r == 0) {
		c->dirty = true;
		if (!defer)
			r = commit_locked(c, err);
	}
	pthread_mutex_unlock(&c->lock);
	return r;
}

int irq_msi_free(struct irq_chip *c, uint32_t gsi, mc_err *err)
{
	pthread_mutex_lock(&c->lock);
	irq_routes_free_gsi(&c->routes, gsi);
	c->dirty = true;
	int r = commit_locked(c, err);
	pthread_mutex_unlock(&c->lock);
	return r;
}

int irq_msi_signal(struct irq_chip *c, uint64_t addr, uint32_t data, mc_err *err)
{
	if (!c->has_msi)
		return mc_errorf(err, 0, "this KVM has no KVM_CAP_SIGNAL_MSI");
	struct kvm_msi msi = {
	    .address_lo = (uint32_t)addr, .address_hi = (uint32_t)(addr >> 32), .data = data};
	int r = ioctl(c->vm_fd, KVM_SIGNAL_MSI, &msi);
	if (r < 0)
		return mc_errorf(err, errno, "KVM_SIGNAL_MSI 0x%llx/0x%x", (unsigned long long)addr,
				 data);
	return r;
}

int irq_irqfd_assign(struct irq_chip *c, int fd, uint32_t gsi, int resample_fd, mc_err *err)
{
	if (!c->has_irqfd)
		return mc_errorf(err, 0, "this KVM has no KVM_CAP_IRQFD");
	struct kvm_irqfd f = {.fd = (uint32_t)fd, .gsi = gsi};
	if (resample_fd >= 0) {
		f.flags = KVM_IRQFD_FLAG_RESAMPLE;
		f.resamplefd = (uint32_t)resample_fd;
	}
	if (ioctl(c->vm_fd, KVM_IRQFD, &f) < 0)
		return mc_errorf(err, errno, "KVM_IRQFD (fd %d, GSI %u%s)", fd, gsi,
				 resample_fd >= 0 ? ", resample" : "");
	return 0;
}

int irq_irqfd_deassign(struct irq_chip *c, int fd, uint32_t gsi, mc_err *err)
{
	struct kvm_irqfd f = {.fd = (uint32_t)fd, .gsi = gsi, .flags = KVM_IRQFD_FLAG_DEASSIGN};
	if (ioctl(c->vm_fd, KVM_IRQFD, &f) < 0)
		return mc_errorf(err, errno, "KVM_IRQFD deassign (fd %d, GSI %u)", fd, gsi);
	return 0;
}

static int ioeventfd(struct irq_chip *c, const struct ioeventfd *io, bool assign, mc_err *err)
{
	if (!c->has_ioeventfd)
		return mc_errorf(err, 0, "this KVM has no KVM_CAP_IOEVENTFD");
	if (io->len != 0 && io->len != 1 && io->len != 2 && io->len != 4 && io->len != 8)
		return mc_errorf(err, 0, "ioeventfd: length %u", io->len);
	struct kvm_ioeventfd k = {.addr = io->addr, .len = io->len, .fd = io->fd};
	if (io->pio)
		k.flags |= KVM_IOEVENTFD_FLAG_PIO;
	if (io->match) {
		k.flags |= KVM_IOEVENTFD_FLAG_DATAMATCH;
		k.datamatch = *io->match;
	}
	if (!assign)
		k.flags |= KVM_IOEVENTFD_FLAG_DEASSIGN;
	if (ioctl(c->vm_fd, KVM_IOEVENTFD, &k) < 0)
		return mc_errorf(err, errno, "KVM_IOEVENTFD %s %s 0x%llx/%u",
				 assign ? "assign" : "deassign", io->pio ? "port" : "mmio",
				 (unsigned long long)io->addr, io->len);
	return 0;
}

int irq_ioeventfd_assign(struct irq_chip *c, const struct ioeventfd *io, mc_err *err)
{
	return ioeventfd(c, io, true, err);
}

int irq_ioeventfd_deassign(struct irq_chip *c, const struct ioeventfd *io, mc_err *err)
{
	return ioeventfd(c, io, false, err);
}
