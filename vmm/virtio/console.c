/* virtio-console with multiple ports (console.h): the guest command's stdio.
 *
 * Queues (5.3.2, multiport): port 0 receive/transmit 0/1, control receive 2 (device -> driver
 * messages), control transmit 3 (driver -> device), then port k's pair at 2 + 2k / 3 + 2k.
 * Only the queues that carry a stream are 128 entries: Linux fills every receive queue with a
 * page per entry when it adds a port, so the control queues are 16 and a direction nobody
 * uses (stdout's receive queue...) 4. MSI-X: 2 vectors (hw/msix.h): Linux then gives the
 * config changes one and all queues the other, instead of setting up one per queue.
 *
 * The control transmit queue (driver -> device) is answered in the vCPU's exit (trap_notify,
 * con_queue_notify): Linux busy-waits after each control message until the device took it,
 * and waking an I/O thread for it cost the spinning vCPU a scheduler round trip per message
 * (tens of ms each in a loaded nested lab). Its replies go into the control receive queue
 * right away when the guest has posted buffers there. Only the stream queues get an
 * ioeventfd; the others' few notifies trap (no_ioeventfd): fewer KVM calls at probe time.
 *
 * Threads (each an I/O thread, iothread.h):
 *   "con-ctl"  the control receive queue and the input port: the host's stdin is read into
 *              the guest's receive buffers (one readv() over up to IN_CHAINS chains), only
 *              while the guest has the port open and has posted buffers; when it has none,
 *              stdin is not watched and the receive queue's kick brings us back (flow
 *              control: nothing is read ahead, nothing is dropped). End of stdin: PORT_OPEN 0.
 *   "con-out", "con-err"  one per output port: pop a chain, writev() it straight from guest
 *              memory to the host fd (blocking: a slow reader of minivm's stdout holds this
 *              thread only; the guest's ring fills and its write() blocks, the vCPUs never
 *              wait), push it. Two threads so a full stdout never holds back stderr or stdin.
 * Control messages to the guest wait in a small FIFO until it has posted control buffers.
 * Everything the guest sends is checked: control messages shorter than 8 bytes or for ports
 * that do not exist are ignored (logged once), chains are bounded by virtqueue.c.
 */
#include "virtio/console.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <unistd.h>

#include "bytes.h"
#include "log.h"
#include "virtio/iothread.h"

#define MSIX_VECTORS 2u	 /* config, and one shared by the queues */
#define CTL_HDR	     8u	 /* le32 id, le16 event, le16 value */
#define CTL_MSG_MAX  48u /* header + the longest name */
#define CTL_FIFO     64u
#define OUT_IOV	     64u
#define OUT_BATCH    256u
#define IN_CHAINS    32u
#define IN_IOV	     256u
#define IN_ROUNDS    64u
#define CTL_IOV	     16u
#define STATE_FORMAT 2u /* 2: ids from 0, the port count saved */

static const char *const stdio_names[VIRTIO_CONSOLE_MAX_PORTS] = {"minivm.stdin", "minivm.stdout",
								  "minivm.stderr"};

enum { WARN_CTL = 1, WARN_OUT = 2, WARN_IN = 4, WARN_CTL_SMALL = 8, WARN_CHAIN = 16 };

struct con_dev;

struct port {
	bool ready; /* the guest sent PORT_READY */
	bool guest_open, host_open;
};

struct out_stream {
	struct con_dev *c;
	const char *what;
	unsigned port, q;
	int fd;
	struct iothread *t;
	bool watching, broken, dead;
	struct iovec iov[OUT_IOV];
};

struct ctl_msg {
	uint16_t len;
	uint8_t b[CTL_MSG_MAX];
};

/* What wakes con-ctl: a kick on the control receive queue or on the input port's receive
 * queue, or the host's stdin turning readable (on_ctl_wake). */
enum wake_src { WAKE_CTL_RX, WAKE_IN_KICK, WAKE_STDIN, NWAKE };

struct ctl_wake {
	struct con_dev *c;
	enum wake_src src;
};

struct con_dev {
	struct virtio_dev vd; /* first */
	struct virtio_console_conf conf;
	uint8_t config[VIRTIO_CONSOLE_CONFIG_LEN];
	struct iothread *t; /* con-ctl */
	struct ctl_wake wake[NWAKE];
	struct out_stream out[2];
	unsigned nout;

