/* Post-copy live migration (postcopy.h, docs/migration.md "Post-copy"). */
#include "postcopy.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "bytes.h"
#include "cmds.h"
#include "log.h"
#include "migrate.h"
#include "migstream.h"
#include "snapshot.h"
#include "util.h"
#include "vm.h"

#define PC_QUEUE      1024u /* requests held by the source */
#define PC_ACK_WAIT   10u   /* s: the source waits this long for the ACK after its end frame */
#define PC_ZERO_AHEAD 16u   /* never-written pages zero-filled with a faulted one */

static bool bit(const uint64_t *b, uint64_t p)
{
	return __atomic_load_n(&b[p / 64], __ATOMIC_ACQUIRE) & (1ull << (p % 64));
}

static void bit_clear(uint64_t *b, uint64_t p)
{
	__atomic_fetch_and(&b[p / 64], ~(1ull << (p % 64)), __ATOMIC_RELEASE);
}

/* ---- parsers ------------------------------------------------------------------------ */

int pc_recv_need(struct mc_ms *rx, const struct mc_ms_frame *f, const uint8_t *meta,
		 uint64_t npages, uint64_t **need, uint64_t *pages, mc_err *err)
{
	uint64_t words = (npages + 63) / 64;
	if (*need)
		return mc_errorf(err, 0, "post-copy: a second page bitmap");
	if (f->meta_len != 8 || f->data_len != words * 8)
		return mc_errorf(err, 0, "post-copy: page bitmap of %u+%llu bytes (want 8+%llu)",
				 f->meta_len, (unsigned long long)f->data_len,
				 (unsigned long long)(words * 8));
	uint64_t want = get64(meta);
	uint64_t *b = malloc(words * 8);
	if (!b)
		return mc_errorf(err, ENOMEM, "post-copy: page bitmap");
	if (mc_ms_recv_data(rx, b, words * 8, err) < 0) {
		free(b);
		return mc_wrap(err, "post-copy: page bitmap");
	}
	uint64_t n = 0;
	for (uint64_t w = 0; w < words; w++) {
		b[w] = get64((const uint8_t *)&b[w]);
		n += (uint64_t)__builtin_popcountll(b[w]);
	}
	if (npages % 64 && b[words - 1] >> (npages % 64)) {
		free(b);
		return mc_errorf(err, 0, "post-copy: page bitmap names pages past the guest's %llu",
				 (unsigned long long)npages);
	}
	if (n != want) {
		free(b);
		return mc_errorf(err, 0,
				 "post-copy: page bitmap has %llu pages, its header says %llu",
				 (unsigned long long)n, (unsigned long long)want);
	}
	*need = b;
	*pages = n;
	return 0;
}

int pc_recv_run(struct mc_ms *rx, const uint64_t *need, uint64_t npages, uint8_t *buf,
		struct pc_run *run, mc_err *err)
{
	uint8_t meta[MIG_META_MAX + 1];
	struct mc_ms_frame f;
	*run = (struct pc_run){0};
	if (mc_ms_recv_frame(rx, &f, meta, MIG_META_MAX, err) < 0)
		return mc_wrap(err, "post-copy");
	if (f.type == MC_MS_END) {
		run->end = true;
		return 0;
	}
	if ((f.type != MIG_F_PAGES && f.type != MIG_F_ZERO) || f.meta_len != 16)
		return mc_errorf(err, 0, "post-copy: frame type %u with %u bytes of meta", f.type,
				 f.meta_len);
	uint64_t first = get64(meta);
	uint32_t n = get32(meta + 8), enc = get32(meta + 12);
	if (n == 0 || n > MIG_RUN_MAX || first >= npages || n > npages - first)
		return mc_errorf(err, 0, "post-copy: pages %llu+%u outside the guest's %llu",
				 (unsigned long long)first, n, (unsigned long long)npages);
	if (enc != MIG_ENC_RAW || f.data_len != (f.type == MIG_F_ZERO ? 0 : (uint64_t)n * MIG_PAGE))
		return mc_errorf(err, 0, "post-copy: pages %llu+%u: encoding %u, %llu bytes",
				 (unsigned long long)first, n, enc, (unsigned long long)f.data_len);
	for (uint64_t p = first; p < first + n; p++)
		if (!bit(need, p))
			return mc_errorf(err, 0,
					 "post-copy: page %llu is not one this side waits for",
					 (unsigned long long)p);
	if (f.type == MIG_F_PAGES && mc_ms_recv_data(rx, buf, (size_t)n * MIG_PAGE, err) < 0)
		return mc_wrap(err, "post-copy");
	run->first = first;
	run->n = n;
	run->zero = f.type == MIG_F_ZERO;
	return 0;
}

