/* Unit tests for virtio-net (vmm/virtio/net.c) driven through the virtio core with a recording
 * transport and hand-made rings (virtq_driver.h), a plain buffer as guest RAM and a datagram
 * socketpair in place of the tap (each message carries the 12-byte header, as a tap's do): transmit
 * with the header passed through, bad transmit chains and headers, receive with and without merged
 * buffers, buffer exhaustion (the tap is left queued, nothing dropped), truncation, bad receive
 * chains, the control queue and the announce, pause giving back cached chains, options. */
#include <errno.h>
#include <linux/virtio_net.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/error.h"
#include "vmm/bytes.h"
#include "vmm/virtio/net.h"
#include "vmm/virtio/virtio.h"
#include "vmm/vm.h"
#include "virtq_driver.h"

#define MEM   (1u << 20)
#define QSIZE 16u
#define RXQ   0
#define TXQ   1
#define CTRLQ 2
#define BUFS  0x40000u /* packet buffers from here */

static uint8_t *ram;
static struct vm vm;
static int sock[2];
static struct virtio_dev *vd;

/* ---- the driver's side of three queues -------------------------------------------------- */

static struct vqd dq[3];
static uint64_t next_buf;

static uint64_t buf_alloc(uint32_t len)
{
	uint64_t a = next_buf;
	next_buf += (len + 15) & ~15u;
	assert_true(next_buf < MEM);
	return a;
}
/* A receive buffer of len bytes (one writable descriptor); returns its address. */
static uint64_t post_rx(uint32_t len)
{
	uint64_t a = buf_alloc(len);
	vqd_push(&dq[RXQ], vqd_add(&dq[RXQ], a, len, VIRTQ_DESC_F_WRITE));
	return a;
}

static void hdr(uint8_t *h, uint8_t flags, uint8_t gso, uint16_t hdr_len, uint16_t gso_size,
		uint16_t cstart, uint16_t coff)
{
	memset(h, 0, 12);
	h[0] = flags;
	h[1] = gso;
	put16(h + 2, hdr_len);
	put16(h + 4, gso_size);
	put16(h + 6, cstart);
	put16(h + 8, coff);
}

/* The host sends a packet of len bytes (pattern seed) with a plain header. */
static void host_send(size_t len, uint8_t seed)
{
	uint8_t p[2048];
	assert_true(len + 12 <= sizeof(p));
	hdr(p, VIRTIO_NET_HDR_F_DATA_VALID, 0, 0, 0, 0, 0);
	for (size_t i = 0; i < len; i++)
		p[12 + i] = (uint8_t)(seed + i);
	assert_int_equal(send(sock[1], p, len + 12, 0), (ssize_t)(len + 12));
}

/* ---- set-up ----------------------------------------------------------------------------- */

#define BASE_FEATURES                                                                              \
	((1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_NET_F_MAC) |                               \
	 (1ull << VIRTIO_NET_F_STATUS) | (1ull << VIRTIO_NET_F_CSUM) |                             \
	 (1ull << VIRTIO_NET_F_HOST_TSO4) | (1ull << VIRTIO_NET_F_CTRL_VQ) |                       \
	 (1ull << VIRTIO_NET_F_GUEST_ANNOUNCE) | (1ull << VIRTIO_NET_F_MTU))

static struct virtio_dev *make(void)
{
	mc_err err = NULL;
	struct virtio_net_conf c;
	assert_int_equal(virtio_net_parse("tap=test0,mac=52:54:00:12:34:56", &c, &err), 0);
	c.fd = sock[0];
	struct device *d = virtio_net_create(&c, 0, &vqd_transport, NULL, &err);
	assert_non_null(d);
	if (d->ops->realize(d, &vm, &err) < 0)
		fail_msg("realize: %s", mc_error_text(err));
	return (struct virtio_dev *)d;
}

static void bring_up(uint64_t features)
{
	for (unsigned q = 0; q < 3; q++)
		vqd_init(&dq[q], ram, 0x10000u * (q + 1), QSIZE);
	vqd_up(vd, features, dq, 3);
	assert_true(vd->started);
}

static int setup(void **state)
{
	(void)state;
	ram = vqd_guest_ram(&vm, MEM);
	if (!ram)
		return -1;
	next_buf = BUFS;
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sock) < 0) {
		free(ram);
		return -1;
	}
	vd = make();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	vd->dev.ops->destroy(&vd->dev);
	close(sock[0]);
	close(sock[1]);
	free(ram);
	return 0;
}