	pthread_mutex_t lock; /* everything below; taken by con-ctl's callbacks, the control
				 queue's notify (a vCPU), resize, pause */
	struct port port[VIRTIO_CONSOLE_MAX_PORTS];
	unsigned nports; /* max_nr_ports: 3, or 1 with a tty */
	unsigned in_port;
	bool watching, paused, ctl_broken, in_broken;
	/* host stdin */
	bool in_pollable, in_added, in_readable, in_eof;
	struct iovec in_iov[IN_IOV];
	/* control messages not yet delivered */
	struct ctl_msg fifo[CTL_FIFO];
	unsigned fifo_head, fifo_len;
	uint16_t rows, cols;

	_Atomic bool used;
	_Atomic unsigned warned;
};

static struct con_dev *to_con(struct virtio_dev *vd)
{
	return (struct con_dev *)vd;
}

static unsigned rxq(unsigned port)
{
	return port == 0 ? 0 : 2 + 2 * port;
}

static unsigned txq(unsigned port)
{
	return port == 0 ? 1 : 3 + 2 * port;
}

static void warn_once(struct con_dev *c, unsigned kind, const char *fmt, unsigned long a)
{
	if (atomic_fetch_or(&c->warned, kind) & kind)
		return;
	char msg[160];
	snprintf(msg, sizeof(msg), fmt, a);
	mc_log_warn("virtio-console: %s (logged once)", msg);
}

static void push(struct con_dev *c, unsigned q, uint16_t head, uint32_t len)
{
	mc_err err = NULL;
	if (virtq_push(&c->vd.q[q].vq, head, len, &err) < 0) {
		virtio_set_needs_reset(&c->vd, mc_error_text(err));
		mc_error_free(&err);
	}
}

/* ---- control messages to the guest (lock held) ------------------------------------------- */

/* Deliver queued messages while the guest has control buffers. */
static void ctl_flush(struct con_dev *c)
{
	if (!c->watching || c->paused || c->ctl_broken)
		return;
	struct virtq *vq = &c->vd.q[2].vq;
	bool pushed = false;
	while (c->fifo_len && vq->enabled) {
		struct iovec iov[CTL_IOV];
		struct virtq_elem e = {.iov = iov, .iov_max = CTL_IOV};
		mc_err err = NULL;
		int rc = virtq_pop(vq, &e, &err);
		if (rc == VIRTQ_EMPTY) {
			/* ask for a kick when the driver posts buffers, and look once more: a
			 * buffer posted meanwhile is seen here or kicked */
			if (virtq_set_notify(vq, true))
				continue;
			break;
		}
		if (rc == VIRTQ_BROKEN) {
			c->ctl_broken = true;
			virtio_set_needs_reset(&c->vd, mc_error_text(err));
			mc_error_free(&err);
			return;
		}
		if (rc == VIRTQ_BAD_CHAIN) {
			warn_once(c, WARN_CHAIN, "malformed chain on queue %lu", 2);
			mc_error_free(&err);
			push(c, 2, e.head, 0);
			pushed = true;
			continue;
		}
		struct ctl_msg *m = &c->fifo[c->fifo_head];
		uint32_t len = 0;
		if (e.in_len >= m->len) {
			for (unsigned i = e.n_out; i < e.n_out + e.n_in && len < m->len; i++) {
				size_t k =
				    iov[i].iov_len < m->len - len ? iov[i].iov_len : m->len - len;
				memcpy(iov[i].iov_base, m->b + len, k);
				len += (uint32_t)k;
			}
		} else {
			warn_once(c, WARN_CTL_SMALL, "control buffer of %lu bytes: message dropped",
				  (unsigned long)e.in_len);
		}
		push(c, 2, e.head, len);
		pushed = true;
		c->fifo_head = (c->fifo_head + 1) % CTL_FIFO;
		c->fifo_len--;
	}
	if (pushed)
		virtio_notify_queue(&c->vd, 2);
}

static void ctl_send(struct con_dev *c, uint32_t id, uint16_t event, uint16_t value,
		     const void *extra, size_t extra_len)
{
	if (c->fifo_len == CTL_FIFO || CTL_HDR + extra_len > CTL_MSG_MAX) {
		warn_once(c, WARN_CTL, "control message %lu not sent: the guest takes none", event);
		return;
	}
	struct ctl_msg *m = &c->fifo[(c->fifo_head + c->fifo_len++) % CTL_FIFO];
	put32(m->b, id);
	put16(m->b + 4, event);
	put16(m->b + 6, value);
	if (extra_len)
		memcpy(m->b + CTL_HDR, extra, extra_len);
	m->len = (uint16_t)(CTL_HDR + extra_len);
	ctl_flush(c);
}

static void send_resize(struct con_dev *c)
{
	uint8_t sz[4]; /* struct virtio_console_resize: le16 cols, le16 rows (5.3.6.2) */
	put16(sz, c->cols);
	put16(sz + 2, c->rows);
	ctl_send(c, VIRTIO_CONSOLE_PORT_TTY, VIRTIO_CONSOLE_RESIZE, 0, sz, sizeof(sz));
}

