/* virtio-blk (blk.h): requests popped on the device's I/O thread, checked, handed to the block
 * backend (blk_io.h) and completed into the used ring on the same thread.
 *
 * A request (5.2.6): a 16-byte header {le32 type; le32 reserved; le64 sector} in the readable
 * part, data (readable for OUT, writable for IN and GET_ID), and one status byte, the last
 * writable byte. Nothing is assumed about how the driver splits that into descriptors: the
 * header is gathered (copied) across readable buffers and checked after the copy; the data
 * iovecs are the chain's minus the header and the status byte.
 *
 * One queue. Its kick fd is watched from start to stop (and not while paused). Stop and pause
 * stop watching it, which the I/O thread guarantees leaves no kick callback running, then wait
 * until every request in flight has completed: the completion pass publishes the in-flight
 * count as its last step, so once it reads zero the I/O thread touches the queue no more.
 */
#include "virtio/blk.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "bytes.h"
#include "log.h"
#include "virtio/blk_dirty.h"
#include "virtio/blk_io.h"
#include "virtio/iothread.h"

#define SECTOR	      512u
#define HDR_BYTES     16u
#define DWZ_BYTES     16u /* struct virtio_blk_discard_write_zeroes */
#define IOV_MAX_REQ   (VIRTIO_BLK_SEG_MAX + 2)
#define DISCARD_ALIGN 8u /* sectors: 4 KiB, the host file system's hole granularity */
/* Kicks stay off while at least this many requests are in flight: a completion pass comes soon
 * and pops what the driver added meanwhile (a kick is a VM exit, dear in nested
 * virtualization). Below it they are on, so a lone request is seen at once. */
#define HOLD_INFLIGHT 4u

#define BLK_FEATURES                                                                               \
	((1ull << VIRTIO_BLK_F_SEG_MAX) | (1ull << VIRTIO_BLK_F_BLK_SIZE) |                        \
	 (1ull << VIRTIO_BLK_F_FLUSH) | (1ull << VIRTIO_BLK_F_TOPOLOGY))
#define BLK_FEATURES_RW ((1ull << VIRTIO_BLK_F_DISCARD) | (1ull << VIRTIO_BLK_F_WRITE_ZEROES))

struct blk_dev;

struct blk_req {
	struct blk_io_req io; /* first: the backend's completion gives it back */
	struct blk_dev *dev;
	struct blk_req *next_free;
	uint16_t head;
	uint8_t *status;
	uint32_t used_len;
	struct iovec iov[IOV_MAX_REQ];
};

/* Malformed-request kinds, each logged once per device. */
enum { WARN_CHAIN = 1, WARN_NO_STATUS = 2, WARN_HEADER = 4, WARN_IO = 8 };

struct blk_dev {
	struct virtio_dev vd; /* first */
	char name[24];
	char *path;
	struct blk_disk disk;
	struct blk_io *io;
	struct iothread *t;
	uint64_t capacity; /* sectors */
	uint8_t config[VIRTIO_BLK_CONFIG_LEN];
	struct blk_dirty dirty; /* the blocks written, for copy-storage migration */

	/* The I/O thread's. */
	struct blk_req *reqs, *free;
	bool starved;	    /* popping stopped: every request struct in flight */
	bool holding;	    /* kicks off (HOLD_INFLIGHT): completion passes pop */
	bool broken;	    /* the ring is corrupt: no pop until the driver resets us */
	bool dsync;	    /* FLUSH not negotiated: writes are write-through */
	unsigned pushed;    /* used elements since the last notify */
	unsigned completed; /* in this completion pass */
	_Atomic unsigned inflight;
	/* Counted for MINI_DEBUG=1 (logged when the device goes): requests taken from the ring,
	 * kicks handled, completion passes, interrupts sent, passes that left kicks off. */
	unsigned long long n_reqs, n_kicks, n_passes, n_irqs, n_holds;

