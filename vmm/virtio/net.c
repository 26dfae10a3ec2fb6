/* virtio-net (net.h): the device model behind the virtio core.
 *
 * Queues: 0 receive, 1 transmit, 2 control. Every packet on the rings and on the tap carries
 * the same 12-byte struct virtio_net_hdr_v1 (TUNSETVNETHDRSZ 12), so the header passes between
 * the guest and the tap unchanged; the tap's offloads (TUNSETOFFLOAD) follow the GUEST_*
 * features the driver accepted.
 *
 * Threads: the receive path runs on "<name>-rx" (the tap fd and the receive kick), the
 * transmit and control queues on "<name>-tx". Each queue is touched by one thread only.
 *
 * Receive: chains are popped ahead into a small cache until they hold the largest packet the
 * tap can deliver (one chain without VIRTIO_NET_F_MRG_RXBUF), one readv() puts a packet
 * straight into guest memory, the chains it filled are published with one used.idx update
 * (num_buffers set) and the others stay cached. When the driver's buffers run out the tap is
 * no longer watched (its packets stay queued in the kernel) until the driver adds buffers and
 * kicks. On pause the cached chains are given back to the ring (virtq_unpop), so a saved state
 * never holds buffers the device took.
 *
 * With vhost=on the kernel's vhost-net runs queues 0 and 1 (vhost_net.c); the control queue
 * stays here.
 */
#include "net.h"

#include <errno.h>
#include <limits.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "bytes.h"
#include "gm_dirty.h"
#include "iothread.h"
#include "log.h"
#include "netdev.h"
#include "vhost_net.h"
#include "vm.h"

#define RXQ	    0
#define TXQ	    1
#define CTRLQ	    2
#define NET_QUEUES  3
#define QUEUE_SIZE  256
#define HDR_LEN	    12u			/* struct virtio_net_hdr_v1 */
#define MAX_FRAME   (65535u + 14u + 4u) /* a GSO frame: 64 KiB IP packet, Ethernet + VLAN */
#define RX_CACHE    64			/* chains popped ahead */
#define CHAIN_IOV   64			/* buffers per chain */
#define RX_IOV_MAX  1024		/* IOV_MAX */
#define RX_BURST    256			/* packets per callback (the tap fd is level-triggered) */
#define TX_BURST    256
#define CTRL_MAX    64 /* bytes of a control command we read (class, command, data) */
#define STATE_BYTES 2

#define OFFERED                                                                                    \
	((1ull << VIRTIO_NET_F_CSUM) | (1ull << VIRTIO_NET_F_GUEST_CSUM) |                         \
	 (1ull << VIRTIO_NET_F_MTU) | (1ull << VIRTIO_NET_F_MAC) |                                 \
	 (1ull << VIRTIO_NET_F_GUEST_TSO4) | (1ull << VIRTIO_NET_F_GUEST_TSO6) |                   \
	 (1ull << VIRTIO_NET_F_GUEST_ECN) | (1ull << VIRTIO_NET_F_GUEST_UFO) |                     \
	 (1ull << VIRTIO_NET_F_HOST_TSO4) | (1ull << VIRTIO_NET_F_HOST_TSO6) |                     \
	 (1ull << VIRTIO_NET_F_HOST_ECN) | (1ull << VIRTIO_NET_F_HOST_UFO) |                       \
	 (1ull << VIRTIO_NET_F_MRG_RXBUF) | (1ull << VIRTIO_NET_F_STATUS) |                        \
	 (1ull << VIRTIO_NET_F_CTRL_VQ) | (1ull << VIRTIO_NET_F_GUEST_ANNOUNCE))
/* Config space: mac[6], status, max_virtqueue_pairs, mtu (le16 each). */
#define CONFIG_LEN 12

struct rx_chain {
	struct virtq_elem e;
	struct iovec iov[CHAIN_IOV];
};

struct net {
	struct virtio_dev vd; /* first */
	char name[32];
	struct virtio_net_conf conf;
	uint16_t mtu;
	int fd;	       /* the tap (or the test's socket) */
	bool own_fd;   /* ours to close */
	bool is_sock;  /* a test's socket: recvmsg reports truncation */
	bool tap_made; /* this run created the tap (it goes with our fd) */
	_Atomic uint16_t status;
	struct iothread *rxt, *txt;

	/* Set by start, cleared by stop (vd->lock). */
	bool watching_rx, watching_tap, watching_tx, watching_ctrl;
	bool vhost_running;

	/* The receive path (rx thread). */
	struct rx_chain rx[RX_CACHE];
	unsigned rx_first, rx_n, rx_niov;
	uint64_t rx_cap, rx_need;
	uint64_t pend_len, pend_cap; /* a packet waiting for more chains (merged buffers) */
	bool rx_mrg;
	bool tap_watched;
	struct iovec rx_iov[RX_IOV_MAX];
	uint8_t bounce[HDR_LEN + MAX_FRAME]; /* what did not fit in the cached chains */

	/* The transmit path (tx thread): the checked header copy, then the packet. */
	uint8_t tx_hdr[HDR_LEN];
	struct iovec tx_iov[CHAIN_IOV + 1];

	/* vhost-net. */
	int vhost_fd;
	uint64_t vhost_features;
	int call_fd[2]; /* ours when the transport has no irqfd to give */
	bool call_own[2];
	/* vhost_start/stop and the migration's dirty log (vhost_set_log) */
	pthread_mutex_t vhost_lock;
	bool vhost_writer; /* registered with gm_dirty */

	struct {
		_Atomic uint64_t rx_packets, rx_bytes, rx_truncated, rx_errors, rx_waits;
		_Atomic uint64_t tx_packets, tx_bytes, tx_dropped, tx_errors, bad_chains;
		_Atomic uint64_t ctrl_cmds, ctrl_errors;
	} st;
	_Atomic unsigned logged; /* warnings printed (rate limit: the guest controls them) */
};

#define LOG_MAX 10

static struct net *to_net(struct virtio_dev *vd)
{
	return (struct net *)vd;
}

