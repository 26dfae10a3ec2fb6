/* MSI-X for a PCI function (PCI 3.0, 6.8.2): the capability, the vector table and the pending
 * bit array, each vector on a KVM MSI route (a GSI from irq.h), interrupts by irqfd.
 *
 * Interrupt sources (a virtqueue, the config change) each own an eventfd bound as an irqfd to
 * the GSI of the vector they use (msix_bind); msix_notify() writes it, so an I/O thread raises
 * an interrupt with one write and no exit. A vector that is masked (its own mask bit, the
 * function mask, MSI-X disabled) is not written: its pending bit is set instead and the
 * interrupt goes out when the vector is unmasked (KVM_SIGNAL_MSI). The route follows the
 * table entry: when the guest unmasks the vector, or writes the entry while it is unmasked.
 * Writes to a source's eventfd by someone else (vhost) do not see the mask.
 *
 * Route changes made while the device is set up are written to KVM together (msix_commit).
 *
 * Locks: msix.lock, innermost (taken under the PCI host's lock and a device's own).
 * msix_notify() takes no lock (but once, for routes not committed yet). Without a chip (tests)
 * nothing reaches KVM: fires are counted.
 */
#ifndef MINIVM_MSIX_H
#define MINIVM_MSIX_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "irq.h"
#include "pci.h"
#include "state.h"

#define MSIX_MAX_VECTORS  64
#define MSIX_NO_VECTOR	  0xffffu
#define MSIX_ENTRY_SIZE	  16
#define MSIX_CAP_LEN	  12 /* id, next, control, table, PBA */
#define MSIX_CTRL_ENABLE  0x8000u
#define MSIX_CTRL_MASKALL 0x4000u
#define MSIX_ENTRY_MASKED 1u /* vector control bit 0 */

struct msix_vec {
	uint8_t entry[MSIX_ENTRY_SIZE]; /* address low, high, data, vector control */
	bool has_gsi;
	uint32_t gsi;
	uint64_t route_addr; /* what the GSI is routed to */
	uint32_t route_data;
	_Atomic bool masked; /* entry mask, function mask or MSI-X off */
	_Atomic bool pending;
};

/* An interrupt source: its eventfd and the GSI it is bound to as an irqfd. */
struct msix_src {
	int fd;
	bool bound;
	uint32_t gsi;
};

struct msix {
	struct irq_chip *chip; /* NULL: tests */
	struct pci_function *f;
	uint8_t cap; /* the capability's offset in config space */
	unsigned nvec;
	pthread_mutex_t lock;
	bool enabled, fmask; /* as last seen in the control register */
	/* Route changes (a vector's first binding, an entry the guest unmasked or rewrote) wait
	 * for msix_commit() while the device is being set up (from msix_init and msix_defer on):
	 * one KVM_SET_GSI_ROUTING for all of a probe's vectors instead of one per vector. stale:
	 * some are not in KVM yet (msix_notify commits them first). */
	bool defer;
	_Atomic bool stale;
	struct msix_vec vec[MSIX_MAX_VECTORS];
	_Atomic unsigned long fired; /* interrupts sent on unmask (KVM_SIGNAL_MSI), for tests */
};

/* Add the capability to f (table and PBA at those offsets of BAR bar, 8-byte aligned; the
 * caller routes the BAR's accesses there to msix_table_io / msix_pba_io). Every vector starts
 * masked. */
int msix_init(struct msix *m, struct pci_function *f, unsigned nvec, unsigned bar,
	      uint32_t table_off, uint32_t pba_off, struct irq_chip *chip, mc_err *err);
/* Free the GSIs (sources must be unbound first). */
void msix_fini(struct msix *m);
/* The function's config write hook: call it for every write (it looks at its own bytes). */
void msix_cfg_written(struct msix *m, uint32_t off, uint32_t len);
/* The table (nvec * 16 bytes) and the PBA: 4- or 8-byte aligned accesses; others ignored. */
void msix_table_io(struct msix *m, uint64_t off, uint8_t *data, uint32_t len, bool is_write);
void msix_pba_io(struct msix *m, uint64_t off, uint8_t *data, uint32_t len, bool is_write);
/* Bind s to vector v (allocating v's GSI), or unbind it for MSIX_NO_VECTOR or a vector out of
 * range. Returns the vector s is now on (MSIX_NO_VECTOR when unbound or it failed). */
uint16_t msix_bind(struct msix *m, struct msix_src *s, uint16_t v);
/* Write the route changes made since msix_defer (or init) to KVM and commit each change at
 * once from then on: before the device may interrupt through an irqfd (DRIVER_OK, a load). */
void msix_commit(struct msix *m);
/* Route changes wait for msix_commit() again (the device was reset: its driver sets it up). */
void msix_defer(struct msix *m);
/* Interrupt through s on vector v: any thread, never blocks (but for the one commit of routes
 * still deferred, should an interrupt come before msix_commit). */
void msix_notify(struct msix *m, struct msix_src *s, uint16_t v);
/* The table and pending bits (after the function's config space is loaded: the control
 * register tells enabled and masked). load re-routes the vectors that have a GSI. */
void msix_save(struct msix *m, struct state_w *w);
int msix_load(struct msix *m, struct state_r *r, mc_err *err);

#endif