int pc_recv_reply(struct mc_ms *rx, uint64_t npages, struct pc_reply *r, mc_err *err)
{
	struct mc_ms_frame f;
	if (mc_ms_recv_frame(rx, &f, r->meta, MIG_META_MAX, err) < 0)
		return mc_wrap(err, "post-copy: the destination's frames");
	r->type = f.type;
	r->first = 0;
	r->n = 0;
	if (f.type == MIG_F_ERR)
		return mc_errorf(err, 0, "the destination failed: %s", r->meta);
	if (f.data_len != 0)
		return mc_errorf(err, 0, "post-copy: the destination's frame type %u has data",
				 f.type);
	switch (f.type) {
	case MIG_F_ACK:
		return 0;
	case MIG_F_PC_DONE:
		if (f.meta_len != 0)
			return mc_errorf(err, 0, "post-copy: done frame with meta");
		return 0;
	case MIG_F_PC_REQ:
		if (f.meta_len != 16)
			return mc_errorf(err, 0, "post-copy: request of %u bytes (want 16)",
					 f.meta_len);
		r->first = get64((uint8_t *)r->meta);
		r->n = get32((uint8_t *)r->meta + 8);
		if (get32((uint8_t *)r->meta + 12) != 0 || r->n == 0 || r->n > MIG_RUN_MAX ||
		    r->first >= npages || r->n > npages - r->first)
			return mc_errorf(err, 0,
					 "post-copy: the destination asked for pages %llu+%u "
					 "(the guest has %llu)",
					 (unsigned long long)r->first, r->n,
					 (unsigned long long)npages);
		return 0;
	default:
		return mc_errorf(err, 0, "post-copy: unexpected frame type %u from the destination",
				 f.type);
	}
}

/* ---- source ------------------------------------------------------------------------- */

void pc_mark_data(const uint8_t *ram, uint64_t npages, uint64_t *pending)
{
	struct snap_scan *sc = snap_scan_new(ram);
	for (uint64_t p = 0; p < npages; p++)
		if (!sc || snap_scan_maybe_data(sc, p * MIG_PAGE))
			pending[p / 64] |= 1ull << (p % 64);
	snap_scan_free(sc);
}

struct pc_queue {
	uint64_t first[PC_QUEUE];
	uint32_t n[PC_QUEUE];
	unsigned head, len;
};

/* Send the still pending pages of [first, first + n) as runs of data and zero pages. */
static int serve_range(struct pc_src *s, uint64_t first, uint32_t n, bool asked, mc_err *err)
{
	uint64_t end = first + n, p = first;
	while (p < end) {
		if (!bit(s->pending, p)) {
			p++;
			continue;
		}
		bool zero = snap_page_zero(s->ram + p * MIG_PAGE);
		uint64_t q = p + 1;
		while (q < end && q - p < MIG_RUN_MAX && bit(s->pending, q) &&
		       snap_page_zero(s->ram + q * MIG_PAGE) == zero)
			q++;
		uint8_t meta[16];
		put64(meta, p);
		put32(meta + 8, (uint32_t)(q - p));
		put32(meta + 12, MIG_ENC_RAW);
		if (mc_ms_send(s->tx, zero ? MIG_F_ZERO : MIG_F_PAGES, meta, 16,
			       zero ? NULL : s->ram + p * MIG_PAGE, zero ? 0 : (q - p) * MIG_PAGE,
			       err) < 0)
			return mc_wrap(err, "post-copy: send pages %llu+%llu",
				       (unsigned long long)p, (unsigned long long)(q - p));
		for (uint64_t i = p; i < q; i++)
			bit_clear(s->pending, i);
		if (zero)
			s->zero_pages += q - p;
		else
			s->pages += q - p;
		if (asked)
			s->asked_pages += q - p;
		p = q;
	}
	return 0;
}