static void count(_Atomic uint64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

/* A warning about something the guest did, at most LOG_MAX per device. */
static void guest_warn(struct net *n, const char *what, mc_err err)
{
	unsigned k = atomic_fetch_add(&n->logged, 1);
	if (k < LOG_MAX)
		mc_log_warn("%s: %s: %s%s", n->name, what, err ? mc_error_text(err) : "?",
			    k + 1 == LOG_MAX ? " (no more such warnings)" : "");
}

/* A chain the device will not use: given back with length 0 and counted. */
static void bad_chain(struct net *n, unsigned q, uint16_t head, const char *what, mc_err *err)
{
	count(&n->st.bad_chains, 1);
	guest_warn(n, what, *err);
	mc_error_free(err);
	virtq_push(&n->vd.q[q].vq, head, 0, NULL);
}

static void broken(struct net *n, unsigned q, mc_err *err)
{
	char why[300];
	snprintf(why, sizeof(why), "%s queue: %s",
		 q == RXQ   ? "receive"
		 : q == TXQ ? "transmit"
			    : "control",
		 *err ? mc_error_text(*err) : "broken");
	mc_error_free(err);
	virtio_set_needs_reset(&n->vd, why);
}

/* Copy len bytes between buf and the iovec array from its byte off on (into the iovecs with
 * to_iov, else out of them); returns the bytes copied. */
static size_t iov_copy(const struct iovec *iov, unsigned n, size_t off, void *buf, size_t len,
		       bool to_iov)
{
	size_t done = 0;
	for (unsigned i = 0; i < n && done < len; i++) {
		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		size_t k = iov[i].iov_len - off;
		if (k > len - done)
			k = len - done;
		uint8_t *g = (uint8_t *)iov[i].iov_base + off, *b = (uint8_t *)buf + done;
		memcpy(to_iov ? g : b, to_iov ? b : g, k);
		done += k;
		off = 0;
	}
	return done;
}
static size_t iov_to_buf(const struct iovec *iov, unsigned n, size_t off, void *buf, size_t len)
{
	return iov_copy(iov, n, off, buf, len, false);
}
static size_t buf_to_iov(const struct iovec *iov, unsigned n, size_t off, const void *buf,
			 size_t len)
{
	return iov_copy(iov, n, off, (void *)buf, len, true);
}

/* The next chain of queue q, checked by check (the queue's own rules): VIRTQ_OK, VIRTQ_EMPTY,
 * VIRTQ_BROKEN (DEVICE_NEEDS_RESET set) or VIRTQ_BAD_CHAIN (given back unused and counted:
 * the caller goes on with the next). */
static int pop_chain(struct net *n, unsigned q, struct virtq_elem *e,
		     int (*check)(struct net *n, const struct virtq_elem *e, mc_err *err),
		     const char *what)
{
	mc_err err = NULL;
	int r = virtq_pop(&n->vd.q[q].vq, e, &err);
	if (r == VIRTQ_BROKEN)
		broken(n, q, &err);
	if (r == VIRTQ_OK)
		r = check(n, e, &err);
	if (r == VIRTQ_BAD_CHAIN)
		bad_chain(n, q, e->head, what, &err);
	return r;
}

static void kick_fd(int fd)
{
	uint64_t one = 1;
	ssize_t w = write(fd, &one, sizeof(one));
	(void)w; /* EAGAIN: already signalled */
}

static void drain_fd(int fd)
{
	uint64_t v;
	ssize_t r = read(fd, &v, sizeof(v));
	(void)r; /* EAGAIN: nothing */
}

/* ---- receive ----------------------------------------------------------------------------- */

static struct rx_chain *rx_at(struct net *n, unsigned i)
{
	return &n->rx[(n->rx_first + i) % RX_CACHE];
}

static void tap_watch(struct net *n, bool on)
{
	if (n->tap_watched == on)
		return;
	mc_err err = NULL;
	if (iothread_mod(n->rxt, n->fd, on ? EPOLLIN : 0, &err) < 0) {
		mc_log_warn("%s: %s", n->name, mc_error_text(err));
		mc_error_free(&err);
		return;
	}
	n->tap_watched = on;
}

/* A receive chain: device-writable only, room for the header at least. */
static int rx_check(struct net *n, const struct virtq_elem *e, mc_err *err)
{
	(void)n;
	if (e->n_out || e->in_len < HDR_LEN)
		return mc_errorf(err, 0,
				 "chain at head %u: %u device-readable buffers and %llu writable "
				 "bytes (a receive chain is writable only, at least %u bytes)",
				 e->head, e->n_out, (unsigned long long)e->in_len, HDR_LEN),
		       VIRTQ_BAD_CHAIN;
	return VIRTQ_OK;
}

/* Pop receive chains into the cache until it holds want bytes (one chain without merged
 * buffers). -1: the ring is broken. */
static int rx_fill(struct net *n, uint64_t want)
{
	while (n->rx_n < RX_CACHE && n->rx_cap < want && (n->rx_mrg || n->rx_n == 0) &&
	       n->rx_niov + CHAIN_IOV < RX_IOV_MAX) {
		struct rx_chain *c = rx_at(n, n->rx_n);
		c->e = (struct virtq_elem){.iov = c->iov, .iov_max = CHAIN_IOV};
		int r = pop_chain(n, RXQ, &c->e, rx_check, "receive chain");
		if (r == VIRTQ_EMPTY)
			return 0;
		if (r == VIRTQ_BROKEN)
			return -1;
		if (r == VIRTQ_BAD_CHAIN) {
			virtio_notify_queue(&n->vd, RXQ);
			continue;
		}
		n->rx_n++;
		n->rx_cap += c->e.in_len;
		n->rx_niov += c->e.n_in;
	}
	return 0;
}

/* The cached chains' buffers as one iovec array in n->rx_iov; returns the count. */
static unsigned rx_iovec(struct net *n)
{
	unsigned niov = 0;
	for (unsigned i = 0; i < n->rx_n; i++) {
		struct rx_chain *c = rx_at(n, i);
		memcpy(&n->rx_iov[niov], c->iov, c->e.n_in * sizeof(struct iovec));
		niov += c->e.n_in;
	}
	return niov;
}

/* A packet of len bytes is in the first cached chains: publish them at once. */
static void rx_deliver(struct net *n, uint64_t len)
{
	struct virtq *vq = &n->vd.q[RXQ].vq;
	uint64_t left = len, sum = 0;
	unsigned k = 0, kiov = 0;
	while (left) {
		struct rx_chain *c = rx_at(n, k);
		uint32_t l = (uint32_t)(c->e.in_len < left ? c->e.in_len : left);
		virtq_fill(vq, k, c->e.head, l, NULL);
		left -= l;
		sum += c->e.in_len;
		kiov += c->e.n_in;
		k++;
	}
	uint8_t nb[2];
	put16(nb, (uint16_t)k); /* num_buffers: 1 without merged buffers */
	struct rx_chain *first = rx_at(n, 0);
	buf_to_iov(first->iov, first->e.n_in, 10, nb, sizeof(nb));
	virtq_flush(vq, k);
	n->rx_first = (n->rx_first + k) % RX_CACHE;
	n->rx_n -= k;
	n->rx_cap -= sum;
	n->rx_niov -= kiov;
	count(&n->st.rx_packets, 1);
	count(&n->st.rx_bytes, len - HDR_LEN);
}

enum { RX_DELIVERED, RX_DROPPED, RX_PENDING, RX_TAP_EMPTY, RX_NEED_BUFFERS };

/* Read one packet into the cached chains, its tail into n->bounce when they are too small
 * (merged buffers: the packet waits for more chains). */
static int rx_one(struct net *n)
{
	unsigned niov = rx_iovec(n);
	n->rx_iov[niov++] = (struct iovec){.iov_base = n->bounce, .iov_len = sizeof(n->bounce)};
	ssize_t r;
	if (n->is_sock) {
		struct msghdr m = {.msg_iov = n->rx_iov, .msg_iovlen = niov};
		r = recvmsg(n->fd, &m, MSG_TRUNC | MSG_DONTWAIT);
	} else {
		r = readv(n->fd, n->rx_iov, (int)niov);
	}
	if (r < 0) {
		if (errno == EINTR)
			return RX_DROPPED;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			count(&n->st.rx_errors, 1);
			mc_log_warn("%s: read from the tap: %s", n->name, strerror(errno));
			tap_watch(n,
				  false); /* it would fail again at once; the next kick retries */
		}
		return RX_TAP_EMPTY;
	}
	if (r == 0) { /* a test's socket was closed */
		tap_watch(n, false);
		return RX_TAP_EMPTY;
	}
	if ((uint64_t)r < HDR_LEN || (uint64_t)r > n->rx_cap + sizeof(n->bounce)) {
		count(&n->st.rx_errors, 1);
		return RX_DROPPED;
	}
	if ((uint64_t)r > n->rx_cap) {
		if (!n->rx_mrg) {
			/* One chain per packet, and this one is too small: dropped, the chain
			 * stays for the next. */
			count(&n->st.rx_truncated, 1);
			return RX_DROPPED;
		}
		n->pend_len = (uint64_t)r;
		n->pend_cap = n->rx_cap;
		return RX_PENDING;
	}
	rx_deliver(n, (uint64_t)r);
	return RX_DELIVERED;
}