	/* Watching the kick fd (vd->lock held to change it). */
	bool watching;
	_Atomic bool accepting;
	_Atomic bool draining;
	pthread_mutex_t wait_lock;
	pthread_cond_t wait_cond;

	_Atomic unsigned warned;
};

static struct blk_dev *to_blk(struct virtio_dev *vd)
{
	return (struct blk_dev *)vd;
}

static void warn_once(struct blk_dev *b, unsigned kind, const char *fmt, const char *detail)
{
	if (atomic_fetch_or(&b->warned, kind) & kind)
		return;
	mc_log_warn("%s: %s%s%s (logged once)", b->name, fmt, detail ? ": " : "",
		    detail ? detail : "");
}

/* ---- requests ----------------------------------------------------------------------------- */

/* Copy len bytes from offset off of the iovecs into dst; false when they hold fewer. */
static bool iov_gather(const struct iovec *iov, unsigned n, uint64_t off, void *dst, size_t len)
{
	uint8_t *d = dst;
	for (unsigned i = 0; i < n && len; i++) {
		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		size_t k = iov[i].iov_len - off;
		if (k > len)
			k = len;
		memcpy(d, (uint8_t *)iov[i].iov_base + off, k);
		d += k;
		len -= k;
		off = 0;
	}
	return len == 0;
}

static void req_put(struct blk_dev *b, struct blk_req *r)
{
	r->next_free = b->free;
	b->free = r;
}

/* Status into the guest's byte, the chain into the used ring. */
static void req_finish(struct blk_dev *b, struct blk_req *r, uint8_t status)
{
	__atomic_store_n(r->status, status, __ATOMIC_RELAXED);
	mc_err err = NULL;
	if (virtq_push(&b->vd.q[0].vq, r->head, r->used_len, &err) < 0) {
		virtio_set_needs_reset(&b->vd, mc_error_text(err));
		mc_error_free(&err);
	}
	b->pushed++;
	req_put(b, r);
}

/* A chain we cannot answer with a status (a broken chain, no status byte): used length 0. */
static void req_drop(struct blk_dev *b, struct blk_req *r)
{
	mc_err err = NULL;
	if (virtq_push(&b->vd.q[0].vq, r->head, 0, &err) < 0) {
		virtio_set_needs_reset(&b->vd, mc_error_text(err));
		mc_error_free(&err);
	}
	b->pushed++;
	req_put(b, r);
}

static void req_submit(struct blk_dev *b, struct blk_req *r)
{
	atomic_fetch_add(&b->inflight, 1);
	blk_io_submit(b->io, &r->io);
}

/* Sectors [sector, sector + n) inside the disk. */
static bool in_range(const struct blk_dev *b, uint64_t sector, uint64_t n)
{
	return sector <= b->capacity && n <= b->capacity - sector;
}

/* Discard and write-zeroes: one segment {le64 sector; le32 num_sectors; le32 flags} after the
 * header. */
