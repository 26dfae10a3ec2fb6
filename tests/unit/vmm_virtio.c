/* Unit tests for the virtio core (vmm/virtio/virtio.c) and the I/O thread
 * (vmm/virtio/iothread.c), without KVM: a recording transport (virtq_driver.h) and a
 * recording model. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/error.h"
#include "vmm/virtio/iothread.h"
#include "vmm/virtio/virtio.h"
#include "vmm/vm.h"
#include "virtq_driver.h"

/* ---- I/O thread ------------------------------------------------------------------------- */

struct counter {
	int fd;
	atomic_int n;
	struct iothread *t;
	bool del_self;
};

static void on_event(void *opaque, uint32_t events)
{
	struct counter *c = opaque;
	(void)events;
	uint64_t v;
	if (read(c->fd, &v, sizeof(v)) == sizeof(v))
		atomic_fetch_add(&c->n, 1);
	if (c->del_self)
		iothread_del(c->t, c->fd);
}

static void poke(int fd)
{
	uint64_t one = 1;
	assert_int_equal(write(fd, &one, sizeof(one)), sizeof(one));
}

static void iothread_basic(void **state)
{
	(void)state;
	mc_err err = NULL;
	struct iothread *t;
	assert_int_equal(iothread_create(&t, "test-io", &err), 0);
	assert_false(iothread_is_current(t));
	struct counter c = {.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), .t = t};
	assert_true(c.fd >= 0);
	assert_int_equal(iothread_add(t, c.fd, EPOLLIN, on_event, &c, &err), 0);
	assert_int_equal(iothread_add(t, c.fd, EPOLLIN, on_event, &c, &err), -1); /* twice */
	mc_error_free(&err);
	poke(c.fd);
	assert_true(vqd_wait_count(&c.n, 1));

	/* Paused: nothing dispatched until the (nested) pauses are all resumed. */
	iothread_pause(t);
	iothread_pause(t);
	poke(c.fd);
	usleep(20000);
	assert_int_equal(atomic_load(&c.n), 1);
	iothread_resume(t);
	usleep(20000);
	assert_int_equal(atomic_load(&c.n), 1);
	iothread_resume(t);
	assert_true(vqd_wait_count(&c.n, 2));

	/* Removed from another thread: never called again. */
	iothread_del(t, c.fd);
	poke(c.fd);
	usleep(20000);
	assert_int_equal(atomic_load(&c.n), 2);
	assert_int_equal(iothread_mod(t, c.fd, EPOLLIN, &err), -1);
	mc_error_free(&err);

	/* A callback removes its own source. */
	uint64_t v;
	assert_int_equal(read(c.fd, &v, sizeof(v)), sizeof(v));
	c.del_self = true;
	assert_int_equal(iothread_add(t, c.fd, EPOLLIN, on_event, &c, &err), 0);
	poke(c.fd);
	assert_true(vqd_wait_count(&c.n, 3));
	poke(c.fd);
	usleep(20000);
	assert_int_equal(atomic_load(&c.n), 3);
	assert_int_equal(iothread_add(t, -1, EPOLLIN, on_event, &c, &err), -1);
	mc_error_free(&err);
	iothread_destroy(t);
	iothread_destroy(NULL);
	close(c.fd);
}

/* ---- the core with a recording transport and model ------------------------------------- */

#define MEM (1u << 20)

/* What the model was asked to do (the transport's record: vqd_rec). */
struct rec {
	int realize, start, stop, pause, resume, destroy;
	int fail_start;
	uint8_t config[16];
};
static struct rec rec;

