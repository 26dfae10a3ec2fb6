/* A block backend: a raw image file (or a block device) and asynchronous requests on it, whose
 * completions are delivered on an I/O thread (iothread.h). virtio-blk (blk.c) is its user.
 *
 * Two engines:
 *  - io_uring (liburing): READV/WRITEV/FSYNC(DATASYNC)/FALLOCATE, one ring per backend, used by
 *    the I/O thread only; its completion eventfd (io_uring_register_eventfd) is watched by
 *    the I/O thread. Submissions are batched: blk_io_submit() prepares, blk_io_kick() enters.
 *  - threads: a small pool running preadv2/pwritev2/fdatasync/fallocate, completing through
 *    an eventfd the I/O thread watches.
 * io_uring is used where io_uring_queue_init() works (it may be disabled: sysctl
 * kernel.io_uring_disabled, seccomp, EPERM); else threads. MINIVM_BLK_ENGINE=uring|threads, or
 * the disk's engine= option, forces one (uring then fails if unavailable).
 *
 * Threads: blk_io_submit/kick and the completion callbacks run on the I/O thread given to
 * blk_io_start(). A request struct is the caller's until its done callback; its iovecs must
 * stay valid until then.
 */
#ifndef MINIVM_BLK_IO_H
#define MINIVM_BLK_IO_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "error.h"

struct iothread;

enum blk_engine { BLK_ENGINE_AUTO, BLK_ENGINE_URING, BLK_ENGINE_THREADS };

enum blk_op {
	BLK_OP_READ,
	BLK_OP_WRITE,
	BLK_OP_FLUSH,	     /* fdatasync */
	BLK_OP_DISCARD,	     /* punch a hole (KEEP_SIZE); unsupported by the file: success */
	BLK_OP_WRITE_ZEROES, /* zero range; with unmap, punch a hole; fallback: write zeros */
};

struct blk_io_req {
	enum blk_op op;
	bool unmap; /* BLK_OP_WRITE_ZEROES may deallocate */
	bool dsync; /* BLK_OP_WRITE: durable on completion (RWF_DSYNC: no FLUSH negotiated) */
	const struct iovec *iov;
	unsigned niov;
	uint64_t off, len; /* bytes; len is the iovecs' total for READ/WRITE */
	/* The backend's. */
	struct blk_io_req *next;
	uint64_t done; /* bytes transferred so far */
	int fd;	       /* which of the image's descriptors */
	int res;
};

/* Per completed request: res is 0 (every byte transferred, or the op done) or -errno. Then,
 * once per batch of completions, batch(). */
struct blk_io_cb {
	void (*done)(void *opaque, struct blk_io_req *r, int res);
	void (*batch)(void *opaque);
	void *opaque;
};

struct blk_io_opts {
	const char *path;
	bool ro, direct;
	enum blk_engine engine; /* AUTO: MINIVM_BLK_ENGINE, else io_uring where it works */
	unsigned depth;		/* requests in flight at most (the ring's size) */
};

struct blk_io;

/* Open and check the image: a regular file or a block device, non-empty, its size a multiple
 * of 512. The engine is chosen at blk_io_start(). */
int blk_io_open(struct blk_io **b, const struct blk_io_opts *o, mc_err *err);
uint64_t blk_io_size(const struct blk_io *b);
/* A stable 20-byte-at-most identifier of the image (its device and inode). */
const char *blk_io_serial(const struct blk_io *b);
/* Set up the engine and watch its completions on t. */
int blk_io_start(struct blk_io *b, struct iothread *t, const struct blk_io_cb *cb, mc_err *err);
/* "io_uring" or "threads" once started. */
const char *blk_io_engine_name(const struct blk_io *b);
/* Queue r (I/O thread). It completes through cb->done, never synchronously in here. */
void blk_io_submit(struct blk_io *b, struct blk_io_req *r);
/* Hand the queued requests to the kernel or the pool (I/O thread). */
void blk_io_kick(struct blk_io *b);
/* Stop watching, tear the engine down (nothing may be in flight). NULL accepted. */
void blk_io_close(struct blk_io *b);

/* "uring", "threads" -> engine; -1 when unknown. */
int blk_engine_parse(const char *s);

#endif