static int dwz(struct blk_dev *b, struct blk_req *r, uint32_t type, const struct iovec *iov,
	       unsigned n_out, uint64_t out_len)
{
	unsigned feature =
	    type == VIRTIO_BLK_T_DISCARD ? VIRTIO_BLK_F_DISCARD : VIRTIO_BLK_F_WRITE_ZEROES;
	if (b->disk.ro)
		return VIRTIO_BLK_S_IOERR;
	if (!virtio_has_feature(&b->vd, feature))
		return VIRTIO_BLK_S_UNSUPP;
	uint64_t seg_bytes = out_len - HDR_BYTES;
	if (seg_bytes == 0 || seg_bytes % DWZ_BYTES)
		return VIRTIO_BLK_S_IOERR;
	if (seg_bytes > DWZ_BYTES)
		return VIRTIO_BLK_S_UNSUPP; /* max_discard_seg = max_write_zeroes_seg = 1 */
	uint8_t seg[DWZ_BYTES];
	if (!iov_gather(iov, n_out, HDR_BYTES, seg, sizeof(seg)))
		return VIRTIO_BLK_S_IOERR;
	uint64_t sector = get64(seg);
	uint32_t num = get32(seg + 8), flags = get32(seg + 12);
	if (flags & ~VIRTIO_BLK_DWZ_F_UNMAP)
		return VIRTIO_BLK_S_UNSUPP;
	if (type == VIRTIO_BLK_T_DISCARD && flags)
		return VIRTIO_BLK_S_UNSUPP; /* the spec: unmap is write-zeroes' flag */
	if (num > VIRTIO_BLK_MAX_SECTORS || !in_range(b, sector, num))
		return VIRTIO_BLK_S_IOERR;
	if (num == 0)
		return VIRTIO_BLK_S_OK;
	r->io = (struct blk_io_req){
	    .op = type == VIRTIO_BLK_T_DISCARD ? BLK_OP_DISCARD : BLK_OP_WRITE_ZEROES,
	    .unmap = flags & VIRTIO_BLK_DWZ_F_UNMAP,
	    .off = sector * SECTOR,
	    .len = (uint64_t)num * SECTOR,
	};
	req_submit(b, r);
	return -1;
}

/* A popped chain: submit it (returns) or finish it now. */
static void handle(struct blk_dev *b, struct blk_req *r, const struct virtq_elem *e)
{
	r->head = e->head;
	struct iovec *iov = r->iov;
	if (e->n_in == 0) {
		/* No writable buffer, so no status byte: nothing to answer with. */
		warn_once(b, WARN_NO_STATUS, "request without a writable status byte", NULL);
		req_drop(b, r);
		return;
	}
	struct iovec *last = &iov[e->n_out + e->n_in - 1];
	r->status = (uint8_t *)last->iov_base + last->iov_len - 1;
	r->used_len = (uint32_t)e->in_len;
	uint8_t hdr[HDR_BYTES];
	if (e->out_len < HDR_BYTES || !iov_gather(iov, e->n_out, 0, hdr, sizeof(hdr))) {
		warn_once(b, WARN_HEADER, "request header shorter than 16 bytes", NULL);
		req_finish(b, r, VIRTIO_BLK_S_IOERR);
		return;
	}
	uint32_t type = get32(hdr);
	uint64_t sector = get64(hdr + 8);
	/* The writable data: the in part minus the status byte. */
	struct iovec *in = &iov[e->n_out];
	unsigned n_in = e->n_in;
	uint64_t in_data = e->in_len - 1;
	last->iov_len--;
	if (last->iov_len == 0)
		n_in--;
	int status;
	switch (type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT: {
		bool write = type == VIRTIO_BLK_T_OUT;
		struct iovec *data = in;
		unsigned n = n_in;
		uint64_t len = in_data;
		if (write) {
			/* The readable part after the header. */
			uint64_t skip = HDR_BYTES;
			data = iov;
			n = e->n_out;
			while (n && skip >= data->iov_len) {
				skip -= data->iov_len;
				data++;
				n--;
			}
			if (n) {
				data->iov_base = (uint8_t *)data->iov_base + skip;
				data->iov_len -= skip;
			}
			len = e->out_len - HDR_BYTES;
		}
		if (write && b->disk.ro) {
			status = VIRTIO_BLK_S_IOERR;
			break;
		}
		if (len % SECTOR || !in_range(b, sector, len / SECTOR)) {
			status = VIRTIO_BLK_S_IOERR;
			break;
		}
		if (len == 0) {
			status = VIRTIO_BLK_S_OK;
			break;
		}
		r->io = (struct blk_io_req){
		    .op = write ? BLK_OP_WRITE : BLK_OP_READ,
		    .dsync = write && b->dsync,
		    .iov = data,
		    .niov = n,
		    .off = sector * SECTOR,
		    .len = len,
		};
		req_submit(b, r);
		return;
	}
	case VIRTIO_BLK_T_FLUSH:
		if (b->disk.ro) {
			status = VIRTIO_BLK_S_OK; /* nothing was written */
			break;
		}
		r->io = (struct blk_io_req){.op = BLK_OP_FLUSH};
		req_submit(b, r);
		return;
	case VIRTIO_BLK_T_GET_ID: {
		/* 20 bytes, zero-padded, not NUL-terminated when all 20 are used. */
		uint8_t id[VIRTIO_BLK_ID_BYTES] = {0};
		const char *s = blk_io_serial(b->io);
		memcpy(id, s, strnlen(s, sizeof(id)));
		uint64_t k = in_data < sizeof(id) ? in_data : sizeof(id);
		for (unsigned i = 0, off = 0; i < n_in && off < k; i++) {
			size_t c = in[i].iov_len < k - off ? in[i].iov_len : (size_t)(k - off);
			memcpy(in[i].iov_base, id + off, c);
			off += (unsigned)c;
		}
		status = VIRTIO_BLK_S_OK;
		break;
	}
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		status = dwz(b, r, type, iov, e->n_out, e->out_len);
		if (status < 0)
			return;
		break;
	default:
		status = VIRTIO_BLK_S_UNSUPP;
		break;
	}
	req_finish(b, r, (uint8_t)status);
}