/* A pending packet (its head in the cached chains, its tail in n->bounce) once the chains
 * hold it all. */
static int rx_pending(struct net *n)
{
	if (n->rx_cap < n->pend_len) {
		if (n->rx_n < RX_CACHE && n->rx_niov + CHAIN_IOV < RX_IOV_MAX &&
		    n->rx_n < n->vd.q[RXQ].vq.size)
			return RX_NEED_BUFFERS;
		/* The cache (or the whole ring) cannot hold it. */
		count(&n->st.rx_truncated, 1);
		n->pend_len = 0;
		return RX_DROPPED;
	}
	unsigned niov = rx_iovec(n);
	buf_to_iov(n->rx_iov, niov, n->pend_cap, n->bounce, n->pend_len - n->pend_cap);
	rx_deliver(n, n->pend_len);
	n->pend_len = 0;
	return RX_DELIVERED;
}

static void rx_run(struct net *n)
{
	struct virtq *vq = &n->vd.q[RXQ].vq;
	unsigned done = 0, unsignalled = 0;
	while (done < RX_BURST) {
		if (rx_fill(n, n->pend_len ? n->pend_len : n->rx_need) < 0) {
			tap_watch(n, false);
			break;
		}
		int r = n->pend_len ? rx_pending(n) : n->rx_n ? rx_one(n) : RX_NEED_BUFFERS;
		if (r == RX_TAP_EMPTY)
			break;
		if (r == RX_DELIVERED && ++unsignalled == 32) {
			virtio_notify_queue(&n->vd, RXQ);
			unsignalled = 0;
		}
		if (r != RX_NEED_BUFFERS) {
			done++;
			continue;
		}
		/* Out of buffers: the packets stay queued in the tap until the driver adds some
		 * and kicks. */
		if (virtq_set_notify(vq, true))
			continue;
		if (n->tap_watched)
			count(&n->st.rx_waits, 1);
		tap_watch(n, false);
		break;
	}
	if (unsignalled)
		virtio_notify_queue(&n->vd, RXQ);
}

static void on_tap(void *opaque, uint32_t events)
{
	(void)events;
	rx_run(opaque);
}

static void on_rx_kick(void *opaque, uint32_t events)
{
	struct net *n = opaque;
	(void)events;
	drain_fd(n->vd.q[RXQ].kick_fd);
	virtq_set_notify(&n->vd.q[RXQ].vq, false);
	tap_watch(n, true);
	rx_run(n);
}

/* ---- transmit ---------------------------------------------------------------------------- */

static bool has(struct net *n, unsigned f)
{
	return virtio_has_feature(&n->vd, f);
}