/* Frames from the destination: wait up to timeout_ms for the first, take what else is there. */
static int take_replies(struct pc_src *s, struct pc_queue *q, int timeout_ms, bool *done,
			mc_err *err)
{
	for (;;) {
		if (s->rx->pos >= s->rx->len) {
			struct pollfd p = {.fd = s->sock, .events = POLLIN};
			int r = poll(&p, 1, timeout_ms);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				return 0;
		}
		timeout_ms = 0;
		struct pc_reply rp;
		if (pc_recv_reply(s->rx, s->npages, &rp, err) < 0)
			return -1;
		if (rp.type == MIG_F_ACK) {
			if (s->acked)
				return mc_errorf(err, 0, "post-copy: a second ACK");
			s->acked = true;
			s->ack_ns = mc_now_ns();
			if (s->on_ack)
				s->on_ack(s->opaque, rp.meta);
		} else if (rp.type == MIG_F_PC_DONE) {
			if (!s->acked || !done)
				return mc_errorf(err, 0,
						 "post-copy: the destination said done before "
						 "it had every page");
			*done = true;
			return 0;
		} else {
			s->requests++;
			if (q->len < PC_QUEUE) { /* else the background push brings them */
				unsigned i = (q->head + q->len++) % PC_QUEUE;
				q->first[i] = rp.first;
				q->n[i] = rp.n;
			}
		}
	}
}