static void notify(struct blk_dev *b)
{
	if (b->pushed) {
		b->pushed = 0;
		b->n_irqs += virtio_notify_queue(&b->vd, 0);
	}
}

/* Requests submitted and not completed yet (I/O thread: a completion pass has counted its own
 * in b->completed and not taken them off inflight yet). */
static unsigned outstanding(struct blk_dev *b)
{
	return atomic_load(&b->inflight) - b->completed;
}

/* Pop and handle until the ring is empty (with notifications off meanwhile), then submit.
 * Notifications stay off while HOLD_INFLIGHT requests are in flight: the next completion
 * pass calls us again. */
static void process(struct blk_dev *b)
{
	struct virtq *vq = &b->vd.q[0].vq;
	b->holding = false;
	while (!b->broken && atomic_load(&b->accepting)) {
		virtq_set_notify(vq, false);
		for (;;) {
			struct blk_req *r = b->free;
			if (!r) {
				b->starved = true; /* completions call us again */
				break;
			}
			struct virtq_elem e = {.iov = r->iov, .iov_max = IOV_MAX_REQ};
			mc_err err = NULL;
			int rc = virtq_pop(vq, &e, &err);
			if (rc == VIRTQ_EMPTY)
				break;
			if (rc == VIRTQ_BROKEN) {
				b->broken = true;
				virtio_set_needs_reset(&b->vd, mc_error_text(err));
				mc_error_free(&err);
				break;
			}
			b->free = r->next_free;
			b->n_reqs++;
			if (rc == VIRTQ_BAD_CHAIN) {
				warn_once(b, WARN_CHAIN, "malformed request", mc_error_text(err));
				mc_error_free(&err);
				r->head = e.head;
				req_drop(b, r);
				continue;
			}
			handle(b, r, &e);
		}
		if (b->starved || b->broken)
			break;
		if (outstanding(b) >= HOLD_INFLIGHT) {
			b->holding = true;
			b->n_holds++;
			break;
		}
		if (!virtq_set_notify(vq, true))
			break;
	}
	blk_io_kick(b->io);
	notify(b);
}

static void on_kick(void *opaque, uint32_t events)
{
	struct blk_dev *b = opaque;
	(void)events;
	eventfd_t v;
	(void)eventfd_read(b->vd.q[0].kick_fd, &v);
	b->n_kicks++;
	process(b);
}

static const char *op_name(enum blk_op op)
{
	static const char *const names[] = {"read", "write", "flush", "discard", "write-zeroes"};
	return (unsigned)op < sizeof(names) / sizeof(names[0]) ? names[op] : "?";
}