/* ---- host stdin -> the input port (lock held, con-ctl) ------------------------------------ */

static void on_ctl_wake(void *opaque, uint32_t events);

static void in_watch(struct con_dev *c, bool on)
{
	if (!c->in_pollable || c->in_added == on)
		return;
	mc_err err = NULL;
	if (on) {
		/* Added only while we want to read: a pipe whose writer left reports EPOLLHUP
		 * whatever the events asked, which would spin while the guest has no buffers. */
		if (iothread_add(c->t, c->conf.in_fd, EPOLLIN, on_ctl_wake, &c->wake[WAKE_STDIN],
				 &err) < 0) {
			mc_log_warn("virtio-console: stdin: %s", mc_error_text(err));
			mc_error_free(&err);
			c->in_pollable = false; /* read it whenever there is room */
			return;
		}
	} else {
		iothread_del(c->t, c->conf.in_fd);
	}
	c->in_added = on;
}

static void in_end(struct con_dev *c)
{
	in_watch(c, false);
	c->in_eof = true;
	struct port *p = &c->port[c->in_port];
	if (!c->conf.tty && p->host_open) {
		p->host_open = false;
		ctl_send(c, c->in_port, VIRTIO_CONSOLE_PORT_OPEN, 0, NULL, 0);
	}
}

struct in_chain {
	uint16_t head;
	uint32_t len;
};

static void pump_in(struct con_dev *c)
{
	struct port *p = &c->port[c->in_port];
	if (!c->watching || c->paused || c->in_broken || c->in_eof)
		return;
	if (!p->ready || !p->guest_open) {
		in_watch(c, false);
		return;
	}
	if (c->conf.in_fd < 0) {
		in_end(c);
		return;
	}
	unsigned q = rxq(c->in_port);
	struct virtq *vq = &c->vd.q[q].vq;
	if (!vq->enabled)
		return; /* a driver that did not set the port's queues up */
	for (unsigned round = 0; round < IN_ROUNDS; round++) {
		if (c->in_pollable && !c->in_readable) {
			in_watch(c, true);
			return;
		}
		struct in_chain ch[IN_CHAINS];
		unsigned nch = 0, niov = 0;
		while (nch < IN_CHAINS && niov + 16 <= IN_IOV) {
			struct iovec tmp[16];
			struct virtq_elem e = {.iov = tmp, .iov_max = 16};
			mc_err err = NULL;
			int rc = virtq_pop(vq, &e, &err);
			if (rc == VIRTQ_EMPTY)
				break;
			if (rc == VIRTQ_BROKEN) {
				c->in_broken = true;
				virtio_set_needs_reset(&c->vd, mc_error_text(err));
				mc_error_free(&err);
				return;
			}
			if (rc == VIRTQ_BAD_CHAIN || e.n_out || !e.in_len) {
				/* not a receive buffer: given back empty */
				warn_once(c, WARN_IN, "input port: malformed receive chain %lu",
					  e.head);
				mc_error_free(&err);
				if (nch) { /* keep the used ring in pop order: give the rest back */
					virtq_unpop(vq, 1);
					goto give_back_after;
				}
				push(c, q, e.head, 0);
				virtio_notify_queue(&c->vd, q);
				continue;
			}
			memcpy(&c->in_iov[niov], tmp, e.n_in * sizeof(tmp[0]));
			niov += e.n_in;
			ch[nch].head = e.head;
			ch[nch].len = e.in_len > UINT32_MAX ? UINT32_MAX : (uint32_t)e.in_len;
			nch++;
		}
		if (nch == 0) {
			if (virtq_set_notify(vq, true))
				continue;   /* buffers came meanwhile */
			in_watch(c, false); /* the receive queue's kick brings us back */
			return;
		}
	give_back_after:;
		ssize_t r = readv(c->conf.in_fd, c->in_iov, (int)niov);
		if (r < 0 && (errno == EINTR || errno == EAGAIN)) {
			virtq_unpop(vq, (uint16_t)nch);
			c->in_readable = false;
			continue;
		}
		c->in_readable = false;
		if (r <= 0) {
			if (r < 0)
				mc_log_warn("virtio-console: reading stdin: %s (taken as its end)",
					    strerror(errno));
			virtq_unpop(vq, (uint16_t)nch);
			in_end(c);
			return;
		}
		uint64_t left = (uint64_t)r;
		unsigned used = 0;
		while (used < nch && left) {
			uint32_t k = left < ch[used].len ? (uint32_t)left : ch[used].len;
			push(c, q, ch[used].head, k);
			left -= k;
			used++;
		}
		virtq_unpop(vq, (uint16_t)(nch - used));
		virtq_set_notify(vq, false);
		virtio_notify_queue(&c->vd, q);
	}
	virtio_kick(&c->vd, q); /* a long stream: let the other sources have a turn */
}

