/* Live migration (migrate.h, docs/migration.md). */
#include "migrate.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <linux/kvm.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "bytes.h"
#include "dirty.h"
#include "log.h"
#include "loop.h"
#include "manifest.h"
#include "mig_disk.h"
#include "migstream.h"
#include "postcopy.h"
#include "snapshot.h"
#include "state.h"
#include "throttle.h"
#include "util.h"
#include "vm.h"

#define RUN_ZERO_MAX	   (1u << 20) /* pages in one zero marker */
#define MIG_RCVBUF	   (2 << 20)  /* the destination's SO_RCVBUF (the kernel doubles it) */
#define DRAIN_MAX_MS	   500u
#define MIG_THROTTLE_FIRST 20u /* auto-converge: the first throttle (%), then steps of */
#define MIG_THROTTLE_STEP  10u /* ... up to THROTTLE_MAX_PCT (QEMU's defaults) */
#define ZBUF_MAX	   (MIG_RUN_MAX * MIG_PAGE + MIG_RUN_MAX * MIG_PAGE / 100 + 4096)

/* ---- the stream parser (no KVM) ------------------------------------------------------ */

static int recv_hello(struct mc_ms *rx, const char *magic, mc_err *err)
{
	uint8_t h[MC_MS_MAGIC_LEN + 4];
	if (mc_ms_recv_data(rx, h, sizeof(h), err) < 0)
		return -1;
	if (memcmp(h, magic, MC_MS_MAGIC_LEN) != 0)
		return mc_errorf(err, 0, "not a minivm migration stream (bad magic)");
	if (get32(h + MC_MS_MAGIC_LEN) != MIG_VERSION)
		return mc_errorf(err, 0, "migration stream version %u, this minivm speaks %u",
				 get32(h + MC_MS_MAGIC_LEN), MIG_VERSION);
	return 0;
}

int mig_recv_setup(struct mc_ms *rx, struct mig_setup *su, mc_err *err)
{
	uint8_t meta[MIG_META_MAX + 1];
	struct mc_ms_frame f;
	if (recv_hello(rx, MIG_MAGIC, err) < 0 ||
	    mc_ms_recv_frame(rx, &f, meta, MIG_META_MAX, err) < 0)
		return -1;
	if (f.type != MIG_F_SETUP || f.meta_len != MIG_SETUP_LEN || f.data_len > MIG_MANIFEST_MAX)
		return mc_errorf(err, 0, "first frame: type %u with %u+%llu bytes, not the set-up",
				 f.type, f.meta_len, (unsigned long long)f.data_len);
	*su = (struct mig_setup){.ncpus = get32(meta),
				 .flags = get32(meta + 4),
				 .mem_size = get64(meta + 8),
				 .tsc_khz = get32(meta + 16),
				 .page_size = get32(meta + 20),
				 .cpuid_crc = get32(meta + 24),
				 .manifest_len = (uint32_t)f.data_len,
				 .disks = get32(meta + 28)};
	/* the device manifest: checked by the caller (manifest_parse) */
	if (mc_ms_recv_data(rx, su->manifest, su->manifest_len, err) < 0)
		return mc_wrap(err, "set-up: the device manifest");
	if (su->ncpus < 1 || su->ncpus > SNAP_MAX_CPUS)
		return mc_errorf(err, 0, "set-up: %u vCPUs (1 to %u)", su->ncpus, SNAP_MAX_CPUS);
	if (su->flags & ~SNAP_FLAG_PIT)
		return mc_errorf(err, 0, "set-up: unknown flags 0x%x", su->flags);
	if (su->mem_size < (16ull << 20) || su->mem_size > (1ull << 40) ||
	    su->mem_size % (2ull << 20))
		return mc_errorf(err, 0, "set-up: memory size %llu bytes is not a valid guest size",
				 (unsigned long long)su->mem_size);
	if (su->page_size != MIG_PAGE)
		return mc_errorf(err, 0, "set-up: page size %u (this minivm: %u)", su->page_size,
				 MIG_PAGE);
	if (su->disks > MIG_DISKS_MAX)
		return mc_errorf(err, 0, "set-up: %u disk images (at most %u)", su->disks,
				 MIG_DISKS_MAX);
	return 0;
}

int mig_recv_body(struct mc_ms *rx, uint8_t *ram, uint64_t mem_size, struct mig_disk_dst *dk,
		  struct mig_rx_stats *st, uint8_t **state, size_t *state_len, mc_err *err)
{
	uint64_t npages = mem_size / MIG_PAGE;
	uint64_t *written = calloc((npages + 63) / 64, 8); /* pages holding received data */
	uint8_t *zbuf = NULL, meta[MIG_META_MAX + 1];
	z_stream zs = {0};
	bool zinit = false;
	uint8_t *sbuf = NULL;
	size_t slen = 0;
	int r = -1;
	*st = (struct mig_rx_stats){0};
	if (!written) {
		mc_errorf(err, ENOMEM, "page bitmap");
		goto out;
	}
	for (uint64_t nframe = 1;; nframe++) {
		struct mc_ms_frame f;
		if (mc_ms_recv_frame(rx, &f, meta, MIG_META_MAX, err) < 0) {
			mc_wrap(err, "frame %llu", (unsigned long long)nframe);
			goto out;
		}
		if (f.type == MC_MS_END) {
			if (!sbuf) {
				mc_errorf(err, 0, "the stream ended without the VM's state");
				goto out;
			}
			break;
		}
		if (sbuf) {
			mc_errorf(err, 0, "frame %llu: type %u after the VM's state",
				  (unsigned long long)nframe, f.type);
			goto out;
		}
		switch (f.type) {
		case MIG_F_PAGES:
		case MIG_F_ZERO: {
			const char *what = f.type == MIG_F_PAGES ? "pages" : "zero pages";
			if (f.meta_len != 16) {
				mc_errorf(err, 0, "frame %llu (%s): meta of %u bytes, want 16",
					  (unsigned long long)nframe, what, f.meta_len);
				goto out;
			}
			uint64_t first = get64(meta);
			uint32_t n = get32(meta + 8), enc = get32(meta + 12);
			if (n == 0 || first >= npages || n > npages - first) {
				mc_errorf(err, 0,
					  "frame %llu (%s): pages %llu+%u outside the guest's %llu",
					  (unsigned long long)nframe, what,
					  (unsigned long long)first, n, (unsigned long long)npages);
				goto out;
			}
			uint8_t *dst = ram + first * MIG_PAGE;
			uint64_t bytes = (uint64_t)n * MIG_PAGE;
			if (f.type == MIG_F_PAGES)
				__atomic_store_n(&st->front, first + n, __ATOMIC_RELAXED);
			if (f.type == MIG_F_ZERO) {
				if (enc != 0 || f.data_len != 0 || n > RUN_ZERO_MAX) {
					mc_errorf(err, 0, "frame %llu (zero pages): bad marker",
						  (unsigned long long)nframe);
					goto out;
				}
				for (uint64_t p = first; p < first + n; p++)
					if (written[p / 64] & (1ull << (p % 64))) {
						memset(ram + p * MIG_PAGE, 0, MIG_PAGE);
						written[p / 64] &= ~(1ull << (p % 64));
					}
				st->zero_pages += n;
				break;
			}
			if (n > MIG_RUN_MAX) {
				mc_errorf(err, 0,
					  "frame %llu (pages): %u pages in one frame (at most %u)",
					  (unsigned long long)nframe, n, MIG_RUN_MAX);
				goto out;
			}
			if (enc == MIG_ENC_RAW) {
				if (f.data_len != bytes) {
					mc_errorf(
					    err, 0,
					    "frame %llu (pages): %llu bytes of data for %u pages",
					    (unsigned long long)nframe,
					    (unsigned long long)f.data_len, n);
					goto out;
				}
				if (mc_ms_recv_data(rx, dst, bytes, err) < 0)
					goto out;
			} else if (enc == MIG_ENC_ZLIB) {
				if (f.data_len == 0 || f.data_len > ZBUF_MAX) {
					mc_errorf(err, 0,
						  "frame %llu (pages): %llu compressed bytes for "
						  "%u pages",
						  (unsigned long long)nframe,
						  (unsigned long long)f.data_len, n);
					goto out;
				}
				if (!zbuf && !(zbuf = malloc(ZBUF_MAX))) {
					mc_errorf(err, ENOMEM, "zlib buffer");
					goto out;
				}
				if (!zinit) {
					if (inflateInit(&zs) != Z_OK) {
						mc_errorf(err, 0, "inflateInit");
						goto out;
					}
					zinit = true;
				}
				if (mc_ms_recv_data(rx, zbuf, f.data_len, err) < 0)
					goto out;
				inflateReset(&zs);
				zs.next_in = zbuf;
				zs.avail_in = (uInt)f.data_len;
				zs.next_out = dst;
				zs.avail_out = (uInt)bytes;
				int zr = inflate(&zs, Z_FINISH);
				if (zr != Z_STREAM_END || zs.avail_out != 0 || zs.avail_in != 0) {
					mc_errorf(
					    err, 0,
					    "frame %llu (pages): bad compressed data (zlib %d, "
					    "%u bytes short)",
					    (unsigned long long)nframe, zr, zs.avail_out);
					goto out;
				}
			} else {
				mc_errorf(err, 0, "frame %llu (pages): unknown encoding %u",
					  (unsigned long long)nframe, enc);
				goto out;
			}
			for (uint64_t p = first; p < first + n; p++)
				written[p / 64] |= 1ull << (p % 64);
			st->pages += n;
			break;
		}
		case MIG_F_ROUND:
			if (f.meta_len != 8 || f.data_len != 0) {
				mc_errorf(err, 0, "frame %llu (round): %u+%llu bytes",
					  (unsigned long long)nframe, f.meta_len,
					  (unsigned long long)f.data_len);
				goto out;
			}
			st->rounds++;
			/* copy-storage: what the rounds wrote so far goes to stable storage now,
			 * not during the downtime */
			if (dk && dk->n && mig_disk_dst_sync(dk, err) < 0)
				goto out;
			break;
		case MIG_F_DISK:
			if (!dk || !dk->n) {
				mc_errorf(err, 0,
					  "frame %llu: a disk block, but the set-up announced no "
					  "copy-storage",
					  (unsigned long long)nframe);
				goto out;
			}
			if (mig_disk_recv(dk, rx, &f, meta, err) < 0) {
				mc_wrap(err, "frame %llu", (unsigned long long)nframe);
				goto out;
			}
			break;
		case MIG_F_POSTCOPY:
			if (pc_recv_need(rx, &f, meta, npages, &st->pc_need, &st->pc_pages, err) <
			    0)
				goto out;
			break;
		case MIG_F_STATE:
			if (f.meta_len != 0 || f.data_len < SNAP_HEADER_LEN ||
			    f.data_len > SNAP_STATE_MAX) {
				mc_errorf(err, 0, "frame %llu (state): %u+%llu bytes",
					  (unsigned long long)nframe, f.meta_len,
					  (unsigned long long)f.data_len);
				goto out;
			}
			slen = (size_t)f.data_len;
			if (!(sbuf = malloc(slen))) {
				mc_errorf(err, ENOMEM, "state");
				goto out;
			}
			if (mc_ms_recv_data(rx, sbuf, slen, err) < 0)
				goto out;
			break;
		default:
			mc_errorf(err, 0, "frame %llu: unexpected type %u",
				  (unsigned long long)nframe, f.type);
			goto out;
		}
	}
	st->bytes = rx->bytes;
	st->end_ns = mc_now_ns();
	*state = sbuf;
	*state_len = slen;
	sbuf = NULL;
	r = 0;
out:
	if (zinit)
		inflateEnd(&zs);
	free(zbuf);
	free(sbuf);
	free(written);
	if (r < 0) {
		free(st->pc_need);
		st->pc_need = NULL;
	}
	return r;
}