/* Check a transmit chain and copy its header into n->tx_hdr: VIRTQ_OK or VIRTQ_BAD_CHAIN. */
static int tx_check(struct net *n, const struct virtq_elem *e, mc_err *err)
{
	if (e->n_in)
		return mc_errorf(err, 0, "%u device-writable buffers in a transmit chain", e->n_in),
		       VIRTQ_BAD_CHAIN;
	if (e->out_len < HDR_LEN + 14 || e->out_len > HDR_LEN + MAX_FRAME)
		return mc_errorf(err, 0, "packet of %llu bytes with its header (%u to %u)",
				 (unsigned long long)e->out_len, HDR_LEN + 14, HDR_LEN + MAX_FRAME),
		       VIRTQ_BAD_CHAIN;
	uint8_t *h = n->tx_hdr;
	iov_to_buf(e->iov, e->n_out, 0, h, HDR_LEN);
	uint8_t flags = h[0], gso = h[1];
	uint16_t hdr_len = get16(h + 2), gso_size = get16(h + 4), csum_start = get16(h + 6),
		 csum_off = get16(h + 8);
	uint64_t len = e->out_len - HDR_LEN;
	if (flags & ~VIRTIO_NET_HDR_F_NEEDS_CSUM)
		return mc_errorf(err, 0, "header flags %#x", flags), VIRTQ_BAD_CHAIN;
	if (flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		if (!has(n, VIRTIO_NET_F_CSUM))
			return mc_errorf(err, 0, "NEEDS_CSUM without VIRTIO_NET_F_CSUM"),
			       VIRTQ_BAD_CHAIN;
		if ((uint64_t)csum_start + csum_off + 2 > len)
			return mc_errorf(err, 0,
					 "checksum at %u + %u is outside the %llu-byte packet",
					 csum_start, csum_off, (unsigned long long)len),
			       VIRTQ_BAD_CHAIN;
	}
	unsigned type = gso & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN, need;
	switch (type) {
	case VIRTIO_NET_HDR_GSO_NONE:
		if (gso & VIRTIO_NET_HDR_GSO_ECN)
			return mc_errorf(err, 0, "GSO_ECN without a GSO type"), VIRTQ_BAD_CHAIN;
		return VIRTQ_OK;
	case VIRTIO_NET_HDR_GSO_TCPV4:
		need = VIRTIO_NET_F_HOST_TSO4;
		break;
	case VIRTIO_NET_HDR_GSO_TCPV6:
		need = VIRTIO_NET_F_HOST_TSO6;
		break;
	case VIRTIO_NET_HDR_GSO_UDP:
		need = VIRTIO_NET_F_HOST_UFO;
		break;
	default:
		return mc_errorf(err, 0, "GSO type %#x", gso), VIRTQ_BAD_CHAIN;
	}
	if (!has(n, need) || ((gso & VIRTIO_NET_HDR_GSO_ECN) && !has(n, VIRTIO_NET_F_HOST_ECN)))
		return mc_errorf(err, 0, "GSO type %#x was not negotiated", gso), VIRTQ_BAD_CHAIN;
	if (gso_size == 0 || hdr_len > len)
		return mc_errorf(err, 0, "GSO size %u, header length %u of %llu bytes", gso_size,
				 hdr_len, (unsigned long long)len),
		       VIRTQ_BAD_CHAIN;
	return VIRTQ_OK;
}

/* Send the checked header copy, then the packet after the guest's header. */
static void tx_send(struct net *n, struct virtq_elem *e)
{
	struct iovec *v = e->iov; /* == n->tx_iov + 1 */
	size_t skip = HDR_LEN;
	unsigned j = 0;
	while (skip && skip >= v[j].iov_len) {
		skip -= v[j].iov_len;
		j++;
	}
	if (skip) {
		v[j].iov_base = (uint8_t *)v[j].iov_base + skip;
		v[j].iov_len -= skip;
	}
	/* v[j - 1] (or tx_iov[0] when j is 0) is free for the header: n->tx_iov[j]. */
	n->tx_iov[j] = (struct iovec){.iov_base = n->tx_hdr, .iov_len = HDR_LEN};
	ssize_t w;
	do
		w = writev(n->fd, &n->tx_iov[j], (int)(e->n_out - j + 1));
	while (w < 0 && errno == EINTR);
	if (w < 0) {
		if (errno == EAGAIN || errno == ENOBUFS || errno == ENOMEM)
			count(&n->st.tx_dropped, 1);
		else {
			count(&n->st.tx_errors, 1);
			unsigned k = atomic_fetch_add(&n->logged, 1);
			if (k < LOG_MAX)
				mc_log_warn("%s: the tap refused a packet: %s", n->name,
					    strerror(errno));
		}
		return;
	}
	count(&n->st.tx_packets, 1);
	count(&n->st.tx_bytes, e->out_len - HDR_LEN);
}

static void tx_run(struct net *n)
{
	struct virtq *vq = &n->vd.q[TXQ].vq;
	unsigned done = 0;
	virtq_set_notify(vq, false);
	for (;;) {
		if (done == TX_BURST) {
			kick_fd(n->vd.q[TXQ].kick_fd); /* come back after the other sources */
			break;
		}
		struct virtq_elem e = {.iov = n->tx_iov + 1, .iov_max = CHAIN_IOV};
		int r = pop_chain(n, TXQ, &e, tx_check, "transmit chain");
		if (r == VIRTQ_EMPTY) {
			if (virtq_set_notify(vq, true)) {
				virtq_set_notify(vq, false);
				continue;
			}
			break;
		}
		if (r == VIRTQ_BROKEN)
			break;
		done++;
		if (r == VIRTQ_BAD_CHAIN)
			continue;
		tx_send(n, &e);
		virtq_push(vq, e.head, 0, NULL);
	}
	if (done)
		virtio_notify_queue(&n->vd, TXQ);
}

static void on_tx_kick(void *opaque, uint32_t events)
{
	struct net *n = opaque;
	(void)events;
	drain_fd(n->vd.q[TXQ].kick_fd);
	tx_run(n);
}

/* ---- control queue ----------------------------------------------------------------------- */

static uint8_t ctrl_cmd(struct net *n, uint8_t cls, uint8_t cmd, size_t data_len)
{
	if (cls == VIRTIO_NET_CTRL_ANNOUNCE && cmd == VIRTIO_NET_CTRL_ANNOUNCE_ACK && !data_len &&
	    has(n, VIRTIO_NET_F_GUEST_ANNOUNCE)) {
		atomic_fetch_and(&n->status, (uint16_t)~VIRTIO_NET_S_ANNOUNCE);
		return VIRTIO_NET_OK;
	}
	/* Nothing else was offered (CTRL_RX, CTRL_VLAN, MQ, CTRL_MAC_ADDR, GUEST_OFFLOADS). */
	count(&n->st.ctrl_errors, 1);
	return VIRTIO_NET_ERR;
}