/* ---- control messages from the guest (lock held, con-ctl) --------------------------------- */

static void port_ready(struct con_dev *c, unsigned id)
{
	struct port *p = &c->port[id];
	p->ready = true;
	if (c->conf.tty) {
		ctl_send(c, id, VIRTIO_CONSOLE_CONSOLE_PORT, 1, NULL, 0);
		send_resize(c);
	}
	/* Open before the name: the guest finds the port by its name, and a read on a port
	 * whose host side is closed returns 0 (end of file) at once. */
	p->host_open = !(id == c->in_port && c->in_eof);
	ctl_send(c, id, VIRTIO_CONSOLE_PORT_OPEN, p->host_open, NULL, 0);
	const char *n = c->conf.tty ? "minivm.tty" : stdio_names[id];
	ctl_send(c, id, VIRTIO_CONSOLE_PORT_NAME, 0, n, strlen(n));
}

static void ctl_handle(struct con_dev *c, uint32_t id, uint16_t event, uint16_t value)
{
	if (event == VIRTIO_CONSOLE_DEVICE_READY) {
		if (value != 1) {
			warn_once(c, WARN_CTL, "the driver failed to set up (DEVICE_READY %lu)",
				  value);
			return;
		}
		for (unsigned k = 0; k < c->nports; k++)
			ctl_send(c, k, VIRTIO_CONSOLE_DEVICE_ADD, 0, NULL, 0);
		return;
	}
	if (id >= c->nports) {
		warn_once(c, WARN_CTL, "control message for port %lu, which does not exist", id);
		return;
	}
	struct port *p = &c->port[id];
	switch (event) {
	case VIRTIO_CONSOLE_PORT_READY:
		if (value != 1)
			warn_once(c, WARN_CTL, "the guest failed to add port %lu", id);
		else if (!p->ready)
			port_ready(c, id);
		break;
	case VIRTIO_CONSOLE_PORT_OPEN:
		p->guest_open = value != 0;
		if (p->guest_open && (c->conf.tty || id != c->in_port))
			atomic_store(&c->used, true);
		if (id == c->in_port) /* con-ctl reads stdin, not the vCPU in its exit */
			virtio_kick(&c->vd, rxq(c->in_port));
		break;
	default:
		break; /* nothing else is sent by a driver */
	}
}

static void ctl_process(struct con_dev *c)
{
	struct virtq *vq = &c->vd.q[3].vq;
	bool pushed = false;
	while (!c->ctl_broken && c->watching && !c->paused && vq->enabled) {
		virtq_set_notify(vq, false);
		for (;;) {
			struct iovec iov[CTL_IOV];
			struct virtq_elem e = {.iov = iov, .iov_max = CTL_IOV};
			mc_err err = NULL;
			int rc = virtq_pop(vq, &e, &err);
			if (rc == VIRTQ_EMPTY)
				break;
			if (rc == VIRTQ_BROKEN) {
				c->ctl_broken = true;
				virtio_set_needs_reset(&c->vd, mc_error_text(err));
				mc_error_free(&err);
				break;
			}
			uint8_t h[CTL_HDR];
			size_t got = 0;
			if (rc == VIRTQ_OK)
				for (unsigned i = 0; i < e.n_out && got < CTL_HDR; i++) {
					size_t k = iov[i].iov_len < CTL_HDR - got ? iov[i].iov_len
										  : CTL_HDR - got;
					memcpy(h + got, iov[i].iov_base, k);
					got += k;
				}
			mc_error_free(&err);
			push(c, 3, e.head, 0);
			pushed = true;
			if (got < CTL_HDR) {
				warn_once(c, WARN_CTL, "control message of %lu bytes ignored", got);
				continue;
			}
			ctl_handle(c, get32(h), get16(h + 4), get16(h + 6));
		}
		if (c->ctl_broken || !virtq_set_notify(vq, true))
			break;
	}
	if (pushed)
		virtio_notify_queue(&c->vd, 3);
}

static void drain_kick(struct con_dev *c, unsigned q)
{
	eventfd_t v;
	(void)eventfd_read(c->vd.q[q].kick_fd, &v);
}

/* The control transmit queue's notify, on the vCPU thread that wrote it (trap_notify). */
static void con_queue_notify(struct virtio_dev *vd, unsigned q)
{
	struct con_dev *c = to_con(vd);
	if (q != 3) {
		virtio_kick(vd, q);
		return;
	}
	pthread_mutex_lock(&c->lock);
	ctl_process(c);
	pthread_mutex_unlock(&c->lock);
}