/* ---- sockets ------------------------------------------------------------------------- */

static void sock_timeouts(int fd, int snd_s, int rcv_s)
{
	struct timeval s = {.tv_sec = snd_s}, r = {.tv_sec = rcv_s};
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &s, sizeof(s));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &r, sizeof(r));
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)); /* fails on Unix sockets */
}

/* "tcp:HOST:PORT" -> host, port; "unix:PATH" -> path. */
static int parse_uri(const char *uri, char *host, size_t hlen, char *port, size_t plen,
		     bool *is_unix, mc_err *err)
{
	*is_unix = false;
	if (strncmp(uri, "unix:", 5) == 0 && uri[5]) {
		*is_unix = true;
		if (strlen(uri + 5) >= sizeof(((struct sockaddr_un *)0)->sun_path))
			return mc_errorf(err, 0, "`%s`: path too long", uri);
		snprintf(host, hlen, "%s", uri + 5);
		return 0;
	}
	const char *c = strrchr(uri, ':');
	if (strncmp(uri, "tcp:", 4) != 0 || !c || c < uri + 4 || !c[1] ||
	    (size_t)(c - uri - 4) >= hlen || strlen(c + 1) >= plen)
		return mc_errorf(err, 0, "`%s`: expected tcp:HOST:PORT or unix:PATH", uri);
	memcpy(host, uri + 4, (size_t)(c - uri - 4));
	host[c - uri - 4] = 0;
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = 0;
	}
	snprintf(port, plen, "%s", c + 1);
	return 0;
}

static int sock_connect(const char *uri, int timeout_ms, mc_err *err)
{
	char host[256], port[32];
	bool is_unix;
	if (parse_uri(uri, host, sizeof(host), port, sizeof(port), &is_unix, err) < 0)
		return -1;
	if (is_unix) {
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		memcpy(sa.sun_path, host, strnlen(host, sizeof(sa.sun_path) - 1));
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			int e = errno;
			if (fd >= 0)
				close(fd);
			return mc_errorf(err, e, "connect `%s`", uri);
		}
		return fd;
	}
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
	int g = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai);
	if (g != 0)
		return mc_errorf(err, 0, "`%s`: %s", uri, gai_strerror(g));
	int fd = -1, e = 0;
	for (struct addrinfo *a = ai; a; a = a->ai_next) {
		fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0) {
			e = errno;
			continue;
		}
		if (connect(fd, a->ai_addr, a->ai_addrlen) < 0 && errno == EINPROGRESS) {
			struct pollfd p = {.fd = fd, .events = POLLOUT};
			int pr = poll(&p, 1, timeout_ms);
			socklen_t l = sizeof(e);
			e = 0;
			if (pr == 0)
				e = ETIMEDOUT;
			else if (pr < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &l) < 0)
				e = errno;
		} else
			e = errno == EISCONN ? 0 : errno;
		if (e == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	if (fd < 0)
		return mc_errorf(err, e, "connect `%s`", uri);
	int fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	return fd;
}

/* ---- destination --------------------------------------------------------------------- */

struct mig_incoming {
	int fd;
	struct mig_setup su;
	struct mc_ms *rx, *tx;
	bool hello_sent, acked;
	uint64_t end_ns;
	struct pc_dest *pc;  /* a post-copy: it takes the connection at the ACK */
	struct prefault *pf; /* the receive's, stopped, joined at close */
	struct vm *thp_off;  /* the VM whose RAM gets THP back at close (4 KiB pages meanwhile) */
	struct mig_disk_dst dk; /* copy-storage: the images written */
};

/* A checksum of the CPU feature bits KVM offers (leaves 1, 7.0, 0xd.0-1, 0x80000001): what a
 * guest may have started to use. Not the whole table: some leaves (topology, APIC ids) vary
 * with the host CPU the process runs on. */
static uint32_t cpuid_crc(const struct vm *vm)
{
	uint32_t crc = 0;
	for (uint32_t i = 0; vm->cpuid && i < vm->cpuid->nent; i++) {
		const struct kvm_cpuid_entry2 *e = &vm->cpuid->entries[i];
		uint32_t v[4] = {e->function, e->index, 0, 0};
		if (e->function == 1) {
			v[2] = e->ecx;
			v[3] = e->edx;
		} else if ((e->function == 7 && e->index == 0) || e->function == 0x80000001) {
			v[2] = e->ebx ^ e->ecx;
			v[3] = e->edx;
		} else if (e->function == 0xd && e->index <= 1) {
			v[2] = e->eax;
		} else
			continue;
		crc = mc_crc32(crc, v, sizeof(v));
	}
	return crc;
}

/* Wait for a connection on lfd; SIGINT/SIGTERM (blocked, the event loop's later) end it. */
static int accept_one(int lfd, mc_err *err)
{
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	int sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	struct pollfd p[2] = {{.fd = lfd, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
	for (;;) {
		int r = poll(p, sfd >= 0 ? 2 : 1, -1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			if (sfd >= 0)
				close(sfd);
			return mc_errorf(err, e, "poll");
		}
		if (sfd >= 0 && (p[1].revents & POLLIN)) {
			struct signalfd_siginfo si;
			ssize_t n = read(sfd, &si, sizeof(si));
			close(sfd);
			return mc_errorf(err, 0, "signal %d while waiting for the source",
					 n == (ssize_t)sizeof(si) ? (int)si.ssi_signo : 0);
		}
		if (p[0].revents) {
			int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
			if (fd < 0 && (errno == EINTR || errno == ECONNABORTED))
				continue;
			int e = errno;
			if (sfd >= 0)
				close(sfd);
			if (fd < 0)
				return mc_errorf(err, e, "accept");
			return fd;
		}
	}
}

static int listen_uri(const char *uri, mc_err *err)
{
	char host[256], port[32];
	bool is_unix;
	if (parse_uri(uri, host, sizeof(host), port, sizeof(port), &is_unix, err) < 0)
		return -1;
	int lfd = -1;
	if (is_unix) {
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		memcpy(sa.sun_path, host, strnlen(host, sizeof(sa.sun_path) - 1));
		lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
		    listen(lfd, 1) < 0) {
			int e = errno;
			if (lfd >= 0)
				close(lfd);
			return mc_errorf(err, e, "listen on `%s`", uri);
		}
		fprintf(stderr, "minivm: waiting for an incoming migration on unix:%s\n", host);
		return lfd;
	}
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
				 .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE},
			*ai = NULL;
	int g = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai);
	if (g != 0)
		return mc_errorf(err, 0, "`%s`: %s", uri, gai_strerror(g));
	int e = 0;
	for (struct addrinfo *a = ai; a && lfd < 0; a = a->ai_next) {
		lfd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int one = 1;
		if (lfd >= 0)
			setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (lfd >= 0 && (bind(lfd, a->ai_addr, a->ai_addrlen) < 0 || listen(lfd, 1) < 0)) {
			e = errno;
			close(lfd);
			lfd = -1;
		} else if (lfd < 0)
			e = errno;
	}
	freeaddrinfo(ai);
	if (lfd < 0)
		return mc_errorf(err, e, "listen on `%s`", uri);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char h[NI_MAXHOST] = "?", p[NI_MAXSERV] = "?";
	if (getsockname(lfd, (struct sockaddr *)&ss, &sl) == 0)
		getnameinfo((struct sockaddr *)&ss, sl, h, sizeof(h), p, sizeof(p),
			    NI_NUMERICHOST | NI_NUMERICSERV);
	fprintf(stderr, "minivm: waiting for an incoming migration on tcp:%s:%s\n", h, p);
	return lfd;
}