/* A control command: its class and command, and room for the ack. */
static int ctrl_check(struct net *n, const struct virtq_elem *e, mc_err *err)
{
	(void)n;
	if (e->out_len < 2 || e->in_len < 1)
		return mc_errorf(err, 0,
				 "control command of %llu bytes with %llu for the ack (at least 2 "
				 "and 1)",
				 (unsigned long long)e->out_len, (unsigned long long)e->in_len),
		       VIRTQ_BAD_CHAIN;
	return VIRTQ_OK;
}

static void ctrl_run(struct net *n)
{
	struct virtq *vq = &n->vd.q[CTRLQ].vq;
	struct iovec iov[CHAIN_IOV];
	unsigned done = 0;
	for (; done < QUEUE_SIZE; done++) {
		struct virtq_elem e = {.iov = iov, .iov_max = CHAIN_IOV};
		int r = pop_chain(n, CTRLQ, &e, ctrl_check, "control chain");
		if (r == VIRTQ_EMPTY || r == VIRTQ_BROKEN)
			break;
		if (r == VIRTQ_BAD_CHAIN)
			continue;
		uint8_t buf[CTRL_MAX];
		size_t len = iov_to_buf(e.iov, e.n_out, 0, buf, sizeof(buf));
		count(&n->st.ctrl_cmds, 1);
		uint8_t ack = e.out_len > sizeof(buf)
				  ? (count(&n->st.ctrl_errors, 1), VIRTIO_NET_ERR)
				  : ctrl_cmd(n, buf[0], buf[1], len - 2);
		buf_to_iov(e.iov + e.n_out, e.n_in, 0, &ack, 1);
		virtq_push(vq, e.head, 1, NULL);
	}
	if (done)
		virtio_notify_queue(&n->vd, CTRLQ);
}

static void on_ctrl_kick(void *opaque, uint32_t events)
{
	struct net *n = opaque;
	(void)events;
	drain_fd(n->vd.q[CTRLQ].kick_fd);
	ctrl_run(n);
}

/* ---- vhost-net --------------------------------------------------------------------------- */

static void on_vhost_call(void *opaque, uint32_t events)
{
	struct net *n = opaque;
	(void)events;
	for (unsigned q = 0; q < 2; q++) {
		uint64_t v;
		if (n->call_own[q] && read(n->call_fd[q], &v, sizeof(v)) == sizeof(v))
			n->vd.tops->notify_queue(&n->vd, q); /* vhost decided it is wanted */
	}
}

static void vhost_rings(struct net *n, struct vhost_ring r[2])
{
	for (unsigned q = 0; q < 2; q++) {
		struct virtq *vq = &n->vd.q[q].vq;
		r[q] = (struct vhost_ring){.index = q,
					   .num = vq->size,
					   .base = vq->last_avail_idx,
					   .desc = vq->desc,
					   .avail = vq->avail,
					   .used = vq->used,
					   .used_gpa = vq->used_gpa,
					   .kick_fd = n->vd.q[q].kick_fd,
					   .call_fd = n->call_fd[q]};
	}
}

static int vhost_start(struct net *n, mc_err *err)
{
	struct vhost_ring r[2];
	for (unsigned q = 0; q < 2; q++)
		if (!n->vd.q[q].vq.enabled)
			return mc_errorf(err, EINVAL, "vhost: queue %u is not enabled", q);
	vhost_rings(n, r);
	uint64_t f = n->vd.driver_features & n->vhost_features, bytes;
	pthread_mutex_lock(&n->vhost_lock);
	/* A migration that runs has the kernel log its writes (gm_dirty.h). */
	uint64_t *log = gm_dirty_log(&n->vd.vm->gm, &bytes);
	int rc = vhost_net_start(n->vhost_fd, f, &n->vd.vm->gm, r, 2, n->fd, log, err);
	if (rc == 0)
		n->vhost_running = true;
	pthread_mutex_unlock(&n->vhost_lock);
	return rc;
}

/* gm_dirty's writer callback: a migration starts (log) or ends (NULL). */
static void vhost_set_log(void *opaque, uint64_t *log, uint64_t bytes)
{
	struct net *n = opaque;
	(void)bytes;
	pthread_mutex_lock(&n->vhost_lock);
	if (n->vhost_running) {
		struct vhost_ring r[2];
		vhost_rings(n, r);
		mc_err err = NULL;
		if (vhost_net_set_log(n->vhost_fd, n->vd.driver_features & n->vhost_features, r, 2,
				      log, &err) < 0) {
			/* The kernel's writes would go unseen: the device cannot go on safely. */
			char why[300];
			snprintf(why, sizeof(why), "migration dirty log: %s", mc_error_text(err));
			mc_error_free(&err);
			virtio_set_needs_reset(&n->vd, why);
		}
	}
	pthread_mutex_unlock(&n->vhost_lock);
}

static void vhost_stop(struct net *n)
{
	pthread_mutex_lock(&n->vhost_lock);
	if (!n->vhost_running) {
		pthread_mutex_unlock(&n->vhost_lock);
		return;
	}
	for (unsigned q = 0; q < 2; q++) {
		struct virtq *vq = &n->vd.q[q].vq;
		uint16_t base;
		mc_err err = NULL;
		if (vhost_net_stop(n->vhost_fd, q, &base, &err) < 0) {
			mc_log_warn("%s: %s", n->name, mc_error_text(err));
			mc_error_free(&err);
			continue;
		}
		/* Where the kernel left the ring: the next avail entry, used.idx as published. */
		vq->last_avail_idx = base;
		vq->used_idx =
		    __atomic_load_n((uint16_t *)(void *)(vq->used + 2), __ATOMIC_ACQUIRE);
		vq->signalled_used_valid = false;
	}
	n->vhost_running = false;
	pthread_mutex_unlock(&n->vhost_lock);
}

/* ---- the model's ops --------------------------------------------------------------------- */

static void net_config_read(struct virtio_dev *vd, uint32_t off, uint8_t *data, uint32_t len)
{
	struct net *n = to_net(vd);
	uint8_t c[CONFIG_LEN];
	memcpy(c, n->conf.mac, 6);
	put16(c + 6, atomic_load(&n->status));
	put16(c + 8, 1);
	put16(c + 10, n->mtu);
	memcpy(data, c + off, len); /* the core checked off + len <= CONFIG_LEN */
}