/* con-ctl's one callback: take the kick, then the source's step under the lock. */
static void on_ctl_wake(void *opaque, uint32_t events)
{
	const struct ctl_wake *w = opaque;
	struct con_dev *c = w->c;
	(void)events;
	if (w->src == WAKE_CTL_RX)
		drain_kick(c, 2);
	else if (w->src == WAKE_IN_KICK)
		drain_kick(c, rxq(c->in_port));
	pthread_mutex_lock(&c->lock);
	switch (w->src) {
	case WAKE_CTL_RX:
		ctl_flush(c);
		break;
	case WAKE_STDIN:
		c->in_readable = true;
		pump_in(c);
		break;
	case WAKE_IN_KICK:
	default:
		pump_in(c);
		break;
	}
	pthread_mutex_unlock(&c->lock);
}

/* ---- output ports -> host fds (con-out / con-err) ----------------------------------------- */

/* The whole of iov to the host fd, blocking. A host fd that fails (EPIPE: nobody reads
 * minivm's stdout any more) drops the rest of the stream, as a closed pipe would. */
static void out_write(struct out_stream *s, struct iovec *iov, unsigned n)
{
	while (n && !s->dead) {
		if (iov->iov_len == 0) {
			iov++, n--;
			continue;
		}
		ssize_t w = writev(s->fd, iov, (int)(n > IOV_MAX ? IOV_MAX : n));
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) { /* an fd someone else made non-blocking */
				struct pollfd pfd = {.fd = s->fd, .events = POLLOUT};
				(void)poll(&pfd, 1, -1);
				continue;
			}
			mc_log_warn(
			    "virtio-console: writing the guest's %s: %s (dropped from now on)",
			    s->what, strerror(errno));
			s->dead = true;
			return;
		}
		size_t k = (size_t)w;
		while (n && k >= iov->iov_len) {
			k -= iov->iov_len;
			iov++, n--;
		}
		if (n) {
			iov->iov_base = (uint8_t *)iov->iov_base + k;
			iov->iov_len -= k;
		}
	}
}

/* Pop, write, push until the ring is empty (or batch chains: then come back by a kick). */
static void out_process(struct out_stream *s, unsigned batch)
{
	struct con_dev *c = s->c;
	struct virtq *vq = &c->vd.q[s->q].vq;
	unsigned n = 0;
	while (!s->broken && vq->enabled) {
		virtq_set_notify(vq, false);
		for (;;) {
			if (batch && n == batch) {
				virtio_kick(&c->vd, s->q);
				return;
			}
			struct virtq_elem e = {.iov = s->iov, .iov_max = OUT_IOV};
			mc_err err = NULL;
			int rc = virtq_pop(vq, &e, &err);
			if (rc == VIRTQ_EMPTY)
				break;
			if (rc == VIRTQ_BROKEN) {
				s->broken = true;
				virtio_set_needs_reset(&c->vd, mc_error_text(err));
				mc_error_free(&err);
				return;
			}
			if (rc == VIRTQ_BAD_CHAIN) {
				warn_once(c, WARN_OUT, "output port: malformed chain %lu", e.head);
				mc_error_free(&err);
			} else if (s->fd >= 0) {
				out_write(s, e.iov, e.n_out); /* only the readable part is data */
			}
			push(c, s->q, e.head, 0);
			n++;
			virtio_notify_queue(&c->vd, s->q);
		}
		if (!virtq_set_notify(vq, true))
			break;
	}
}

static void on_out_kick(void *opaque, uint32_t events)
{
	struct out_stream *s = opaque;
	(void)events;
	drain_kick(s->c, s->q);
	out_process(s, OUT_BATCH);
}

/* ---- watching (vd->lock held) ---------------------------------------------------------- */

static void watch_off(struct con_dev *c)
{
	for (unsigned i = 0; i < c->nout; i++) {
		struct out_stream *s = &c->out[i];
		if (s->watching)
			iothread_del(s->t, c->vd.q[s->q].kick_fd);
		s->watching = false;
	}
	pthread_mutex_lock(&c->lock);
	bool was = c->watching;
	c->watching = false;
	pthread_mutex_unlock(&c->lock);
	if (!was)
		return;
	iothread_del(c->t, c->vd.q[2].kick_fd);
	iothread_del(c->t, c->vd.q[rxq(c->in_port)].kick_fd);
	if (c->in_added)
		iothread_del(c->t, c->conf.in_fd);
	c->in_added = false; /* the thread no longer runs our callbacks */
}

