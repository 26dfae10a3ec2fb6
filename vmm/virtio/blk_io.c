/* The block backend (blk_io.h): a raw image, io_uring or a thread pool, completions on an I/O
 * thread. */
#include "virtio/blk_io.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "virtio/iothread.h"

#define SECTOR		512u
#define MAX_THREADS	64u
#define DEFAULT_THREADS 16u
#define ZERO_CHUNK	(1u << 20)
#define MAX_IOV		1024u /* IOV_MAX */

struct blk_io {
	int fd;	    /* O_DIRECT when direct */
	int fd_buf; /* direct: a buffered descriptor for requests not aligned for O_DIRECT */
	bool ro, direct;
	uint64_t size;
	char serial[21];
	enum blk_engine want, engine;
	unsigned depth;

	struct iothread *t;
	struct blk_io_cb cb;
	int done_fd; /* eventfd: completions (the ring's, or the pool's) */
	bool watching;
	/* Completed on the I/O thread without the engine (a request no SQE was left for, a
	 * short transfer finished synchronously): delivered by the next completion pass. */
	struct blk_io_req *local_head, *local_tail;
	uint8_t *zeros; /* ZERO_CHUNK of zeros (read-only, never touched: no memory) */
	_Atomic bool no_zero_range, no_punch; /* learnt from EOPNOTSUPP, set by any worker */

	/* io_uring */
	struct io_uring ring;
	bool ring_ok;
	bool uring_fallocate; /* IORING_OP_FALLOCATE is there */

	/* threads */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct blk_io_req *pend_head, *pend_tail; /* for the workers */
	struct blk_io_req *done_list;		  /* from the workers (LIFO) */
	struct blk_io_req *kick_head, *kick_tail; /* submitted, not kicked yet (I/O thread) */
	pthread_t th[MAX_THREADS];
	unsigned nth;
	bool stop;
};

int blk_engine_parse(const char *s)
{
	if (!strcmp(s, "uring") || !strcmp(s, "io_uring"))
		return BLK_ENGINE_URING;
	if (!strcmp(s, "threads"))
		return BLK_ENGINE_THREADS;
	return -1;
}