int pc_src_run(struct pc_src *s, const void *state, size_t len, mc_err *err)
{
	uint64_t words = (s->npages + 63) / 64, left = 0;
	for (uint64_t w = 0; w < words; w++)
		left += (uint64_t)__builtin_popcountll(s->pending[w]);
	uint8_t meta[8];
	put64(meta, left);
	uint8_t *le = malloc(words * 8); /* the bitmap as little-endian words */
	if (!le)
		return mc_errorf(err, ENOMEM, "post-copy: page bitmap");
	for (uint64_t w = 0; w < words; w++)
		put64(le + w * 8, s->pending[w]);
	int r = mc_ms_send(s->tx, MIG_F_POSTCOPY, meta, 8, le, words * 8, err);
	free(le);
	if (r < 0 || mc_ms_send(s->tx, MIG_F_STATE, NULL, 0, state, len, err) < 0 ||
	    mc_ms_send_end(s->tx, err) < 0)
		return mc_wrap(err, "post-copy: switch-over");
	static struct pc_queue q; /* one migration at a time per process */
	q.head = q.len = 0;
	uint64_t t0 = mc_now_ns(), b0 = s->tx->bytes, cursor = 0, t_full = 0;
	while (left) {
		if (take_replies(s, &q, 0, NULL, err) < 0)
			return -1;
		if (!s->acked && mc_now_ns() - t0 > PC_ACK_WAIT * 1000000000ull)
			return mc_errorf(err, ETIMEDOUT,
					 "post-copy: no ACK from the destination "
					 "within %u s",
					 PC_ACK_WAIT);
		if (s->limit_bps) { /* the link's cap, for asked-for pages too */
			uint64_t due =
			    (uint64_t)((double)(s->tx->bytes - b0) * 1e9 / (double)s->limit_bps);
			uint64_t el = mc_now_ns() - t0;
			if (due > el) {
				if (take_replies(s, &q, (int)((due - el) / 1000000 + 1), NULL,
						 err) < 0)
					return -1;
				continue;
			}
		}
		uint64_t before = s->pages + s->zero_pages;
		if (q.len) {
			uint64_t f = q.first[q.head];
			uint32_t n = q.n[q.head];
			q.head = (q.head + 1) % PC_QUEUE;
			q.len--;
			if (serve_range(s, f, n, true, err) < 0 || mc_ms_flush(s->tx, err) < 0)
				return -1;
			left -= s->pages + s->zero_pages - before;
			continue;
		}
		/* One connection carries both: a page asked for waits behind whatever background
		 * pages the socket still holds, so keep that short (QEMU 7.2's answer is a second
		 * channel, postcopy-preempt). */
		int queued = 0;
		if (ioctl(s->sock, SIOCOUTQ, &queued) == 0 && queued > (int)PC_SNDQ_MAX) {
			if (!t_full)
				t_full = mc_now_ns();
			else if (mc_now_ns() - t_full > PC_STALL_WAIT * 1000000000ull)
				return mc_errorf(err, ETIMEDOUT,
						 "post-copy: the destination read nothing for %u s",
						 PC_STALL_WAIT);
			if (take_replies(s, &q, 1, NULL, err) < 0)
				return -1;
			continue;
		}
		t_full = 0;
		while (cursor < s->npages && !bit(s->pending, cursor)) {
			if (cursor % 64 == 0 && s->pending[cursor / 64] == 0)
				cursor += 64;
			else
				cursor++;
		}
		if (cursor >= s->npages) { /* wrapped: pages asked for went out of order */
			cursor = 0;
			continue;
		}
		uint32_t n =
		    s->npages - cursor < PC_BG_RUN ? (uint32_t)(s->npages - cursor) : PC_BG_RUN;
		if (serve_range(s, cursor, n, false, err) < 0 || mc_ms_flush(s->tx, err) < 0)
			return -1;
		left -= s->pages + s->zero_pages - before;
		s->bytes = s->tx->bytes;
	}
	if (mc_ms_send_end(s->tx, err) < 0)
		return mc_wrap(err, "post-copy: the end frame");
	s->bytes = s->tx->bytes;
	bool done = false;
	uint64_t t_end = mc_now_ns();
	while (!done) {
		uint64_t el = mc_now_ns() - t_end;
		if (el > PC_DONE_WAIT * 1000000000ull)
			return mc_errorf(
			    err, ETIMEDOUT,
			    "post-copy: every page sent, but no word from the destination "
			    "within %u s",
			    PC_DONE_WAIT);
		if (!s->acked && mc_now_ns() - t0 > PC_ACK_WAIT * 1000000000ull)
			return mc_errorf(err, ETIMEDOUT,
					 "post-copy: no ACK from the destination within %u s",
					 PC_ACK_WAIT);
		if (take_replies(s, &q, 100, &done, err) < 0)
			return -1;
		q.len = 0; /* everything went: a late request is served already */
	}
	s->done_ns = mc_now_ns();
	return 0;
}

/* ---- destination -------------------------------------------------------------------- */

static char fatal_unlink[256]; /* the API socket, removed when a fatal error exits minivm */

void pc_dest_fatal_unlink(const char *path)
{
	snprintf(fatal_unlink, sizeof(fatal_unlink), "%s", path ? path : "");
}

struct pc_dest {
	struct vm *vm;
	uint8_t *ram;
	uint64_t size, npages;
	int fd, uffd, stop_fd;
	struct mc_ms *rx, *tx;
	pthread_mutex_t lock; /* tx, and the flags below */
	pthread_cond_t cond;
	bool acked, released, finished, aborted;
	char error[512]; /* the receiver's failure before the ACK */
	uint64_t *need, left;
	pthread_t fault_thr, recv_thr;
	bool fault_on, recv_on, dead;
	uint64_t t0, faults, zero_faults, requests, asked_pages;
};