static int watch_on(struct con_dev *c, mc_err *err)
{
	if (c->watching)
		return 0;
	if (iothread_add(c->t, c->vd.q[2].kick_fd, EPOLLIN, on_ctl_wake, &c->wake[WAKE_CTL_RX],
			 err) < 0 ||
	    iothread_add(c->t, c->vd.q[rxq(c->in_port)].kick_fd, EPOLLIN, on_ctl_wake,
			 &c->wake[WAKE_IN_KICK], err) < 0)
		goto fail;
	pthread_mutex_lock(&c->lock);
	c->watching = true;
	pthread_mutex_unlock(&c->lock);
	for (unsigned i = 0; i < c->nout; i++) {
		struct out_stream *s = &c->out[i];
		if (iothread_add(s->t, c->vd.q[s->q].kick_fd, EPOLLIN, on_out_kick, s, err) < 0)
			goto fail;
		s->watching = true;
		virtio_kick(&c->vd, s->q);
	}
	/* What the driver queued while we did not watch (a load, a pause). */
	pthread_mutex_lock(&c->lock);
	ctl_process(c);
	pthread_mutex_unlock(&c->lock);
	virtio_kick(&c->vd, 2);
	virtio_kick(&c->vd, rxq(c->in_port));
	return 0;
fail:
	c->watching = true;
	watch_off(c);
	return -1;
}

/* ---- virtio_dev_ops -------------------------------------------------------------------- */

static void con_config_read(struct virtio_dev *vd, uint32_t off, uint8_t *data, uint32_t len)
{
	memcpy(data, to_con(vd)->config + off, len); /* the core checked off + len */
}

static int con_features_ok(struct virtio_dev *vd, uint64_t f, mc_err *err)
{
	(void)vd;
	if (!(f & (1ull << VIRTIO_CONSOLE_F_MULTIPORT)))
		return mc_errorf(err, 0,
				 "virtio-console: the driver did not take MULTIPORT (stdin, "
				 "stdout and stderr are ports of their own)");
	return 0;
}

static int con_realize(struct virtio_dev *vd, struct vm *vm, mc_err *err)
{
	struct con_dev *c = to_con(vd);
	(void)vm;
	if (iothread_create(&c->t, "con-ctl", err) < 0)
		return -1;
	for (unsigned i = 0; i < c->nout; i++)
		if (iothread_create(&c->out[i].t, i ? "con-err" : "con-out", err) < 0)
			return -1;
	/* epoll refuses regular files and /dev/null (EPERM): those never block, read them
	 * whenever the guest has room. */
	if (c->conf.in_fd >= 0) {
		int ep = epoll_create1(EPOLL_CLOEXEC);
		struct epoll_event ev = {.events = EPOLLIN};
		c->in_pollable = ep >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, c->conf.in_fd, &ev) == 0;
		if (ep >= 0)
			close(ep);
	}
	c->in_readable = !c->in_pollable;
	return 0;
}

static void ports_reset(struct con_dev *c)
{
	for (unsigned k = 0; k < VIRTIO_CONSOLE_MAX_PORTS; k++)
		c->port[k] = (struct port){0};
	c->fifo_head = c->fifo_len = 0;
	c->ctl_broken = c->in_broken = false;
	for (unsigned i = 0; i < c->nout; i++)
		c->out[i].broken = false;
}

static int con_start(struct virtio_dev *vd, mc_err *err)
{
	struct con_dev *c = to_con(vd);
	if (vd->paused)
		return 0; /* resume watches */
	return watch_on(c, err);
}

static void con_stop(struct virtio_dev *vd)
{
	struct con_dev *c = to_con(vd);
	watch_off(c);
	/* Linux resets every virtio device at poweroff (virtio_dev_shutdown, in Debian's 6.1
	 * too): what the command wrote last may still be in the rings, which the core resets
	 * after this. Write it out first (blocking this vCPU until the host fds took it;
	 * watch_off waited for the output threads' callbacks). */
	for (unsigned i = 0; i < c->nout; i++)
		out_process(&c->out[i], 0);
	pthread_mutex_lock(&c->lock);
	ports_reset(c);
	pthread_mutex_unlock(&c->lock);
}

static void con_pause(struct virtio_dev *vd)
{
	struct con_dev *c = to_con(vd);
	pthread_mutex_lock(&c->lock);
	c->paused = true;
	pthread_mutex_unlock(&c->lock);
	iothread_pause(c->t);
	for (unsigned i = 0; i < c->nout; i++)
		iothread_pause(c->out[i].t);
}