static void m_config_read(struct virtio_dev *vd, uint32_t off, uint8_t *data, uint32_t len)
{
	(void)vd;
	memcpy(data, rec.config + off, len);
}
static void m_config_write(struct virtio_dev *vd, uint32_t off, const uint8_t *data, uint32_t len)
{
	(void)vd;
	memcpy(rec.config + off, data, len);
}
static int m_realize(struct virtio_dev *vd, struct vm *vm, mc_err *err)
{
	(void)vd, (void)vm, (void)err;
	rec.realize++;
	return 0;
}
static int m_start(struct virtio_dev *vd, mc_err *err)
{
	(void)vd;
	rec.start++;
	return rec.fail_start ? mc_errorf(err, EIO, "backend gone") : 0;
}
static void m_stop(struct virtio_dev *vd)
{
	(void)vd;
	rec.stop++;
}
static void m_pause(struct virtio_dev *vd)
{
	(void)vd;
	rec.pause++;
}
static void m_resume(struct virtio_dev *vd)
{
	(void)vd;
	rec.resume++;
}
static void m_destroy(struct virtio_dev *vd)
{
	(void)vd;
	rec.destroy++;
}
static const struct virtio_dev_ops test_model = {
    .config_read = m_config_read,
    .config_write = m_config_write,
    .realize = m_realize,
    .start = m_start,
    .stop = m_stop,
    .pause = m_pause,
    .resume = m_resume,
    .destroy = m_destroy,
};

static uint8_t *ram;
static struct vm vm;

static int setup(void **state)
{
	(void)state;
	ram = vqd_guest_ram(&vm, MEM);
	memset(&rec, 0, sizeof(rec));
	return ram ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	free(ram);
	return 0;
}

static struct virtio_dev *make(const char *name)
{
	mc_err err = NULL;
	struct virtio_dev *vd = calloc(1, sizeof(*vd));
	assert_non_null(vd);
	assert_int_equal(virtio_dev_init(vd, name, VIRTIO_ID_BLOCK, 1ull << 5, 16, 2, 64,
					 &test_model, &vqd_transport, NULL, &err),
			 0);
	assert_int_equal(vd->dev.ops->realize(&vd->dev, &vm, &err), 0);
	return vd;
}

/* The driver sets queue q up with its rings at base (not enabled). */
static void setup_queue(struct virtio_dev *vd, unsigned q, uint64_t base, uint16_t size)
{
	struct vqd d;
	vqd_init(&d, ram, base, size);
	vqd_set(vd, q, &d);
}

static void bring_up(struct virtio_dev *vd)
{
	struct vqd qs[2];
	vqd_init(&qs[0], ram, 0x10000, 64);
	vqd_init(&qs[1], ram, 0x20000, 32);
	vqd_up(vd, (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_EVENT_IDX) | (1ull << 5), qs,
	       2);
}

