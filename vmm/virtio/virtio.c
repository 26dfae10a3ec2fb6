/* The transport-independent virtio device core (virtio.h): status, features, queues, config
 * space, saved state, and the struct device ops the registry calls. */
#include "virtio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"
#include "vm.h"

#define CORE_FEATURES                                                                              \
	((1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_EVENT_IDX) |                             \
	 (1ull << VIRTIO_F_INDIRECT_DESC))

/* A ring field the driver writes concurrently (little-endian, aligned). */
static unsigned ld16(const uint8_t *p)
{
	return __atomic_load_n((const uint16_t *)(const void *)p, __ATOMIC_RELAXED);
}

void virtio_lock(struct virtio_dev *vd)
{
	pthread_mutex_lock(&vd->lock);
}

void virtio_unlock(struct virtio_dev *vd)
{
	pthread_mutex_unlock(&vd->lock);
}

uint64_t virtio_device_features(const struct virtio_dev *vd)
{
	return vd->features | CORE_FEATURES;
}

uint8_t virtio_get_status(const struct virtio_dev *vd)
{
	return atomic_load(&vd->status);
}

uint32_t virtio_config_generation(const struct virtio_dev *vd)
{
	return atomic_load(&vd->config_generation);
}

/* Power-on state of the core, the queues and the transport (the model is stopped first). */
static void reset_locked(struct virtio_dev *vd)
{
	if (vd->started && vd->ops->stop)
		vd->ops->stop(vd);
	vd->started = false;
	for (unsigned i = 0; i < vd->nqueues; i++) {
		struct virtio_queue *q = &vd->q[i];
		virtq_reset(&q->vq);
		q->vq.size = q->max_size; /* what the driver reads before it chooses */
		q->vector = VIRTIO_NO_VECTOR;
	}
	vd->driver_features = 0;
	atomic_store(&vd->status, 0);
	if (vd->tops->reset)
		vd->tops->reset(vd);
}

void virtio_set_driver_features(struct virtio_dev *vd, uint64_t features)
{
	if (virtio_get_status(vd) & VIRTIO_STATUS_FEATURES_OK)
		return; /* too late: the spec has the device ignore it */
	vd->driver_features = features;
}

static int check_features(struct virtio_dev *vd, mc_err *err)
{
	uint64_t f = vd->driver_features, offered = virtio_device_features(vd);
	if (f & ~offered)
		return mc_errorf(err, 0, "the driver accepted features %#llx it was not offered",
				 (unsigned long long)(f & ~offered));
	if (!(f & (1ull << VIRTIO_F_VERSION_1)))
		return mc_errorf(err, 0,
				 "the driver did not accept VIRTIO_F_VERSION_1 "
				 "(legacy drivers are not supported)");
	if (vd->ops->features_ok && vd->ops->features_ok(vd, f, err) < 0)
		return -1;
	return 0;
}

