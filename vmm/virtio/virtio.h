/* A virtio 1.x device, independent of its transport (virtio spec 1.2, sections 2 and 3).
 *
 * Three parts meet here:
 *  - the core (virtio.c): the device status state machine, feature negotiation, the queues'
 *    life cycle, the device-specific config space with its generation, saved state, and the
 *    struct device ops the registry calls (realize, reset, pause, resume, save, load, destroy);
 *  - a transport (virtio_pci.c, later others) that maps the driver's register accesses onto
 *    the core's calls below, wires each queue's kick eventfd to an ioeventfd at its notify
 *    address and delivers interrupts (MSI-X through irqfd);
 *  - a device model (blk.c, net.c) with its struct virtio_dev_ops: features it offers, its
 *    config space, and start/stop of its work on I/O threads.
 *
 * A device model's struct embeds struct virtio_dev first, which embeds struct device first, so
 * the registry's struct device * is the model's struct *.
 *
 * Threads: register accesses arrive on vCPU threads, the core serialises them with vd->lock
 * and calls start/stop/config_write with it held. Queue work happens on the model's I/O
 * threads (iothread.h), which never take vd->lock: they pop and push on the queues they own
 * (each queue is used by one thread at a time) and call virtio_notify_queue() /
 * virtio_set_needs_reset(), which are safe from any thread.
 *
 * Kicks: each queue has a kick eventfd (created by the core at realize). The transport asks
 * KVM to signal it on the queue's notify address (ioeventfd), or writes it itself when a
 * notify write traps. The model watches it from start() on.
 */
#ifndef MINIVM_VIRTIO_H
#define MINIVM_VIRTIO_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "device.h"
#include "error.h"
#include "state.h"
#include "virtqueue.h"

/* Device status bits (spec 2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE	 1u
#define VIRTIO_STATUS_DRIVER		 2u
#define VIRTIO_STATUS_DRIVER_OK		 4u
#define VIRTIO_STATUS_FEATURES_OK	 8u
#define VIRTIO_STATUS_DEVICE_NEEDS_RESET 64u
#define VIRTIO_STATUS_FAILED		 128u

/* Reserved feature bits (spec 6). VIRTIO_F_INDIRECT_DESC and VIRTIO_F_EVENT_IDX: virtqueue.h */
#define VIRTIO_F_VERSION_1 32

/* Device ids (spec 5). */
#define VIRTIO_ID_NET	  1
#define VIRTIO_ID_BLOCK	  2
#define VIRTIO_ID_CONSOLE 3

#define VIRTIO_MAX_QUEUES    16
#define VIRTIO_CONFIG_MAX    256 /* bytes of device-specific config space */
#define VIRTIO_NO_VECTOR     0xffffu
#define VIRTIO_STATE_VERSION 1

struct vm;
struct virtio_dev;

/* What a device model provides. Every op but config_read may be NULL. */
struct virtio_dev_ops {
	/* The device-specific config space: off + len <= vd->config_len is checked by the core
	 * (len 1, 2, 4 or 8). config_write is called with vd->lock held. */
	void (*config_read)(struct virtio_dev *vd, uint32_t off, uint8_t *data, uint32_t len);
	void (*config_write)(struct virtio_dev *vd, uint32_t off, const uint8_t *data,
			     uint32_t len);
	/* At FEATURES_OK: refuse a combination of the driver's features (-1: FEATURES_OK is
	 * not set, the driver sees that and fails). */
	int (*features_ok)(struct virtio_dev *vd, uint64_t features, mc_err *err);
	/* Once, at realize (after the transport attached): open backends, make I/O threads. */
	int (*realize)(struct virtio_dev *vd, struct vm *vm, mc_err *err);
	/* The driver set DRIVER_OK: the enabled queues are resolved (vq.enabled) and the
	 * features final. Start watching the kick fds and doing work. A failure sets
	 * DEVICE_NEEDS_RESET. */
	int (*start)(struct virtio_dev *vd, mc_err *err);
	/* The driver reset the device (or it is being destroyed): stop, wait for in-flight
	 * requests, stop watching kick fds. The core then resets the queues. Only called after
	 * a successful start. */
	void (*stop)(struct virtio_dev *vd);
	/* The VM pauses: finish in-flight requests, touch neither guest memory nor the queues
	 * until resume (every vCPU is parked already). Called whether or not started. */
	void (*pause)(struct virtio_dev *vd);
	void (*resume)(struct virtio_dev *vd);
	/* A notify of a queue with trap_notify, on the vCPU thread whose write trapped, before
	 * the guest goes on (vd->lock not held): for a queue whose driver busy-waits for the
	 * device's answer, which then costs no I/O thread's wake-up. */
	void (*queue_notify)(struct virtio_dev *vd, unsigned q);
	/* The model's own state, after the core's (queues, status, features) in the stream.
	 * load runs before the core re-starts a device whose saved status had DRIVER_OK. */
	void (*save)(struct virtio_dev *vd, struct state_w *w);
	int (*load)(struct virtio_dev *vd, uint32_t version, struct state_r *r, mc_err *err);
	/* Give back what realize took (not the struct itself: the core frees it). */
	void (*destroy)(struct virtio_dev *vd);
};

