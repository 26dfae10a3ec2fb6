/* Unit tests for virtio-console (vmm/virtio/console.c) without KVM: the device runs through the
 * virtio core with a recording transport; the driver's side is hand-made rings (virtq_driver.h)
 * in a calloc'ed guest RAM, the host side pipes. The control protocol as Linux drives it, stdin in
 * with its end, stdout and stderr out, the flush at the end, -t's messages, and bad input. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/error.h"
#include "vmm/bytes.h"
#include "vmm/virtio/console.h"
#include "vmm/virtio/virtio.h"
#include "vmm/vm.h"
#include "virtq_driver.h"

#define MEM   (4u << 20)
#define QSIZE 16u
#define NQ    8u /* the most queues (3 ports); 4 with -t */
#define QBASE                                                                                      \
	0x10000u /* queue q's rings at QBASE + q * 0x4000: desc, avail +0x1000, used +0x2000 */
#define BUFS   0x100000u /* queue q's buffers at BUFS + q * 0x10000, 64 bytes each (desc i) */
#define BUFLEN 64u

static uint8_t *ram;
static struct vm vm;
static struct devices devs;
static struct virtio_dev *vd;
static struct device *dev;
static struct vqd qs[NQ];
static uint16_t seen[NQ];
static int in_p[2], out_p[2], err_p[2];

static uint32_t buf_at(unsigned q, unsigned i)
{
	return BUFS + q * 0x10000u + i * BUFLEN;
}
/* Buffer i of queue q (one descriptor, index i) made available; notify, as a trapped write
 * to the queue's notify address does. */
static void offer(unsigned q, unsigned i, uint32_t len, bool writable)
{
	vqd_desc(&qs[q], i, buf_at(q, i), len, writable ? VIRTQ_DESC_F_WRITE : 0, 0);
	vqd_push(&qs[q], (uint16_t)i);
	virtio_queue_notified(vd, q);
}

/* Wait up to 3 s for used.idx of q to reach exactly n. */
static void wait_used(unsigned q, uint16_t n)
{
	assert_true(vqd_wait_used(&qs[q], n));
	assert_int_equal(vqd_used_idx(&qs[q]), n);
}

/* The driver sends a control message (queue 3) and waits until the device took it. */
static void send_ctl(uint32_t id, uint16_t event, uint16_t value)
{
	static unsigned slot;
	unsigned i = slot++ % QSIZE;
	uint8_t *b = ram + buf_at(3, i);
	put32(b, id);
	put16(b + 4, event);
	put16(b + 6, value);
	offer(3, i, 8, false);
	/* taken before the notify returned: Linux spins until it is (no thread to wake) */
	assert_int_equal(vqd_used_idx(&qs[3]), qs[3].avail_idx);
}

/* The next message the device sent on queue 2 (each used buffer re-posted). */
struct msg {
	uint32_t id;
	uint16_t event, value;
	char extra[BUFLEN];
	uint32_t extra_len;
};
static struct msg recv_ctl(void)
{
	assert_true(vqd_wait_used(&qs[2], (uint16_t)(seen[2] + 1)));
	uint32_t id, len;
	vqd_used_elem(&qs[2], seen[2]++, &id, &len);
	assert_true(id < QSIZE && len >= 8 && len <= BUFLEN);
	const uint8_t *b = ram + buf_at(2, id);
	struct msg m = {.id = get32(b), .event = get16(b + 4), .value = get16(b + 6)};
	m.extra_len = len - 8;
	memcpy(m.extra, b + 8, m.extra_len);
	offer(2, id, BUFLEN, true);
	return m;
}
static void expect_ctl(uint32_t id, uint16_t event, uint16_t value, const char *name)
{
	struct msg m = recv_ctl();
	assert_int_equal(m.id, id);
	assert_int_equal(m.event, event);
	assert_int_equal(m.value, value);
	if (name) {
		assert_int_equal(m.extra_len, strlen(name));
		assert_memory_equal(m.extra, name, m.extra_len);
	}
}
static void no_ctl(void)
{
	usleep(50 * 1000);
	assert_int_equal(vqd_used_idx(&qs[2]), seen[2]);
}

