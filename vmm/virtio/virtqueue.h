/* The device side of a virtio 1.x split virtqueue, over guest memory, written once for every
 * device (virtio spec 1.2, 2.7).
 *
 * The transport (virtio-mmio, virtio-pci) sets size, the three ring addresses and the
 * negotiated features while the queue is disabled, then calls virtq_enable(), which checks them
 * (size a power of two <= 32768, ring alignment, rings inside guest RAM) and resolves the rings
 * to host pointers once. A device then pops chains, fills their writable buffers, pushes the
 * used element and asks virtq_should_notify() whether to interrupt the driver.
 *
 * Everything the guest wrote is checked where it is read, and read once (descriptors are
 * copied before they are checked). Two kinds of failure:
 *  - VIRTQ_BAD_CHAIN: one chain is malformed (loop, index out of range, buffer outside RAM,
 *    zero length, writable before readable, bad indirect table, more buffers than the iovec
 *    array holds). It has been consumed; e->head is valid, so the device can fail that request
 *    (push it with length 0) or set DEVICE_NEEDS_RESET.
 *  - VIRTQ_BROKEN: the ring itself is corrupt (avail.idx more than the size ahead, a head index
 *    >= size). The queue refuses to pop again until reset; the device sets DEVICE_NEEDS_RESET.
 * No call loops more than the queue size (or an indirect table's length) times.
 *
 * The iovec bases point into guest memory, which the driver may change at any time: a device
 * copies what it needs (a request header) before checking it.
 */
#ifndef MINIVM_VIRTQUEUE_H
#define MINIVM_VIRTQUEUE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "error.h"
#include "guest_mem.h"
#include "state.h"

#define VIRTQ_MAX_SIZE 32768u

#define VIRTQ_DESC_F_NEXT	   1u
#define VIRTQ_DESC_F_WRITE	   2u
#define VIRTQ_DESC_F_INDIRECT	   4u
#define VRING_AVAIL_F_NO_INTERRUPT 1u
#define VRING_USED_F_NO_NOTIFY	   1u

#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_EVENT_IDX     29

struct virtq {
	const struct guest_mem *gm;
	/* Set by the transport while !enabled. */
	uint32_t size;				/* entries: a power of two, 1..VIRTQ_MAX_SIZE */
	uint64_t desc_gpa, avail_gpa, used_gpa; /* 16-, 2- and 4-byte aligned */
	uint64_t features;			/* negotiated (bits VIRTIO_F_*) */
	bool enabled;
	/* The device's position. */
	uint16_t last_avail_idx; /* next avail ring entry to take */
	uint16_t used_idx;	 /* used.idx as last published */
	uint16_t signalled_used; /* used_idx at the last virtq_should_notify() */
	bool signalled_used_valid;
	bool broken; /* the ring is corrupt: no pop until virtq_reset() */
	/* EVENT_IDX: whether pops leave avail_event where it is while notifications are off
	 * (virtq_set_notify(false) until (true)), so the driver does not kick for buffers the
	 * device is about to see anyway. The device sets it (after virtq_init/reset); off by
	 * default: avail_event follows every pop. */
	bool hold_event;
	bool notify_off;
	/* Resolved by virtq_enable(). */
	uint8_t *desc, *avail, *used;
};

/* One popped chain. The caller sets iov and iov_max; virtq_pop() fills the rest: iov[0, n_out)
 * are the readable buffers, iov[n_out, n_out + n_in) the writable ones. */
struct virtq_elem {
	struct iovec *iov;
	unsigned iov_max;
	uint16_t head;
	unsigned n_out, n_in;
	uint64_t out_len, in_len; /* byte totals of each part */
};

enum {
	VIRTQ_EMPTY = 0,
	VIRTQ_OK = 1,
	VIRTQ_BROKEN = -1,
	VIRTQ_BAD_CHAIN = -2,
};

/* A disabled queue of size 0 over gm. */
void virtq_init(struct virtq *vq, const struct guest_mem *gm);
/* Back to virtq_init()'s state (device reset; gm stays). */
void virtq_reset(struct virtq *vq);
/* Check size, addresses and alignment, resolve the rings; enabled on success. */
int virtq_enable(struct virtq *vq, mc_err *err);

/* The next available chain into e: VIRTQ_OK, VIRTQ_EMPTY, VIRTQ_BAD_CHAIN (e->head consumed
 * and valid) or VIRTQ_BROKEN; err is filled for the last two. With VIRTIO_F_EVENT_IDX,
 * avail_event is advanced to the new last_avail_idx. */
int virtq_pop(struct virtq *vq, struct virtq_elem *e, mc_err *err);
/* Put (head, len written) in the used ring and publish used.idx (release). */
int virtq_push(struct virtq *vq, uint16_t head, uint32_t len, mc_err *err);
/* Several used elements published at once (virtio-net's merged receive buffers: the driver
 * must see all of a packet's buffers with one used.idx): virtq_fill() writes (head, len) as the
 * i-th element after used_idx without publishing it, virtq_flush() publishes n of them. */
int virtq_fill(struct virtq *vq, unsigned i, uint16_t head, uint32_t len, mc_err *err);
void virtq_flush(struct virtq *vq, unsigned n);
/* Give back the last n chains popped and not pushed (they are taken again by the next pops). */
void virtq_unpop(struct virtq *vq, uint16_t n);
/* After one or more pushes: whether the driver wants an interrupt (used_event with
 * VIRTIO_F_EVENT_IDX, else VRING_AVAIL_F_NO_INTERRUPT). */
bool virtq_should_notify(struct virtq *vq);
/* Ask the driver to notify (kick) us on new buffers, or not to. Enabling returns true when
 * buffers arrived meanwhile (pop again before sleeping). */
bool virtq_set_notify(struct virtq *vq, bool enable);
/* Buffers available and not taken yet (0 when disabled or broken; may exceed the size when the
 * driver misbehaves, which virtq_pop reports). */
uint16_t virtq_pending(const struct virtq *vq);

/* The virtio spec's vring_need_event(): whether moving used.idx from old to new_idx passes
 * event_idx (all modulo 2^16). */
static inline bool vring_need_event(uint16_t event_idx, uint16_t new_idx, uint16_t old)
{
	return (uint16_t)(new_idx - event_idx - 1) < (uint16_t)(new_idx - old);
}

/* Snapshot: size, enabled, addresses, features and positions (45 bytes). Load
 * checks the values and re-resolves the rings of an enabled queue against vq->gm. */
void virtq_save(const struct virtq *vq, struct state_w *w);
int virtq_load(struct virtq *vq, struct state_r *r, mc_err *err);

#endif