/* What a transport provides (one instance per device: vd->transport). */
struct virtio_transport_ops {
	const char *name; /* "pci" */
	/* At realize, before the model's realize: claim regions, config space, interrupt
	 * routes, ioeventfds for each queue's kick_fd. */
	int (*attach)(struct virtio_dev *vd, struct vm *vm, mc_err *err);
	/* Interrupt the driver: queue q has used buffers / the config space changed. Any
	 * thread; never blocks. */
	void (*notify_queue)(struct virtio_dev *vd, unsigned q);
	void (*notify_config)(struct virtio_dev *vd);
	/* The driver reset the device: the transport's own registers back to power-on. */
	void (*reset)(struct virtio_dev *vd);
	/* The transport's state (vectors, MSI-X table, BARs) inside the device's saved state. */
	void (*save)(struct virtio_dev *vd, struct state_w *w);
	int (*load)(struct virtio_dev *vd, struct state_r *r, mc_err *err);
	/* AML for the DSDT, if the transport is described there (buf may be NULL). */
	size_t (*acpi_aml)(struct virtio_dev *vd, uint8_t *buf, size_t max);
	/* Give back what attach took (after the model's destroy). */
	void (*detach)(struct virtio_dev *vd);
	/* Optional (vhost-net): an eventfd whose writes interrupt the driver for queue q as
	 * notify_queue does (an irqfd on the queue's vector, kept routed when the driver moves
	 * or masks it), owned by the transport; -1 when it has none. A model without one
	 * watches its own eventfd and calls notify_queue. */
	int (*queue_call_fd)(struct virtio_dev *vd, unsigned q, mc_err *err);
};

struct virtio_queue {
	struct virtq vq;
	uint16_t max_size; /* what the device offers (a power of two) */
	int kick_fd;	   /* eventfd: the driver notified this queue */
	uint16_t vector;   /* the transport's interrupt vector (MSI-X), VIRTIO_NO_VECTOR */
	/* The driver's notify traps (no ioeventfd) and runs ops->queue_notify in the exit
	 * instead of waking kick_fd (set by the model after virtio_dev_init) */
	bool trap_notify;
	/* The driver rarely notifies this queue (a direction nobody uses, a control queue):
	 * its notify traps and wakes kick_fd as an ioeventfd would, and its enable costs no
	 * KVM_IOEVENTFD (a grace period in the host kernel; milliseconds when nested). Set by
	 * the model after virtio_dev_init. */
	bool no_ioeventfd;
};

struct virtio_dev {
	struct device dev; /* first: the registry's struct device * is a struct virtio_dev * */
	struct device_ops dev_ops;
	const struct virtio_dev_ops *ops;
	const struct virtio_transport_ops *tops;
	void *transport; /* the transport's per-device data */
	struct vm *vm;

	uint32_t device_id; /* VIRTIO_ID_* */
	uint64_t features;  /* offered: the model's bits; the core adds VERSION_1, EVENT_IDX,
			       INDIRECT_DESC */
	uint32_t config_len;
	unsigned nqueues;
	struct virtio_queue q[VIRTIO_MAX_QUEUES];
	/* MSI-X vectors the transport offers: 0 is one per queue plus one for config changes;
	 * fewer (2) makes Linux share one among all queues, which costs its probe fewer
	 * register writes (set by the model after virtio_dev_init) */
	unsigned msix_vectors;