static void make(bool tty)
{
	mc_err err = NULL;
	struct virtio_console_conf c = {.in_fd = in_p[0],
					.out_fd = out_p[1],
					.err_fd = err_p[1],
					.tty = tty,
					.rows = 24,
					.cols = 80};
	dev = virtio_console_create(&c, &vqd_transport, NULL, &err);
	assert_non_null(dev);
	if (devices_add(&devs, dev, &vm, &err) < 0)
		fail_msg("devices_add: %s", mc_error_text(err));
	vd = (struct virtio_dev *)dev;
	uint8_t cfg[4];
	virtio_config_read(vd, 4, cfg, 4);
	/* as few ports and queues as the streams need, full-size queues only where one
	 * flows, two MSI-X vectors (the driver's probe sets up less: docs/virtio.md) */
	assert_int_equal(get32(cfg), tty ? 1 : 3);
	assert_int_equal(vd->nqueues, tty ? 4 : 8);
	assert_int_equal(vd->msix_vectors, 2);
	static const uint16_t sizes[NQ] = {128, 4, 16, 16, 4, 128, 4, 128};
	static const uint16_t tty_sizes[4] = {128, 128, 16, 16};
	for (unsigned q = 0; q < vd->nqueues; q++) {
		assert_int_equal(vd->q[q].max_size, tty ? tty_sizes[q] : sizes[q]);
		/* an ioeventfd (a KVM call at enable) only where a stream flows */
		assert_int_equal(vd->q[q].no_ioeventfd, vd->q[q].max_size != 128);
	}
	for (unsigned q = 0; q < vd->nqueues; q++)
		vqd_init(&qs[q], ram, QBASE + q * 0x4000u,
			 vd->q[q].max_size < QSIZE ? vd->q[q].max_size : QSIZE);
	vqd_up(vd, 1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_CONSOLE_F_MULTIPORT, qs,
	       vd->nqueues);
	assert_true(vd->started);
	for (unsigned i = 0; i < 8; i++)
		offer(2, i, BUFLEN, true); /* control buffers, as Linux posts them */
}

static int setup(void **state)
{
	(void)state;
	memset(&devs, 0, sizeof(devs));
	memset(seen, 0, sizeof(seen));
	if (pipe(in_p) < 0 || pipe(out_p) < 0 || pipe(err_p) < 0)
		return -1;
	ram = vqd_guest_ram(&vm, MEM);
	return ram ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	devices_destroy(&devs);
	vd = NULL;
	int *fds[] = {in_p, out_p, err_p};
	for (unsigned i = 0; i < 3; i++)
		for (unsigned k = 0; k < 2; k++)
			if (fds[i][k] >= 0)
				close(fds[i][k]);
	free(ram);
	return 0;
}

static void read_exact(int fd, const char *want)
{
	size_t n = strlen(want), got = 0;
	char buf[256];
	assert_true(n < sizeof(buf));
	while (got < n) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		assert_int_equal(poll(&p, 1, 3000), 1);
		ssize_t r = read(fd, buf + got, n - got);
		assert_true(r > 0);
		got += (size_t)r;
	}
	assert_memory_equal(buf, want, n);
}

/* ---- tests -------------------------------------------------------------------------------- */

