/* Interrupts: the GSI routing table (KVM_SET_GSI_ROUTING), GSI allocation, interrupt lines
 * (level or edge, KVM_IRQ_LINE), MSIs (a route per vector, or KVM_SIGNAL_MSI), irqfd and
 * ioeventfd. Devices never call KVM themselves: they get an irq_line, an MSI GSI or an eventfd
 * from here.
 *
 * The routing table is kept in user space and written whole on every commit (KVM has no
 * partial update). It starts as KVM's own default, so committing it changes nothing until an
 * MSI route is added: GSIs 0-15 on both 8259s and the I/O APIC, 16-23 on the I/O APIC only.
 * GSIs from IRQ_FIRST_DYNAMIC_GSI up are handed out by irq_alloc_gsi() for MSI routes. The
 * table part (irq_routes_*) needs no KVM and is unit-tested alone.
 */
#ifndef MINIVM_IRQ_H
#define MINIVM_IRQ_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"

#define IRQ_IOAPIC_PINS	      24
#define IRQ_PIC_PINS	      16
#define IRQ_FIRST_DYNAMIC_GSI 24
#define IRQ_MAX_GSI	      1024 /* KVM_MAX_IRQ_ROUTES is 4096; we need far fewer */
#define IRQ_MAX_ROUTES	      (IRQ_MAX_GSI + IRQ_PIC_PINS)

struct irq_routes {
	unsigned n;
	struct kvm_irq_routing_entry e[IRQ_MAX_ROUTES];
	uint64_t gsi_used[IRQ_MAX_GSI / 64]; /* allocated dynamic GSIs */
};

/* KVM's default routing (kvm_setup_default_irq_routing): the legacy pins, no MSI. */
void irq_routes_init(struct irq_routes *t);
/* A free GSI at or above IRQ_FIRST_DYNAMIC_GSI; -1 when none is left. */
int irq_routes_alloc_gsi(struct irq_routes *t);
/* Free a dynamic GSI and drop its routes. */
void irq_routes_free_gsi(struct irq_routes *t, uint32_t gsi);
/* Route gsi (allocated) to an MSI: replaces an earlier route of that GSI. */
int irq_routes_set_msi(struct irq_routes *t, uint32_t gsi, uint64_t addr, uint32_t data,
		       mc_err *err);
/* The route of gsi of the given type (KVM_IRQ_ROUTING_*), or NULL. */
const struct kvm_irq_routing_entry *irq_routes_find(const struct irq_routes *t, uint32_t gsi,
						    uint32_t type);

struct irq_chip {
	int vm_fd;
	bool has_routing, has_irqfd, has_ioeventfd, has_msi;
	pthread_mutex_t lock; /* the routes; commits */
	struct irq_routes routes;
	bool dirty;	  /* routes changed since the last commit */
	unsigned commits; /* KVM_SET_GSI_ROUTING calls made (tests, debugging) */
};

/* After KVM_CREATE_IRQCHIP: probe what this KVM offers (kvm_fd: /dev/kvm). */
int irq_chip_init(struct irq_chip *c, int kvm_fd, int vm_fd, mc_err *err);
void irq_chip_destroy(struct irq_chip *c);

/* One interrupt line of a device: a GSI, level-triggered or edge (a pulse per event). */
struct irq_line {
	struct irq_chip *chip;
	uint32_t gsi;
	bool level_triggered;
	int level; /* the last level set (level lines) */
};
void irq_line_init(struct irq_line *l, struct irq_chip *c, uint32_t gsi, bool level_triggered);
/* Level lines: set the line (no ioctl when unchanged). Edge lines: level 1 sends a pulse.
 * Errors are returned (never fatal: the guest only loses that interrupt). */
int irq_line_set(struct irq_line *l, int level, mc_err *err);

/* MSIs: allocate a GSI and route it, move its route, free it again. Each writes the table to
 * KVM unless defer is true: then the change waits for the next irq_commit(), so a device
 * setting up several vectors pays one KVM_SET_GSI_ROUTING (the host kernel waits for an SRCU
 * grace period in each: milliseconds when nested) instead of one per vector. A deferred route
 * is not in KVM yet: an irqfd bound to its GSI injects nothing until the commit. */
int irq_msi_alloc(struct irq_chip *c, uint64_t addr, uint32_t data, bool defer, uint32_t *gsi,
		  mc_err *err);
int irq_msi_update(struct irq_chip *c, uint32_t gsi, uint64_t addr, uint32_t data, bool defer,
		   mc_err *err);
int irq_msi_free(struct irq_chip *c, uint32_t gsi, mc_err *err);
/* Inject one MSI directly (KVM_SIGNAL_MSI); returns KVM's answer (> 0 delivered, 0 blocked). */
int irq_msi_signal(struct irq_chip *c, uint64_t addr, uint32_t data, mc_err *err);
/* Write the routing table to KVM if it changed. */
int irq_commit(struct irq_chip *c, mc_err *err);

/* irqfd: a write to fd injects gsi in the kernel. resample_fd >= 0 makes it a level-triggered
 * irqfd (KVM_IRQFD_FLAG_RESAMPLE: fd signalled again when the guest acks while still high). */
int irq_irqfd_assign(struct irq_chip *c, int fd, uint32_t gsi, int resample_fd, mc_err *err);
int irq_irqfd_deassign(struct irq_chip *c, int fd, uint32_t gsi, mc_err *err);

/* ioeventfd: a guest write of len bytes (0: any length) to addr signals fd in the kernel,
 * without a VM exit to us. pio: a port, else MMIO. match: only when the written value equals
 * *match (NULL: any value). */
struct ioeventfd {
	uint64_t addr;
	uint32_t len;
	bool pio;
	const uint64_t *match;
	int fd;
};
int irq_ioeventfd_assign(struct irq_chip *c, const struct ioeventfd *io, mc_err *err);
int irq_ioeventfd_deassign(struct irq_chip *c, const struct ioeventfd *io, mc_err *err);

#endif