static void net_config_write(struct virtio_dev *vd, uint32_t off, const uint8_t *data, uint32_t len)
{
	(void)data;
	/* A virtio 1.x driver never writes it (the MAC is read-only without CTRL_MAC_ADDR). */
	mc_log_debug("%s: config write at %u (%u bytes) ignored", vd->dev.name, off, len);
}

static int net_features_ok(struct virtio_dev *vd, uint64_t f, mc_err *err)
{
	(void)vd;
#define F(x) (f >> VIRTIO_NET_F_##x & 1)
	/* The dependencies of spec 5.1.3.1. */
	if ((F(GUEST_TSO4) || F(GUEST_TSO6) || F(GUEST_UFO)) && !F(GUEST_CSUM))
		return mc_errorf(err, EINVAL, "GUEST_TSO4/TSO6/UFO without GUEST_CSUM");
	if (F(GUEST_ECN) && !F(GUEST_TSO4) && !F(GUEST_TSO6))
		return mc_errorf(err, EINVAL, "GUEST_ECN without GUEST_TSO4/TSO6");
	if ((F(HOST_TSO4) || F(HOST_TSO6) || F(HOST_UFO)) && !F(CSUM))
		return mc_errorf(err, EINVAL, "HOST_TSO4/TSO6/UFO without CSUM");
	if (F(HOST_ECN) && !F(HOST_TSO4) && !F(HOST_TSO6))
		return mc_errorf(err, EINVAL, "HOST_ECN without HOST_TSO4/TSO6");
	if (F(GUEST_ANNOUNCE) && !F(CTRL_VQ))
		return mc_errorf(err, EINVAL, "GUEST_ANNOUNCE without CTRL_VQ");
#undef F
	return 0;
}

/* The tap's offloads for what the driver takes: the kernel then hands us partial checksums
 * and GSO packets. A tap that refuses some (UFO on newer kernels) gets fewer: sending the
 * guest fewer kinds of packets than it accepted is always correct. */
static void set_offloads(struct net *n)
{
	if (n->is_sock || n->conf.fd >= 0)
		return;
	unsigned off = 0;
	if (has(n, VIRTIO_NET_F_GUEST_CSUM)) {
		off |= TUN_F_CSUM;
		if (has(n, VIRTIO_NET_F_GUEST_TSO4))
			off |= TUN_F_TSO4;
		if (has(n, VIRTIO_NET_F_GUEST_TSO6))
			off |= TUN_F_TSO6;
		if (has(n, VIRTIO_NET_F_GUEST_ECN) && (off & (TUN_F_TSO4 | TUN_F_TSO6)))
			off |= TUN_F_TSO_ECN;
		if (has(n, VIRTIO_NET_F_GUEST_UFO))
			off |= TUN_F_UFO;
	}
	const unsigned drop[] = {0, TUN_F_UFO, TUN_F_TSO_ECN, TUN_F_TSO4 | TUN_F_TSO6, ~0u};
	for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]); i++) {
		unsigned o = off & ~drop[i];
		mc_err err = NULL;
		if (mc_tap_set_offload(n->fd, o, &err) == 0) {
			if (o != off)
				mc_log_debug("%s: tap offloads %#x instead of %#x", n->name, o,
					     off);
			return;
		}
		if (i == sizeof(drop) / sizeof(drop[0]) - 1)
			mc_log_warn("%s: %s", n->name, mc_error_text(err));
		mc_error_free(&err);
	}
}

static void net_stop(struct virtio_dev *vd);

static int net_start(struct virtio_dev *vd, mc_err *err)
{
	struct net *n = to_net(vd);
	n->rx_mrg = has(n, VIRTIO_NET_F_MRG_RXBUF);
	bool gso = has(n, VIRTIO_NET_F_GUEST_TSO4) || has(n, VIRTIO_NET_F_GUEST_TSO6) ||
		   has(n, VIRTIO_NET_F_GUEST_UFO);
	n->rx_need = HDR_LEN + (gso ? MAX_FRAME : 14u + 4u + n->mtu);
	n->rx_first = n->rx_n = n->rx_niov = 0;
	n->rx_cap = n->pend_len = 0;
	set_offloads(n);
	struct virtio_queue *q = vd->q;
	if (q[CTRLQ].vq.enabled && has(n, VIRTIO_NET_F_CTRL_VQ)) {
		if (iothread_add(n->txt, q[CTRLQ].kick_fd, EPOLLIN, on_ctrl_kick, n, err) < 0)
			goto fail;
		n->watching_ctrl = true;
	}
	if (n->vhost_fd >= 0) {
		/* While the VM is paused (a state being loaded) resume starts it. */
		if (!vd->paused && vhost_start(n, err) < 0)
			goto fail;
		return 0;
	}
	/* EVENT_IDX: no kicks for buffers added while a pass is popping them anyway (transmit)
	 * or while the receive path has not asked for more (it enables them when it runs out). */
	q[TXQ].vq.hold_event = q[RXQ].vq.hold_event = true;
	if (q[TXQ].vq.enabled) {
		if (iothread_add(n->txt, q[TXQ].kick_fd, EPOLLIN, on_tx_kick, n, err) < 0)
			goto fail;
		n->watching_tx = true;
	}
	if (q[RXQ].vq.enabled) {
		n->tap_watched = true;
		if (iothread_add(n->rxt, n->fd, EPOLLIN, on_tap, n, err) < 0)
			goto fail;
		n->watching_tap = true;
		if (iothread_add(n->rxt, q[RXQ].kick_fd, EPOLLIN, on_rx_kick, n, err) < 0)
			goto fail;
		n->watching_rx = true;
	}
	return 0;
fail:
	net_stop(vd);
	return mc_wrap(err, "%s: start", n->name);
}