static void on_done(void *opaque, struct blk_io_req *io, int res)
{
	struct blk_dev *b = opaque;
	struct blk_req *r = (struct blk_req *)io;
	/* Copy-storage migration: the bytes are in the file now (a failed write may have
	 * changed part of its range too). */
	if (io->op == BLK_OP_WRITE || io->op == BLK_OP_DISCARD || io->op == BLK_OP_WRITE_ZEROES)
		blk_dirty_mark(&b->dirty, io->off, io->len);
	if (res < 0) {
		/* The guest gets IOERR; the first host error is logged with its cause. */
		char what[96];
		snprintf(what, sizeof(what), "%s at byte %llu: %s", op_name(io->op),
			 (unsigned long long)io->off, strerror(-res));
		warn_once(b, WARN_IO, "host I/O error (the guest sees IOERR)", what);
	}
	req_finish(b, r, res < 0 ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK);
	b->completed++;
}

/* After a completion pass: interrupt, go on popping if we had run out of request structs,
 * then publish the in-flight count (last: a waiting stop/pause may return once it is 0). */
static void on_batch(void *opaque)
{
	struct blk_dev *b = opaque;
	b->n_passes++;
	if (b->starved || b->holding) {
		/* New requests first (submitted before the interrupt), one interrupt for both. */
		b->starved = false;
		process(b);
	} else {
		notify(b);
		blk_io_kick(b->io); /* SQEs a busy ring left queued */
	}
	unsigned n = b->completed;
	b->completed = 0;
	if (atomic_fetch_sub(&b->inflight, n) == n && atomic_load(&b->draining)) {
		pthread_mutex_lock(&b->wait_lock);
		pthread_cond_broadcast(&b->wait_cond);
		pthread_mutex_unlock(&b->wait_lock);
	}
}

/* ---- watching the queue (vd->lock held) ------------------------------------------------- */

static void watch_off(struct blk_dev *b)
{
	if (!b->watching)
		return;
	atomic_store(&b->accepting, false);
	/* No kick callback runs after this, and completions no longer pop. */
	iothread_del(b->t, b->vd.q[0].kick_fd);
	pthread_mutex_lock(&b->wait_lock);
	atomic_store(&b->draining, true);
	while (atomic_load(&b->inflight))
		pthread_cond_wait(&b->wait_cond, &b->wait_lock);
	atomic_store(&b->draining, false);
	pthread_mutex_unlock(&b->wait_lock);
	b->watching = false;
}

static int watch_on(struct blk_dev *b, mc_err *err)
{
	if (b->watching || !b->vd.q[0].vq.enabled)
		return 0;
	atomic_store(&b->accepting, true);
	if (iothread_add(b->t, b->vd.q[0].kick_fd, EPOLLIN, on_kick, b, err) < 0) {
		atomic_store(&b->accepting, false);
		return -1;
	}
	b->watching = true;
	/* Buffers made available while we were not watching (a load, a pause): look now. */
	virtio_kick(&b->vd, 0);
	return 0;
}

/* ---- virtio_dev_ops --------------------------------------------------------------------- */

static void blk_config_read(struct virtio_dev *vd, uint32_t off, uint8_t *data, uint32_t len)
{
	memcpy(data, to_blk(vd)->config + off, len); /* the core checked off + len */
}