static int uffd_open(mc_err *err)
{
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 && (errno == EPERM || errno == ENOSYS)) {
		int e = errno;
		int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
		if (dev >= 0) {
			fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
			e = errno;
			close(dev);
		}
		if (fd < 0)
			return mc_errorf(err, e,
					 "post-copy: userfaultfd (kernel-mode faults need root or "
					 "access to /dev/userfaultfd)");
	} else if (fd < 0)
		return mc_errorf(err, errno, "post-copy: userfaultfd");
	struct uffdio_api api = {.api = UFFD_API, .features = 0};
	if (ioctl(fd, UFFDIO_API, &api) < 0) {
		int e = errno;
		close(fd);
		return mc_errorf(err, e, "post-copy: UFFDIO_API");
	}
	return fd;
}

/* Place pages [first, first + n) from src (NULL: zero pages); a page already there (a race
 * with a zero-fill of a never-written page, which cannot be one sent) is skipped. */
static int place(struct pc_dest *pc, uint64_t first, uint64_t n, const uint8_t *src, mc_err *err)
{
	uint64_t done = 0;
	while (done < n) {
		uint64_t addr = (uint64_t)(uintptr_t)(pc->ram + (first + done) * MIG_PAGE);
		uint64_t len = (n - done) * MIG_PAGE;
		long r, got;
		int e;
		if (src) {
			struct uffdio_copy c = {.dst = addr,
						.src = (uint64_t)(uintptr_t)(src + done * MIG_PAGE),
						.len = len};
			r = ioctl(pc->uffd, UFFDIO_COPY, &c);
			e = errno;
			got = (long)c.copy;
		} else {
			struct uffdio_zeropage z = {.range = {.start = addr, .len = len}};
			r = ioctl(pc->uffd, UFFDIO_ZEROPAGE, &z);
			e = errno;
			got = (long)z.zeropage;
		}
		if (r == 0) {
			done = n;
			break;
		}
		if (got > 0) {
			done += (uint64_t)got / MIG_PAGE;
			continue;
		}
		if (e == EAGAIN)
			continue;
		if (got == -EEXIST || e == EEXIST) {
			done++; /* there already: wake who waits for it */
			struct uffdio_range w = {.start = addr, .len = MIG_PAGE};
			ioctl(pc->uffd, UFFDIO_WAKE, &w);
			continue;
		}
		return mc_errorf(err, e, "post-copy: %s page %llu",
				 src ? "UFFDIO_COPY" : "UFFDIO_ZEROPAGE",
				 (unsigned long long)(first + done));
	}
	return 0;
}

static int send_locked(struct pc_dest *pc, uint32_t type, const void *meta, uint32_t ml,
		       mc_err *err)
{
	pthread_mutex_lock(&pc->lock);
	int r = mc_ms_send(pc->tx, type, meta, ml, NULL, 0, err);
	if (r == 0)
		r = mc_ms_flush(pc->tx, err);
	pthread_mutex_unlock(&pc->lock);
	return r;
}