static void negotiation(void **state)
{
	(void)state;
	struct virtio_dev *vd = make("virtio-test0");
	assert_int_equal(vqd_rec.attach, 1);
	assert_int_equal(rec.realize, 1);
	uint64_t f = virtio_device_features(vd);
	assert_true(f & (1ull << VIRTIO_F_VERSION_1));
	assert_true(f & (1ull << VIRTIO_F_EVENT_IDX));
	assert_true(f & (1ull << 5));
	assert_int_equal(vd->q[0].vq.size, 64); /* the offer, before the driver chooses */

	virtio_lock(vd);
	/* Legacy (no VERSION_1): FEATURES_OK does not stick. */
	virtio_set_status(vd, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	virtio_set_driver_features(vd, 1ull << 5);
	virtio_set_status(vd, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
				  VIRTIO_STATUS_FEATURES_OK);
	assert_false(virtio_get_status(vd) & VIRTIO_STATUS_FEATURES_OK);
	/* DRIVER_OK without FEATURES_OK: not live, model not started. */
	virtio_set_status(vd, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
				  VIRTIO_STATUS_DRIVER_OK);
	assert_false(virtio_get_status(vd) & VIRTIO_STATUS_DRIVER_OK);
	assert_int_equal(rec.start, 0);
	/* A feature not offered. */
	virtio_set_driver_features(vd, (1ull << VIRTIO_F_VERSION_1) | (1ull << 7));
	virtio_set_status(vd, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
				  VIRTIO_STATUS_FEATURES_OK);
	assert_false(virtio_get_status(vd) & VIRTIO_STATUS_FEATURES_OK);
	virtio_set_status(vd, 0);
	assert_int_equal(vqd_rec.reset, 1);
	assert_int_equal(rec.stop, 0); /* never started */
	virtio_unlock(vd);

	bring_up(vd);
	assert_int_equal(rec.start, 1);
	assert_true(vd->started);
	assert_true(vd->q[0].vq.enabled && vd->q[1].vq.enabled);
	assert_true(virtio_has_feature(vd, VIRTIO_F_EVENT_IDX));
	/* Features are frozen after FEATURES_OK. */
	virtio_lock(vd);
	virtio_set_driver_features(vd, 1ull << VIRTIO_F_VERSION_1);
	virtio_unlock(vd);
	assert_true(virtio_has_feature(vd, VIRTIO_F_EVENT_IDX));

	/* Reset stops the model and the queues. */
	vqd_reset(vd);
	assert_int_equal(rec.stop, 1);
	assert_false(vd->started);
	assert_false(vd->q[0].vq.enabled);
	assert_int_equal(vd->q[0].vq.size, 64);
	assert_int_equal(vd->driver_features, 0);
	vd->dev.ops->destroy(&vd->dev);
	assert_int_equal(rec.destroy, 1);
	assert_int_equal(vqd_rec.detach, 1);
}

static void bad_queues_and_config(void **state)
{
	(void)state;
	struct virtio_dev *vd = make("virtio-test0");
	virtio_lock(vd);
	setup_queue(vd, 0, 0x10000, 128); /* more than offered */
	assert_int_equal(virtio_queue_enable(vd, 0), -1);
	assert_true(virtio_get_status(vd) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	assert_int_equal(vqd_rec.notify_cfg, 0);	  /* not live yet: no interrupt */
	assert_int_equal(virtio_queue_enable(vd, 2), -1); /* no such queue */
	assert_int_equal(virtio_queue_enable(vd, 99), -1);
	/* The driver can't clear NEEDS_RESET except by a reset. */
	virtio_set_status(vd, VIRTIO_STATUS_ACKNOWLEDGE);
	assert_true(virtio_get_status(vd) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	virtio_set_status(vd, 0);
	assert_false(virtio_get_status(vd) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	setup_queue(vd, 0, MEM - 0x100, 64); /* rings outside RAM */
	assert_int_equal(virtio_queue_enable(vd, 0), -1);
	virtio_set_status(vd, 0);
	virtio_unlock(vd);

	/* Config space: in range goes to the model, the rest reads as zeros. */
	uint8_t b[8] = {1, 2, 3, 4, 5, 6, 7, 8}, out[8];
	virtio_config_write(vd, 8, b, 8);
	virtio_config_read(vd, 8, out, 8);
	assert_memory_equal(out, b, 8);
	memset(out, 0xaa, sizeof(out));
	virtio_config_read(vd, 12, out, 8); /* runs past the 16 bytes */
	assert_memory_equal(out, (uint8_t[8]){0}, 8);
	virtio_config_read(vd, 0xffffffffu, out, 4);
	assert_memory_equal(out, (uint8_t[4]){0}, 4);
	virtio_config_read(vd, 0, out, 3); /* odd size */
	assert_memory_equal(out, (uint8_t[3]){0}, 3);
	virtio_config_write(vd, 15, (uint8_t[2]){0x55, 0x66}, 2); /* runs past: dropped */
	assert_int_equal(rec.config[15], 8);

	/* Live: a config change and a needs-reset interrupt; a failing start needs reset. */
	bring_up(vd);
	uint32_t gen = virtio_config_generation(vd);
	virtio_config_changed(vd);
	assert_int_equal(virtio_config_generation(vd), gen + 1);
	assert_int_equal(vqd_rec.notify_cfg, 1);
	virtio_set_needs_reset(vd, "test");
	virtio_set_needs_reset(vd, "test again");
	assert_int_equal(vqd_rec.notify_cfg, 2);
	vqd_reset(vd);
	rec.fail_start = 1;
	bring_up(vd);
	assert_false(vd->started);
	assert_true(virtio_get_status(vd) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	rec.fail_start = 0;
	vd->dev.ops->destroy(&vd->dev);
	assert_int_equal(rec.stop, 1);
}

static void kick_and_notify(void **state)
{
	(void)state;
	struct virtio_dev *vd = make("virtio-test0");
	bring_up(vd);
	virtio_kick(vd, 1);
	virtio_kick(vd, 7); /* no such queue: ignored */
	uint64_t v = 0;
	assert_int_equal(read(vd->q[1].kick_fd, &v, sizeof(v)), sizeof(v));
	assert_int_equal(v, 1);
	assert_int_equal(read(vd->q[0].kick_fd, &v, sizeof(v)), -1);
	/* EVENT_IDX: used_event (after the avail ring) = 0 -> the first push notifies. */
	mc_err err = NULL;
	assert_int_equal(virtq_push(&vd->q[0].vq, 0, 0, &err), 0);
	virtio_notify_queue(vd, 0);
	assert_int_equal(vqd_rec.notify_q[0], 1);
	assert_int_equal(virtq_push(&vd->q[0].vq, 1, 0, &err), 0);
	virtio_notify_queue(vd, 0); /* used_event still 0: already signalled past it */
	assert_int_equal(vqd_rec.notify_q[0], 1);
	virtio_notify_queue(vd, 9);
	vd->dev.ops->destroy(&vd->dev);
}

static void save_load(void **state)
{
	(void)state;
	mc_err err = NULL;
	struct virtio_dev *a = make("virtio-test0");
	bring_up(a);
	a->q[1].vector = 3;
	a->dev.ops->pause(&a->dev);
	assert_int_equal(rec.pause, 1);
	struct state_w w = {0};
	a->dev.ops->save(&a->dev, &w);
	assert_false(w.oom);

	struct virtio_dev *b = make("virtio-test0");
	struct state_r r;
	state_r_init(&r, w.p, w.len);
	int starts = rec.start;
	assert_int_equal(b->dev.ops->load(&b->dev, VIRTIO_STATE_VERSION, &r, &err), 0);
	assert_int_equal(r.off, w.len);
	assert_int_equal(rec.start, starts + 1); /* was live: started again */
	assert_true(b->started);
	assert_int_equal(virtio_get_status(b), virtio_get_status(a));
	assert_int_equal(b->driver_features, a->driver_features);
	assert_int_equal(b->q[1].vector, 3);
	assert_true(b->q[0].vq.enabled);
	assert_int_equal(b->q[1].vq.size, 32);

	/* Cut short, and features this device doesn't offer. */
	struct virtio_dev *c = make("virtio-test0");
	for (size_t cut = 0; cut < w.len; cut += 7) {
		state_r_init(&r, w.p, cut);
		int rc = c->dev.ops->load(&c->dev, VIRTIO_STATE_VERSION, &r, &err);
		assert_true(rc < 0 || r.bad);
		mc_error_free(&err);
	}
	uint8_t *bad = malloc(w.len);
	memcpy(bad, w.p, w.len);
	bad[1 + 7] |= 0x80; /* feature bit 63 */
	state_r_init(&r, bad, w.len);
	assert_int_equal(c->dev.ops->load(&c->dev, VIRTIO_STATE_VERSION, &r, &err), -1);
	mc_error_free(&err);
	free(bad);
	state_w_free(&w);
	a->dev.ops->resume(&a->dev);
	assert_int_equal(rec.resume, 1);
	a->dev.ops->destroy(&a->dev);
	b->dev.ops->destroy(&b->dev);
	c->dev.ops->destroy(&c->dev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(iothread_basic),
	    cmocka_unit_test_setup_teardown(negotiation, setup, teardown),
	    cmocka_unit_test_setup_teardown(bad_queues_and_config, setup, teardown),
	    cmocka_unit_test_setup_teardown(kick_and_notify, setup, teardown),
	    cmocka_unit_test_setup_teardown(save_load, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