static void con_resume(struct virtio_dev *vd)
{
	struct con_dev *c = to_con(vd);
	pthread_mutex_lock(&c->lock);
	c->paused = false;
	pthread_mutex_unlock(&c->lock);
	iothread_resume(c->t);
	for (unsigned i = 0; i < c->nout; i++)
		iothread_resume(c->out[i].t);
	if (vd->started) {
		mc_err err = NULL;
		if (watch_on(c, &err) < 0) {
			virtio_set_needs_reset(vd, mc_error_text(err));
			mc_error_free(&err);
		}
		for (unsigned q = 0; q < vd->nqueues; q++)
			virtio_kick(vd, q);
		pthread_mutex_lock(&c->lock);
		ctl_process(c); /* the control transmit queue has no kick fd to wake */
		pthread_mutex_unlock(&c->lock);
	}
}

/* Model state: the port count, per port {ready, guest_open, host_open}, stdin's end, the
 * control FIFO. */
static void con_save(struct virtio_dev *vd, struct state_w *w)
{
	struct con_dev *c = to_con(vd);
	pthread_mutex_lock(&c->lock);
	state_put8(w, STATE_FORMAT);
	state_put8(w, (uint8_t)c->nports);
	for (unsigned k = 0; k < c->nports; k++) {
		const struct port *p = &c->port[k];
		state_put8(w, (uint8_t)(p->ready | p->guest_open << 1 | p->host_open << 2));
	}
	state_put8(w, c->in_eof);
	state_put16(w, (uint16_t)c->fifo_len);
	for (unsigned i = 0; i < c->fifo_len; i++) {
		const struct ctl_msg *m = &c->fifo[(c->fifo_head + i) % CTL_FIFO];
		state_put16(w, m->len);
		state_put(w, m->b, m->len);
	}
	pthread_mutex_unlock(&c->lock);
}