	pthread_mutex_t lock; /* status, features, queue set-up, config writes */
	uint64_t driver_features;
	_Atomic uint8_t status;
	_Atomic uint32_t config_generation;
	bool started; /* the model's start succeeded and stop has not run */
	bool paused;
};

/* Fill the generic part of a new model instance (calloc'ed by the model's constructor):
 * name (unique in the VM: "virtio-blk0"), device id, features offered, config length, queue
 * count and each queue's maximal size, and the transport. The device is then given to
 * devices_add(), which realizes it (the transport's attach, then the model's realize) and on
 * failure destroys it (the model's destroy and the transport's detach must accept a partial
 * realize). When virtio_dev_init itself fails nothing is held: the caller frees vd and the
 * transport. */
int virtio_dev_init(struct virtio_dev *vd, const char *name, uint32_t device_id, uint64_t features,
		    uint32_t config_len, unsigned nqueues, uint16_t queue_size,
		    const struct virtio_dev_ops *ops, const struct virtio_transport_ops *tops,
		    void *transport, mc_err *err);

/* ---- For transports (with vd->lock held; virtio_lock/unlock around a register access) --- */
void virtio_lock(struct virtio_dev *vd);
void virtio_unlock(struct virtio_dev *vd);
/* The features offered, all 64 bits. */
uint64_t virtio_device_features(const struct virtio_dev *vd);
/* The driver writes its features (ignored once FEATURES_OK is set; bits not offered are
 * dropped and remembered as a driver bug: FEATURES_OK is then refused). */
void virtio_set_driver_features(struct virtio_dev *vd, uint64_t features);
uint8_t virtio_get_status(const struct virtio_dev *vd);
/* A status write: 0 resets the device (stop, queues and transport reset); setting
 * FEATURES_OK checks the features (VERSION_1 required); setting DRIVER_OK starts the model. */
void virtio_set_status(struct virtio_dev *vd, uint8_t status);
/* The driver enabled queue q (its size and ring addresses are set in vd->q[q].vq): checks
 * and resolves it. A failure sets DEVICE_NEEDS_RESET and returns -1. */
int virtio_queue_enable(struct virtio_dev *vd, unsigned q);
/* Device-specific config space access (bounds-checked: out of range reads as zeros). */
void virtio_config_read(struct virtio_dev *vd, uint32_t off, uint8_t *data, uint32_t len);
void virtio_config_write(struct virtio_dev *vd, uint32_t off, const uint8_t *data, uint32_t len);
uint32_t virtio_config_generation(const struct virtio_dev *vd);
/* A notify write the transport trapped (a trap_notify queue, or no ioeventfd): the model's
 * queue_notify for a trap_notify queue, else wake the queue's kick fd. */
void virtio_queue_notified(struct virtio_dev *vd, unsigned q);
/* Wake queue q's kick fd (a trapped notify, or a model kicking its own I/O thread). */
void virtio_kick(struct virtio_dev *vd, unsigned q);

/* ---- For device models (any thread) ---------------------------------------------------- */
/* After pushing used buffers on queue q: interrupt the driver if it wants one (true: it did). */
bool virtio_notify_queue(struct virtio_dev *vd, unsigned q);
/* The config space changed (link status, capacity): bump the generation, interrupt. */
void virtio_config_changed(struct virtio_dev *vd);
/* Something the driver did broke the device (a corrupt ring): DEVICE_NEEDS_RESET and a
 * config interrupt; the model stops using the queues until the driver resets it. */
void virtio_set_needs_reset(struct virtio_dev *vd, const char *why);
/* Whether the driver accepted feature bit f. */
static inline bool virtio_has_feature(const struct virtio_dev *vd, unsigned f)
{
	return (vd->driver_features >> f) & 1;
}

/* ---- Transports ------------------------------------------------------------------------ */
/* Modern virtio-pci (virtio_pci.c): a function on the VM's PCI host bridge with MSI-X. Gives
 * what virtio_dev_init() takes; the per-device data is made at realize (transport is NULL
 * until then), so nothing leaks when the device is never realized. */
int virtio_pci_transport_new(const struct virtio_transport_ops **tops, void **transport,
			     mc_err *err);

#endif