static void net_stop(struct virtio_dev *vd)
{
	struct net *n = to_net(vd);
	if (n->watching_tap)
		iothread_del(n->rxt, n->fd);
	if (n->watching_rx)
		iothread_del(n->rxt, vd->q[RXQ].kick_fd);
	if (n->watching_tx)
		iothread_del(n->txt, vd->q[TXQ].kick_fd);
	if (n->watching_ctrl)
		iothread_del(n->txt, vd->q[CTRLQ].kick_fd);
	n->watching_tap = n->watching_rx = n->watching_tx = n->watching_ctrl = false;
	vhost_stop(n);
	/* The core resets the queues: the cached chains go with them. */
	n->rx_first = n->rx_n = n->rx_niov = 0;
	n->rx_cap = n->pend_len = 0;
	n->tap_watched = false;
}

static void net_pause(struct virtio_dev *vd)
{
	struct net *n = to_net(vd);
	vhost_stop(n);
	iothread_pause(n->rxt);
	iothread_pause(n->txt);
	if (n->pend_len) {
		/* Its head is in the chains given back below. */
		count(&n->st.rx_truncated, 1);
		n->pend_len = 0;
	}
	if (n->rx_n) {
		virtq_unpop(&vd->q[RXQ].vq, (uint16_t)n->rx_n);
		n->rx_first = n->rx_n = n->rx_niov = 0;
		n->rx_cap = 0;
	}
}

static void net_resume(struct virtio_dev *vd)
{
	struct net *n = to_net(vd);
	iothread_resume(n->txt);
	iothread_resume(n->rxt);
	if (!vd->started)
		return;
	if (n->vhost_fd >= 0) {
		mc_err err = NULL;
		if (!n->vhost_running && vhost_start(n, &err) < 0) {
			char why[300];
			snprintf(why, sizeof(why), "resume: %s", mc_error_text(err));
			mc_error_free(&err);
			virtio_set_needs_reset(vd, why);
		}
		return;
	}
	/* Run both paths once: the tap may have filled while paused, the driver kicked. */
	if (n->watching_rx)
		kick_fd(vd->q[RXQ].kick_fd);
	if (n->watching_tx)
		kick_fd(vd->q[TXQ].kick_fd);
}

static void net_save(struct virtio_dev *vd, struct state_w *w)
{
	struct net *n = to_net(vd);
	state_put16(w, atomic_load(&n->status));
}

static int net_load(struct virtio_dev *vd, uint32_t version, struct state_r *r, mc_err *err)
{
	struct net *n = to_net(vd);
	(void)version;
	uint16_t s = state_get16(r);
	if (r->bad)
		return mc_errorf(err, EINVAL, "%s: state cut short", n->name);
	if (s & ~(VIRTIO_NET_S_LINK_UP | VIRTIO_NET_S_ANNOUNCE))
		return mc_errorf(err, EINVAL, "%s: status %#x", n->name, s);
	atomic_store(&n->status, (uint16_t)(s | VIRTIO_NET_S_LINK_UP));
	return 0;
}

static int tap_mtu(const char *name, uint16_t *mtu)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	struct ifreq ifr = {0};
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	int r = ioctl(s, SIOCGIFMTU, &ifr);
	close(s);
	if (r < 0 || ifr.ifr_mtu < 68 || ifr.ifr_mtu > 65535)
		return -1;
	*mtu = (uint16_t)ifr.ifr_mtu;
	return 0;
}

static int net_realize(struct virtio_dev *vd, struct vm *vm, mc_err *err)
{
	struct net *n = to_net(vd);
	char tn[32];
	snprintf(tn, sizeof(tn), "%.12s-rx", n->name);
	if (iothread_create(&n->rxt, tn, err) < 0)
		return -1;
	snprintf(tn, sizeof(tn), "%.12s-tx", n->name);
	if (iothread_create(&n->txt, tn, err) < 0)
		return -1;
	if (n->conf.fd >= 0) {
		struct stat st;
		n->fd = n->conf.fd;
		n->is_sock = fstat(n->fd, &st) == 0 && S_ISSOCK(st.st_mode);
	} else {
		n->fd =
		    mc_tap_open(n->conf.tap, MC_TAP_VNET_HDR | MC_TAP_NONBLOCK, &n->tap_made, err);
		if (n->fd < 0)
			return mc_wrap(err, "--net");
		n->own_fd = true;
		if (n->tap_made && mc_netdev_set_up(NULL, n->conf.tap, true, err) < 0)
			return mc_wrap(err, "--net");
		if (tap_mtu(n->conf.tap, &n->mtu) < 0)
			n->mtu = 1500;
	}
	if (n->conf.vhost) {
		if (vhost_net_open(&n->vhost_fd, &n->vhost_features, err) < 0)
			return mc_wrap(err, "--net tap=%s", n->conf.tap);
		uint64_t need = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_EVENT_IDX) |
				(1ull << VIRTIO_F_INDIRECT_DESC);
		if ((n->vhost_features & need) != need)
			return mc_errorf(err, ENOTSUP,
					 "--net tap=%s,vhost=on: vhost-net offers features %#llx, "
					 "without VERSION_1, EVENT_IDX or INDIRECT_DESC",
					 n->conf.tap, (unsigned long long)n->vhost_features);
		if (!(n->vhost_features & (1ull << VIRTIO_NET_F_MRG_RXBUF)))
			vd->features &= ~(1ull << VIRTIO_NET_F_MRG_RXBUF);
		for (unsigned q = 0; q < 2; q++) {
			n->call_fd[q] = -1;
			if (vd->tops->queue_call_fd)
				n->call_fd[q] = vd->tops->queue_call_fd(vd, q, NULL);
			if (n->call_fd[q] >= 0)
				continue;
			n->call_fd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
			if (n->call_fd[q] < 0)
				return mc_errorf(err, errno, "%s: eventfd", n->name);
			n->call_own[q] = true;
			if (iothread_add(n->rxt, n->call_fd[q], EPOLLIN, on_vhost_call, n, err) < 0)
				return mc_wrap(err, "%s", n->name);
		}
		if (gm_dirty_add_writer(&vm->gm, vhost_set_log, n, err) < 0)
			return mc_wrap(err, "%s", n->name);
		n->vhost_writer = true;
	}
	return 0;
}