static int blk_realize(struct virtio_dev *vd, struct vm *vm, mc_err *err)
{
	struct blk_dev *b = to_blk(vd);
	(void)vm;
	struct blk_io_opts o = {.path = b->disk.path,
				.ro = b->disk.ro,
				.direct = b->disk.direct,
				.engine = (enum blk_engine)b->disk.engine,
				.depth = VIRTIO_BLK_QUEUE_SIZE};
	if (blk_io_open(&b->io, &o, err) < 0)
		return -1;
	b->capacity = blk_io_size(b->io) / SECTOR;
	if (blk_dirty_init(&b->dirty, b->capacity * SECTOR, err) < 0)
		return mc_wrap(err, "%s", b->name);
	char tname[16];
	snprintf(tname, sizeof(tname), "blk%s-io", b->name + strlen("virtio-blk"));
	if (iothread_create(&b->t, tname, err) < 0)
		return -1;
	struct blk_io_cb cb = {.done = on_done, .batch = on_batch, .opaque = b};
	if (blk_io_start(b->io, b->t, &cb, err) < 0)
		return -1;
	b->reqs = calloc(VIRTIO_BLK_QUEUE_SIZE, sizeof(*b->reqs));
	if (!b->reqs)
		return mc_errorf(err, ENOMEM, "request table");
	for (unsigned i = VIRTIO_BLK_QUEUE_SIZE; i-- > 0;) {
		b->reqs[i].dev = b;
		req_put(b, &b->reqs[i]);
	}
	uint8_t *c = b->config;
	put64(c + VIRTIO_BLK_CFG_CAPACITY, b->capacity);
	put32(c + VIRTIO_BLK_CFG_SEG_MAX, VIRTIO_BLK_SEG_MAX);
	put32(c + VIRTIO_BLK_CFG_BLK_SIZE, SECTOR);
	/* topology: physical block 2^3 logical blocks (4 KiB), min/opt I/O size 8 blocks */
	c[24] = 3;
	put16(c + 26, 8);
	put32(c + 28, 0);
	put16(c + VIRTIO_BLK_CFG_NUM_QUEUES, 1);
	put32(c + VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS, VIRTIO_BLK_MAX_SECTORS);
	put32(c + VIRTIO_BLK_CFG_MAX_DISCARD_SEG, 1);
	put32(c + VIRTIO_BLK_CFG_DISCARD_ALIGN, DISCARD_ALIGN);
	put32(c + VIRTIO_BLK_CFG_MAX_WZ_SECTORS, VIRTIO_BLK_MAX_SECTORS);
	put32(c + VIRTIO_BLK_CFG_MAX_WZ_SEG, 1);
	c[VIRTIO_BLK_CFG_WZ_MAY_UNMAP] = 1;
	mc_log_debug("%s: `%s`, %llu sectors%s%s, %s", b->name, b->disk.path,
		     (unsigned long long)b->capacity, b->disk.ro ? ", read-only" : "",
		     b->disk.direct ? ", O_DIRECT" : "", blk_io_engine_name(b->io));
	return 0;
}

static int blk_start(struct virtio_dev *vd, mc_err *err)
{
	struct blk_dev *b = to_blk(vd);
	b->broken = false;
	b->starved = false;
	b->holding = false;
	b->dsync = !b->disk.ro && !virtio_has_feature(vd, VIRTIO_BLK_F_FLUSH);
	/* No kicks for requests added while process() is still popping (EVENT_IDX). */
	vd->q[0].vq.hold_event = true;
	if (vd->paused)
		return 0; /* resume watches */
	return watch_on(b, err);
}

static void blk_stop(struct virtio_dev *vd)
{
	watch_off(to_blk(vd));
}

static void blk_pause(struct virtio_dev *vd)
{
	watch_off(to_blk(vd));
}

static void blk_resume(struct virtio_dev *vd)
{
	struct blk_dev *b = to_blk(vd);
	if (!vd->started)
		return;
	mc_err err = NULL;
	if (watch_on(b, &err) < 0) {
		virtio_set_needs_reset(vd, mc_error_text(err));
		mc_error_free(&err);
	}
}

static void blk_destroy(struct virtio_dev *vd)
{
	struct blk_dev *b = to_blk(vd);
	watch_off(b);
	if (b->n_reqs)
		mc_log_debug("%s: %llu requests, %llu kicks, %llu completion passes, %llu "
			     "interrupts, %llu holds",
			     b->name, b->n_reqs, b->n_kicks, b->n_passes, b->n_irqs, b->n_holds);
	blk_io_close(b->io); /* stops watching its completions before the thread goes */
	iothread_destroy(b->t);
	free(b->reqs);
	blk_dirty_free(&b->dirty);
	pthread_mutex_destroy(&b->wait_lock);
	pthread_cond_destroy(&b->wait_cond);
	free(b->path);
}