static void needs_reset(struct virtio_dev *vd, const char *why)
{
	uint8_t old = atomic_fetch_or(&vd->status, VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	if (old & VIRTIO_STATUS_DEVICE_NEEDS_RESET)
		return;
	mc_log_warn("%s: device needs reset: %s", vd->dev.name, why);
	if ((old & VIRTIO_STATUS_DRIVER_OK) && vd->tops->notify_config)
		vd->tops->notify_config(vd);
}

void virtio_set_needs_reset(struct virtio_dev *vd, const char *why)
{
	needs_reset(vd, why);
}

static void start_locked(struct virtio_dev *vd)
{
	mc_err err = NULL;
	if (!vd->ops->start || vd->ops->start(vd, &err) == 0) {
		vd->started = true;
		return;
	}
	char why[256];
	snprintf(why, sizeof(why), "start: %s", mc_error_text(err));
	mc_error_free(&err);
	needs_reset(vd, why);
}

void virtio_set_status(struct virtio_dev *vd, uint8_t s)
{
	if (s == 0) {
		reset_locked(vd);
		return;
	}
	uint8_t old = virtio_get_status(vd);
	/* Bits the driver may not set or clear itself: NEEDS_RESET stays the device's. */
	s = (uint8_t)((s & ~VIRTIO_STATUS_DEVICE_NEEDS_RESET) |
		      (old & VIRTIO_STATUS_DEVICE_NEEDS_RESET));
	if ((s & VIRTIO_STATUS_FEATURES_OK) && !(old & VIRTIO_STATUS_FEATURES_OK)) {
		mc_err err = NULL;
		if (check_features(vd, &err) < 0) {
			mc_log_warn("%s: features refused: %s", vd->dev.name, mc_error_text(err));
			mc_error_free(&err);
			s &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
		} else {
			for (unsigned i = 0; i < vd->nqueues; i++)
				vd->q[i].vq.features = vd->driver_features;
		}
	}
	if ((s & VIRTIO_STATUS_DRIVER_OK) && !(s & VIRTIO_STATUS_FEATURES_OK))
		s &= (uint8_t)~VIRTIO_STATUS_DRIVER_OK; /* out of order: refuse to go live */
	atomic_store(&vd->status, s);
	if ((s & VIRTIO_STATUS_DRIVER_OK) && !(old & VIRTIO_STATUS_DRIVER_OK) && !vd->started &&
	    !(s & VIRTIO_STATUS_DEVICE_NEEDS_RESET))
		start_locked(vd);
}

int virtio_queue_enable(struct virtio_dev *vd, unsigned q)
{
	if (q >= vd->nqueues)
		return -1;
	struct virtio_queue *vq = &vd->q[q];
	mc_err err = NULL;
	if (vq->vq.size > vq->max_size)
		mc_errorf(&err, EINVAL, "size %u is more than the %u offered", vq->vq.size,
			  vq->max_size);
	else {
		vq->vq.features = vd->driver_features;
		virtq_enable(&vq->vq, &err);
	}
	if (!err)
		return 0;
	char why[256];
	snprintf(why, sizeof(why), "queue %u: %s", q, mc_error_text(err));
	mc_error_free(&err);
	needs_reset(vd, why);
	return -1;
}

static bool config_access_ok(const struct virtio_dev *vd, uint32_t off, uint32_t len)
{
	return (len == 1 || len == 2 || len == 4 || len == 8) && off <= vd->config_len &&
	       len <= vd->config_len - off;
}

void virtio_config_read(struct virtio_dev *vd, uint32_t off, uint8_t *data, uint32_t len)
{
	if (!config_access_ok(vd, off, len) || !vd->ops->config_read) {
		memset(data, 0, len);
		return;
	}
	vd->ops->config_read(vd, off, data, len);
}

void virtio_config_write(struct virtio_dev *vd, uint32_t off, const uint8_t *data, uint32_t len)
{
	if (config_access_ok(vd, off, len) && vd->ops->config_write)
		vd->ops->config_write(vd, off, data, len);
}

void virtio_kick(struct virtio_dev *vd, unsigned q)
{
	if (q >= vd->nqueues)
		return;
	uint64_t one = 1;
	ssize_t n = write(vd->q[q].kick_fd, &one, sizeof(one));
	(void)n; /* EAGAIN: the counter is saturated, the reader wakes anyway */
}

void virtio_queue_notified(struct virtio_dev *vd, unsigned q)
{
	if (q >= vd->nqueues)
		return;
	if (vd->q[q].trap_notify && vd->ops->queue_notify)
		vd->ops->queue_notify(vd, q);
	else
		virtio_kick(vd, q);
}

bool virtio_notify_queue(struct virtio_dev *vd, unsigned q)
{
	if (q >= vd->nqueues || !virtq_should_notify(&vd->q[q].vq))
		return false;
	vd->tops->notify_queue(vd, q);
	return true;
}

void virtio_config_changed(struct virtio_dev *vd)
{
	atomic_fetch_add(&vd->config_generation, 1);
	if ((virtio_get_status(vd) & VIRTIO_STATUS_DRIVER_OK) && vd->tops->notify_config)
		vd->tops->notify_config(vd);
}

/* ---- struct device ops ------------------------------------------------------------------ */

static int dev_realize(struct device *d, struct vm *vm, mc_err *err)
{
	struct virtio_dev *vd = (struct virtio_dev *)d;
	vd->vm = vm;
	for (unsigned i = 0; i < vd->nqueues; i++) {
		virtq_init(&vd->q[i].vq, &vm->gm);
		vd->q[i].vq.size = vd->q[i].max_size;
		vd->q[i].vector = VIRTIO_NO_VECTOR;
	}
	/* devices_add() names the device in the error */
	if (vd->tops->attach && vd->tops->attach(vd, vm, err) < 0)
		return mc_wrap(err, "%s transport", vd->tops->name);
	if (vd->ops->realize && vd->ops->realize(vd, vm, err) < 0)
		return -1;
	return 0;
}

static void dev_reset(struct device *d)
{
	struct virtio_dev *vd = (struct virtio_dev *)d;
	virtio_lock(vd);
	reset_locked(vd);
	virtio_unlock(vd);
}

static void dev_pause(struct device *d)
{
	struct virtio_dev *vd = (struct virtio_dev *)d;
	virtio_lock(vd);
	vd->paused = true;
	if (vd->ops->pause)
		vd->ops->pause(vd);
	virtio_unlock(vd);
}

static void dev_resume(struct device *d)
{
	struct virtio_dev *vd = (struct virtio_dev *)d;
	virtio_lock(vd);
	vd->paused = false;
	if (vd->ops->resume)
		vd->ops->resume(vd);
	virtio_unlock(vd);
}

static void dev_save(struct device *d, struct state_w *w)
{
	struct virtio_dev *vd = (struct virtio_dev *)d;
	virtio_lock(vd);
	state_put8(w, virtio_get_status(vd));
	state_put64(w, vd->driver_features);
	state_put32(w, virtio_config_generation(vd));
	state_put8(w, vd->started);
	state_put8(w, (uint8_t)vd->nqueues);
	for (unsigned i = 0; i < vd->nqueues; i++) {
		state_put16(w, vd->q[i].vector);
		virtq_save(&vd->q[i].vq, w);
	}
	if (vd->tops->save)
		vd->tops->save(vd, w);
	if (vd->ops->save)
		vd->ops->save(vd, w);
	virtio_unlock(vd);
}

static int load_locked(struct virtio_dev *vd, uint32_t version, struct state_r *r, mc_err *err)
{
	if (vd->started && vd->ops->stop)
		vd->ops->stop(vd);
	vd->started = false;
	uint8_t status = state_get8(r);
	uint64_t features = state_get64(r);
	uint32_t gen = state_get32(r);
	bool started = state_get8(r) != 0;
	unsigned nq = state_get8(r);
	if (r->bad)
		return mc_errorf(err, 0, "cut short");
	if (nq != vd->nqueues)
		return mc_errorf(err, 0, "%u queues saved, this device has %u", nq, vd->nqueues);
	if (features & ~virtio_device_features(vd))
		return mc_errorf(err, 0, "saved features %#llx are not all offered here",
				 (unsigned long long)features);
	for (unsigned i = 0; i < nq; i++) {
		vd->q[i].vector = state_get16(r);
		if (virtq_load(&vd->q[i].vq, r, err) < 0)
			return mc_wrap(err, "queue %u", i);
		if (vd->q[i].vq.size > vd->q[i].max_size)
			return mc_errorf(err, 0, "queue %u: size %u, at most %u", i,
					 vd->q[i].vq.size, vd->q[i].max_size);
	}
	vd->driver_features = features;
	atomic_store(&vd->config_generation, gen);
	atomic_store(&vd->status, status);
	if (vd->tops->load && vd->tops->load(vd, r, err) < 0)
		return mc_wrap(err, "%s transport", vd->tops->name);
	if (vd->ops->load && vd->ops->load(vd, version, r, err) < 0)
		return -1;
	if (r->bad)
		return mc_errorf(err, 0, "cut short");
	if (!started)
		return 0;
	start_locked(vd);
	/* A kick the driver made before the save sat in the saved device's kick eventfds, which
	 * the state does not carry (these are new), and with EVENT_IDX the driver does not kick
	 * again for buffers past avail_event: without this a queue that had work pending at the
	 * save would wait for a kick that never comes (the transmit queue or the control queue
	 * after a restore). Each model's kick handler takes what is there, or nothing. Paused,
	 * the kicks wait in the eventfds for the resume. */
	if (vd->started)
		for (unsigned i = 0; i < vd->nqueues; i++)
			if (vd->q[i].vq.enabled)
				virtio_kick(vd, i);
	return 0;
}

static int dev_load(struct device *d, uint32_t version, struct state_r *r, mc_err *err)
{
	struct virtio_dev *vd = (struct virtio_dev *)d;
	virtio_lock(vd);
	int rc = load_locked(vd, version, r, err);
	virtio_unlock(vd);
	return rc;
}

/* Each enabled queue's positions: ours (last_avail: the next avail entry we take, used: the
 * used.idx we published) and the driver's (avail.idx, and with EVENT_IDX the used_event it
 * wants an interrupt at), avail_event as we last wrote it, whether kicks are off: a queue
 * whose avail stays ahead of last_avail is waiting for a kick; one whose used passed
 * used_event while the guest waits, for an interrupt. The I/O threads' fields are read as
 * they are (diagnostics); vd->lock only keeps the rings from going (a reset) meanwhile, and a
 * holder is not waited for. */
static void dev_describe(struct device *d, char *buf, size_t len)
{
	struct virtio_dev *vd = (struct virtio_dev *)d;
	int n = snprintf(buf, len, "status %#x%s", virtio_get_status(vd),
			 vd->started ? "" : ", not started");
	if (n < 0 || (size_t)n >= len)
		return;
	if (pthread_mutex_trylock(&vd->lock) != 0) {
		snprintf(buf + n, len - (size_t)n, " (busy: queues not read)");
		return;
	}
	size_t at = 0;
	for (unsigned i = 0; i < vd->nqueues && n >= 0 && (at += (size_t)n) < len; i++) {
		const struct virtq *q = &vd->q[i].vq;
		n = 0;
		if (!q->enabled)
			continue;
		const uint8_t *a = q->avail, *u = q->used;
		n = snprintf(buf + at, len - at,
			     "; q%u: avail %u last_avail %u used %u used_event %u avail_event %u "
			     "vector %u%s%s",
			     i, ld16(a + 2), __atomic_load_n(&q->last_avail_idx, __ATOMIC_RELAXED),
			     __atomic_load_n(&q->used_idx, __ATOMIC_RELAXED),
			     ld16(a + 4 + 2 * q->size), ld16(u + 4 + 8 * q->size),
			     __atomic_load_n(&vd->q[i].vector, __ATOMIC_RELAXED),
			     __atomic_load_n(&q->notify_off, __ATOMIC_RELAXED) ? " kicks off" : "",
			     __atomic_load_n(&q->broken, __ATOMIC_RELAXED) ? " broken" : "");
	}
	pthread_mutex_unlock(&vd->lock);
}

static size_t dev_acpi_aml(struct device *d, uint8_t *buf, size_t max)
{
	struct virtio_dev *vd = (struct virtio_dev *)d;
	return vd->tops->acpi_aml ? vd->tops->acpi_aml(vd, buf, max) : 0;
}

static void dev_destroy(struct device *d)
{
	struct virtio_dev *vd = (struct virtio_dev *)d;
	if (vd->vm) {
		virtio_lock(vd);
		if (vd->started && vd->ops->stop)
			vd->ops->stop(vd);
		vd->started = false;
		virtio_unlock(vd);
	}
	if (vd->ops->destroy)
		vd->ops->destroy(vd);
	if (vd->vm && vd->tops->detach)
		vd->tops->detach(vd);
	for (unsigned i = 0; i < vd->nqueues; i++)
		if (vd->q[i].kick_fd >= 0)
			close(vd->q[i].kick_fd);
	pthread_mutex_destroy(&vd->lock);
	free(vd);
}

int virtio_dev_init(struct virtio_dev *vd, const char *name, uint32_t device_id, uint64_t features,
		    uint32_t config_len, unsigned nqueues, uint16_t queue_size,
		    const struct virtio_dev_ops *ops, const struct virtio_transport_ops *tops,
		    void *transport, mc_err *err)
{
	if (nqueues == 0 || nqueues > VIRTIO_MAX_QUEUES)
		return mc_errorf(err, EINVAL, "%s: %u queues (1 to %d)", name, nqueues,
				 VIRTIO_MAX_QUEUES);
	if (queue_size == 0 || (queue_size & (queue_size - 1)) || queue_size > VIRTQ_MAX_SIZE)
		return mc_errorf(err, EINVAL, "%s: queue size %u", name, queue_size);
	if (config_len > VIRTIO_CONFIG_MAX)
		return mc_errorf(err, EINVAL, "%s: %u bytes of config space", name, config_len);
	vd->dev_ops = (struct device_ops){
	    .realize = dev_realize,
	    .reset = dev_reset,
	    .pause = dev_pause,
	    .resume = dev_resume,
	    .save = dev_save,
	    .load = dev_load,
	    .acpi_aml = dev_acpi_aml,
	    .describe = dev_describe,
	    .destroy = dev_destroy,
	};
	vd->dev = (struct device){.name = name,
				  .ops = &vd->dev_ops,
				  .state_version = VIRTIO_STATE_VERSION,
				  .state_min_version = VIRTIO_STATE_VERSION};
	vd->ops = ops;
	vd->tops = tops;
	vd->transport = transport;
	vd->device_id = device_id;
	vd->features = features;
	vd->config_len = config_len;
	vd->nqueues = nqueues;
	pthread_mutex_init(&vd->lock, NULL);
	for (unsigned i = 0; i < nqueues; i++)
		vd->q[i].kick_fd = -1;
	for (unsigned i = 0; i < nqueues; i++) {
		vd->q[i].max_size = queue_size;
		vd->q[i].vector = VIRTIO_NO_VECTOR;
		vd->q[i].kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (vd->q[i].kick_fd < 0) {
			int e = errno;
			for (unsigned k = 0; k < i; k++)
				close(vd->q[k].kick_fd);
			pthread_mutex_destroy(&vd->lock);
			return mc_errorf(err, e, "%s: queue %u: eventfd", name, i);
		}
	}
	return 0;
}