static void *fault_thread(void *arg)
{
	struct pc_dest *pc = arg;
	struct pollfd p[2] = {{.fd = pc->uffd, .events = POLLIN},
			      {.fd = pc->stop_fd, .events = POLLIN}};
	for (;;) {
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		struct uffd_msg msg[16];
		ssize_t n = read(pc->uffd, msg, sizeof(msg));
		if (n < 0)
			continue; /* EAGAIN: another read took it */
		for (ssize_t i = 0; i < n / (ssize_t)sizeof(msg[0]); i++) {
			if (msg[i].event != UFFD_EVENT_PAGEFAULT)
				continue;
			uint64_t a = msg[i].arg.pagefault.address;
			uint64_t base = (uint64_t)(uintptr_t)pc->ram;
			if (a < base || a - base >= pc->size)
				continue;
			uint64_t pg = (a - base) / MIG_PAGE;
			__atomic_fetch_add(&pc->faults, 1, __ATOMIC_RELAXED);
			mc_err err = NULL;
			if (__atomic_load_n(&pc->dead, __ATOMIC_RELAXED))
				continue; /* the receiver ends the VM */
			if (!bit(pc->need, pg)) {
				/* never written here nor wanted from the source: zero, with the
				 * never-written pages after it */
				uint64_t k = 1;
				while (k < PC_ZERO_AHEAD && pg + k < pc->npages &&
				       !bit(pc->need, pg + k))
					k++;
				__atomic_fetch_add(&pc->zero_faults, 1, __ATOMIC_RELAXED);
				if (place(pc, pg, 1, NULL, &err) == 0 && k > 1)
					place(pc, pg + 1, k - 1, NULL, &err);
			} else {
				uint8_t meta[16] = {0};
				uint64_t k =
				    pc->npages - pg < PC_REQ_AHEAD ? pc->npages - pg : PC_REQ_AHEAD;
				put64(meta, pg);
				put32(meta + 8, (uint32_t)k);
				__atomic_fetch_add(&pc->requests, 1, __ATOMIC_RELAXED);
				if (send_locked(pc, MIG_F_PC_REQ, meta, 16, &err) < 0) {
					/* the receiver sees the connection fail too and says so */
					__atomic_store_n(&pc->dead, true, __ATOMIC_RELAXED);
					mc_error_free(&err);
				}
			}
			if (err)
				mc_log_warn("%s", mc_error_text(err));
			mc_error_free(&err);
		}
	}
	return NULL;
}

static void pc_free(struct pc_dest *pc, bool conn)
{
	if (pc->uffd >= 0) {
		struct uffdio_range r = {.start = (uint64_t)(uintptr_t)pc->ram, .len = pc->size};
		ioctl(pc->uffd, UFFDIO_UNREGISTER, &r);
		close(pc->uffd);
	}
	if (pc->stop_fd >= 0)
		close(pc->stop_fd);
	if (conn) {
		close(pc->fd);
		free(pc->rx);
		free(pc->tx);
	}
	free(pc->need);
	pthread_mutex_destroy(&pc->lock);
	pthread_cond_destroy(&pc->cond);
	free(pc);
}

static void stop_fault_thread(struct pc_dest *pc)
{
	if (!pc->fault_on)
		return;
	uint64_t one = 1;
	if (write(pc->stop_fd, &one, sizeof(one)) < 0)
		mc_log_warn("post-copy: eventfd: %s", strerror(errno));
	pthread_join(pc->fault_thr, NULL);
	pc->fault_on = false;
}

