/* The driver's side of a virtio device in unit tests, without KVM or a guest kernel (used by
 * tests/unit/vmm_virtio.c, vmm_blk.c, vmm_net.c, vmm_console.c):
 *  - a transport that records what the core and the model ask of it (vqd_transport, counts in
 *    vqd_rec; any thread);
 *  - the driver's status dance up to DRIVER_OK and a reset;
 *  - split rings (virtio 1.2, 2.7) that the test lays out in the buffer it gave the device as
 *    guest RAM: descriptors, avail pushes, the used ring read back, bounded waits.
 * Ring layout of a queue at base: descriptor table at base, avail ring at base + 0x1000, used
 * ring at base + 0x2000 (room for 256 entries each). Failures are cmocka assertions. */
#ifndef MINIVM_TESTS_VIRTQ_DRIVER_H
#define MINIVM_TESTS_VIRTQ_DRIVER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/virtio/virtio.h"

/* ---- the recording transport ------------------------------------------------------------ */

struct vqd_rec {
	atomic_int attach, detach, reset;
	atomic_int notify_q[VIRTIO_MAX_QUEUES]; /* queue interrupts, per queue */
	atomic_int notify_cfg;			/* config interrupts */
};
extern struct vqd_rec vqd_rec;
extern const struct virtio_transport_ops vqd_transport;
/* Every count back to 0 (a test's set-up). */
void vqd_rec_clear(void);
/* Queue interrupts over all queues. */
int vqd_notified(void);

/* ---- guest RAM ------------------------------------------------------------------------------ */

struct vm;
/* A test's fresh start: size bytes of zeroed, page-aligned RAM made vm's guest memory (vm is
 * zeroed first), and vqd_rec cleared. NULL when out of memory; the caller frees it. */
uint8_t *vqd_guest_ram(struct vm *vm, size_t size);

/* ---- the driver ------------------------------------------------------------------------- */

/* One queue as the driver sees it. */
struct vqd {
	uint8_t *ram;		    /* the guest RAM the device was given (gm_init) */
	uint64_t desc, avail, used; /* guest-physical ring addresses */
	uint16_t size;
	uint16_t next_desc; /* vqd_add's next descriptor (round robin) */
	uint16_t avail_idx; /* avail.idx as last published */
};

/* A queue of size entries with its rings at base (layout above), nothing offered yet. */
void vqd_init(struct vqd *q, uint8_t *ram, uint64_t base, uint16_t size);
/* The driver writes q's size and ring addresses into the device's queue qi (not enabled). */
void vqd_set(struct virtio_dev *vd, unsigned qi, const struct vqd *q);
/* ACKNOWLEDGE | DRIVER, the features, FEATURES_OK: whether FEATURES_OK stuck (the device took
 * the features). Takes vd->lock. */
bool vqd_negotiate(struct virtio_dev *vd, uint64_t features);
/* ACKNOWLEDGE | DRIVER, the features, FEATURES_OK (asserted it sticks), queues 0..nq-1 set from
 * qs[] and enabled (asserted), DRIVER_OK; vd->lock held throughout. Whether the model started
 * is the caller's to check (vd->started). */
void vqd_up(struct virtio_dev *vd, uint64_t features, const struct vqd *qs, unsigned nq);
/* The driver writes status 0: the device resets. */
void vqd_reset(struct virtio_dev *vd);

/* Descriptor i of a table at t (a ring's or an indirect one). */
void vqd_desc_put(uint8_t *t, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		  uint16_t next);
/* Descriptor i of q's ring. */
void vqd_desc(const struct vqd *q, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
	      uint16_t next);
/* The next descriptor of q's ring (round robin), its next field the one after it: chain by
 * passing VIRTQ_DESC_F_NEXT. Returns its index. */
uint16_t vqd_add(struct vqd *q, uint64_t addr, uint32_t len, uint16_t flags);
/* head made available: the avail ring entry, then avail.idx published (release). No kick. */
void vqd_push(struct vqd *q, uint16_t head);
/* avail.idx published as idx whatever was pushed (a corrupt ring). */
void vqd_set_avail_idx(struct vqd *q, uint16_t idx);

/* used.idx (acquire). */
uint16_t vqd_used_idx(const struct vqd *q);
/* Used ring entry i (mod size). */
void vqd_used_elem(const struct vqd *q, uint16_t i, uint32_t *id, uint32_t *len);
/* Wait up to 3 s for used.idx to reach want (16-bit wrap aware): false on time-out. */
bool vqd_wait_used(const struct vqd *q, uint16_t want);
/* Push head, kick queue qi, wait up to 3 s for the device to use exactly that chain (asserted):
 * its used length. */
uint32_t vqd_run(struct vqd *q, struct virtio_dev *vd, unsigned qi, uint16_t head);

/* Wait up to 3 s for the device status to have bit (DEVICE_NEEDS_RESET): false on time-out. */
bool vqd_wait_status(const struct virtio_dev *vd, uint8_t bit);
/* Wait up to 3 s for *n to reach want: false on time-out. */
bool vqd_wait_count(atomic_int *n, int want);

#endif