static struct virtio_net_stats stats(void)
{
	struct virtio_net_stats s;
	virtio_net_get_stats(vd, &s);
	return s;
}

/* ---- tests ------------------------------------------------------------------------------- */

static void config_space(void **state)
{
	(void)state;
	uint64_t f = virtio_device_features(vd);
	assert_true(f & (1ull << VIRTIO_NET_F_MRG_RXBUF));
	assert_true(f & (1ull << VIRTIO_NET_F_GUEST_TSO4));
	assert_true(f & (1ull << VIRTIO_NET_F_GUEST_ANNOUNCE));
	assert_true(f & (1ull << VIRTIO_NET_F_CTRL_VQ));
	assert_int_equal(vd->config_len, 12);
	uint8_t c[12];
	for (uint32_t i = 0; i < 12; i += 2)
		virtio_config_read(vd, i, c + i, 2);
	const uint8_t mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
	assert_memory_equal(c, mac, 6);
	assert_int_equal(get16(c + 6), VIRTIO_NET_S_LINK_UP);
	assert_int_equal(get16(c + 8), 1);
	assert_int_equal(get16(c + 10), 1500);
	/* A write changes nothing. */
	uint8_t z[2] = {0, 0};
	virtio_config_write(vd, 0, z, 2);
	virtio_config_read(vd, 0, c, 2);
	assert_memory_equal(c, mac, 2);
}

static void feature_dependencies(void **state)
{
	(void)state;
	/* guest TSO needs guest checksums, the announce the control queue */
	assert_false(
	    vqd_negotiate(vd, (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_NET_F_GUEST_TSO4)));
	vqd_reset(vd);
	assert_false(vqd_negotiate(vd, (1ull << VIRTIO_F_VERSION_1) |
					   (1ull << VIRTIO_NET_F_GUEST_ANNOUNCE)));
}

/* Transmit: the header and the packet reach the tap as the driver wrote them, whatever the
 * descriptor layout (the header split across two buffers here). */
static void transmit(void **state)
{
	(void)state;
	bring_up(BASE_FEATURES);
	uint8_t h[12];
	hdr(h, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, 54, 1448, 34, 16);
	uint64_t a = buf_alloc(5), b = buf_alloc(200);
	memcpy(ram + a, h, 5);
	memcpy(ram + b, h + 5, 7);
	for (int i = 0; i < 193; i++)
		ram[b + 7 + i] = (uint8_t)i;
	uint16_t head = vqd_add(&dq[TXQ], a, 5, VIRTQ_DESC_F_NEXT);
	vqd_add(&dq[TXQ], b, 200, 0);
	vqd_push(&dq[TXQ], head);
	virtio_kick(vd, TXQ);
	assert_true(vqd_wait_used(&dq[TXQ], 1));
	uint32_t id, len;
	vqd_used_elem(&dq[TXQ], 0, &id, &len);
	assert_int_equal(id, head);
	assert_int_equal(len, 0);
	uint8_t got[512];
	assert_int_equal(recv(sock[1], got, sizeof(got), 0), 205);
	assert_memory_equal(got, h, 12);
	assert_memory_equal(got + 12, ram + b + 7, 193);
	struct virtio_net_stats s = stats();
	assert_int_equal(s.tx_packets, 1);
	assert_int_equal(s.tx_bytes, 193);
	assert_true(atomic_load(&vqd_rec.notify_q[TXQ]) >= 1);
}

/* Transmit as the lab's guest (Linux 6.1 virtio_net, TSO over TCP) does it, seen with strace on
 * the tap: 64 KiB TSO packets behind an indirect table of many segments, GSO_TCPV4 with
 * NEEDS_CSUM, hdr_len 66, gso_size 1448, the header in its own descriptor or in front of the
 * packet's headers in the first one (the driver pushes it into the skb's headroom when it can).
 * Both reach the tap byte for byte with the header unchanged. A guest -> host TCP transfer
 * that "stalled" in the lab was a host listener started too late, not this path (test and
 * lab evidence: docs/virtio.md, "virtio-net"); this keeps the path the suspicion fell on. */