static void net_destroy(struct virtio_dev *vd)
{
	struct net *n = to_net(vd);
	if (n->vhost_writer)
		gm_dirty_del_writer(&vd->vm->gm, n);
	n->vhost_writer = false;
	iothread_destroy(n->rxt);
	iothread_destroy(n->txt);
	n->rxt = n->txt = NULL;
	for (unsigned q = 0; q < 2; q++)
		if (n->call_own[q] && n->call_fd[q] >= 0)
			close(n->call_fd[q]);
	if (n->vhost_fd >= 0)
		close(n->vhost_fd);
	n->vhost_fd = -1;
	if (n->own_fd && n->fd >= 0)
		close(n->fd); /* a tap this run created goes away with it */
	n->fd = -1;
}

static const struct virtio_dev_ops net_ops = {
    .config_read = net_config_read,
    .config_write = net_config_write,
    .features_ok = net_features_ok,
    .realize = net_realize,
    .start = net_start,
    .stop = net_stop,
    .pause = net_pause,
    .resume = net_resume,
    .save = net_save,
    .load = net_load,
    .destroy = net_destroy,
};

struct device *virtio_net_create(const struct virtio_net_conf *c, unsigned index,
				 const struct virtio_transport_ops *tops, void *transport,
				 mc_err *err)
{
	struct net *n = calloc(1, sizeof(*n));
	if (!n) {
		mc_errorf(err, ENOMEM, "virtio-net%u", index);
		return NULL;
	}
	snprintf(n->name, sizeof(n->name), "virtio-net%u", index);
	n->conf = *c;
	n->fd = n->vhost_fd = -1;
	n->call_fd[0] = n->call_fd[1] = -1;
	n->mtu = 1500;
	pthread_mutex_init(&n->vhost_lock, NULL);
	atomic_store(&n->status, VIRTIO_NET_S_LINK_UP);
	if (virtio_dev_init(&n->vd, n->name, VIRTIO_ID_NET, OFFERED, CONFIG_LEN, NET_QUEUES,
			    QUEUE_SIZE, &net_ops, tops, transport, err) < 0) {
		free(n);
		return NULL;
	}
	return &n->vd.dev;
}

bool virtio_net_announce(struct virtio_dev *vd)
{
	struct net *n = to_net(vd);
	if (!(virtio_get_status(vd) & VIRTIO_STATUS_DRIVER_OK) ||
	    !virtio_has_feature(vd, VIRTIO_NET_F_GUEST_ANNOUNCE))
		return false;
	atomic_fetch_or(&n->status, VIRTIO_NET_S_ANNOUNCE);
	virtio_config_changed(vd);
	return true;
}

uint16_t virtio_net_status(struct virtio_dev *vd)
{
	return atomic_load(&to_net(vd)->status);
}

void virtio_net_get_stats(struct virtio_dev *vd, struct virtio_net_stats *s)
{
	struct net *n = to_net(vd);
	*s = (struct virtio_net_stats){
	    .rx_packets = atomic_load(&n->st.rx_packets),
	    .rx_bytes = atomic_load(&n->st.rx_bytes),
	    .rx_truncated = atomic_load(&n->st.rx_truncated),
	    .rx_errors = atomic_load(&n->st.rx_errors),
	    .rx_waits = atomic_load(&n->st.rx_waits),
	    .tx_packets = atomic_load(&n->st.tx_packets),
	    .tx_bytes = atomic_load(&n->st.tx_bytes),
	    .tx_dropped = atomic_load(&n->st.tx_dropped),
	    .tx_errors = atomic_load(&n->st.tx_errors),
	    .bad_chains = atomic_load(&n->st.bad_chains),
	    .ctrl_cmds = atomic_load(&n->st.ctrl_cmds),
	    .ctrl_errors = atomic_load(&n->st.ctrl_errors),
	};
}

/* ---- options ----------------------------------------------------------------------------- */

int virtio_net_parse_mac(const char *s, uint8_t mac[6], mc_err *err)
{
	unsigned v[6];
	int end = 0;
	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%n", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
		   &end) != 6 ||
	    s[end] != '\0' || end != 17)
		return mc_errorf(err, 0, "mac `%s`: expected six hex pairs like 52:54:00:12:34:56",
				 s);
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
	if (mac[0] & 1)
		return mc_errorf(err, 0, "mac `%s`: a multicast address", s);
	if (!(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]))
		return mc_errorf(err, 0, "mac `%s`: all zeros", s);
	return 0;
}

void virtio_net_default_mac(const char *tap, uint8_t mac[6])
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (const char *p = tap; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	mac[0] = 0x52; /* locally administered, unicast */
	mac[1] = 0x54;
	put32(mac + 2, h);
}

int virtio_net_parse(const char *arg, struct virtio_net_conf *c, mc_err *err)
{
	*c = (struct virtio_net_conf){.fd = -1};
	bool have_mac = false;
	char *dup = strdup(arg), *save = NULL;
	if (!dup)
		return mc_errorf(err, ENOMEM, "--net");
	int rc = 0;
	for (char *kv = strtok_r(dup, ",", &save); kv && rc == 0; kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		const char *val = eq ? eq + 1 : "";
		if (eq)
			*eq = '\0';
		if (strcmp(kv, "tap") == 0) {
			if (mc_netdev_check_name(val, err) < 0)
				rc = mc_wrap(err, "--net tap=%s", val);
			else
				snprintf(c->tap, sizeof(c->tap), "%s", val);
		} else if (strcmp(kv, "mac") == 0) {
			rc = virtio_net_parse_mac(val, c->mac, err);
			if (rc < 0)
				mc_wrap(err, "--net");
			have_mac = true;
		} else if (strcmp(kv, "vhost") == 0) {
			if (strcmp(val, "on") == 0)
				c->vhost = true;
			else if (strcmp(val, "off") == 0)
				c->vhost = false;
			else
				rc = mc_errorf(err, 0, "--net vhost=`%s`: on or off", val);
		} else {
			rc = mc_errorf(err, 0,
				       "--net `%s`: unknown option `%s` (tap=NAME, mac=MAC, "
				       "vhost=on|off)",
				       arg, kv);
		}
	}
	free(dup);
	if (rc < 0)
		return -1;
	if (!c->tap[0])
		return mc_errorf(err, 0, "--net `%s`: missing tap=NAME", arg);
	if (!have_mac)
		virtio_net_default_mac(c->tap, c->mac);
	return 0;
}
