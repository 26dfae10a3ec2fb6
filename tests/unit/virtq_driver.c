/* The driver's side of a virtio device in unit tests: see virtq_driver.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "virtq_driver.h"

#include "vmm/bytes.h"
#include "vmm/vm.h"

#define WAIT_MS 3000

/* ---- the recording transport ------------------------------------------------------------ */

struct vqd_rec vqd_rec;

static int t_attach(struct virtio_dev *vd, struct vm *vm, mc_err *err)
{
	(void)vd, (void)vm, (void)err;
	atomic_fetch_add(&vqd_rec.attach, 1);
	return 0;
}
static void t_notify_queue(struct virtio_dev *vd, unsigned q)
{
	(void)vd;
	assert_true(q < VIRTIO_MAX_QUEUES);
	atomic_fetch_add(&vqd_rec.notify_q[q], 1);
}
static void t_notify_config(struct virtio_dev *vd)
{
	(void)vd;
	atomic_fetch_add(&vqd_rec.notify_cfg, 1);
}
static void t_reset(struct virtio_dev *vd)
{
	(void)vd;
	atomic_fetch_add(&vqd_rec.reset, 1);
}
static void t_detach(struct virtio_dev *vd)
{
	(void)vd;
	atomic_fetch_add(&vqd_rec.detach, 1);
}
const struct virtio_transport_ops vqd_transport = {
    .name = "test",
    .attach = t_attach,
    .notify_queue = t_notify_queue,
    .notify_config = t_notify_config,
    .reset = t_reset,
    .detach = t_detach,
};

void vqd_rec_clear(void)
{
	atomic_store(&vqd_rec.attach, 0);
	atomic_store(&vqd_rec.detach, 0);
	atomic_store(&vqd_rec.reset, 0);
	atomic_store(&vqd_rec.notify_cfg, 0);
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		atomic_store(&vqd_rec.notify_q[q], 0);
}

int vqd_notified(void)
{
	int n = 0;
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		n += atomic_load(&vqd_rec.notify_q[q]);
	return n;
}

/* ---- guest RAM ------------------------------------------------------------------------------ */

uint8_t *vqd_guest_ram(struct vm *vm, size_t size)
{
	uint8_t *ram = aligned_alloc(4096, size);
	if (!ram)
		return NULL;
	memset(ram, 0, size);
	memset(vm, 0, sizeof(*vm));
	gm_init(&vm->gm, ram, size);
	vqd_rec_clear();
	return ram;
}

/* ---- the driver ------------------------------------------------------------------------- */

void vqd_init(struct vqd *q, uint8_t *ram, uint64_t base, uint16_t size)
{
	*q = (struct vqd){
	    .ram = ram, .desc = base, .avail = base + 0x1000, .used = base + 0x2000, .size = size};
}

void vqd_set(struct virtio_dev *vd, unsigned qi, const struct vqd *q)
{
	assert_true(qi < VIRTIO_MAX_QUEUES);
	vd->q[qi].vq.size = q->size;
	vd->q[qi].vq.desc_gpa = q->desc;
	vd->q[qi].vq.avail_gpa = q->avail;
	vd->q[qi].vq.used_gpa = q->used;
}

#define DRIVER (VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER)

/* vqd_negotiate with vd->lock held. */
static bool negotiate(struct virtio_dev *vd, uint64_t features)
{
	virtio_set_status(vd, DRIVER);
	virtio_set_driver_features(vd, features);
	virtio_set_status(vd, DRIVER | VIRTIO_STATUS_FEATURES_OK);
	return virtio_get_status(vd) & VIRTIO_STATUS_FEATURES_OK;
}

bool vqd_negotiate(struct virtio_dev *vd, uint64_t features)
{
	virtio_lock(vd);
	bool ok = negotiate(vd, features);
	virtio_unlock(vd);
	return ok;
}

void vqd_up(struct virtio_dev *vd, uint64_t features, const struct vqd *qs, unsigned nq)
{
	virtio_lock(vd);
	assert_true(negotiate(vd, features));
	for (unsigned i = 0; i < nq; i++) {
		vqd_set(vd, i, &qs[i]);
		assert_int_equal(virtio_queue_enable(vd, i), 0);
	}
	virtio_set_status(vd, DRIVER | VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
	virtio_unlock(vd);
}

void vqd_reset(struct virtio_dev *vd)
{
	virtio_lock(vd);
	virtio_set_status(vd, 0);
	virtio_unlock(vd);
}

void vqd_desc_put(uint8_t *t, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		  uint16_t next)
{
	uint8_t *d = t + 16 * i;
	put64(d, addr);
	put32(d + 8, len);
	put16(d + 12, flags);
	put16(d + 14, next);
}

void vqd_desc(const struct vqd *q, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
	      uint16_t next)
{
	vqd_desc_put(q->ram + q->desc, i, addr, len, flags, next);
}

uint16_t vqd_add(struct vqd *q, uint64_t addr, uint32_t len, uint16_t flags)
{
	uint16_t i = q->next_desc++ % q->size;
	vqd_desc(q, i, addr, len, flags, (uint16_t)((i + 1) % q->size));
	return i;
}

void vqd_push(struct vqd *q, uint16_t head)
{
	put16(q->ram + q->avail + 4 + 2 * (q->avail_idx % q->size), head);
	vqd_set_avail_idx(q, (uint16_t)(q->avail_idx + 1));
}

void vqd_set_avail_idx(struct vqd *q, uint16_t idx)
{
	q->avail_idx = idx;
	__atomic_store_n((uint16_t *)(void *)(q->ram + q->avail + 2), idx, __ATOMIC_RELEASE);
}

uint16_t vqd_used_idx(const struct vqd *q)
{
	return __atomic_load_n((uint16_t *)(void *)(q->ram + q->used + 2), __ATOMIC_ACQUIRE);
}

void vqd_used_elem(const struct vqd *q, uint16_t i, uint32_t *id, uint32_t *len)
{
	const uint8_t *e = q->ram + q->used + 4 + 8 * (i % q->size);
	*id = get32(e);
	*len = get32(e + 4);
}

bool vqd_wait_used(const struct vqd *q, uint16_t want)
{
	for (int i = 0; i < WAIT_MS; i++) {
		if ((uint16_t)(vqd_used_idx(q) - want) < 0x8000)
			return true;
		usleep(1000);
	}
	return false;
}

uint32_t vqd_run(struct vqd *q, struct virtio_dev *vd, unsigned qi, uint16_t head)
{
	uint16_t before = vqd_used_idx(q);
	vqd_push(q, head);
	virtio_kick(vd, qi);
	assert_true(vqd_wait_used(q, (uint16_t)(before + 1)));
	assert_int_equal(vqd_used_idx(q), (uint16_t)(before + 1));
	uint32_t id, len;
	vqd_used_elem(q, before, &id, &len);
	assert_int_equal(id, head);
	return len;
}

bool vqd_wait_status(const struct virtio_dev *vd, uint8_t bit)
{
	for (int i = 0; i < WAIT_MS; i++) {
		if (virtio_get_status(vd) & bit)
			return true;
		usleep(1000);
	}
	return false;
}

bool vqd_wait_count(atomic_int *n, int want)
{
	for (int i = 0; i < WAIT_MS; i++) {
		if (atomic_load(n) >= want)
			return true;
		usleep(1000);
	}
	return false;
}