static const struct virtio_dev_ops blk_ops = {
    .config_read = blk_config_read,
    .realize = blk_realize,
    .start = blk_start,
    .stop = blk_stop,
    .pause = blk_pause,
    .resume = blk_resume,
    .destroy = blk_destroy,
};

struct device *virtio_blk_create(const struct blk_disk *disk, unsigned index,
				 const struct virtio_transport_ops *tops, void *transport,
				 mc_err *err)
{
	struct blk_dev *b = calloc(1, sizeof(*b));
	if (!b) {
		mc_errorf(err, ENOMEM, "virtio-blk%u", index);
		return NULL;
	}
	snprintf(b->name, sizeof(b->name), "virtio-blk%u", index);
	b->disk = *disk;
	b->path = strdup(disk->path);
	pthread_mutex_init(&b->wait_lock, NULL);
	pthread_cond_init(&b->wait_cond, NULL);
	uint64_t features = BLK_FEATURES | (disk->ro ? 1ull << VIRTIO_BLK_F_RO : BLK_FEATURES_RW);
	if (!b->path ||
	    virtio_dev_init(&b->vd, b->name, VIRTIO_ID_BLOCK, features, VIRTIO_BLK_CONFIG_LEN, 1,
			    VIRTIO_BLK_QUEUE_SIZE, &blk_ops, tops, transport, err) < 0) {
		if (!b->path)
			mc_errorf(err, ENOMEM, "%s", b->name);
		pthread_mutex_destroy(&b->wait_lock);
		pthread_cond_destroy(&b->wait_cond);
		free(b->path);
		free(b);
		return NULL;
	}
	b->disk.path = b->path;
	return &b->vd.dev;
}

int virtio_blk_check(const struct blk_disk *disk, mc_err *err)
{
	struct blk_io_opts o = {.path = disk->path, .ro = disk->ro, .direct = disk->direct};
	struct blk_io *io;
	if (blk_io_open(&io, &o, err) < 0)
		return -1;
	blk_io_close(io);
	return 0;
}

int virtio_blk_parse(char *s, struct blk_disk *d, mc_err *err)
{
	*d = (struct blk_disk){0};
	char *opt = strchr(s, ',');
	if (opt)
		*opt++ = '\0';
	if (!*s)
		return mc_errorf(
		    err, 0, "--disk: missing PATH (PATH[,ro][,direct][,engine=uring|threads])");
	d->path = s;
	while (opt && *opt) {
		char *next = strchr(opt, ',');
		if (next)
			*next++ = '\0';
		if (!strcmp(opt, "ro")) {
			d->ro = true;
		} else if (!strcmp(opt, "direct")) {
			d->direct = true;
		} else if (!strncmp(opt, "engine=", 7)) {
			int e = blk_engine_parse(opt + 7);
			if (e < 0)
				return mc_errorf(
				    err, 0, "--disk `%s`: engine `%s`: expected uring or threads",
				    s, opt + 7);
			d->engine = e;
		} else {
			return mc_errorf(
			    err, 0,
			    "--disk `%s`: unknown option `%s` (ro, direct, engine=uring|threads)",
			    s, opt);
		}
		opt = next;
	}
	return 0;
}

const char *virtio_blk_engine(struct device *d)
{
	struct blk_dev *b = (struct blk_dev *)d;
	return b->io ? blk_io_engine_name(b->io) : "none";
}

bool virtio_blk_is(struct device *d)
{
	return strncmp(d->name, "virtio-blk", 10) == 0 &&
	       ((struct virtio_dev *)d)->device_id == VIRTIO_ID_BLOCK;
}

struct blk_dirty *virtio_blk_dirty(struct device *d)
{
	struct blk_dev *b = (struct blk_dev *)d;
	return b->dirty.bits ? &b->dirty : NULL;
}

const char *virtio_blk_path(struct device *d)
{
	return ((struct blk_dev *)d)->path;
}