int mig_incoming_open(const char *uri, struct mig_incoming **out, mc_err *err)
{
	struct mig_incoming *in = calloc(1, sizeof(*in));
	if (!in)
		return mc_errorf(err, ENOMEM, "incoming migration");
	in->fd = -1;
	in->rx = malloc(sizeof(*in->rx));
	in->tx = malloc(sizeof(*in->tx));
	if (!in->rx || !in->tx) {
		mc_errorf(err, ENOMEM, "incoming migration");
		goto fail;
	}
	if (strncmp(uri, "fd:", 3) == 0) {
		uint64_t n;
		struct stat st;
		if (mc_parse_uint(uri + 3, 0, 1 << 20, &n, "--incoming fd:N", err) < 0)
			goto fail;
		if (fstat((int)n, &st) < 0 || !S_ISSOCK(st.st_mode)) {
			mc_errorf(err, 0, "--incoming `%s`: not a socket", uri);
			goto fail;
		}
		in->fd = (int)n;
	} else {
		int lfd = listen_uri(uri, err);
		if (lfd < 0)
			goto fail;
		in->fd = accept_one(lfd, err);
		close(lfd);
		if (strncmp(uri, "unix:", 5) == 0)
			unlink(uri + 5);
		if (in->fd < 0)
			goto fail;
	}
	sock_timeouts(in->fd, 10, 30);
	/* A bounded receive queue: loopback's autotuning grows it to tcp_rmem's maximum (32 MiB
	 * here), and whatever it holds when the source pauses the guest is read during the
	 * downtime (the source waits for its own send queue to drain before it pauses). */
	int rcvbuf = MIG_RCVBUF;
	setsockopt(in->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	mc_ms_init(in->rx, in->fd);
	mc_ms_init(in->tx, in->fd);
	if (mig_recv_setup(in->rx, &in->su, err) < 0)
		goto fail;
	*out = in;
	return 0;
fail:
	mig_incoming_close(in, err ? mc_error_text(*err) : NULL);
	return mc_wrap(err, "incoming migration");
}

const struct mig_setup *mig_incoming_setup(const struct mig_incoming *in)
{
	return &in->su;
}

static int send_reply(struct mig_incoming *in, uint32_t type, const char *meta, mc_err *err)
{
	if (!in->hello_sent) {
		if (mc_ms_send_hello(in->tx, MIG_MAGIC_REPLY, MIG_VERSION, err) < 0)
			return -1;
		in->hello_sent = true;
	}
	uint32_t ml = meta ? (uint32_t)strnlen(meta, MIG_META_MAX) : 0;
	if (mc_ms_send(in->tx, type, meta, ml, NULL, 0, err) < 0)
		return -1;
	return mc_ms_flush(in->tx, err);
}

/* Fresh guest RAM costs a page fault and the zeroing of a page (2 MiB with THP) at its first
 * write, which the receiving thread would pay between two socket reads (on this host's nested
 * KVM ~70% of the receiver's time for 216 MiB of data). This thread faults in the RAM just
 * ahead of the page frames as they arrive (MADV_POPULATE_WRITE: never touches a page's
 * contents), PREFAULT_AHEAD at most past the last page frame, so runs of zero pages (sent as
 * markers) stay unallocated. */
#define PREFAULT_AHEAD (8u << 20)
#define PREFAULT_STEP  (2u << 20)
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
struct prefault {
	uint8_t *ram;
	uint64_t size;
	pthread_mutex_t lock;
	pthread_cond_t cond;   /* stop */
	const uint64_t *front; /* the receiver's mig_rx_stats.front; NULL once stopped */
	bool stop;
	pthread_t thread;
};

static void *prefault_thread(void *arg)
{
	struct prefault *pf = arg;
	uint64_t upto = 0;	   /* bytes faulted in below this, since the last jump */
	uint64_t idle_ns = 100000; /* 0.1 ms while frames arrive, backing off to 5 ms */
	pthread_mutex_lock(&pf->lock);
	while (!pf->stop) {
		uint64_t front = __atomic_load_n(pf->front, __ATOMIC_RELAXED) * MIG_PAGE;
		if (front + 2 * PREFAULT_AHEAD < upto || front > upto + PREFAULT_AHEAD)
			upto = front & ~(uint64_t)(PREFAULT_STEP - 1); /* a jump: follow it */
		if (front && upto < front + PREFAULT_AHEAD && upto < pf->size) {
			uint64_t n =
			    pf->size - upto < PREFAULT_STEP ? pf->size - upto : PREFAULT_STEP;
			pthread_mutex_unlock(&pf->lock);
			int r = madvise(pf->ram + upto, n, MADV_POPULATE_WRITE);
			int e = errno;
			pthread_mutex_lock(&pf->lock);
			if (r < 0 && e != EINTR)
				break; /* not in this kernel: the receiver faults as before */
			upto += n;
			idle_ns = 100000;
			continue;
		}
		/* a wait the stop cuts short: the destination's load does not wait for a sleep */
		struct timespec ts = mc_realtime_after(idle_ns);
		pthread_cond_timedwait(&pf->cond, &pf->lock, &ts);
		idle_ns = idle_ns * 2 > 5000000 ? 5000000 : idle_ns * 2;
	}
	pthread_mutex_unlock(&pf->lock);
	return NULL;
}

/* Start the thread for the receive whose stats are st; NULL when it could not start. */
static struct prefault *prefault_start(struct vm *vm, const struct mig_rx_stats *st)
{
	struct prefault *pf = calloc(1, sizeof(*pf));
	if (!pf)
		return NULL;
	*pf = (struct prefault){.ram = vm->gm.host, .size = vm->gm.size, .front = &st->front};
	pthread_mutex_init(&pf->lock, NULL);
	pthread_cond_init(&pf->cond, NULL);
	if (pthread_create(&pf->thread, NULL, prefault_thread, pf) != 0) {
		pthread_mutex_destroy(&pf->lock);
		pthread_cond_destroy(&pf->cond);
		free(pf);
		return NULL;
	}
	pthread_setname_np(pf->thread, "mig-prefault");
	return pf;
}

/* No new step after this (the receiver's stats may go); a step under way ends by itself. */
static void prefault_stop(struct prefault *pf)
{
	pthread_mutex_lock(&pf->lock);
	pf->stop = true;
	pf->front = NULL;
	pthread_cond_broadcast(&pf->cond);
	pthread_mutex_unlock(&pf->lock);
}

/* Stopped, then waited for (a 2 MiB step at most) and freed; NULL is fine. */
static void prefault_end(struct prefault *pf)
{
	if (!pf)
		return;
	prefault_stop(pf);
	pthread_join(pf->thread, NULL);
	pthread_mutex_destroy(&pf->lock);
	pthread_cond_destroy(&pf->cond);
	free(pf);
}

int mig_incoming_receive(struct mig_incoming *in, struct vm *vm, struct snap **snap, mc_err *err)
{
	const struct mig_setup *su = &in->su;
	int khz = ioctl(vm->vcpus[0].fd, KVM_GET_TSC_KHZ, 0);
	if (su->tsc_khz && khz > 0 && (uint32_t)khz != su->tsc_khz)
		return mc_errorf(err, 0,
				 "incoming migration: the source's TSC runs at %u kHz, "
				 "this host's at %d kHz",
				 su->tsc_khz, khz);
	if (su->cpuid_crc && su->cpuid_crc != cpuid_crc(vm)) /* 0: not checked */
		return mc_errorf(err, 0,
				 "incoming migration: this host's CPU features "
				 "(KVM_GET_SUPPORTED_CPUID) differ from the source's");
	/* Copy-storage: every image writable before any memory moves. */
	if (su->disks && mig_disk_dst_open(&in->dk, vm, su->disks, err) < 0)
		return mc_wrap(err, "incoming migration");
	if (send_reply(in, MIG_F_READY, NULL, err) < 0)
		return mc_wrap(err, "incoming migration");
	struct mig_rx_stats st = {0};
	uint8_t *state = NULL;
	size_t len = 0;
	/* The receive faults guest RAM in with 4 KiB pages, THP back on after the ACK (a madvise
	 * that changes the mapping's flags waits for a populate under way, so not at the end
	 * frame). On this host free 2 MiB blocks go back to the outer hypervisor (free page
	 * reporting), and a huge page's first touch cost 2.3x a 4 KiB page's (populating 216 MiB:
	 * 328-1097 ms vs 160-360 ms, 5 tries each); 216 MiB migrated in 0.69x the time (pooled
	 * medians of 20 runs each at load 8-12). The source, restored from a snapshot, and QEMU's
	 * file-backed destination run on 4 KiB pages too. */
	vm_ram_thp(vm, false);
	in->thp_off = vm;
	in->pf = prefault_start(vm, &st);
	int r = mig_recv_body(in->rx, vm->gm.host, vm->gm.size, &in->dk, &st, &state, &len, err);
	/* The thread may still be faulting in its last step: waiting for it here would add to the
	 * downtime (19 ms seen), so it is joined after the ACK (mig_incoming_close), unless a
	 * post-copy is to register the RAM with userfaultfd: a populated missing page would read
	 * as zero there. */
	if (in->pf && (r < 0 || st.pc_need)) {
		prefault_end(in->pf);
		in->pf = NULL;
	} else if (in->pf)
		prefault_stop(in->pf);
	if (r == 0 && in->dk.n) {
		uint64_t t_sync = mc_now_ns();
		r = mig_disk_dst_sync(&in->dk, err);
		mc_log_debug("copy-storage: %llu bytes of data, %llu of zeros into %u images, "
			     "fdatasync %.1f ms",
			     (unsigned long long)in->dk.data_bytes,
			     (unsigned long long)in->dk.zero_bytes, in->dk.n,
			     (double)(mc_now_ns() - t_sync) / 1e6);
	}
	if (r < 0) {
		free(state);
		return mc_wrap(err, "incoming migration");
	}
	in->end_ns = st.end_ns;
	mc_log_debug("incoming migration: %llu pages, %llu zero markers, %llu rounds, %llu bytes",
		     (unsigned long long)st.pages, (unsigned long long)st.zero_pages,
		     (unsigned long long)st.rounds, (unsigned long long)st.bytes);
	struct snap *s = calloc(1, sizeof(*s));
	if (!s) {
		free(state);
		return mc_errorf(err, ENOMEM, "incoming migration");
	}
	s->buf = state;
	s->len = len;
	s->mem_fd = -1;
	if (snap_parse(state, len, s, err) < 0) {
		snap_close(s);
		return mc_wrap(err, "incoming migration: the VM's state");
	}
	if (s->ncpus != su->ncpus || s->mem_size != su->mem_size || s->flags != su->flags) {
		snap_close(s);
		return mc_errorf(err, 0,
				 "incoming migration: the state's geometry differs from "
				 "the set-up's");
	}
	if (st.pc_need) {
		int pr = pc_dest_start(vm, in->fd, in->rx, in->tx, st.pc_need, st.pc_pages, &in->pc,
				       err);
		st.pc_need = NULL;
		if (pr < 0) {
			snap_close(s);
			return mc_wrap(err, "incoming migration");
		}
	}
	*snap = s;
	return 0;
}

int mig_incoming_ack(struct mig_incoming *in, mc_err *err)
{
	char meta[64];
	snprintf(meta, sizeof(meta), "{\"load_ms\":%.3f}",
		 (double)(mc_now_ns() - in->end_ns) / 1e6);
	if (in->pc) { /* the connection is the post-copy's from here on */
		if (pc_dest_ack(in->pc, meta, err) < 0)
			return mc_wrap(err, "incoming migration: acknowledge");
		in->acked = true;
		in->fd = -1;
		in->rx = in->tx = NULL;
		return 0;
	}
	if (send_reply(in, MIG_F_ACK, meta, err) < 0)
		return mc_wrap(err, "incoming migration: acknowledge");
	in->acked = true;
	return 0;
}

void mig_incoming_close(struct mig_incoming *in, const char *error)
{
	if (!in)
		return;
	pc_dest_release(in->pc);
	if (in->fd >= 0 && !in->acked && error && in->tx) {
		mc_err e = NULL;
		sock_timeouts(in->fd, 1, 1);
		if (send_reply(in, MIG_F_ERR, error, &e) == 0)
			shutdown(in->fd, SHUT_WR);
		mc_error_free(&e);
	}
	prefault_end(in->pf);
	if (in->thp_off && !in->pc) /* a post-copy's RAM is userfaultfd's: left as it is */
		vm_ram_thp(in->thp_off, true);
	if (in->fd >= 0)
		close(in->fd);
	mig_disk_dst_close(&in->dk);
	free(in->rx);
	free(in->tx);
	free(in);
}

/* ---- source -------------------------------------------------------------------------- */

enum { REQ_NONE, REQ_PAUSE, REQ_RESUME };

struct migration {
	struct vm *vm;
	struct loop *loop;
	int efd;
	void (*done)(void *opaque);
	void *opaque;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	bool thread_live, finished, freeing;
	int sock;
	bool cancel;
	/* a pause or resume asked of the loop's thread */
	int req;
	bool req_done;
	int req_r;
	char req_err[256];
	uint64_t req_ns;

	/* status and statistics (lock) */
	enum mig_status status;
	char error[768];
	struct mig_params p;
	uint64_t t_start, setup_ns, total_ns, downtime_ns, pause_ns, final_ns, bytes, data_pages,
	    zero_pages, rounds, dirty_rate_bps, bw_bps, expected_downtime_ns;
	uint64_t round_pages[MIG_ROUNDS_KEPT + 1];
	uint64_t round_dirty_bps[MIG_ROUNDS_KEPT + 1]; /* the dirty rate each round measured */
	double dest_load_ms;
	uint32_t throttle_pct, throttle_steps; /* auto-converge: the last throttle, its raises */
	uint64_t ring_entries;		       /* dirty ring entries harvested */
	bool lost; /* post-copy: the guest ran at the destination, a failure loses it */
	uint64_t pc_ns, pc_pages, pc_requests, pc_asked; /* post-copy: ACK to done, pages */
	enum dirty_track track;
	unsigned disks;				  /* copy-storage: the images sent */
	uint64_t disk_bytes, disk_zero_bytes;	  /* sent as data, as zero markers */
	uint64_t round_disk[MIG_ROUNDS_KEPT + 1]; /* image bytes each round covered */

	/* the thread's own */
	struct mc_ms *tx, *rx;
	struct dirty *dt;     /* dirty tracking (dirty.h) */
	struct throttle *thr; /* auto-converge (throttle.h) */
	uint64_t npages, *pending;
	struct mig_disk_src dk; /* copy-storage */
	z_stream zs;
	bool zinit;
	uint8_t *zbuf;
	uint64_t tb_t0, tb_bytes, limit_bps; /* bandwidth limit: bytes per second, 0 none */
};

const char *mig_status_name(enum mig_status s)
{
	static const char *const n[] = {"none",	    "setup",	"active", "switchover",
					"postcopy", "migrated", "failed", "cancelled"};
	return s <= MIG_CANCELLED ? n[s] : "?";
}

static bool cancelled(struct migration *m)
{
	return __atomic_load_n(&m->cancel, __ATOMIC_SEQ_CST);
}

/* Have the loop's thread pause or resume the VM, wait for it. */
static int loop_call(struct migration *m, int op, uint64_t *ns, mc_err *err)
{
	pthread_mutex_lock(&m->lock);
	if (m->freeing) {
		pthread_mutex_unlock(&m->lock);
		return mc_errorf(err, 0, "minivm is ending");
	}
	m->req = op;
	m->req_done = false;
	pthread_mutex_unlock(&m->lock);
	uint64_t one = 1;
	if (write(m->efd, &one, sizeof(one)) < 0)
		return mc_errorf(err, errno, "eventfd");
	pthread_mutex_lock(&m->lock);
	while (!m->req_done)
		pthread_cond_wait(&m->cond, &m->lock);
	int r = m->req_r;
	if (r < 0)
		mc_errorf(err, 0, "%s", m->req_err);
	if (ns)
		*ns = m->req_ns;
	m->req = REQ_NONE;
	pthread_mutex_unlock(&m->lock);
	return r;
}

static void on_event(void *opaque, uint32_t events)
{
	struct migration *m = opaque;
	(void)events;
	uint64_t v;
	if (read(m->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return;
	pthread_mutex_lock(&m->lock);
	if (m->req != REQ_NONE && !m->req_done) {
		int op = m->req;
		pthread_mutex_unlock(&m->lock);
		mc_err err = NULL;
		uint64_t ns = 0;
		int r = op == REQ_PAUSE ? vm_pause(m->vm, &ns, &err) : vm_resume(m->vm, &ns, &err);
		pthread_mutex_lock(&m->lock);
		m->req_r = r;
		m->req_ns = ns;
		snprintf(m->req_err, sizeof(m->req_err), "%s", err ? mc_error_text(err) : "");
		mc_error_free(&err);
		m->req_done = true;
		pthread_cond_broadcast(&m->cond);
	}
	bool report = m->finished && m->thread_live;
	pthread_mutex_unlock(&m->lock);
	if (!report)
		return;
	pthread_join(m->thread, NULL);
	pthread_mutex_lock(&m->lock);
	m->thread_live = false;
	enum mig_status s = m->status;
	pthread_mutex_unlock(&m->lock);
	if (m->done)
		m->done(m->opaque);
	if (s == MIG_MIGRATED)
		vm_end(m->vm, VM_STOPPED, "migrated to %s", m->p.uri);
}

/* -- sending -- */

static void throttle(struct migration *m)
{
	if (!m->limit_bps)
		return;
	uint64_t sent = m->tx->bytes - m->tb_bytes;
	uint64_t due_ns = (uint64_t)((double)sent * 1e9 / (double)m->limit_bps);
	uint64_t el = mc_now_ns() - m->tb_t0;
	if (due_ns > el) {
		uint64_t d = due_ns - el;
		struct timespec ts = {.tv_sec = (time_t)(d / 1000000000ull),
				      .tv_nsec = (long)(d % 1000000000ull)};
		nanosleep(&ts, NULL);
	}
}

static int send_run(struct migration *m, bool zero, uint64_t first, uint32_t n, bool limit,
		    mc_err *err)
{
	uint8_t meta[16];
	put64(meta, first);
	put32(meta + 8, n);
	put32(meta + 12, MIG_ENC_RAW);
	if (cancelled(m))
		return mc_errorf(err, ECANCELED, "cancelled");
	int r;
	const uint8_t *src = m->vm->gm.host + first * MIG_PAGE;
	size_t bytes = (size_t)n * MIG_PAGE;
	if (zero) {
		r = mc_ms_send(m->tx, MIG_F_ZERO, meta, 16, NULL, 0, err);
		m->zero_pages += n;
	} else if (m->p.compress) {
		if (!m->zinit) {
			if (deflateInit(&m->zs, 1) != Z_OK || !(m->zbuf = malloc(ZBUF_MAX)))
				return mc_errorf(err, ENOMEM, "zlib");
			m->zinit = true;
		}
		deflateReset(&m->zs);
		m->zs.next_in = (Bytef *)src;
		m->zs.avail_in = (uInt)bytes;
		m->zs.next_out = m->zbuf;
		m->zs.avail_out = ZBUF_MAX;
		int zr = deflate(&m->zs, Z_FINISH);
		if (zr == Z_STREAM_END && m->zs.total_out < bytes) {
			put32(meta + 12, MIG_ENC_ZLIB);
			r = mc_ms_send(m->tx, MIG_F_PAGES, meta, 16, m->zbuf, m->zs.total_out, err);
		} else
			r = mc_ms_send(m->tx, MIG_F_PAGES, meta, 16, src, bytes, err);
		m->data_pages += n;
	} else {
		/* Straight from guest RAM: the stream checksums its own copy of the bytes, so a
		 * page the guest writes meanwhile cannot differ between the checksum and what is
		 * sent (it is dirty again and goes in the next round). */
		r = mc_ms_send(m->tx, MIG_F_PAGES, meta, 16, src, bytes, err);
		m->data_pages += n;
	}
	__atomic_store_n(&m->bytes, m->tx->bytes, __ATOMIC_RELAXED); /* for migrate-status */
	if (r == 0 && limit)
		throttle(m);
	return r;
}

/* Runs of zero pages and of data pages, as one walks the pages in order. */
struct runner {
	bool open, zero;
	uint64_t first;
	uint32_t n;
};

static int run_add(struct migration *m, struct runner *ru, uint64_t page, bool zero, bool limit,
		   mc_err *err)
{
	if (ru->open && ru->zero == zero && ru->first + ru->n == page &&
	    ru->n < (zero ? RUN_ZERO_MAX : MIG_RUN_MAX)) {
		ru->n++;
		return 0;
	}
	if (ru->open && send_run(m, ru->zero, ru->first, ru->n, limit, err) < 0)
		return -1;
	*ru = (struct runner){.open = true, .zero = zero, .first = page, .n = 1};
	return 0;
}

static int run_flush(struct migration *m, struct runner *ru, bool limit, mc_err *err)
{
	if (ru->open && send_run(m, ru->zero, ru->first, ru->n, limit, err) < 0)
		return -1;
	ru->open = false;
	return 0;
}

static int send_round_marker(struct migration *m, uint32_t round, mc_err *err)
{
	uint8_t meta[8] = {0};
	put32(meta, round);
	return mc_ms_send(m->tx, MIG_F_ROUND, meta, 8, NULL, 0, err);
}

/* Copy-storage: after each disk frame (mig_disk.h), cancel and the bandwidth cap as for pages. */
static int disk_after(void *opaque, bool limit, mc_err *err)
{
	struct migration *m = opaque;
	if (cancelled(m))
		return mc_errorf(err, ECANCELED, "cancelled");
	__atomic_store_n(&m->bytes, m->tx->bytes, __ATOMIC_RELAXED); /* for migrate-status */
	if (limit)
		throttle(m);
	return 0;
}

/* Copy-storage: send the pending disk blocks, count them (round: where in round_disk). */
static int send_disk(struct migration *m, bool limit, uint64_t round, uint64_t *bytes, mc_err *err)
{
	uint64_t b = 0;
	if (m->dk.n && mig_disk_send_pending(&m->dk, m->tx, limit, &b, err) < 0)
		return mc_wrap(err, "copy-storage");
	pthread_mutex_lock(&m->lock);
	m->round_disk[round < MIG_ROUNDS_KEPT ? round : MIG_ROUNDS_KEPT] += b;
	m->disk_bytes = m->dk.data_bytes;
	m->disk_zero_bytes = m->dk.zero_bytes;
	pthread_mutex_unlock(&m->lock);
	if (bytes)
		*bytes = b;
	return 0;
}

/* Round 0: every page, skipping the ones that cannot hold data without reading them. */
static int send_all(struct migration *m, mc_err *err)
{
	struct snap_scan *sc = snap_scan_new(m->vm->gm.host);
	if (!sc)
		return mc_errorf(err, ENOMEM, "page scan");
	struct runner ru = {0};
	int r = 0;
	for (uint64_t p = 0; p < m->npages && r == 0; p++) {
		uint64_t off = p * MIG_PAGE;
		bool zero = !snap_scan_maybe_data(sc, off) || snap_page_zero(m->vm->gm.host + off);
		r = run_add(m, &ru, p, zero, true, err);
	}
	snap_scan_free(sc);
	if (r == 0)
		r = run_flush(m, &ru, true, err);
	return r;
}

/* The pending pages, which are taken out of m->pending as they go. */
static int send_pending(struct migration *m, bool limit, uint64_t *sent, mc_err *err)
{
	struct runner ru = {0};
	uint64_t n = 0;
	for (uint64_t w = 0; w < (m->npages + 63) / 64; w++) {
		uint64_t bits = m->pending[w];
		m->pending[w] = 0;
		while (bits) {
			unsigned b = (unsigned)__builtin_ctzll(bits);
			bits &= bits - 1;
			uint64_t p = w * 64 + b;
			if (p >= m->npages)
				break;
			if (run_add(m, &ru, p, snap_page_zero(m->vm->gm.host + p * MIG_PAGE), limit,
				    err) < 0)
				return -1;
			n++;
		}
	}
	*sent = n;
	return run_flush(m, &ru, limit, err);
}

static void set_status(struct migration *m, enum mig_status s)
{
	pthread_mutex_lock(&m->lock);
	m->status = s;
	pthread_mutex_unlock(&m->lock);
}

/* The destination's reply frame: READY or ACK expected; ERR's message becomes the error. */
static int recv_reply(struct migration *m, uint32_t want, char *meta, mc_err *err)
{
	struct mc_ms_frame f;
	if (mc_ms_recv_frame(m->rx, &f, meta, MIG_META_MAX, err) < 0)
		return mc_wrap(err, "the destination's reply");
	if (f.type == MIG_F_ERR)
		return mc_errorf(err, 0, "the destination failed: %s", meta);
	if (f.type != want || f.data_len)
		return mc_errorf(err, 0, "the destination replied frame type %u, expected %u",
				 f.type, want);
	return 0;
}

/* After a send failed: the destination may have said why before it closed. */
static void peer_error(struct migration *m, mc_err *err)
{
	char meta[MIG_META_MAX + 1];
	struct mc_ms_frame f;
	mc_err e = NULL;
	struct pollfd p = {.fd = m->sock, .events = POLLIN};
	if (poll(&p, 1, 200) <= 0)
		return;
	sock_timeouts(m->sock, 1, 1);
	if ((m->rx->bytes == 0 && recv_hello(m->rx, MIG_MAGIC_REPLY, &e) < 0) ||
	    mc_ms_recv_frame(m->rx, &f, meta, MIG_META_MAX, &e) < 0) {
		mc_error_free(&e);
		return;
	}
	while (f.type == MIG_F_READY && mc_ms_recv_frame(m->rx, &f, meta, MIG_META_MAX, &e) == 0)
		;
	mc_error_free(&e);
	if (f.type == MIG_F_ERR)
		mc_wrap(err, "the destination failed: %s", meta);
}

static uint64_t bw_of(uint64_t bytes, uint64_t ns)
{
	return ns ? (uint64_t)((double)bytes * 1e9 / (double)ns) : 0;
}

/* Before the pause: wait (up to DRAIN_MAX_MS) until the socket's send queue is empty, so the
 * bytes still in flight are not sent during the downtime. */
static void drain(int fd)
{
	uint64_t t0 = mc_now_ns();
	int q = 0;
	while (ioctl(fd, SIOCOUTQ, &q) == 0 && q > 0 &&
	       mc_now_ns() - t0 < DRAIN_MAX_MS * 1000000ull) {
		struct timespec ts = {.tv_nsec = 200000};
		nanosleep(&ts, NULL);
	}
}

/* Post-copy (postcopy.h): the guest is paused, m->pending holds what is left. */
struct pc_ack {
	struct migration *m;
	uint64_t t_pause, pause_ns;
};

static void pc_on_ack(void *opaque, const char *meta)
{
	struct pc_ack *a = opaque;
	struct migration *m = a->m;
	json_object *ack = json_tokener_parse(meta), *jl;
	pthread_mutex_lock(&m->lock);
	if (ack && json_object_object_get_ex(ack, "load_ms", &jl))
		m->dest_load_ms = json_object_get_double(jl);
	m->downtime_ns = mc_now_ns() - a->t_pause;
	m->pause_ns = a->pause_ns;
	m->final_ns = m->downtime_ns;
	m->lost = true;
	m->status = MIG_POSTCOPY;
	pthread_mutex_unlock(&m->lock);
	json_object_put(ack);
}

static int postcopy(struct migration *m, const struct state_w *w, uint64_t t_pause,
		    uint64_t pause_ns, mc_err *err)
{
	struct pc_ack a = {.m = m, .t_pause = t_pause, .pause_ns = pause_ns};
	struct pc_src s = {.ram = m->vm->gm.host,
			   .npages = m->npages,
			   .pending = m->pending,
			   .tx = m->tx,
			   .rx = m->rx,
			   .sock = m->sock,
			   .limit_bps = m->limit_bps,
			   .on_ack = pc_on_ack,
			   .opaque = &a};
	int r = pc_src_run(&s, w->p, w->len, err);
	pthread_mutex_lock(&m->lock);
	m->data_pages += s.pages;
	m->zero_pages += s.zero_pages;
	m->round_pages[m->rounds < MIG_ROUNDS_KEPT ? m->rounds : MIG_ROUNDS_KEPT] =
	    s.pages + s.zero_pages;
	m->pc_pages = s.pages + s.zero_pages;
	m->pc_requests = s.requests;
	m->pc_asked = s.asked_pages;
	m->pc_ns = s.acked ? (s.done_ns ? s.done_ns : mc_now_ns()) - s.ack_ns : 0;
	m->bytes = m->tx->bytes;
	pthread_mutex_unlock(&m->lock);
	return r;
}

static int migrate(struct migration *m, mc_err *err)
{
	struct vm *vm = m->vm;
	char meta[MIG_META_MAX + 1];
	int fd = sock_connect(m->p.uri, 5000, err);
	if (fd < 0)
		return -1;
	pthread_mutex_lock(&m->lock);
	m->sock = fd;
	bool c = m->cancel;
	pthread_mutex_unlock(&m->lock);
	if (c)
		return mc_errorf(err, ECANCELED, "cancelled");
	sock_timeouts(fd, 10, 10);
	mc_ms_init(m->tx, fd);
	mc_ms_init(m->rx, fd);
	uint8_t su[MIG_SETUP_LEN] = {0};
	/* The VM's TSC frequency (KVM_CAP_VM_TSC_CONTROL) rather than vCPU 0's: a vCPU ioctl
	 * waits for the vCPU to leave KVM_RUN, which a stock kernel halted with its interrupts
	 * and notifications in KVM (irqfd, ioeventfd) may not do for minutes. */
	int khz = ioctl(vm->vm_fd, KVM_GET_TSC_KHZ, 0);
	if (khz <= 0)
		khz = ioctl(vm->vcpus[0].fd, KVM_GET_TSC_KHZ, 0);
	bool pit = false;
	{
		struct kvm_pit_state2 ps;
		pit = ioctl(vm->vm_fd, KVM_GET_PIT2, &ps) == 0;
	}
	put32(su, vm->ncpus);
	put32(su + 4, pit ? SNAP_FLAG_PIT : 0);
	put64(su + 8, vm->gm.size);
	put32(su + 16, khz > 0 ? (uint32_t)khz : 0);
	put32(su + 20, MIG_PAGE);
	put32(su + 24, cpuid_crc(vm));
	if (m->p.copy_storage) {
		/* The images, opened before the destination hears of us: a failure here is one
		 * clear error and nothing moved. */
		m->dk.after = disk_after;
		m->dk.opaque = m;
		if (mig_disk_src_open(&m->dk, vm, err) < 0)
			return -1;
		if (!m->dk.n)
			return mc_errorf(err, 0, "copy-storage: this VM has no disk");
		pthread_mutex_lock(&m->lock);
		m->disks = m->dk.n;
		pthread_mutex_unlock(&m->lock);
		put32(su + 28, m->dk.n);
	}
	char man[MIG_MANIFEST_MAX];
	int ml = manifest_write(vm, man, sizeof(man), err);
	if (ml < 0 || mc_ms_send_hello(m->tx, MIG_MAGIC, MIG_VERSION, err) < 0 ||
	    mc_ms_send(m->tx, MIG_F_SETUP, su, sizeof(su), man, (size_t)ml, err) < 0 ||
	    mc_ms_flush(m->tx, err) < 0)
		return -1;
	if (recv_hello(m->rx, MIG_MAGIC_REPLY, err) < 0 ||
	    recv_reply(m, MIG_F_READY, meta, err) < 0)
		return -1;
	m->npages = vm->gm.size / MIG_PAGE;
	m->pending = calloc((m->npages + 63) / 64, 8);
	if (!m->pending)
		return mc_errorf(err, ENOMEM, "dirty bitmap");
	if (dirty_start(vm, &m->dt, err) < 0)
		return -1;
	m->track = dirty_tracker(m->dt);
	if (m->p.auto_converge && throttle_new(vm, &m->thr, err) < 0)
		return -1;
	mig_disk_track(&m->dk, true); /* before the first pass reads the images */
	uint64_t dirty = 0;
	/* With KVM_DIRTY_LOG_INITIALLY_SET every bit starts set: take and clear them; round 0
	 * sends every page anyway. */
	if (dirty_collect(m->dt, m->pending, &dirty, err) < 0 || dirty_reprotect(m->dt, err) < 0)
		return -1;
	memset(m->pending, 0, (m->npages + 63) / 64 * 8);
	uint64_t t_round = mc_now_ns();
	pthread_mutex_lock(&m->lock);
	m->setup_ns = t_round - m->t_start;
	m->status = MIG_ACTIVE;
	pthread_mutex_unlock(&m->lock);

	m->limit_bps = m->p.bandwidth_mibps << 20;
	m->tb_t0 = t_round;
	m->tb_bytes = m->tx->bytes;
	uint64_t b0 = m->tx->bytes;
	/* The images first (copy-storage; post-copy included: the disks are complete at the
	 * switch-over), then the memory, whose pages dirtied meanwhile go in the rounds. */
	if (m->dk.n) {
		if (mig_disk_send_all(&m->dk, m->tx, err) < 0)
			return mc_wrap(err, "copy-storage");
		pthread_mutex_lock(&m->lock);
		m->round_disk[0] = m->dk.data_bytes + m->dk.zero_bytes;
		m->disk_bytes = m->dk.data_bytes;
		m->disk_zero_bytes = m->dk.zero_bytes;
		pthread_mutex_unlock(&m->lock);
	}
	if ((!m->p.postcopy_now && send_all(m, err) < 0) || send_round_marker(m, 0, err) < 0 ||
	    mc_ms_flush(m->tx, err) < 0)
		return -1;
	uint64_t now = mc_now_ns();
	uint64_t bw = bw_of(m->tx->bytes - b0, now - t_round);
	if (m->tx->bytes - b0 < (4u << 20))
		bw = m->limit_bps ? m->limit_bps : (512ull << 20); /* too little sent to tell */
	pthread_mutex_lock(&m->lock);
	m->round_pages[0] = m->data_pages + m->zero_pages;
	m->rounds = 1;
	m->bw_bps = bw;
	m->bytes = m->tx->bytes;
	pthread_mutex_unlock(&m->lock);
	uint64_t t_sync = t_round, last_sent = m->tx->bytes - b0;
	/* what the last round sent: its data pages, and the disk's data (copy-storage) */
	uint64_t last_pages = m->data_pages, last_disk = m->dk.data_bytes;
	const uint64_t max_down_ns = m->p.max_downtime_ms * 1000000ull;
	for (uint32_t round = 1;; round++) {
		if (cancelled(m))
			return mc_errorf(err, ECANCELED, "cancelled");
		if (dirty_collect(m->dt, m->pending, &dirty, err) < 0)
			return -1;
		uint64_t disk_dirty = mig_disk_collect(&m->dk); /* bytes of the images */
		now = mc_now_ns();
		uint64_t rate = bw_of(dirty * MIG_PAGE, now - t_sync);
		t_sync = now;
		/* What the last pass would cost at the measured bandwidth (the disk blocks the
		 * guest wrote included), plus ~1 ms for the state and the destination's start. */
		uint64_t dirty_bytes = dirty * MIG_PAGE + disk_dirty;
		uint64_t expect = (uint64_t)((double)dirty_bytes * 1e9 / (double)bw) + 1000000;
		/* Auto-converge, as QEMU's: a round in which the guest dirtied more than half of
		 * what we sent (throttle-trigger-threshold 50) raises the throttle. */
		if (m->thr && round >= 2 && dirty_bytes > last_sent / 2 &&
		    m->throttle_pct < THROTTLE_MAX_PCT) {
			uint32_t t = m->throttle_pct ? m->throttle_pct + MIG_THROTTLE_STEP
						     : MIG_THROTTLE_FIRST;
			throttle_set(m->thr, t);
			pthread_mutex_lock(&m->lock);
			m->throttle_pct = t > THROTTLE_MAX_PCT ? THROTTLE_MAX_PCT : t;
			m->throttle_steps++;
			pthread_mutex_unlock(&m->lock);
		}
		uint64_t re = dirty_ring_entries(m->dt);
		pthread_mutex_lock(&m->lock);
		m->ring_entries = re;
		m->dirty_rate_bps = rate;
		if (round < MIG_ROUNDS_KEPT)
			m->round_dirty_bps[round] = rate;
		m->expected_downtime_ns = expect;
		pthread_mutex_unlock(&m->lock);
		/* Done when the rest fits the target, unless the rounds still halve what is left
		 * and it is over a fifth of the target: one more round then costs little and
		 * shortens the downtime (a working set the guest keeps rewriting stops halving). */
		bool fits = expect <= max_down_ns,
		     halving = dirty_bytes * 2 < last_pages * MIG_PAGE + last_disk &&
			       expect > max_down_ns / 5;
		if ((fits && !halving) || round >= m->p.max_rounds || m->p.postcopy_now)
			break;
		if (dirty_reprotect(m->dt, err) < 0)
			return -1;
		t_round = mc_now_ns();
		m->tb_t0 = t_round;
		m->tb_bytes = b0 = m->tx->bytes;
		uint64_t sent = 0, disk_sent = 0;
		if (send_disk(m, true, round, &disk_sent, err) < 0 ||
		    send_pending(m, true, &sent, err) < 0 || send_round_marker(m, round, err) < 0 ||
		    mc_ms_flush(m->tx, err) < 0)
			return -1;
		last_disk = disk_sent;
		now = mc_now_ns();
		last_sent = m->tx->bytes - b0;
		if (m->tx->bytes - b0 >= (4u << 20))
			bw = bw_of(m->tx->bytes - b0, now - t_round);
		last_pages = sent;
		pthread_mutex_lock(&m->lock);
		if (round < MIG_ROUNDS_KEPT)
			m->round_pages[round] = sent;
		m->rounds = round + 1;
		m->bw_bps = bw;
		m->bytes = m->tx->bytes;
		pthread_mutex_unlock(&m->lock);
	}

	/* Switch-over: from here a failure resumes the VM here, unless the destination said it
	 * runs. */
	drain(m->sock);
	set_status(m, MIG_SWITCHOVER);
	if (m->thr) /* the vCPUs stop anyway; one that sleeps would delay the pause */
		throttle_set(m->thr, 0);
	uint64_t t_pause = mc_now_ns(), pause_ns = 0;
	if (loop_call(m, REQ_PAUSE, &pause_ns, err) < 0)
		return mc_wrap(err, "pause");
	uint64_t sent = 0;
	struct state_w w = {0};
	if (m->p.postcopy_now || (m->p.postcopy && m->expected_downtime_ns > max_down_ns)) {
		if (m->p.postcopy_now)
			pc_mark_data(vm->gm.host, m->npages, m->pending);
		/* the disk's last blocks first: it is complete before the guest runs there */
		mig_disk_collect(&m->dk);
		if (dirty_collect(m->dt, m->pending, &dirty, err) < 0 ||
		    send_disk(m, false, m->rounds, NULL, err) < 0 || snap_state(vm, &w, err) < 0 ||
		    postcopy(m, &w, t_pause, pause_ns, err) < 0) {
			if (!m->lost)
				goto resume;
			state_w_free(&w);
			return -1; /* the guest ran there: it stays paused here */
		}
		state_w_free(&w);
		return 0;
	}
	/* vm_pause drained the disks' requests in flight: their blocks are marked. */
	mig_disk_collect(&m->dk);
	if (dirty_collect(m->dt, m->pending, &dirty, err) < 0 ||
	    send_disk(m, false, m->rounds, NULL, err) < 0 ||
	    send_pending(m, false, &sent, err) < 0 || snap_state(vm, &w, err) < 0 ||
	    mc_ms_send(m->tx, MIG_F_STATE, NULL, 0, w.p, w.len, err) < 0 ||
	    mc_ms_send_end(m->tx, err) < 0)
		goto resume;
	uint64_t t_sent = mc_now_ns();
	if (recv_reply(m, MIG_F_ACK, meta, err) < 0)
		goto resume;
	now = mc_now_ns();
	json_object *ack = json_tokener_parse(meta), *jl;
	pthread_mutex_lock(&m->lock);
	if (ack && json_object_object_get_ex(ack, "load_ms", &jl))
		m->dest_load_ms = json_object_get_double(jl);
	m->downtime_ns = now - t_pause;
	m->pause_ns = pause_ns;
	m->final_ns = t_sent - t_pause;
	m->round_pages[m->rounds < MIG_ROUNDS_KEPT ? m->rounds : MIG_ROUNDS_KEPT] = sent;
	m->bytes = m->tx->bytes;
	pthread_mutex_unlock(&m->lock);
	json_object_put(ack);
	state_w_free(&w);
	return 0;
resume:
	state_w_free(&w);
	peer_error(m, err);
	{
		mc_err rerr = NULL;
		if (loop_call(m, REQ_RESUME, NULL, &rerr) < 0)
			mc_wrap(err, "and the VM could not be resumed here (%s)",
				mc_error_text(rerr));
		mc_error_free(&rerr);
	}
	return -1;
}

static void *mig_thread(void *arg)
{
	struct migration *m = arg;
	mc_err err = NULL;
	int r = migrate(m, &err);
	if (r < 0 && m->sock >= 0 && m->status < MIG_SWITCHOVER)
		peer_error(m, &err);
	throttle_free(m->thr); /* the guest runs at full speed again (here or there) */
	m->thr = NULL;
	if (r < 0)
		dirty_stop(m->dt);
	else
		dirty_free(m->dt); /* the VM is gone: tracking stays on */
	m->dt = NULL;
	pthread_mutex_lock(&m->lock);
	if (m->sock >= 0)
		close(m->sock);
	m->sock = -1;
	m->total_ns = mc_now_ns() - m->t_start;
	m->bytes = m->tx ? m->tx->bytes : 0;
	if (r == 0)
		m->status = MIG_MIGRATED;
	else if (m->cancel && m->status != MIG_SWITCHOVER) {
		m->status = MIG_CANCELLED;
		snprintf(m->error, sizeof(m->error), "cancelled; the VM goes on here");
	} else if (m->lost) {
		m->status = MIG_FAILED;
		snprintf(m->error, sizeof(m->error),
			 "%s; post-copy: the guest ran at the destination with part of its memory "
			 "still here: it is lost there, and stays paused here",
			 err ? mc_error_text(err) : "?");
	} else {
		m->status = MIG_FAILED;
		snprintf(m->error, sizeof(m->error), "%s; the VM goes on here",
			 err ? mc_error_text(err) : "?");
	}
	m->finished = true;
	pthread_mutex_unlock(&m->lock);
	mc_error_free(&err);
	free(m->pending);
	m->pending = NULL;
	mig_disk_src_close(&m->dk); /* tracking off, whatever the end */
	if (m->zinit)
		deflateEnd(&m->zs);
	m->zinit = false;
	free(m->zbuf);
	m->zbuf = NULL;
	uint64_t one = 1;
	if (write(m->efd, &one, sizeof(one)) < 0)
		mc_log_warn("migration: eventfd: %s", strerror(errno));
	return NULL;
}

struct migration *mig_new(struct vm *vm, struct loop *l, void (*done)(void *opaque), void *opaque,
			  mc_err *err)
{
	struct migration *m = calloc(1, sizeof(*m));
	if (!m) {
		mc_errorf(err, ENOMEM, "migration");
		return NULL;
	}
	m->vm = vm;
	m->loop = l;
	m->done = done;
	m->opaque = opaque;
	m->sock = -1;
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->cond, NULL);
	m->tx = malloc(sizeof(*m->tx));
	m->rx = malloc(sizeof(*m->rx));
	m->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!m->tx || !m->rx || m->efd < 0 || loop_add(l, m->efd, EPOLLIN, on_event, m, err) < 0) {
		if (!*err)
			mc_errorf(err, errno, "migration");
		if (m->efd >= 0)
			close(m->efd);
		m->efd = -1;
		mig_free(m);
		return NULL;
	}
	return m;
}

int mig_start(struct migration *m, const struct mig_params *p, mc_err *err)
{
	pthread_mutex_lock(&m->lock);
	if (m->thread_live) {
		pthread_mutex_unlock(&m->lock);
		return mc_errorf(err, EBUSY, "a migration is in progress");
	}
	pthread_mutex_unlock(&m->lock);
	if (vm_state(m->vm) != VM_STATE_RUNNING || vm_ended(m->vm))
		return mc_errorf(err, 0, "migrate: the VM is %s, not running",
				 vm_ended(m->vm) ? "ending" : vm_state_name(vm_state(m->vm)));
	char host[256], port[32];
	bool is_unix;
	if (parse_uri(p->uri, host, sizeof(host), port, sizeof(port), &is_unix, err) < 0)
		return mc_wrap(err, "migrate");
	pthread_mutex_lock(&m->lock);
	m->p = *p;
	if (!m->p.max_downtime_ms)
		m->p.max_downtime_ms = 50;
	if (!m->p.max_rounds)
		m->p.max_rounds = 30;
	m->status = MIG_SETUP;
	m->error[0] = 0;
	m->cancel = false;
	m->finished = false;
	m->t_start = mc_now_ns();
	m->setup_ns = m->total_ns = m->downtime_ns = m->pause_ns = m->final_ns = m->bytes =
	    m->data_pages = m->zero_pages = m->rounds = m->dirty_rate_bps = m->bw_bps =
		m->expected_downtime_ns = 0;
	m->dest_load_ms = 0;
	m->throttle_pct = m->throttle_steps = 0;
	m->ring_entries = 0;
	m->lost = false;
	m->pc_ns = m->pc_pages = m->pc_requests = m->pc_asked = 0;
	m->disks = 0;
	m->disk_bytes = m->disk_zero_bytes = 0;
	memset(m->round_disk, 0, sizeof(m->round_disk));
	memset(&m->dk, 0, sizeof(m->dk));
	memset(m->round_pages, 0, sizeof(m->round_pages));
	memset(m->round_dirty_bps, 0, sizeof(m->round_dirty_bps));
	int e = pthread_create(&m->thread, NULL, mig_thread, m);
	if (e == 0) {
		m->thread_live = true;
		pthread_setname_np(m->thread, "migrate");
	} else
		m->status = MIG_NONE;
	pthread_mutex_unlock(&m->lock);
	if (e)
		return mc_errorf(err, e, "migrate: thread");
	return 0;
}

bool mig_cancel(struct migration *m)
{
	pthread_mutex_lock(&m->lock);
	bool live = m->thread_live && !m->finished && m->status != MIG_SWITCHOVER &&
		    m->status != MIG_POSTCOPY;
	if (live) {
		__atomic_store_n(&m->cancel, true, __ATOMIC_SEQ_CST);
		if (m->sock >= 0)
			shutdown(m->sock, SHUT_RDWR); /* out of a blocked send */
	}
	pthread_mutex_unlock(&m->lock);
	return live;
}

bool mig_active(struct migration *m)
{
	pthread_mutex_lock(&m->lock);
	bool a = m->thread_live && !m->finished;
	pthread_mutex_unlock(&m->lock);
	return a;
}

bool mig_lost(struct migration *m)
{
	pthread_mutex_lock(&m->lock);
	bool l = m->lost && m->status == MIG_FAILED;
	pthread_mutex_unlock(&m->lock);
	return l;
}

enum mig_status mig_status(struct migration *m)
{
	pthread_mutex_lock(&m->lock);
	enum mig_status s = m->status;
	pthread_mutex_unlock(&m->lock);
	return s;
}

static json_object *jms(uint64_t ns)
{
	char b[32];
	snprintf(b, sizeof(b), "%.3f", (double)ns / 1e6);
	return json_object_new_double_s((double)ns / 1e6, b);
}

static json_object *jmib(uint64_t bps)
{
	char b[32];
	snprintf(b, sizeof(b), "%.1f", (double)bps / (1 << 20));
	return json_object_new_double_s((double)bps / (1 << 20), b);
}

char *mig_report_json(struct migration *m)
{
	json_object *o = json_object_new_object();
	pthread_mutex_lock(&m->lock);
	bool over = m->status >= MIG_MIGRATED;
	uint64_t total = over ? m->total_ns : m->status == MIG_NONE ? 0 : mc_now_ns() - m->t_start;
	json_object_object_add(o, "status", json_object_new_string(mig_status_name(m->status)));
	if (m->error[0])
		json_object_object_add(o, "error", json_object_new_string(m->error));
	if (m->status != MIG_NONE) {
		json_object_object_add(o, "uri", json_object_new_string(m->p.uri));
		json_object_object_add(o, "total_ms", jms(total));
		json_object_object_add(o, "setup_ms", jms(m->setup_ns));
		json_object_object_add(o, "downtime_ms", jms(m->downtime_ns));
		json_object_object_add(o, "pause_ms", jms(m->pause_ns));
		json_object_object_add(o, "final_send_ms", jms(m->final_ns));
		char b[32];
		snprintf(b, sizeof(b), "%.3f", m->dest_load_ms);
		json_object_object_add(o, "dest_load_ms",
				       json_object_new_double_s(m->dest_load_ms, b));
		json_object_object_add(o, "expected_downtime_ms", jms(m->expected_downtime_ns));
		json_object_object_add(o, "rounds", json_object_new_int64((int64_t)m->rounds));
		json_object *pr = json_object_new_array();
		uint64_t kept = m->rounds + (m->status == MIG_MIGRATED ? 1 : 0);
		for (uint64_t i = 0; i < kept && i <= MIG_ROUNDS_KEPT; i++)
			json_object_array_add(pr,
					      json_object_new_int64((int64_t)m->round_pages[i]));
		json_object_object_add(o, "pages_per_round", pr);
		/* Round i's figure: pages dirtied while round i-1 was sent, over that time. */
		json_object *dr = json_object_new_array();
		for (uint64_t i = 1; i < m->rounds + 1 && i <= MIG_ROUNDS_KEPT; i++)
			json_object_array_add(dr, jmib(m->round_dirty_bps[i]));
		json_object_object_add(o, "dirty_rate_per_round_mibps", dr);
		json_object_object_add(o, "dirty_track",
				       json_object_new_string(dirty_track_name(m->track)));
		if (m->track == DIRTY_TRACK_RING)
			json_object_object_add(o, "ring_entries",
					       json_object_new_int64((int64_t)m->ring_entries));
		json_object_object_add(o, "auto_converge",
				       json_object_new_boolean(m->p.auto_converge));
		json_object_object_add(o, "throttle_pct",
				       json_object_new_int64((int64_t)m->throttle_pct));
		json_object_object_add(o, "throttle_steps",
				       json_object_new_int64((int64_t)m->throttle_steps));
		json_object_object_add(o, "bytes_sent", json_object_new_int64((int64_t)m->bytes));
		json_object_object_add(o, "data_pages",
				       json_object_new_int64((int64_t)m->data_pages));
		json_object_object_add(o, "zero_pages",
				       json_object_new_int64((int64_t)m->zero_pages));
		json_object_object_add(o, "dirty_rate_mibps", jmib(m->dirty_rate_bps));
		json_object_object_add(o, "bandwidth_mibps", jmib(m->bw_bps));
		json_object_object_add(o, "max_downtime_ms",
				       json_object_new_int64((int64_t)m->p.max_downtime_ms));
		json_object_object_add(o, "bandwidth_limit_mibps",
				       json_object_new_int64((int64_t)m->p.bandwidth_mibps));
		json_object_object_add(o, "compress", json_object_new_boolean(m->p.compress));
		json_object_object_add(o, "postcopy",
				       m->p.postcopy_now ? json_object_new_string("now")
							 : json_object_new_boolean(m->p.postcopy));
		json_object_object_add(o, "copy_storage",
				       json_object_new_boolean(m->p.copy_storage));
		if (m->p.copy_storage) {
			json_object_object_add(o, "disks", json_object_new_int64(m->disks));
			json_object_object_add(o, "disk_bytes",
					       json_object_new_int64((int64_t)m->disk_bytes));
			json_object_object_add(o, "disk_zero_bytes",
					       json_object_new_int64((int64_t)m->disk_zero_bytes));
			json_object *db = json_object_new_array();
			for (uint64_t i = 0; i < kept && i <= MIG_ROUNDS_KEPT; i++)
				json_object_array_add(
				    db, json_object_new_int64((int64_t)m->round_disk[i]));
			json_object_object_add(o, "disk_bytes_per_round", db);
		}
		if (m->status == MIG_POSTCOPY || m->lost || m->pc_pages) {
			json_object_object_add(o, "postcopy_ms", jms(m->pc_ns));
			json_object_object_add(o, "postcopy_pages",
					       json_object_new_int64((int64_t)m->pc_pages));
			json_object_object_add(o, "postcopy_requests",
					       json_object_new_int64((int64_t)m->pc_requests));
			json_object_object_add(o, "postcopy_asked_pages",
					       json_object_new_int64((int64_t)m->pc_asked));
		}
	}
	pthread_mutex_unlock(&m->lock);
	char *s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							       JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return s;
}

void mig_free(struct migration *m)
{
	if (!m)
		return;
	mig_cancel(m);
	pthread_mutex_lock(&m->lock);
	m->freeing = true;
	/* A pause or resume the loop will not serve any more: refuse it. */
	if (m->req != REQ_NONE && !m->req_done) {
		m->req_r = -1;
		snprintf(m->req_err, sizeof(m->req_err), "minivm is ending");
		m->req_done = true;
		pthread_cond_broadcast(&m->cond);
	}
	if (m->sock >= 0)
		shutdown(m->sock, SHUT_RDWR);
	bool live = m->thread_live;
	pthread_mutex_unlock(&m->lock);
	if (live)
		pthread_join(m->thread, NULL);
	if (m->efd >= 0) {
		loop_del(m->loop, m->efd);
		close(m->efd);
	}
	free(m->tx);
	free(m->rx);
	pthread_mutex_destroy(&m->lock);
	pthread_cond_destroy(&m->cond);
	free(m);
}