static void stdio_ports(void **state)
{
	(void)state;
	make(false);
	send_ctl(0xffffffffu, VIRTIO_CONSOLE_DEVICE_READY, 1);
	for (uint32_t k = 0; k < 3; k++)
		expect_ctl(k, VIRTIO_CONSOLE_DEVICE_ADD, 0, NULL);
	static const char *const names[] = {"minivm.stdin", "minivm.stdout", "minivm.stderr"};
	for (uint32_t k = 0; k < 3; k++) {
		send_ctl(k, VIRTIO_CONSOLE_PORT_READY, 1);
		/* open before the name: the guest opens the port once it sees the name */
		expect_ctl(k, VIRTIO_CONSOLE_PORT_OPEN, 1, NULL);
		expect_ctl(k, VIRTIO_CONSOLE_PORT_NAME, 0, names[k]);
	}
	/* stdin: nothing is read before the guest opens the port */
	assert_int_equal(write(in_p[1], "hello world!", 12), 12);
	offer(0, 0, 8, true);
	offer(0, 1, 8, true);
	usleep(50 * 1000);
	assert_int_equal(vqd_used_idx(&qs[0]), 0);
	send_ctl(0, VIRTIO_CONSOLE_PORT_OPEN, 1);
	wait_used(0, 2);
	uint32_t id, len;
	vqd_used_elem(&qs[0], 0, &id, &len);
	assert_int_equal(id, 0);
	assert_int_equal(len, 8);
	vqd_used_elem(&qs[0], 1, &id, &len);
	assert_int_equal(id, 1);
	assert_int_equal(len, 4);
	assert_memory_equal(ram + buf_at(0, 0), "hello wo", 8);
	assert_memory_equal(ram + buf_at(0, 1), "rld!", 4);
	/* more input waits for buffers; its end is the host side closing */
	assert_int_equal(write(in_p[1], "abc", 3), 3);
	close(in_p[1]);
	in_p[1] = -1;
	no_ctl();
	offer(0, 2, 64, true);
	wait_used(0, 3);
	vqd_used_elem(&qs[0], 2, &id, &len);
	assert_int_equal(len, 3);
	offer(0, 3, 64, true); /* the end is seen on a read, with a buffer to read into */
	expect_ctl(0, VIRTIO_CONSOLE_PORT_OPEN, 0, NULL);
	usleep(50 * 1000);
	assert_int_equal(vqd_used_idx(&qs[0]), 3); /* that buffer stays the guest's */
	/* stdout (port 1, transmit queue 5) and stderr (port 2, queue 7) */
	memcpy(ram + buf_at(5, 0), "to-stdout\n", 10);
	offer(5, 0, 10, false);
	memcpy(ram + buf_at(7, 0), "to-stderr\n", 10);
	offer(7, 0, 10, false);
	read_exact(out_p[0], "to-stdout\n");
	read_exact(err_p[0], "to-stderr\n");
	wait_used(5, 1);
	send_ctl(1, VIRTIO_CONSOLE_PORT_OPEN, 1);
	assert_true(virtio_console_used(dev));
	/* the flush at the end takes what was queued without a kick */
	memcpy(ram + buf_at(5, 1), "last", 4);
	vqd_desc(&qs[5], 1, buf_at(5, 1), 4, 0, 0);
	vqd_push(&qs[5], 1);
	virtio_console_flush(dev);
	assert_int_equal(vqd_used_idx(&qs[5]), 2);
	read_exact(out_p[0], "last");
	/* a driver reset (Linux resets at poweroff) writes out what was queued first */
	memcpy(ram + buf_at(7, 1), "at-reset", 8);
	vqd_desc(&qs[7], 1, buf_at(7, 1), 8, 0, 0);
	vqd_push(&qs[7], 1);
	vqd_reset(vd);
	assert_false(vd->started);
	read_exact(err_p[0], "at-reset");
}