static void *recv_thread(void *arg)
{
	struct pc_dest *pc = arg;
	uint8_t *buf = malloc(PC_BUF);
	mc_err err = NULL;
	struct pc_run run = {0};
	if (!buf)
		mc_errorf(&err, ENOMEM, "post-copy: buffer");
	while (!err) {
		if (pc_recv_run(pc->rx, pc->need, pc->npages, buf, &run, &err) < 0)
			break;
		if (run.end) {
			if (pc->left)
				mc_errorf(&err, 0,
					  "post-copy: the source ended with %llu pages not sent",
					  (unsigned long long)pc->left);
			break;
		}
		if (place(pc, run.first, run.n, run.zero ? NULL : buf, &err) < 0)
			break;
		for (uint64_t p = run.first; p < run.first + run.n; p++)
			bit_clear(pc->need, p);
		pc->left -= run.n;
	}
	free(buf);
	pthread_mutex_lock(&pc->lock);
	if (err && !pc->acked) {
		/* Before the ACK: pc_dest_ack refuses, the source resumes the guest, and
		 * pc_dest_release cleans up; a guest that waits for a page meanwhile is
		 * ended below. */
		snprintf(pc->error, sizeof(pc->error), "%s", mc_error_text(err));
		struct timespec dl;
		clock_gettime(CLOCK_REALTIME, &dl);
		dl.tv_sec += PC_FATAL_WAIT;
		while (!pc->aborted && !pc->acked &&
		       pthread_cond_timedwait(&pc->cond, &pc->lock, &dl) == 0)
			;
		if (pc->aborted) {
			pthread_mutex_unlock(&pc->lock);
			mc_error_free(&err);
			return NULL;
		}
	}
	bool acked = pc->acked;
	pthread_mutex_unlock(&pc->lock);
	if (err) {
		/* Fatal: the guest runs, or waits, for pages that will not come. */
		__atomic_store_n(&pc->dead, true, __ATOMIC_RELAXED);
		fprintf(stderr, "minivm: post-copy failed %s: %s\n",
			acked ? "after the guest resumed here (part of its memory was still at "
				"the source: the guest is lost)"
			      : "while the guest started here",
			mc_error_text(err));
		vm_end(pc->vm, VM_FAILED, "post-copy failed: %s", mc_error_text(err));
		mc_error_free(&err);
		/* A vCPU or device thread blocked on a missing page inside a system call
		 * (KVM's emulator writing guest memory, a read into it) waits for the page
		 * whatever signal comes but SIGKILL: if the VM has not ended by itself within
		 * PC_FATAL_WAIT, minivm exits from here (the API socket removed first). */
		struct timespec ts = {.tv_sec = PC_FATAL_WAIT};
		nanosleep(&ts, NULL);
		fprintf(stderr,
			"minivm: post-copy: threads still wait for missing pages after %u s: "
			"exiting\n",
			PC_FATAL_WAIT);
		if (fatal_unlink[0])
			unlink(fatal_unlink);
		_exit(MINIVM_EXIT_ERROR);
	}
	/* every page is in: no more faults to serve */
	struct uffdio_range r = {.start = (uint64_t)(uintptr_t)pc->ram, .len = pc->size};
	if (ioctl(pc->uffd, UFFDIO_UNREGISTER, &r) < 0)
		mc_log_warn("post-copy: UFFDIO_UNREGISTER: %s", strerror(errno));
	stop_fault_thread(pc);
	pthread_mutex_lock(&pc->lock);
	while (!pc->acked && !pc->aborted)
		pthread_cond_wait(&pc->cond, &pc->lock);
	bool aborted = pc->aborted;
	pthread_mutex_unlock(&pc->lock);
	if (aborted)
		return NULL;
	fprintf(stderr,
		"minivm: post-copy: every page is here, %.1f ms after the switch-over (%llu "
		"faults, %llu requests, %llu zero-filled)\n",
		(double)(mc_now_ns() - pc->t0) / 1e6, (unsigned long long)pc->faults,
		(unsigned long long)pc->requests, (unsigned long long)pc->zero_faults);
	if (send_locked(pc, MIG_F_PC_DONE, NULL, 0, &err) < 0) {
		/* the guest has everything: only the source's report suffers */
		mc_log_warn("post-copy: %s", mc_error_text(err));
		mc_error_free(&err);
	}
	pthread_mutex_lock(&pc->lock);
	pc->finished = true;
	bool free_it = pc->released;
	pthread_mutex_unlock(&pc->lock);
	if (free_it)
		pc_free(pc, true);
	return NULL;
}