static int con_load(struct virtio_dev *vd, uint32_t version, struct state_r *r, mc_err *err)
{
	struct con_dev *c = to_con(vd);
	(void)version;
	uint8_t fmt = state_get8(r);
	if (!r->bad && fmt != STATE_FORMAT)
		return mc_errorf(err, 0, "virtio-console: state format %u", fmt);
	uint8_t nports = state_get8(r);
	if (!r->bad && nports != c->nports)
		return mc_errorf(err, 0,
				 "virtio-console: the saved device has %u ports, this VM's %u "
				 "(-t on one side only)",
				 nports, c->nports);
	uint8_t fl[VIRTIO_CONSOLE_MAX_PORTS];
	for (unsigned k = 0; k < c->nports; k++)
		fl[k] = state_get8(r);
	bool eof = state_get8(r) != 0;
	uint16_t n = state_get16(r);
	if (r->bad || n > CTL_FIFO)
		return mc_errorf(err, 0, "virtio-console: bad saved state");
	pthread_mutex_lock(&c->lock);
	ports_reset(c);
	for (unsigned k = 0; k < c->nports; k++) {
		struct port *p = &c->port[k];
		p->ready = fl[k] & 1;
		p->guest_open = fl[k] & 2;
		p->host_open = fl[k] & 4;
	}
	c->in_eof = eof;
	int rc = 0;
	for (unsigned i = 0; i < n && rc == 0; i++) {
		uint16_t len = state_get16(r);
		const uint8_t *b = len >= CTL_HDR && len <= CTL_MSG_MAX ? state_get(r, len) : NULL;
		if (r->bad || !b) {
			rc = mc_errorf(err, 0, "virtio-console: bad saved control message");
			break;
		}
		c->fifo[i].len = len;
		memcpy(c->fifo[i].b, b, len);
		c->fifo_len++;
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

static void con_destroy(struct virtio_dev *vd)
{
	struct con_dev *c = to_con(vd);
	watch_off(c);
	iothread_destroy(c->t);
	for (unsigned i = 0; i < c->nout; i++)
		iothread_destroy(c->out[i].t);
	pthread_mutex_destroy(&c->lock);
}

static const struct virtio_dev_ops con_ops = {
    .config_read = con_config_read,
    .features_ok = con_features_ok,
    .realize = con_realize,
    .start = con_start,
    .stop = con_stop,
    .pause = con_pause,
    .resume = con_resume,
    .queue_notify = con_queue_notify,
    .save = con_save,
    .load = con_load,
    .destroy = con_destroy,
};

struct device *virtio_console_create(const struct virtio_console_conf *conf,
				     const struct virtio_transport_ops *tops, void *transport,
				     mc_err *err)
{
	struct con_dev *c = calloc(1, sizeof(*c));
	if (!c) {
		mc_errorf(err, ENOMEM, "virtio-console");
		return NULL;
	}
	c->conf = *conf;
	pthread_mutex_init(&c->lock, NULL);
	c->rows = conf->rows ? conf->rows : 24;
	c->cols = conf->cols ? conf->cols : 80;
	if (conf->tty) {
		c->nports = 1;
		c->in_port = VIRTIO_CONSOLE_PORT_TTY;
		c->out[0] = (struct out_stream){
		    .what = "terminal output", .port = 0, .q = txq(0), .fd = conf->out_fd};
		c->nout = 1;
	} else {
		c->nports = VIRTIO_CONSOLE_MAX_PORTS;
		c->in_port = VIRTIO_CONSOLE_PORT_IN;
		c->out[0] = (struct out_stream){.what = "stdout",
						.port = VIRTIO_CONSOLE_PORT_OUT,
						.q = txq(VIRTIO_CONSOLE_PORT_OUT),
						.fd = conf->out_fd};
		c->out[1] = (struct out_stream){.what = "stderr",
						.port = VIRTIO_CONSOLE_PORT_ERR,
						.q = txq(VIRTIO_CONSOLE_PORT_ERR),
						.fd = conf->err_fd};
		c->nout = 2;
	}
	for (unsigned i = 0; i < c->nout; i++)
		c->out[i].c = c;
	for (unsigned i = 0; i < NWAKE; i++)
		c->wake[i] = (struct ctl_wake){.c = c, .src = (enum wake_src)i};
	/* F_SIZE: Linux applies a multiport console port's RESIZE only with it (it reads the
	 * config's cols and rows only without MULTIPORT; they hold the size all the same). */
	put16(c->config, c->cols);
	put16(c->config + 2, c->rows);
	put32(c->config + 4, c->nports);
	unsigned nq = 2 * (c->nports + 1);
	if (virtio_dev_init(&c->vd, "virtio-console", VIRTIO_ID_CONSOLE,
			    1ull << VIRTIO_CONSOLE_F_MULTIPORT | 1ull << VIRTIO_CONSOLE_F_SIZE,
			    VIRTIO_CONSOLE_CONFIG_LEN, nq, VIRTIO_CONSOLE_IDLE_SIZE, &con_ops, tops,
			    transport, err) < 0) {
		pthread_mutex_destroy(&c->lock);
		free(c);
		return NULL;
	}
	/* full size only where a stream flows: the input's receive queue, the outputs'
	 * transmit queues; the control queues hold a few messages at a time */
	c->vd.q[rxq(c->in_port)].max_size = VIRTIO_CONSOLE_QUEUE_SIZE;
	for (unsigned i = 0; i < c->nout; i++)
		c->vd.q[c->out[i].q].max_size = VIRTIO_CONSOLE_QUEUE_SIZE;
	c->vd.q[2].max_size = c->vd.q[3].max_size = VIRTIO_CONSOLE_CTL_SIZE;
	c->vd.q[3].trap_notify = true; /* answered in the exit: con_queue_notify */
	/* an ioeventfd only where a stream flows: the other directions are notified once, when
	 * Linux fills them at probe time (or never), the control receive queue a few times */
	for (unsigned q = 0; q < nq; q++)
		c->vd.q[q].no_ioeventfd = c->vd.q[q].max_size != VIRTIO_CONSOLE_QUEUE_SIZE;
	c->vd.msix_vectors = MSIX_VECTORS;
	return &c->vd.dev;
}

static struct con_dev *from_dev(struct device *d)
{
	struct virtio_dev *vd = (struct virtio_dev *)d;
	return d && vd->ops == &con_ops ? (struct con_dev *)vd : NULL;
}

void virtio_console_resize(struct device *d, uint16_t rows, uint16_t cols)
{
	struct con_dev *c = from_dev(d);
	if (!c || !c->conf.tty)
		return;
	pthread_mutex_lock(&c->lock);
	if (rows != c->rows || cols != c->cols) {
		c->rows = rows;
		c->cols = cols;
		put16(c->config, cols);
		put16(c->config + 2, rows);
		if (c->port[VIRTIO_CONSOLE_PORT_TTY].ready)
			send_resize(c);
	}
	pthread_mutex_unlock(&c->lock);
}

void virtio_console_flush(struct device *d)
{
	struct con_dev *c = from_dev(d);
	if (!c)
		return;
	virtio_lock(&c->vd);
	bool live = c->vd.started && !c->vd.paused;
	virtio_unlock(&c->vd);
	if (!live)
		return;
	for (unsigned i = 0; i < c->nout; i++) {
		struct out_stream *s = &c->out[i];
		iothread_pause(s->t); /* waits for a write in progress */
		out_process(s, 0);
		iothread_resume(s->t);
	}
}

bool virtio_console_used(struct device *d)
{
	struct con_dev *c = from_dev(d);
	return c && atomic_load(&c->used);
}

bool virtio_console_tty(struct device *d)
{
	struct con_dev *c = from_dev(d);
	return c && c->conf.tty;
}