static void bad_control(void **state)
{
	(void)state;
	make(false);
	/* shorter than a header: taken, ignored */
	uint8_t *b = ram + buf_at(3, 5);
	put32(b, 1);
	offer(3, 5, 4, false);
	wait_used(3, 1);
	/* a port that does not exist, an event a driver never sends, a failed READY */
	send_ctl(99, VIRTIO_CONSOLE_PORT_READY, 1);
	send_ctl(3, VIRTIO_CONSOLE_PORT_READY, 1); /* ids stop at 2 */
	send_ctl(2, VIRTIO_CONSOLE_RESIZE, 7);
	send_ctl(0xffffffffu, VIRTIO_CONSOLE_DEVICE_READY, 0);
	no_ctl();
	/* then a good one is answered */
	send_ctl(0xffffffffu, VIRTIO_CONSOLE_DEVICE_READY, 1);
	for (uint32_t k = 0; k < 3; k++)
		expect_ctl(k, VIRTIO_CONSOLE_DEVICE_ADD, 0, NULL);
	assert_int_equal(virtio_get_status(vd) & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 0);
	/* a receive chain with a readable buffer is given back empty */
	send_ctl(0, VIRTIO_CONSOLE_PORT_READY, 1);
	expect_ctl(0, VIRTIO_CONSOLE_PORT_OPEN, 1, NULL);
	expect_ctl(0, VIRTIO_CONSOLE_PORT_NAME, 0, "minivm.stdin");
	assert_int_equal(write(in_p[1], "x", 1), 1);
	offer(0, 0, 8, false);
	send_ctl(0, VIRTIO_CONSOLE_PORT_OPEN, 1);
	wait_used(0, 1);
	uint32_t id, len;
	vqd_used_elem(&qs[0], 0, &id, &len);
	assert_int_equal(len, 0);
	offer(0, 1, 8, true);
	wait_used(0, 2);
	vqd_used_elem(&qs[0], 1, &id, &len);
	assert_int_equal(len, 1);
	/* a ring index far ahead breaks the queue: DEVICE_NEEDS_RESET, no crash */
	vqd_set_avail_idx(&qs[7], 1000);
	virtio_kick(vd, 7);
	assert_true(vqd_wait_status(vd, VIRTIO_STATUS_DEVICE_NEEDS_RESET));
}

static void tty_port(void **state)
{
	(void)state;
	make(true);
	send_ctl(0xffffffffu, VIRTIO_CONSOLE_DEVICE_READY, 1);
	expect_ctl(0, VIRTIO_CONSOLE_DEVICE_ADD, 0, NULL);
	no_ctl();
	virtio_console_resize(dev, 33, 99); /* before the port is ready: kept, not sent */
	no_ctl();
	send_ctl(0, VIRTIO_CONSOLE_PORT_READY, 1);
	expect_ctl(0, VIRTIO_CONSOLE_CONSOLE_PORT, 1, NULL);
	struct msg m = recv_ctl();
	assert_int_equal(m.event, VIRTIO_CONSOLE_RESIZE);
	assert_int_equal(m.extra_len, 4);
	assert_int_equal(get16((uint8_t *)m.extra), 99); /* cols, then rows */
	assert_int_equal(get16((uint8_t *)m.extra + 2), 33);
	expect_ctl(0, VIRTIO_CONSOLE_PORT_OPEN, 1, NULL);
	expect_ctl(0, VIRTIO_CONSOLE_PORT_NAME, 0, "minivm.tty");
	virtio_console_resize(dev, 40, 120);
	m = recv_ctl();
	assert_int_equal(m.event, VIRTIO_CONSOLE_RESIZE);
	assert_int_equal(get16((uint8_t *)m.extra), 120);
	assert_int_equal(get16((uint8_t *)m.extra + 2), 40);
	/* the terminal's output is port 0's transmit queue */
	memcpy(ram + buf_at(1, 0), "tty-out", 7);
	offer(1, 0, 7, false);
	read_exact(out_p[0], "tty-out");
	/* and its input port 0's receive queue, once the guest has it open */
	send_ctl(0, VIRTIO_CONSOLE_PORT_OPEN, 1);
	assert_int_equal(write(in_p[1], "k", 1), 1);
	offer(0, 0, 8, true);
	wait_used(0, 1);
	assert_int_equal(ram[buf_at(0, 0)], 'k');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(stdio_ports, setup, teardown),
	    cmocka_unit_test_setup_teardown(bad_control, setup, teardown),
	    cmocka_unit_test_setup_teardown(tty_port, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