int pc_dest_start(struct vm *vm, int fd, struct mc_ms *rx, struct mc_ms *tx, uint64_t *need,
		  uint64_t need_pages, struct pc_dest **out, mc_err *err)
{
	struct pc_dest *pc = calloc(1, sizeof(*pc));
	if (!pc) {
		free(need);
		return mc_errorf(err, ENOMEM, "post-copy");
	}
	*pc = (struct pc_dest){.vm = vm,
			       .ram = vm->gm.host,
			       .size = vm->gm.size,
			       .npages = vm->gm.size / MIG_PAGE,
			       .fd = fd,
			       .rx = rx,
			       .tx = tx,
			       .need = need,
			       .left = need_pages,
			       .uffd = -1,
			       .t0 = mc_now_ns()};
	pthread_mutex_init(&pc->lock, NULL);
	pthread_cond_init(&pc->cond, NULL);
	/* a page asked for waits behind what the receive queue holds: keep it small too */
	int rcvbuf = PC_SNDQ_MAX;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	pc->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (pc->stop_fd < 0) {
		mc_errorf(err, errno, "post-copy: eventfd");
		goto fail;
	}
	/* The pages to come are dropped: their fault is a missing page, reported to us. */
	for (uint64_t p = 0; p < pc->npages;) {
		if (!bit(need, p)) {
			p++;
			continue;
		}
		uint64_t q = p + 1;
		while (q < pc->npages && bit(need, q))
			q++;
		if (madvise(pc->ram + p * MIG_PAGE, (q - p) * MIG_PAGE, MADV_DONTNEED) < 0) {
			mc_errorf(err, errno, "post-copy: MADV_DONTNEED");
			goto fail;
		}
		p = q;
	}
	if ((pc->uffd = uffd_open(err)) < 0)
		goto fail;
	struct uffdio_register reg = {
	    .range = {.start = (uint64_t)(uintptr_t)pc->ram, .len = pc->size},
	    .mode = UFFDIO_REGISTER_MODE_MISSING};
	if (ioctl(pc->uffd, UFFDIO_REGISTER, &reg) < 0) {
		mc_errorf(err, errno, "post-copy: UFFDIO_REGISTER guest RAM");
		goto fail;
	}
	if (!(reg.ioctls & (1ull << _UFFDIO_COPY)) || !(reg.ioctls & (1ull << _UFFDIO_ZEROPAGE))) {
		mc_errorf(err, 0, "post-copy: userfaultfd offers no UFFDIO_COPY/ZEROPAGE here");
		goto fail;
	}
	int e = pthread_create(&pc->fault_thr, NULL, fault_thread, pc);
	if (e) {
		mc_errorf(err, e, "post-copy: thread");
		goto fail;
	}
	pthread_setname_np(pc->fault_thr, "pc-fault");
	pc->fault_on = true;
	e = pthread_create(&pc->recv_thr, NULL, recv_thread, pc);
	if (e) {
		mc_errorf(err, e, "post-copy: thread");
		goto fail;
	}
	pthread_setname_np(pc->recv_thr, "pc-recv");
	pc->recv_on = true;
	*out = pc;
	return 0;
fail:
	stop_fault_thread(pc);
	pc_free(pc, false);
	return -1;
}

int pc_dest_ack(struct pc_dest *pc, const char *meta, mc_err *err)
{
	pthread_mutex_lock(&pc->lock);
	if (pc->error[0]) {
		int r = mc_errorf(err, 0, "%s", pc->error);
		pthread_mutex_unlock(&pc->lock);
		return r;
	}
	int r = mc_ms_send(pc->tx, MIG_F_ACK, meta, (uint32_t)strnlen(meta, MIG_META_MAX), NULL, 0,
			   err);
	if (r == 0)
		r = mc_ms_flush(pc->tx, err);
	if (r == 0) {
		pc->acked = true;
		pthread_cond_broadcast(&pc->cond);
	}
	pthread_mutex_unlock(&pc->lock);
	return r;
}

void pc_dest_release(struct pc_dest *pc)
{
	if (!pc)
		return;
	pthread_mutex_lock(&pc->lock);
	if (pc->acked) {
		pc->released = true;
		pthread_detach(pc->recv_thr);
		bool free_it = pc->finished;
		pthread_mutex_unlock(&pc->lock);
		if (free_it)
			pc_free(pc, true);
		return;
	}
	pc->aborted = true;
	pthread_cond_broadcast(&pc->cond);
	pthread_mutex_unlock(&pc->lock);
	shutdown(pc->fd, SHUT_RD); /* the receiver out of its read */
	if (pc->recv_on)
		pthread_join(pc->recv_thr, NULL);
	stop_fault_thread(pc);
	pc_free(pc, false);
}