static void transmit_tso_indirect(void **state)
{
	(void)state;
	bring_up(BASE_FEATURES | (1ull << VIRTIO_F_INDIRECT_DESC) | (1ull << VIRTIO_F_EVENT_IDX));
	enum { FRAGS = 16, FRAG = 4096, LAST = 2000, HEADERS = 66 };
	const uint32_t payload = (FRAGS - 1) * FRAG + LAST;
	uint8_t h[12];
	hdr(h, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, HEADERS, 1448, 34, 16);
	put16(h + 10, 0); /* num_buffers: 0 on transmit */
	static uint8_t want[2][12 + HEADERS + (FRAGS - 1) * FRAG + LAST];
	uint16_t heads[2];
	for (unsigned k = 0; k < 2; k++) {
		uint8_t *w = want[k];
		memcpy(w, h, 12);
		for (uint32_t i = 0; i < HEADERS + payload; i++)
			w[12 + i] = (uint8_t)(i * 7 + k * 13 + i / 251);
		/* k == 0: {header} {Ethernet/IP/TCP} {frag}...; k == 1: {header + headers}
		 * {frag}... */
		uint64_t table = buf_alloc(16 * (FRAGS + 2));
		unsigned n = 0;
		uint32_t off = 0;
		uint32_t first = k == 0 ? 12 : 12 + HEADERS;
		uint32_t lens[FRAGS + 2];
		lens[n++] = first;
		if (k == 0)
			lens[n++] = HEADERS;
		for (unsigned f = 0; f < FRAGS; f++)
			lens[n++] = f == FRAGS - 1 ? LAST : FRAG;
		for (unsigned i = 0; i < n; i++) {
			uint64_t a = buf_alloc(lens[i]);
			memcpy(ram + a, w + off, lens[i]);
			off += lens[i];
			vqd_desc_put(ram + table, i, a, lens[i], i + 1 < n ? VIRTQ_DESC_F_NEXT : 0,
				     (uint16_t)(i + 1));
		}
		assert_int_equal(off, sizeof(want[k]));
		heads[k] = vqd_add(&dq[TXQ], table, 16 * n, VIRTQ_DESC_F_INDIRECT);
		vqd_push(&dq[TXQ], heads[k]);
	}
	virtio_kick(vd, TXQ);
	assert_true(vqd_wait_used(&dq[TXQ], 2));
	static uint8_t got[sizeof(want[0]) + 64];
	for (unsigned k = 0; k < 2; k++) {
		uint32_t id, len;
		vqd_used_elem(&dq[TXQ], (uint16_t)k, &id, &len);
		assert_int_equal(id, heads[k]);
		assert_int_equal(len, 0);
		assert_int_equal(recv(sock[1], got, sizeof(got), 0), (ssize_t)sizeof(want[k]));
		assert_memory_equal(got, want[k], sizeof(want[k]));
	}
	struct virtio_net_stats s = stats();
	assert_int_equal(s.tx_packets, 2);
	assert_int_equal(s.tx_bytes, 2 * (HEADERS + payload));
	assert_int_equal(s.bad_chains + s.tx_errors + s.tx_dropped, 0);
	assert_false(virtio_get_status(vd) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
}

/* Bad transmit chains and headers are given back unused, counted, and the queue goes on. */
static void transmit_bad(void **state)
{
	(void)state;
	bring_up(BASE_FEATURES & ~(1ull << VIRTIO_NET_F_HOST_TSO4));
	struct {
		uint8_t flags, gso;
		uint16_t hdr_len, gso_size, cstart, coff;
		uint32_t len;
		uint16_t dflags;
	} bad[] = {
	    {0, VIRTIO_NET_HDR_GSO_TCPV4, 54, 1448, 34, 16, 100, 0}, /* TSO4 not negotiated */
	    {0, 7, 0, 0, 0, 0, 100, 0},				     /* unknown GSO type */
	    {0, VIRTIO_NET_HDR_GSO_ECN, 0, 0, 0, 0, 100, 0},	     /* ECN alone */
	    {VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0, 80, 16, 100, 0},  /* checksum outside */
	    {VIRTIO_NET_HDR_F_DATA_VALID, 0, 0, 0, 0, 0, 100, 0},    /* rx-only flag */
	    {0, 0, 0, 0, 0, 0, 12, 0},				     /* header only */
	    {0, 0, 0, 0, 0, 0, 100, VIRTQ_DESC_F_WRITE},	     /* writable */
	};
	unsigned n = sizeof(bad) / sizeof(bad[0]);
	for (unsigned i = 0; i < n; i++) {
		uint64_t a = buf_alloc(bad[i].len);
		hdr(ram + a, bad[i].flags, bad[i].gso, bad[i].hdr_len, bad[i].gso_size,
		    bad[i].cstart, bad[i].coff);
		vqd_push(&dq[TXQ], vqd_add(&dq[TXQ], a, bad[i].len, bad[i].dflags));
	}
	/* and a good one after them */
	uint64_t a = buf_alloc(74);
	hdr(ram + a, 0, 0, 0, 0, 0, 0);
	vqd_push(&dq[TXQ], vqd_add(&dq[TXQ], a, 74, 0));
	virtio_kick(vd, TXQ);
	assert_true(vqd_wait_used(&dq[TXQ], (uint16_t)(n + 1)));
	for (unsigned i = 0; i <= n; i++) {
		uint32_t id, len;
		vqd_used_elem(&dq[TXQ], (uint16_t)i, &id, &len);
		assert_int_equal(len, 0);
	}
	struct virtio_net_stats s = stats();
	assert_int_equal(s.bad_chains, n);
	assert_int_equal(s.tx_packets, 1);
	uint8_t got[512];
	assert_int_equal(recv(sock[1], got, sizeof(got), 0), 74);
	assert_int_equal(recv(sock[1], got, sizeof(got), MSG_DONTWAIT), -1);
	assert_false(virtio_get_status(vd) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
}

/* Receive without merged buffers: one chain per packet, num_buffers 1; when the buffers run
 * out the packets wait in the tap (nothing dropped) until the driver adds one and kicks. */
static void receive_exhaustion(void **state)
{
	(void)state;
	bring_up(BASE_FEATURES);
	uint64_t b0 = post_rx(1600), b1 = post_rx(1600);
	host_send(60, 1);
	host_send(70, 2);
	host_send(80, 3);
	assert_true(vqd_wait_used(&dq[RXQ], 2));
	uint32_t id, len;
	vqd_used_elem(&dq[RXQ], 0, &id, &len);
	assert_int_equal(len, 72);
	assert_int_equal(ram[b0], VIRTIO_NET_HDR_F_DATA_VALID); /* the tap's header, unchanged */
	assert_int_equal(get16(ram + b0 + 10), 1);		/* num_buffers */
	assert_int_equal(ram[b0 + 12], 1);
	vqd_used_elem(&dq[RXQ], 1, &id, &len);
	assert_int_equal(len, 82);
	assert_int_equal(ram[b1 + 12 + 69], (uint8_t)(2 + 69));
	usleep(50000);
	assert_int_equal(vqd_used_idx(&dq[RXQ]), 2);
	struct virtio_net_stats s = stats();
	assert_int_equal(s.rx_packets, 2);
	assert_true(s.rx_waits >= 1);
	/* The third packet is still queued. */
	uint64_t b2 = post_rx(1600);
	virtio_kick(vd, RXQ);
	assert_true(vqd_wait_used(&dq[RXQ], 3));
	vqd_used_elem(&dq[RXQ], 2, &id, &len);
	assert_int_equal(len, 92);
	assert_int_equal(ram[b2 + 12 + 79], (uint8_t)(3 + 79));
	s = stats();
	assert_int_equal(s.rx_packets, 3);
	assert_int_equal(s.rx_truncated, 0);
	assert_true(atomic_load(&vqd_rec.notify_q[RXQ]) >= 2);
}

/* EVENT_IDX on the receive queue: while the device still holds a chain it popped (the tap
 * watched), the driver's new buffers ask for no kick (avail_event held), and the next packets
 * pop them anyway; once the buffers ran out the device asks for a kick again. */
static void receive_kicks_held(void **state)
{
	(void)state;
	bring_up(BASE_FEATURES | 1ull << VIRTIO_F_EVENT_IDX);
	uint8_t *avail_event = ram + dq[RXQ].used + 4 + 8 * QSIZE;
	uint64_t b[4];
	b[0] = post_rx(1600);
	b[1] = post_rx(1600);
	virtio_kick(vd, RXQ);
	host_send(60, 1);
	assert_true(vqd_wait_used(&dq[RXQ], 1));
	usleep(20000); /* the device pops the second buffer into its cache */
	b[2] = post_rx(1600);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	uint16_t ev = __atomic_load_n((uint16_t *)(void *)avail_event, __ATOMIC_RELAXED);
	assert_false(vring_need_event(ev, dq[RXQ].avail_idx, (uint16_t)(dq[RXQ].avail_idx - 1)));
	/* no kick: the packets take the cached buffer and then the new one */
	host_send(70, 2);
	host_send(80, 3);
	assert_true(vqd_wait_used(&dq[RXQ], 3));
	uint32_t id, len;
	vqd_used_elem(&dq[RXQ], 2, &id, &len);
	assert_int_equal(len, 92);
	assert_int_equal(ram[b[2] + 12 + 79], (uint8_t)(3 + 79));
	/* out of buffers: the next one is asked for */
	usleep(20000);
	b[3] = post_rx(1600);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	ev = __atomic_load_n((uint16_t *)(void *)avail_event, __ATOMIC_RELAXED);
	assert_true(vring_need_event(ev, dq[RXQ].avail_idx, (uint16_t)(dq[RXQ].avail_idx - 1)));
	virtio_kick(vd, RXQ);
	host_send(90, 4);
	assert_true(vqd_wait_used(&dq[RXQ], 4));
	assert_int_equal(ram[b[3] + 12 + 89], (uint8_t)(4 + 89));
	assert_int_equal(stats().rx_packets, 4);
}

/* A packet larger than the chain is dropped and counted; the chain takes the next one. */
static void receive_truncated(void **state)
{
	(void)state;
	bring_up(BASE_FEATURES);
	uint64_t b = post_rx(64);
	host_send(100, 1);
	host_send(40, 9);
	assert_true(vqd_wait_used(&dq[RXQ], 1));
	uint32_t id, len;
	vqd_used_elem(&dq[RXQ], 0, &id, &len);
	assert_int_equal(len, 52);
	assert_int_equal(ram[b + 12], 9);
	struct virtio_net_stats s = stats();
	assert_int_equal(s.rx_truncated, 1);
	assert_int_equal(s.rx_packets, 1);
}

/* Merged buffers: a packet spread over several chains, num_buffers set, published at once;
 * the chains taken ahead go back to the ring on pause. */
static void receive_mergeable(void **state)
{
	(void)state;
	bring_up(BASE_FEATURES | (1ull << VIRTIO_NET_F_MRG_RXBUF));
	uint64_t b[QSIZE];
	for (unsigned i = 0; i < QSIZE; i++)
		b[i] = post_rx(32);
	host_send(100, 5); /* 112 bytes: 32 + 32 + 32 + 16 */
	assert_true(vqd_wait_used(&dq[RXQ], 4));
	usleep(20000);
	assert_int_equal(vqd_used_idx(&dq[RXQ]), 4);
	uint32_t lens[4] = {32, 32, 32, 16}, id, len;
	for (unsigned i = 0; i < 4; i++) {
		vqd_used_elem(&dq[RXQ], (uint16_t)i, &id, &len);
		assert_int_equal(len, lens[i]);
	}
	assert_int_equal(get16(ram + b[0] + 10), 4);
	assert_int_equal(ram[b[0] + 12], 5);
	assert_int_equal(ram[b[1]], (uint8_t)(5 + 20));
	assert_int_equal(ram[b[3] + 15], (uint8_t)(5 + 99));
	/* All 16 were taken (fewer bytes than a frame); pause gives back the 12 unused. */
	vd->dev.ops->pause(&vd->dev);
	assert_int_equal(vd->q[RXQ].vq.last_avail_idx, 4);
	vd->dev.ops->resume(&vd->dev);
	host_send(10, 7);
	assert_true(vqd_wait_used(&dq[RXQ], 5));
	vqd_used_elem(&dq[RXQ], 4, &id, &len);
	assert_int_equal(len, 22);
	assert_int_equal(get16(ram + b[4] + 10), 1);
}

/* Merged buffers, the packet larger than the chains available: its tail waits until the
 * driver adds chains, then the whole packet is published; larger than the whole ring: dropped. */
static void receive_mergeable_pending(void **state)
{
	(void)state;
	bring_up(BASE_FEATURES | (1ull << VIRTIO_NET_F_MRG_RXBUF));
	uint64_t b[QSIZE];
	for (unsigned i = 0; i < 8; i++)
		b[i] = post_rx(32);
	host_send(300, 1); /* 312 bytes: 9 x 32 + 24 */
	usleep(50000);
	assert_int_equal(vqd_used_idx(&dq[RXQ]), 0);
	for (unsigned i = 8; i < 12; i++)
		b[i] = post_rx(32);
	virtio_kick(vd, RXQ);
	assert_true(vqd_wait_used(&dq[RXQ], 10));
	usleep(20000);
	assert_int_equal(vqd_used_idx(&dq[RXQ]), 10);
	uint32_t id, len;
	vqd_used_elem(&dq[RXQ], 9, &id, &len);
	assert_int_equal(len, 24);
	assert_int_equal(get16(ram + b[0] + 10), 10);
	for (unsigned i = 0; i < 300; i++) {
		unsigned off = 12 + i;
		assert_int_equal(ram[b[off / 32] + off % 32], (uint8_t)(1 + i));
	}
	/* 2 chains left and 14 free descriptors: 16 x 32 bytes cannot hold 612. */
	for (unsigned i = 0; i < 14; i++)
		post_rx(32);
	host_send(600, 2);
	host_send(20, 3);
	virtio_kick(vd, RXQ);
	assert_true(vqd_wait_used(&dq[RXQ], 11));
	vqd_used_elem(&dq[RXQ], 10, &id, &len);
	assert_int_equal(len, 32);
	struct virtio_net_stats s = stats();
	assert_int_equal(s.rx_truncated, 1);
	assert_int_equal(s.rx_packets, 2);
}

/* Bad receive chains (device-readable, shorter than the header) are given back unused. */
static void receive_bad_chain(void **state)
{
	(void)state;
	bring_up(BASE_FEATURES);
	uint64_t a = buf_alloc(1600);
	vqd_push(&dq[RXQ], vqd_add(&dq[RXQ], a, 1600, 0)); /* readable */
	vqd_push(&dq[RXQ], vqd_add(&dq[RXQ], buf_alloc(8), 8, VIRTQ_DESC_F_WRITE));
	uint64_t good = post_rx(1600);
	host_send(50, 3);
	assert_true(vqd_wait_used(&dq[RXQ], 3));
	uint32_t id, len;
	vqd_used_elem(&dq[RXQ], 0, &id, &len);
	assert_int_equal(len, 0);
	vqd_used_elem(&dq[RXQ], 1, &id, &len);
	assert_int_equal(len, 0);
	vqd_used_elem(&dq[RXQ], 2, &id, &len);
	assert_int_equal(len, 62);
	assert_int_equal(ram[good + 12], 3);
	assert_int_equal(stats().bad_chains, 2);
	/* A broken ring (avail.idx far ahead) needs a reset. */
	vqd_set_avail_idx(&dq[RXQ], 100);
	virtio_kick(vd, RXQ);
	assert_true(vqd_wait_status(vd, VIRTIO_STATUS_DEVICE_NEEDS_RESET));
}

/* Post a control command (class, command) and kick the control queue; returns where its ack
 * byte is (0xee until the device writes it). */
static uint64_t ctrl_post(uint8_t cls, uint8_t cmd)
{
	uint64_t c = buf_alloc(2), ack = buf_alloc(1);
	ram[c] = cls;
	ram[c + 1] = cmd;
	ram[ack] = 0xee;
	uint16_t head = vqd_add(&dq[CTRLQ], c, 2, VIRTQ_DESC_F_NEXT);
	vqd_add(&dq[CTRLQ], ack, 1, VIRTQ_DESC_F_WRITE);
	vqd_push(&dq[CTRLQ], head);
	virtio_kick(vd, CTRLQ);
	return ack;
}

/* A control command, answered: its ack once the used index reaches want_used. */
static uint8_t ctrl(uint8_t cls, uint8_t cmd, uint16_t want_used)
{
	uint64_t ack = ctrl_post(cls, cmd);
	assert_true(vqd_wait_used(&dq[CTRLQ], want_used));
	return ram[ack];
}

static void announce(void **state)
{
	(void)state;
	assert_false(virtio_net_announce(vd)); /* not live yet */
	bring_up(BASE_FEATURES);
	assert_true(virtio_net_announce(vd));
	assert_int_equal(virtio_net_status(vd), VIRTIO_NET_S_LINK_UP | VIRTIO_NET_S_ANNOUNCE);
	assert_int_equal(atomic_load(&vqd_rec.notify_cfg), 1);
	uint8_t c[2];
	virtio_config_read(vd, 6, c, 2);
	assert_int_equal(get16(c), VIRTIO_NET_S_LINK_UP | VIRTIO_NET_S_ANNOUNCE);
	/* Saved and loaded with the device, and with the guest's memory and the driver's view of
	 * its rings, as a snapshot has them (the load kicks every queue: a ring that moved on
	 * since the save would be taken again). */
	struct state_w w = {0};
	vd->dev.ops->pause(&vd->dev);
	vd->dev.ops->save(&vd->dev, &w);
	uint8_t *saved_ram = malloc(MEM);
	assert_non_null(saved_ram);
	memcpy(saved_ram, ram, MEM);
	struct vqd saved_dq[3];
	memcpy(saved_dq, dq, sizeof(dq));
	assert_int_equal(ctrl(VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, 0),
			 0xee); /* paused */
	vd->dev.ops->resume(&vd->dev);
	assert_int_equal(ctrl(VIRTIO_NET_CTRL_ANNOUNCE, VIRTIO_NET_CTRL_ANNOUNCE_ACK, 2),
			 VIRTIO_NET_OK);
	uint32_t id, len;
	vqd_used_elem(&dq[CTRLQ], 0, &id, &len);
	assert_int_equal(len, 1);
	assert_int_equal(virtio_net_status(vd), VIRTIO_NET_S_LINK_UP);
	assert_int_equal(ctrl(VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, 3),
			 VIRTIO_NET_ERR);
	struct state_r r;
	state_r_init(&r, w.p, w.len);
	mc_err err = NULL;
	vd->dev.ops->pause(&vd->dev);
	memcpy(ram, saved_ram, MEM);
	memcpy(dq, saved_dq, sizeof(dq));
	free(saved_ram);
	if (vd->dev.ops->load(&vd->dev, VIRTIO_STATE_VERSION, &r, &err) < 0)
		fail_msg("load: %s", mc_error_text(err));
	vd->dev.ops->resume(&vd->dev);
	assert_int_equal(r.off, r.len);
	assert_int_equal(virtio_net_status(vd), VIRTIO_NET_S_LINK_UP | VIRTIO_NET_S_ANNOUNCE);
	assert_true(vd->started);
	state_w_free(&w);
	struct virtio_net_stats s = stats();
	assert_int_equal(s.ctrl_cmds, 3);
	assert_int_equal(s.ctrl_errors, 2);
}

/* A transmit packet of len bytes (pattern seed) made available, not kicked; returns the head. */
static uint16_t post_tx(uint32_t len, uint8_t seed)
{
	uint64_t a = buf_alloc(12 + len);
	hdr(ram + a, 0, 0, 0, 0, 0, 0);
	for (uint32_t i = 0; i < len; i++)
		ram[a + 12 + i] = (uint8_t)(seed + i);
	uint16_t head = vqd_add(&dq[TXQ], a, 12 + len, 0);
	vqd_push(&dq[TXQ], head);
	return head;
}

/* The host receives one packet of len bytes with pattern seed (up to 3 s). */
static void host_recv(size_t len, uint8_t seed)
{
	uint8_t p[2048];
	ssize_t n = -1;
	for (int i = 0; i < 3000 && n < 0; i++) {
		n = recv(sock[1], p, sizeof(p), 0);
		if (n < 0)
			usleep(1000);
	}
	assert_int_equal(n, (ssize_t)(12 + len));
	for (size_t i = 0; i < len; i++)
		assert_int_equal(p[12 + i], (uint8_t)(seed + i));
}

/* The driver's next buffer on queue q asks for a kick (EVENT_IDX's avail_event). */
static bool kick_wanted(unsigned q)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	uint16_t ev = __atomic_load_n((uint16_t *)(void *)(ram + dq[q].used + 4 + 8 * QSIZE),
				      __ATOMIC_RELAXED);
	return vring_need_event(ev, (uint16_t)(dq[q].avail_idx + 1), dq[q].avail_idx);
}

/* A restore, or a migration's destination: the saved state loaded into a new device (with new
 * kick eventfds) while the VM is not paused, as `minivm run --restore` does. A packet and a
 * control command the driver made available and kicked just before the save (the kicks still
 * sitting in the old device's eventfds) are taken without another kick: with EVENT_IDX the
 * driver does not kick again for buffers past avail_event, so a lost kick stalled the queue
 * (the guest's transmit queue for good; its control command, the announce's ack, spinning). */
static void restore_pending_kicks(void **state)
{
	(void)state;
	bring_up(BASE_FEATURES | 1ull << VIRTIO_F_EVENT_IDX);
	post_tx(60, 1);
	virtio_kick(vd, TXQ);
	assert_true(vqd_wait_used(&dq[TXQ], 1));
	host_recv(60, 1);
	assert_true(kick_wanted(TXQ));
	/* The VM pauses with a packet and a command kicked and not taken yet. */
	vd->dev.ops->pause(&vd->dev);
	post_tx(70, 2);
	virtio_kick(vd, TXQ);
	uint64_t ack = ctrl_post(VIRTIO_NET_CTRL_ANNOUNCE, VIRTIO_NET_CTRL_ANNOUNCE_ACK);
	/* The next packet would not kick: avail_event is behind the one pending. */
	assert_false(kick_wanted(TXQ));
	/* The control API's status shows it (a queue waiting for a kick). */
	char line[1024];
	vd->dev.ops->describe(&vd->dev, line, sizeof(line));
	print_message("    %s\n", line);
	assert_non_null(strstr(line, "q1: avail 2 last_avail 1 used 1 "));
	assert_non_null(strstr(line, "q2: avail 1 last_avail 0 used 0 "));
	struct state_w w = {0};
	vd->dev.ops->save(&vd->dev, &w);
	vd->dev.ops->destroy(&vd->dev); /* the source minivm ends */
	vd = make();
	struct state_r r;
	state_r_init(&r, w.p, w.len);
	mc_err err = NULL;
	if (vd->dev.ops->load(&vd->dev, VIRTIO_STATE_VERSION, &r, &err) < 0)
		fail_msg("load: %s", mc_error_text(err));
	state_w_free(&w);
	assert_true(vd->started);
	/* No kick from the driver: both are taken. */
	assert_true(vqd_wait_used(&dq[TXQ], 2));
	host_recv(70, 2);
	assert_true(vqd_wait_used(&dq[CTRLQ], 1));
	assert_int_equal(ram[ack], VIRTIO_NET_OK);
	/* and the driver's next buffers ask for kicks again */
	usleep(20000);
	assert_true(kick_wanted(TXQ));
	post_tx(80, 3);
	virtio_kick(vd, TXQ);
	assert_true(vqd_wait_used(&dq[TXQ], 3));
	host_recv(80, 3);
	assert_int_equal(stats().tx_packets, 2);
	assert_int_equal(stats().ctrl_cmds, 1);
}

static void options(void **state)
{
	(void)state;
	mc_err err = NULL;
	struct virtio_net_conf c;
	assert_int_equal(virtio_net_parse("tap=mv0", &c, &err), 0);
	assert_string_equal(c.tap, "mv0");
	assert_false(c.vhost);
	assert_int_equal(c.mac[0], 0x52);
	struct virtio_net_conf c2;
	assert_int_equal(virtio_net_parse("tap=mv0,vhost=off", &c2, &err), 0);
	assert_memory_equal(c.mac, c2.mac, 6); /* the same for the same tap */
	assert_int_equal(virtio_net_parse("tap=mv1", &c2, &err), 0);
	assert_memory_not_equal(c.mac, c2.mac, 6);
	assert_int_equal(virtio_net_parse("mac=02:00:00:00:00:01,tap=x,vhost=on", &c, &err), 0);
	assert_true(c.vhost);
	assert_int_equal(c.mac[5], 1);
	const char *bad[] = {
	    "",
	    "mac=02:00:00:00:00:01",
	    "tap=",
	    "tap=abcdefghijklmnop",
	    "tap=a/b",
	    "tap=x,mac=01:00:00:00:00:01",
	    "tap=x,mac=00:00:00:00:00:00",
	    "tap=x,mac=02:00:00:00:00",
	    "tap=x,mac=02:00:00:00:00:01:02",
	    "tap=x,mac=zz:00:00:00:00:01",
	    "tap=x,vhost=maybe",
	    "tap=x,queues=2",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(virtio_net_parse(bad[i], &c, &err), -1);
		assert_non_null(err);
		print_message("    %s -> %s\n", bad[i], mc_error_text(err));
		mc_error_free(&err);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(config_space, setup, teardown),
	    cmocka_unit_test_setup_teardown(feature_dependencies, setup, teardown),
	    cmocka_unit_test_setup_teardown(transmit, setup, teardown),
	    cmocka_unit_test_setup_teardown(transmit_tso_indirect, setup, teardown),
	    cmocka_unit_test_setup_teardown(transmit_bad, setup, teardown),
	    cmocka_unit_test_setup_teardown(receive_exhaustion, setup, teardown),
	    cmocka_unit_test_setup_teardown(receive_kicks_held, setup, teardown),
	    cmocka_unit_test_setup_teardown(receive_truncated, setup, teardown),
	    cmocka_unit_test_setup_teardown(receive_mergeable, setup, teardown),
	    cmocka_unit_test_setup_teardown(receive_mergeable_pending, setup, teardown),
	    cmocka_unit_test_setup_teardown(receive_bad_chain, setup, teardown),
	    cmocka_unit_test_setup_teardown(announce, setup, teardown),
	    cmocka_unit_test_setup_teardown(restore_pending_kicks, setup, teardown),
	    cmocka_unit_test(options),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