int blk_io_open(struct blk_io **out, const struct blk_io_opts *o, mc_err *err)
{
	*out = NULL;
	struct blk_io *b = calloc(1, sizeof(*b));
	if (!b)
		return mc_errorf(err, ENOMEM, "disk `%s`", o->path);
	b->fd = b->fd_buf = b->done_fd = -1;
	b->ro = o->ro;
	b->direct = o->direct;
	b->want = o->engine;
	b->depth = o->depth ? o->depth : 128;
	int flags = (o->ro ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	b->fd = open(o->path, flags | (o->direct ? O_DIRECT : 0));
	if (b->fd < 0) {
		mc_errorf(err, errno, "disk: open `%s`%s", o->path,
			  errno == EINVAL && o->direct ? " with O_DIRECT" : "");
		goto fail;
	}
	struct stat st;
	if (fstat(b->fd, &st) < 0) {
		mc_errorf(err, errno, "disk: stat `%s`", o->path);
		goto fail;
	}
	if (S_ISREG(st.st_mode)) {
		b->size = (uint64_t)st.st_size;
	} else if (S_ISBLK(st.st_mode)) {
		if (ioctl(b->fd, BLKGETSIZE64, &b->size) < 0) {
			mc_errorf(err, errno, "disk: size of block device `%s`", o->path);
			goto fail;
		}
	} else {
		mc_errorf(err, 0, "disk `%s`: not a regular file or a block device", o->path);
		goto fail;
	}
	if (b->size == 0) {
		mc_errorf(err, 0, "disk `%s` is empty (make it with e.g. truncate -s 1G)", o->path);
		goto fail;
	}
	if (b->size % SECTOR) {
		mc_errorf(err, 0,
			  "disk `%s`: size %llu bytes is not a multiple of 512 (resize it with "
			  "truncate -s)",
			  o->path, (unsigned long long)b->size);
		goto fail;
	}
	if (o->direct) {
		b->fd_buf = open(o->path, flags);
		if (b->fd_buf < 0) {
			mc_errorf(err, errno, "disk: open `%s`", o->path);
			goto fail;
		}
	}
	snprintf(b->serial, sizeof(b->serial), "mv%06llx%012llx",
		 (unsigned long long)st.st_dev & 0xffffff,
		 (unsigned long long)st.st_ino & 0xffffffffffffull);
	*out = b;
	return 0;
fail:
	blk_io_close(b);
	return -1;
}

uint64_t blk_io_size(const struct blk_io *b)
{
	return b->size;
}

const char *blk_io_serial(const struct blk_io *b)
{
	return b->serial;
}

const char *blk_io_engine_name(const struct blk_io *b)
{
	return b->engine == BLK_ENGINE_URING ? "io_uring" : "threads";
}

/* ---- synchronous execution (the pool's workers, and the I/O thread's rare fallbacks) ---- */

/* iov minus its first skip bytes into out (at most MAX_IOV entries). */
static unsigned iov_tail(const struct iovec *iov, unsigned n, uint64_t skip, struct iovec *out)
{
	unsigned k = 0;
	for (unsigned i = 0; i < n; i++) {
		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		out[k].iov_base = (uint8_t *)iov[i].iov_base + skip;
		out[k].iov_len = iov[i].iov_len - skip;
		skip = 0;
		k++;
	}
	return k;
}

static int do_rw(struct blk_io_req *r)
{
	struct iovec tail[MAX_IOV];
	while (r->done < r->len) {
		unsigned n = iov_tail(r->iov, r->niov, r->done, tail);
		ssize_t k;
		off_t off = (off_t)(r->off + r->done);
		if (r->op == BLK_OP_READ)
			k = preadv2(r->fd, tail, (int)n, off, 0);
		else
			k = pwritev2(r->fd, tail, (int)n, off, r->dsync ? RWF_DSYNC : 0);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			return -EIO; /* the image shrank under us */
		r->done += (uint64_t)k;
	}
	return 0;
}

static int write_zeros(struct blk_io *b, struct blk_io_req *r)
{
	for (uint64_t done = 0; done < r->len;) {
		size_t n = r->len - done < ZERO_CHUNK ? (size_t)(r->len - done) : ZERO_CHUNK;
		ssize_t k =
		    pwrite(b->fd_buf >= 0 ? b->fd_buf : b->fd, b->zeros, n, (off_t)(r->off + done));
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			return -EIO;
		done += (uint64_t)k;
	}
	return 0;
}

static int falloc_mode(struct blk_io *b, const struct blk_io_req *r)
{
	if (r->op == BLK_OP_DISCARD || (r->unmap && !b->no_punch))
		return FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	return FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
}

/* What an fallocate result means for the request (res: 0 or -errno). A discard the file cannot
 * do is done (it is a hint); write-zeroes falls back to writing zeros. */
static int falloc_result(struct blk_io *b, struct blk_io_req *r, int mode, int res)
{
	bool unsupported = res == -EOPNOTSUPP || res == -EINVAL || res == -ENOSYS;
	if (r->op == BLK_OP_DISCARD)
		return unsupported ? 0 : res;
	if (!unsupported)
		return res;
	if (mode & FALLOC_FL_PUNCH_HOLE)
		b->no_punch = true;
	else
		b->no_zero_range = true;
	return write_zeros(b, r);
}

static int exec_sync(struct blk_io *b, struct blk_io_req *r)
{
	switch (r->op) {
	case BLK_OP_READ:
	case BLK_OP_WRITE:
		return do_rw(r);
	case BLK_OP_FLUSH:
		return fdatasync(r->fd) < 0 ? -errno : 0;
	case BLK_OP_DISCARD:
	case BLK_OP_WRITE_ZEROES: {
		if (r->op == BLK_OP_WRITE_ZEROES && b->no_zero_range && (!r->unmap || b->no_punch))
			return write_zeros(b, r);
		int mode = falloc_mode(b, r);
		int res = fallocate(r->fd, mode, (off_t)r->off, (off_t)r->len) < 0 ? -errno : 0;
		return falloc_result(b, r, mode, res);
	}
	}
	return -EINVAL;
}

/* ---- completions on the I/O thread --------------------------------------------------- */

static void deliver_local(struct blk_io *b)
{
	while (b->local_head) {
		struct blk_io_req *r = b->local_head;
		b->local_head = r->next;
		if (!b->local_head)
			b->local_tail = NULL;
		b->cb.done(b->cb.opaque, r, r->res);
	}
}

static void complete_local(struct blk_io *b, struct blk_io_req *r, int res)
{
	r->res = res;
	r->next = NULL;
	if (b->local_tail)
		b->local_tail->next = r;
	else
		b->local_head = r;
	b->local_tail = r;
	eventfd_write(b->done_fd, 1);
}

/* A CQE's result for r: short transfers and unsupported fallocate modes are finished here
 * synchronously (rare). */
static int uring_result(struct blk_io *b, struct blk_io_req *r, int res)
{
	switch (r->op) {
	case BLK_OP_READ:
	case BLK_OP_WRITE:
		if (res < 0)
			return res == -EAGAIN || res == -EINTR ? do_rw(r) : res;
		if (res == 0)
			return -EIO;
		r->done += (uint64_t)res;
		return r->done < r->len ? do_rw(r) : 0;
	case BLK_OP_FLUSH:
		return res;
	case BLK_OP_DISCARD:
	case BLK_OP_WRITE_ZEROES:
		return falloc_result(b, r, falloc_mode(b, r), res);
	}
	return -EINVAL;
}

static void on_uring(void *opaque, uint32_t events)
{
	struct blk_io *b = opaque;
	(void)events;
	eventfd_t v;
	(void)eventfd_read(b->done_fd, &v);
	struct io_uring_cqe *cqe;
	while (io_uring_peek_cqe(&b->ring, &cqe) == 0) {
		struct blk_io_req *r = io_uring_cqe_get_data(cqe);
		int res = cqe->res;
		io_uring_cqe_seen(&b->ring, cqe);
		b->cb.done(b->cb.opaque, r, uring_result(b, r, res));
	}
	deliver_local(b);
	if (b->cb.batch)
		b->cb.batch(b->cb.opaque);
}

static void on_pool(void *opaque, uint32_t events)
{
	struct blk_io *b = opaque;
	(void)events;
	eventfd_t v;
	(void)eventfd_read(b->done_fd, &v);
	pthread_mutex_lock(&b->lock);
	struct blk_io_req *list = b->done_list;
	b->done_list = NULL;
	pthread_mutex_unlock(&b->lock);
	/* LIFO from the workers: back to completion order. */
	struct blk_io_req *fifo = NULL;
	while (list) {
		struct blk_io_req *n = list->next;
		list->next = fifo;
		fifo = list;
		list = n;
	}
	while (fifo) {
		struct blk_io_req *n = fifo->next;
		b->cb.done(b->cb.opaque, fifo, fifo->res);
		fifo = n;
	}
	deliver_local(b);
	if (b->cb.batch)
		b->cb.batch(b->cb.opaque);
}

static void *worker(void *arg)
{
	struct blk_io *b = arg;
	pthread_mutex_lock(&b->lock);
	for (;;) {
		while (!b->pend_head && !b->stop)
			pthread_cond_wait(&b->cond, &b->lock);
		if (!b->pend_head)
			break;
		struct blk_io_req *r = b->pend_head;
		b->pend_head = r->next;
		if (!b->pend_head)
			b->pend_tail = NULL;
		pthread_mutex_unlock(&b->lock);
		r->res = exec_sync(b, r);
		pthread_mutex_lock(&b->lock);
		bool first = !b->done_list;
		r->next = b->done_list;
		b->done_list = r;
		if (first)
			eventfd_write(b->done_fd, 1);
	}
	pthread_mutex_unlock(&b->lock);
	return NULL;
}

/* ---- engines ------------------------------------------------------------------------- */

static int uring_init(struct blk_io *b, mc_err *err)
{
	int rc = io_uring_queue_init(b->depth, &b->ring, 0);
	if (rc < 0)
		return mc_errorf(err, -rc, "io_uring_queue_init");
	b->ring_ok = true;
	rc = io_uring_register_eventfd(&b->ring, b->done_fd);
	if (rc < 0)
		return mc_errorf(err, -rc, "io_uring_register_eventfd");
	struct io_uring_probe *p = io_uring_get_probe_ring(&b->ring);
	if (!p)
		return mc_errorf(err, 0, "io_uring probe");
	bool ok = io_uring_opcode_supported(p, IORING_OP_READV) &&
		  io_uring_opcode_supported(p, IORING_OP_WRITEV) &&
		  io_uring_opcode_supported(p, IORING_OP_FSYNC);
	b->uring_fallocate = io_uring_opcode_supported(p, IORING_OP_FALLOCATE);
	io_uring_free_probe(p);
	if (!ok)
		return mc_errorf(err, EOPNOTSUPP, "io_uring without READV/WRITEV/FSYNC");
	return 0;
}

static void uring_fini(struct blk_io *b)
{
	if (b->ring_ok)
		io_uring_queue_exit(&b->ring);
	b->ring_ok = false;
}

static unsigned pool_threads(void)
{
	const char *s = getenv("MINIVM_BLK_THREADS");
	if (s && *s) {
		char *end;
		unsigned long n = strtoul(s, &end, 10);
		if (!*end && n >= 1 && n <= MAX_THREADS)
			return (unsigned)n;
		mc_log_warn("MINIVM_BLK_THREADS=`%s`: not in [1, %u], using %u", s, MAX_THREADS,
			    DEFAULT_THREADS);
	}
	return DEFAULT_THREADS;
}

static int pool_init(struct blk_io *b, mc_err *err)
{
	unsigned n = pool_threads();
	for (b->nth = 0; b->nth < n; b->nth++) {
		int rc = pthread_create(&b->th[b->nth], NULL, worker, b);
		if (rc)
			return mc_errorf(err, rc, "block I/O thread pool");
		char name[16];
		snprintf(name, sizeof(name), "blk-pool%u", b->nth);
		pthread_setname_np(b->th[b->nth], name);
	}
	return 0;
}

static void pool_fini(struct blk_io *b)
{
	pthread_mutex_lock(&b->lock);
	b->stop = true;
	pthread_cond_broadcast(&b->cond);
	pthread_mutex_unlock(&b->lock);
	for (unsigned i = 0; i < b->nth; i++)
		pthread_join(b->th[i], NULL);
	b->nth = 0;
}

int blk_io_start(struct blk_io *b, struct iothread *t, const struct blk_io_cb *cb, mc_err *err)
{
	b->cb = *cb;
	b->t = t;
	pthread_mutex_init(&b->lock, NULL);
	pthread_cond_init(&b->cond, NULL);
	b->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (b->done_fd < 0)
		return mc_errorf(err, errno, "block I/O: eventfd");
	void *z = mmap(NULL, ZERO_CHUNK, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (z == MAP_FAILED)
		return mc_errorf(err, errno, "block I/O: mmap");
	b->zeros = z;
	enum blk_engine want = b->want;
	const char *env = getenv("MINIVM_BLK_ENGINE");
	if (want == BLK_ENGINE_AUTO && env && *env) {
		int e = blk_engine_parse(env);
		if (e < 0)
			return mc_errorf(err, 0,
					 "MINIVM_BLK_ENGINE=`%s`: expected uring or threads", env);
		want = (enum blk_engine)e;
	}
	if (want != BLK_ENGINE_THREADS) {
		mc_err uerr = NULL;
		if (uring_init(b, &uerr) == 0) {
			b->engine = BLK_ENGINE_URING;
		} else {
			uring_fini(b);
			if (want == BLK_ENGINE_URING) {
				mc_errorf(err, uerr->errnum, "block I/O engine io_uring: %s",
					  uerr->msg);
				mc_error_free(&uerr);
				return -1;
			}
			mc_log_debug("block I/O: io_uring unavailable (%s), using threads",
				     mc_error_text(uerr));
			mc_error_free(&uerr);
		}
	}
	if (b->engine != BLK_ENGINE_URING) {
		b->engine = BLK_ENGINE_THREADS;
		if (pool_init(b, err) < 0)
			return -1;
	}
	if (iothread_add(t, b->done_fd, EPOLLIN, b->engine == BLK_ENGINE_URING ? on_uring : on_pool,
			 b, err) < 0)
		return mc_wrap(err, "block I/O");
	b->watching = true;
	return 0;
}

static void uring_prep(struct blk_io *b, struct io_uring_sqe *sqe, struct blk_io_req *r)
{
	switch (r->op) {
	case BLK_OP_READ:
		io_uring_prep_readv(sqe, r->fd, r->iov, r->niov, r->off);
		break;
	case BLK_OP_WRITE:
		io_uring_prep_writev(sqe, r->fd, r->iov, r->niov, r->off);
		if (r->dsync)
			sqe->rw_flags = RWF_DSYNC;
		break;
	case BLK_OP_FLUSH:
		io_uring_prep_fsync(sqe, r->fd, IORING_FSYNC_DATASYNC);
		break;
	case BLK_OP_DISCARD:
	case BLK_OP_WRITE_ZEROES:
		io_uring_prep_fallocate(sqe, r->fd, falloc_mode(b, r), r->off, r->len);
		break;
	}
	io_uring_sqe_set_data(sqe, r);
}

/* Whether r can go through the O_DIRECT descriptor: every buffer and length aligned. */
static bool direct_ok(const struct blk_io_req *r)
{
	for (unsigned i = 0; i < r->niov; i++)
		if (((uintptr_t)r->iov[i].iov_base | r->iov[i].iov_len) & (SECTOR - 1))
			return false;
	return true;
}

void blk_io_submit(struct blk_io *b, struct blk_io_req *r)
{
	r->next = NULL;
	r->done = 0;
	r->res = 0;
	r->fd = b->fd;
	if (b->direct && (r->op == BLK_OP_READ || r->op == BLK_OP_WRITE) && !direct_ok(r))
		r->fd = b->fd_buf;
	if ((r->op == BLK_OP_READ || r->op == BLK_OP_WRITE) && r->niov > MAX_IOV) {
		complete_local(b, r, -EINVAL);
		return;
	}
	if (b->engine == BLK_ENGINE_THREADS) {
		if (b->kick_tail)
			b->kick_tail->next = r;
		else
			b->kick_head = r;
		b->kick_tail = r;
		return;
	}
	bool falloc = r->op == BLK_OP_DISCARD || r->op == BLK_OP_WRITE_ZEROES;
	bool zero_writes =
	    r->op == BLK_OP_WRITE_ZEROES && b->no_zero_range && (!r->unmap || b->no_punch);
	if ((falloc && !b->uring_fallocate) || zero_writes) {
		complete_local(b, r, exec_sync(b, r));
		return;
	}
	struct io_uring_sqe *sqe = io_uring_get_sqe(&b->ring);
	if (!sqe) {
		io_uring_submit(&b->ring);
		sqe = io_uring_get_sqe(&b->ring);
	}
	if (!sqe) {
		complete_local(b, r, exec_sync(b, r));
		return;
	}
	uring_prep(b, sqe, r);
}

void blk_io_kick(struct blk_io *b)
{
	if (b->engine == BLK_ENGINE_URING) {
		int rc;
		do
			rc = io_uring_submit(&b->ring);
		while (rc == -EINTR);
		/* EAGAIN/EBUSY: the SQEs stay queued; the next completion pass kicks again. */
		if (rc < 0 && rc != -EAGAIN && rc != -EBUSY)
			mc_log_warn("block I/O: io_uring_submit: %s", strerror(-rc));
		return;
	}
	if (!b->kick_head)
		return;
	unsigned n = 0;
	for (struct blk_io_req *r = b->kick_head; r && n < b->nth; r = r->next)
		n++;
	pthread_mutex_lock(&b->lock);
	if (b->pend_tail)
		b->pend_tail->next = b->kick_head;
	else
		b->pend_head = b->kick_head;
	b->pend_tail = b->kick_tail;
	/* One worker per request (up to all of them), not a broadcast: at queue depth 1 that
	 * woke the whole pool for one request. A busy worker takes the rest from the list
	 * before it waits again. */
	for (unsigned i = 0; i < n; i++)
		pthread_cond_signal(&b->cond);
	pthread_mutex_unlock(&b->lock);
	b->kick_head = b->kick_tail = NULL;
}

void blk_io_close(struct blk_io *b)
{
	if (!b)
		return;
	if (b->watching)
		iothread_del(b->t, b->done_fd);
	if (b->engine == BLK_ENGINE_URING)
		uring_fini(b);
	else if (b->nth)
		pool_fini(b);
	if (b->t) {
		pthread_mutex_destroy(&b->lock);
		pthread_cond_destroy(&b->cond);
	}
	if (b->done_fd >= 0)
		close(b->done_fd);
	if (b->fd >= 0)
		close(b->fd);
	if (b->fd_buf >= 0)
		close(b->fd_buf);
	if (b->zeros)
		munmap(b->zeros, ZERO_CHUNK);
	free(b);
}
