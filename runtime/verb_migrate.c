/* minict migrate [--mode stop-and-copy|pre-copy|post-copy] [--work-path DIR] [--pre-freeze CMD]
 *   [--max-rounds N] [--direct-pages] ID tcp:HOST:PORT
 * Stop-and-copy to a `minict receive` (docs/checkpoint.md "Migration"): the receiver's hello
 * first (nothing is touched before), then the config, freeze + CRIU dump (the tasks stay
 * frozen), the rootfs, the images, the end marker; `restored` from the destination deletes the
 * container here, anything else thaws it and it runs on. pre-copy sends memory in rounds
 * before the freeze; post-copy restores at the destination before the memory is there, which
 * fetches the pages from CRIU's lazy page server here. Prints one JSON object. */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "checkpoint.h"
#include "cleanup.h"
#include "cli.h"
#include "container.h"
#include "log.h"
#include "migrate.h"
#include "network.h"
#include "util.h"

struct mig_opts {
	const char *id, *dest, *mode, *work, *pre_freeze;
	unsigned max_rounds;
	bool direct_pages;
};

static int parse_opts(int argc, char **argv, struct mig_opts *o, mc_err *err)
{
	static const struct option opts[] = {
	    {"mode", required_argument, 0, 'm'},       {"work-path", required_argument, 0, 'w'},
	    {"pre-freeze", required_argument, 0, 'F'}, {"max-rounds", required_argument, 0, 'R'},
	    {"direct-pages", no_argument, 0, 'D'},     {0, 0, 0, 0}};
	int c;
	o->mode = "stop-and-copy";
	o->max_rounds = 5;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			o->mode = optarg;
			break;
		case 'w':
			o->work = optarg;
			break;
		case 'F':
			o->pre_freeze = optarg;
			break;
		case 'D':
			o->direct_pages = true;
			break;
		case 'R': {
			uint64_t v;
			if (mc_parse_uint(optarg, 1, 16, &v, "--max-rounds", err) < 0)
				return mc_wrap(err, "migrate");
			o->max_rounds = (unsigned)v;
			break;
		}
		default:
			return mc_errorf(err, 0, "migrate: bad option (see docs/checkpoint.md)");
		}
	}
	if (optind != argc - 2)
		return mc_errorf(err, 0, "migrate: want ID tcp:HOST:PORT");
	o->id = argv[optind];
	o->dest = argv[optind + 1];
	if (strcmp(o->mode, "stop-and-copy") && strcmp(o->mode, "pre-copy") &&
	    strcmp(o->mode, "post-copy"))
		return mc_errorf(
		    err, 0, "migrate: --mode \"%s\": want stop-and-copy, pre-copy or post-copy",
		    o->mode);
	if (o->direct_pages && strcmp(o->mode, "stop-and-copy"))
		return mc_errorf(
		    err, 0,
		    "migrate: --direct-pages is for stop-and-copy (pre-copy's pages go "
		    "that way already, post-copy's are fetched)");
	return 0;
}

/* pre-copy needs CRIU's dirty-memory tracking (soft-dirty), post-copy its lazy pages
 * (userfaultfd). */
static int check_mode(struct ct_global *g, const char *mode, mc_err *err)
{
	if (!strcmp(mode, "stop-and-copy"))
		return 0;
	_cleanup_free_ char *criu = NULL;
	if (ct_ckpt_find_criu(g->criu, &criu, err) < 0)
		return mc_wrap(err, "migrate");
	struct ct_criu c = {.pid = -1, .sk = -1};
	bool mem_track = false, lazy = false;
	int ret = ct_criu_start(&c, criu, NULL, 0, false, err);
	if (ret == 0)
		ret = ct_criu_features(&c, &mem_track, &lazy, err);
	ct_criu_stop(&c);
	if (ret < 0)
		return mc_wrap(err, "migrate");
	if (!strcmp(mode, "pre-copy"))
		return mem_track
			   ? 0
			   : mc_errorf(err, 0,
				       "migrate --mode pre-copy: CRIU cannot track memory "
				       "changes on this kernel (no soft-dirty page tracking: "
				       "CONFIG_MEM_SOFT_DIRTY is off); use --mode stop-and-copy");
	if (!lazy)
		return mc_errorf(
		    err, 0,
		    "migrate --mode post-copy: CRIU cannot serve lazy pages here (no "
		    "userfaultfd with the features it needs); use --mode stop-and-copy");
	return ct_ckpt_lazy_pipe(err) < 0 ? mc_wrap(err, "migrate --mode post-copy") : 0;
}

/* The pages a dump wrote (its stats-dump image in dir: CRIU's image header, a u32 length, a
 * stats_entry whose field 1, dump_stats_entry, has pages_written as field 7), 0 if unknown. */
static uint64_t pages_written(const char *dir)
{
	_cleanup_free_ char *p = NULL, *buf = NULL;
	size_t len;
	mc_err e = NULL;
	if (asprintf(&p, "%s/stats-dump", dir) < 0 || mc_read_file(p, 4096, &buf, &len, &e) < 0) {
		mc_error_free(&e);
		return 0;
	}
	const uint8_t *b = (const uint8_t *)buf, *end = b + len;
	uint32_t n;
	if (len < 12)
		return 0;
	memcpy(&n, b + 8, 4);
	b += 12;
	if (n < (uint64_t)(end - b))
		end = b + n;
	bool inner = false;
	while (b < end) {
		uint64_t key = 0, v = 0;
		for (int sh = 0; b < end && sh < 64; sh += 7) {
			key |= (uint64_t)(*b & 0x7f) << sh;
			if (!(*b++ & 0x80))
				break;
		}
		unsigned wt = key & 7;
		if (wt == 0 || wt == 2) {
			for (int sh = 0; b < end && sh < 64; sh += 7) {
				v |= (uint64_t)(*b & 0x7f) << sh;
				if (!(*b++ & 0x80))
					break;
			}
		} else {
			return 0;
		}
		if (!inner && key >> 3 == 1 && wt == 2) {
			inner = true; /* into dump_stats_entry */
			if (v < (uint64_t)(end - b))
				end = b + v;
			continue;
		}
		if (inner && key >> 3 == 7 && wt == 0)
			return v;
		if (wt == 2)
			b += v < (uint64_t)(end - b) ? v : (uint64_t)(end - b);
	}
	return 0;
}

/* --pre-freeze CMD: `sh -c CMD` on this host, right before the freeze (an application that
 * must quiesce first, as the tests' UDP echo does); it must exit 0. */
static int pre_freeze(const char *cmd, mc_err *err)
{
	pid_t pid = fork();
	if (pid < 0)
		return mc_errorf(err, errno, "migrate: --pre-freeze: fork");
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return mc_errorf(err, errno, "migrate: --pre-freeze: wait");
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return mc_errorf(err, 0, "migrate: --pre-freeze `%s` failed (%s %d)", cmd,
				 WIFEXITED(st) ? "exit status" : "signal",
				 WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	return 0;
}

static int connect_to(const char *dest, mc_err *err)
{
	struct sockaddr_in sa;
	if (ct_mig_parse_endpoint(dest, &sa, err) < 0)
		return mc_wrap(err, "migrate");
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return mc_errorf(err, errno, "migrate: socket");
	/* SO_SNDTIMEO bounds connect() too */
	if (ct_mig_timeouts(fd, CT_MIG_IO_TIMEOUT, err) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(fd);
		return mc_errorf(err, e, "migrate: connect to %s", dest);
	}
	return fd;
}

/* The config section: the id and the bundle's config.json. */
static int send_config(struct mc_ms *s, const struct ct_state *st, const char *mode, mc_err *err)
{
	_cleanup_free_ char *path = NULL, *txt = NULL;
	size_t len;
	if (asprintf(&path, "%s/config.json", st->bundle) < 0)
		return mc_errorf(err, ENOMEM, "migrate");
	if (mc_read_file(path, CT_MIG_CONFIG_MAX / 2, &txt, &len, err) < 0)
		return mc_wrap(err, "migrate");
	json_object *cfg = json_tokener_parse(txt);
	if (!cfg)
		return mc_errorf(err, 0, "migrate: `%s` is not JSON", path);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_string(st->id));
	json_object_object_add(o, "config", cfg);
	json_object_object_add(o, "mode", json_object_new_string(mode));
	const char *doc = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	int ret = strlen(doc) > CT_MIG_CONFIG_MAX
		      ? mc_errorf(err, 0, "migrate: config.json is too large")
		      : mc_ms_send(s, CT_MIG_CONFIG, NULL, 0, doc, strlen(doc), err);
	json_object_put(o);
	if (ret == 0)
		ret = mc_ms_flush(s, err);
	return ret;
}

/* Wait until the destination has taken in everything sent so far (CT_MIG_SYNC, CT_MIG_READY):
 * the freeze comes after, so the downtime holds none of the destination's preparations. */
static int sync_point(struct mc_ms *s, mc_err *err)
{
	struct mc_ms_frame f;
	if (mc_ms_send(s, CT_MIG_SYNC, NULL, 0, NULL, 0, err) < 0 || mc_ms_flush(s, err) < 0 ||
	    mc_ms_turn(s, err) < 0 || mc_ms_recv_frame(s, &f, NULL, 0, err) < 0)
		return -1;
	char buf[CT_MIG_ANSWER_MAX + 1];
	if (f.type == CT_MIG_FAILED && f.data_len <= CT_MIG_ANSWER_MAX) {
		if (mc_ms_recv_data(s, buf, f.data_len, err) < 0)
			return -1;
		buf[f.data_len] = 0;
		return mc_errorf(err, 0, "the destination failed: %s", buf);
	}
	if (f.type != CT_MIG_READY || f.data_len)
		return mc_errorf(err, 0, "the destination answered frame type %u, not ready",
				 f.type);
	return mc_ms_turn(s, err);
}

/* A round for the destination (CT_MIG_ROUND): it makes the round's directory and a page
 * server, whose port comes back. */
static int round_begin(struct mc_ms *s, const char *name, const char *parent, int *port,
		       mc_err *err)
{
	struct mc_ms_frame f;
	char buf[128];
	if (mc_ms_send(s, CT_MIG_ROUND, name, (uint32_t)strlen(name), parent, strlen(parent), err) <
		0 ||
	    mc_ms_flush(s, err) < 0 || mc_ms_turn(s, err) < 0 ||
	    mc_ms_recv_frame(s, &f, NULL, 0, err) < 0)
		return -1;
	if (f.type == CT_MIG_FAILED && f.data_len < sizeof(buf)) {
		if (mc_ms_recv_data(s, buf, f.data_len, err) < 0)
			return -1;
		buf[f.data_len] = 0;
		return mc_errorf(err, 0, "the destination failed: %s", buf);
	}
	if (f.type != CT_MIG_PS || f.data_len >= sizeof(buf))
		return mc_errorf(err, 0, "round \"%s\": a bad answer (frame type %u)", name,
				 f.type);
	if (mc_ms_recv_data(s, buf, f.data_len, err) < 0)
		return -1;
	buf[f.data_len] = 0;
	json_object *o = json_tokener_parse(buf), *v;
	*port = o && json_object_object_get_ex(o, "port", &v) ? json_object_get_int(v) : 0;
	json_object_put(o);
	if (*port <= 0 || *port > 65535)
		return mc_errorf(err, 0, "round \"%s\": no page server port in the answer", name);
	return mc_ms_turn(s, err);
}

/* pre-copy: pre-dump rounds while the container runs, each one's pages to the destination's
 * page server, its other images in the stream; until the dirty set stops shrinking (or is
 * small), at most max rounds. last gets the last round's name. */
static int pre_copy(struct ct_global *g, struct mc_ms *s, const struct mig_opts *o,
		    const char *images, const char *host, char *last, size_t lastn,
		    struct ct_mig_counts *c, json_object *log, mc_err *err)
{
	uint64_t prev = 0;
	last[0] = 0;
	for (unsigned n = 1; n <= o->max_rounds; n++) {
		char name[32], parent[40] = "", ps[96];
		snprintf(name, sizeof(name), "pre-%u", n);
		_cleanup_free_ char *dir = NULL;
		if (asprintf(&dir, "%s/%s", images, name) < 0)
			return mc_errorf(err, ENOMEM, "migrate");
		int port;
		uint64_t t0 = mc_now_ns();
		if (round_begin(s, name, last, &port, err) < 0)
			return mc_wrap(err, "migrate: to %s", o->dest);
		if (last[0])
			snprintf(parent, sizeof(parent), "../%s", last);
		snprintf(ps, sizeof(ps), "%s:%d", host, port);
		struct ct_ckpt_opts ko = {.id = o->id,
					  .com = {.image = dir, .work = dir},
					  .parent = last[0] ? parent : NULL,
					  .page_server = ps,
					  .pre_dump = true};
		if (ct_checkpoint(g, &ko, err) < 0)
			return mc_wrap(err, "migrate: pre-dump round %u", n);
		uint64_t pages = pages_written(dir);
		if (ct_mig_send_images(s, dir, c, err) < 0)
			return mc_wrap(err, "migrate: to %s", o->dest);
		snprintf(last, lastn, "%s", name);
		double ms = (mc_now_ns() - t0) / 1e6;
		mc_log_debug("migrate: pre-dump round %u: %llu pages, %.1f ms", n,
			     (unsigned long long)pages, ms);
		json_object *r = json_object_new_object();
		json_object_object_add(r, "pages", json_object_new_int64((int64_t)pages));
		json_object_object_add(r, "ms", json_object_new_double(ms));
		json_object_array_add(log, r);
		/* the dirty set stopped shrinking, or is small: the final dump takes the rest */
		if (pages <= 64 || (n > 1 && pages >= prev))
			break;
		prev = pages;
	}
	return 0;
}

/* The destination's answer: 1 restored (*restore_ms from it), 0 failed (msg), -1 no answer. */
static int answer(struct mc_ms *s, double *restore_ms, char *msg, size_t n, mc_err *err)
{
	struct mc_ms_frame f;
	char buf[CT_MIG_ANSWER_MAX + 1];
	if (mc_ms_turn(s, err) < 0 || mc_ms_recv_frame(s, &f, NULL, 0, err) < 0)
		return -1;
	if ((f.type != CT_MIG_RESTORED && f.type != CT_MIG_FAILED) ||
	    f.data_len > CT_MIG_ANSWER_MAX)
		return mc_errorf(err, 0, "a bad answer (frame type %u, %llu bytes)", f.type,
				 (unsigned long long)f.data_len);
	if (mc_ms_recv_data(s, buf, f.data_len, err) < 0)
		return -1;
	buf[f.data_len] = 0;
	if (f.type == CT_MIG_FAILED) {
		snprintf(msg, n, "%s", buf);
		return 0;
	}
	json_object *o = json_tokener_parse(buf), *v;
	if (o && json_object_object_get_ex(o, "restore_ms", &v))
		*restore_ms = json_object_get_double(v);
	json_object_put(o);
	return 1;
}

/* "MESSAGE; what" */
__attribute__((format(printf, 2, 3))) static void append(mc_err *err, const char *fmt, ...)
{
	char what[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	mc_err e = *err;
	*err = NULL;
	mc_errorf(err, 0, "%s; %s", mc_error_text(e), what);
	mc_error_free(&e);
}

static double ms_since(uint64_t t0)
{
	return (double)(mc_now_ns() - t0) / 1e6;
}

/* A port free now on this host, for CRIU's lazy page server (post-copy). */
static int free_port(mc_err *err)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);
	_cleanup_close_ int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) < 0)
		return mc_errorf(err, errno, "a free port for the page server");
	return ntohs(sa.sin_port);
}

/* The end of the stream once the container is dumped: the rootfs's delta, the images, the end
 * marker, the destination's answer. Post-copy splits it over CRIU's notifications (the images
 * at "post-dump", where to fetch the pages and the end at "status-ready", once the lazy page
 * server listens), and then waits for the destination's word that every page is there. Its
 * outcome in ret/err: called from inside CRIU's dump for post-copy, where a failure must not
 * stop CRIU (its page server waits for a client: a connection that closes at once releases
 * it). */
struct fin {
	struct mc_ms *s;
	int sk;
	const struct mig_opts *o;
	const struct ct_state *st;
	const char *images;
	struct ct_mig_counts *c;
	struct ct_mig_tree *tree;
	int lazy_port;
	int ret;
	mc_err err;
	double restore_ms, lazy_ms;
	/* post-copy: the destination runs the container (restored came back), every page is
	 * there (complete came back) */
	bool switched, complete;
	bool unplugged; /* the veth's host end is down (from the freeze) */
	pid_t plug_pid; /* the child taking it down, until plug_wait */
	uint64_t t_dumped, t_sent, t_answer, t_complete;
};

static int send_rest(struct fin *f, mc_err *err)
{
	f->t_dumped = mc_now_ns();
	if (ct_mig_send_rootfs_delta(f->s, f->st->rootfs, f->c, f->tree, err) < 0 ||
	    ct_mig_send_images(f->s, f->images, f->c, err) < 0 || mc_ms_flush(f->s, err) < 0)
		return mc_wrap(err, "migrate: to %s", f->o->dest);
	return 0;
}

static void plug_wait(struct fin *f);

/* The end marker, then the destination's answer (at most 300 s: its restore). */
static int end_and_answer(struct fin *f, mc_err *err)
{
	/* the veth here is down before the destination announces the container */
	uint64_t t = mc_now_ns();
	plug_wait(f);
	mc_log_debug("migrate: the veth down waited for %.1f ms", (mc_now_ns() - t) / 1e6);
	int ret = 0;
	char lazy[64];
	int n = snprintf(lazy, sizeof(lazy), "{\"port\":%d}", f->lazy_port);
	if ((f->lazy_port && mc_ms_send(f->s, CT_MIG_LAZY, NULL, 0, lazy, n, err) < 0) ||
	    mc_ms_send_end(f->s, err) < 0)
		ret = mc_wrap(err, "migrate: to %s", f->o->dest);
	f->t_sent = mc_now_ns();
	if (ret == 0) {
		char msg[CT_MIG_ANSWER_MAX + 1] = "";
		struct timeval tv = {.tv_sec = 300};
		setsockopt(f->sk, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		int a = answer(f->s, &f->restore_ms, msg, sizeof(msg), err);
		if (a < 0)
			ret = mc_wrap(err, "migrate: no answer from %s", f->o->dest);
		else if (a == 0)
			ret = mc_errorf(err, 0, "migrate: the destination failed: %s", msg);
	}
	f->t_answer = mc_now_ns();
	return ret;
}

/* criu, hung up on after its dump's answer, once the stream is out */
static void reap(pid_t *pid)
{
	if (*pid > 0)
		while (waitpid(*pid, NULL, 0) < 0 && errno == EINTR)
			;
	*pid = -1;
}

static void finish(struct fin *f)
{
	f->ret = send_rest(f, &f->err);
	uint64_t t = mc_now_ns();
	mc_log_debug("migrate: the delta and the images sent in %.1f ms", (t - f->t_dumped) / 1e6);
	if (f->ret == 0)
		f->ret = end_and_answer(f, &f->err);
}

/* post-copy: the destination's last word once CRIU's page server serves: complete (every page
 * is there), or failed, or nothing (it died). */
static int await_complete(struct fin *f, mc_err *err)
{
	struct mc_ms_frame fr;
	char buf[CT_MIG_ANSWER_MAX + 1];
	/* as long as the pages take, without a word in between: bounded by CRIU's deadline */
	struct timeval tv = {.tv_sec = ct_ckpt_timeout(300)};
	setsockopt(f->sk, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	int ret = mc_ms_recv_frame(f->s, &fr, NULL, 0, err);
	if (ret == 0 && ((fr.type != CT_MIG_COMPLETE && fr.type != CT_MIG_FAILED) ||
			 fr.data_len > CT_MIG_ANSWER_MAX))
		ret = mc_errorf(err, 0, "a bad answer (frame type %u)", fr.type);
	if (ret == 0)
		ret = mc_ms_recv_data(f->s, buf, fr.data_len, err);
	f->t_complete = mc_now_ns();
	if (ret < 0)
		return -1;
	buf[fr.data_len] = 0;
	if (fr.type == CT_MIG_FAILED)
		return mc_errorf(err, 0, "%s", buf);
	json_object *o = json_tokener_parse(buf), *v;
	if (o && json_object_object_get_ex(o, "lazy_ms", &v))
		f->lazy_ms = json_object_get_double(v);
	json_object_put(o);
	f->complete = true;
	return 0;
}

/* Nobody will fetch the pages (any more): release CRIU's lazy page server, which waits for a
 * client (a connection that closes at once ends it; after a client came, it is harmless). */
static void release_page_server(int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			mc_log_debug("migrate: releasing the page server: %s", strerror(errno));
		close(fd);
	}
}

/* From the freeze on, nothing of the copy here may reach the bridge: its tasks are frozen, but
 * its network namespace is not (the kernel answers probes with ICMP, refreshes its neighbours
 * with ARP, sends IPv6's leave messages when the container goes), and every such frame would
 * teach the bridges its MAC back on this side after the destination announced it: the
 * destination's bridge then drops what comes for the container over the link between them
 * until the entry ages out (seen: 14-17 s gaps, or for good). Its veth's host end goes down
 * (the bridge forgets the port's addresses) and comes back up if the container thaws here. */
static void plug(struct fin *f, bool up)
{
	plug_wait(f);
	mc_err e = NULL;
	if (f->st->veth && ct_net_set_up(f->st->veth, up, &e) < 0)
		mc_log_warn("migrate: %s", mc_error_text(e));
	else
		f->unplugged = !up && f->st->veth;
	mc_error_free(&e);
}

/* Down in a child, beside CRIU's dump: the link change waits for the kernel's rtnl lock, which
 * other work on the host can hold for long (26-310 ms measured on the destination's link up at
 * load 7-9), and done here before the freeze it sat between the echo's quiescing and the freeze.
 * The end marker waits for it (the destination announces the container after it). */
static void plug_down_start(struct fin *f)
{
	if (!f->st->veth)
		return;
	pid_t pid = fork();
	if (pid == 0) {
		mc_err e = NULL;
		_exit(ct_net_set_up(f->st->veth, false, &e) < 0 ? 1 : 0);
	}
	if (pid < 0) {
		plug(f, false);
		return;
	}
	f->plug_pid = pid;
	f->unplugged = true;
}

static void plug_wait(struct fin *f)
{
	if (f->plug_pid <= 0)
		return;
	int st = 0;
	while (waitpid(f->plug_pid, &st, 0) < 0 && errno == EINTR)
		;
	f->plug_pid = 0;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		mc_log_warn("migrate: the veth %s did not go down", f->st->veth);
		f->unplugged = false;
	}
}

static int pre_freeze_cb(void *arg, mc_err *err)
{
	struct fin *f = arg;
	if (f->o->pre_freeze && pre_freeze(f->o->pre_freeze, err) < 0)
		return -1;
	plug_down_start(f);
	return 0;
}

/* post-copy, CRIU's notifications: the images at post-dump; at status-ready (the lazy page
 * server listens) the end of the stream, the destination's restore, then its fetching every
 * page from here while CRIU serves them. Failures go to f->ret, never to CRIU. */
static int notified_cb(void *arg, const char *script, mc_err *err)
{
	(void)err;
	struct fin *f = arg;
	if (!strcmp(script, "post-dump")) {
		f->ret = send_rest(f, &f->err);
		return 0;
	}
	if (strcmp(script, "status-ready"))
		return 0;
	if (f->ret == 0)
		f->ret = end_and_answer(f, &f->err);
	if (f->ret == 0) {
		f->switched = true; /* from here on the source must not run again */
		if (await_complete(f, &f->err) < 0)
			f->ret = mc_wrap(&f->err,
					 "migrate: post-copy to %s failed after the switch-over",
					 f->o->dest);
	}
	if (f->ret < 0)
		release_page_server(f->lazy_port);
	return 0;
}

/* The default work directory is a tmpfs of migrate's own, in a mount namespace of its own (a
 * slave of the host's; criu is forked into it): CRIU's dump writes the images there and the
 * stream reads them back in memory, not through /tmp's file system (on this host's disk,
 * shared with other work); they vanish with migrate. Its size is the kernel's default, half the
 * RAM. */
static int work_tmpfs(const char *work, mc_err *err)
{
	if (ct_ckpt_tmpfs_ns(err) < 0)
		return mc_wrap(err, "migrate");
	if (mount("minict-migrate", work, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0700") <
	    0)
		return mc_errorf(err, errno, "migrate: mount a tmpfs on `%s`", work);
	return 0;
}

int ct_verb_migrate(struct ct_global *g, int argc, char **argv, mc_err *err)
{
	struct mig_opts o = {0};
	if (parse_opts(argc, argv, &o, err) < 0)
		return -1;
	signal(SIGPIPE, SIG_IGN);
	uint64_t t0 = mc_now_ns();
	struct ct_state st = {0};
	if (ct_state_load(g->root, o.id, &st, err) < 0)
		return -1;
	int ret = 0, sk = -1;
	struct mc_ms *s = NULL;
	_cleanup_free_ char *work = NULL, *images = NULL;
	bool frozen = false, made_work = false;
	enum ct_status status = ct_state_status(g->root, &st);
	if (status != CT_RUNNING)
		ret = mc_errorf(err, 0, "migrate: container \"%s\" is %s: only a running one", o.id,
				ct_status_name(status));
	else if (!st.bundle)
		ret =
		    mc_errorf(err, 0, "migrate: container \"%s\" has no bundle (short form)", o.id);
	if (ret == 0)
		ret = check_mode(g, o.mode, err);
	/* the receiver first: nothing is touched before it answered */
	if (ret == 0 && (sk = connect_to(o.dest, err)) < 0)
		ret = -1;
	if (ret == 0 && !(s = malloc(sizeof(*s))))
		ret = mc_errorf(err, ENOMEM, "migrate");
	if (ret == 0) {
		mc_ms_init(s, sk);
		if (mc_ms_recv_hello(s, CT_MIG_MAGIC, CT_MIG_VERSION, err) < 0)
			ret = mc_wrap(err, "migrate: %s is not a minict receiver", o.dest);
	}
	if (ret == 0 && mc_ms_turn(s, err) < 0)
		ret = mc_wrap(err, "migrate: %s", o.dest);
	if (ret == 0) {
		mc_ms_init(s, sk);
		if (mc_ms_send_hello(s, CT_MIG_MAGIC, CT_MIG_VERSION, err) < 0 ||
		    send_config(s, &st, o.mode, err) < 0)
			ret = mc_wrap(err, "migrate: to %s", o.dest);
	}
	if (ret == 0) {
		if (o.work)
			work = strdup(o.work);
		else if (asprintf(&work, "/tmp/minict-migrate-%s.XXXXXX", o.id) >= 0 &&
			 !mkdtemp(work))
			ret = mc_errorf(err, errno, "migrate: work directory `%s`", work);
		made_work = ret == 0 && !o.work;
		if (made_work)
			ret = work_tmpfs(work, err);
		if (ret == 0 && (!work || asprintf(&images, "%s/images", work) < 0))
			ret = mc_errorf(err, ENOMEM, "migrate");
	}
	/* the rootfs while the container runs; what changes until the freeze follows as a delta */
	struct ct_mig_counts c = {0};
	struct ct_mig_tree tree = {0};
	uint64_t t_sync = mc_now_ns();
	if (ret == 0 &&
	    (ct_mig_send_rootfs(s, st.rootfs, &c, &tree, err) < 0 || mc_ms_flush(s, err) < 0))
		ret = mc_wrap(err, "migrate: to %s", o.dest);
	/* pre-copy: memory while it runs, the final dump's pages to a page server too */
	bool precopy = !strcmp(o.mode, "pre-copy");
	char last[32] = "", ps[96] = "", host[INET_ADDRSTRLEN] = "";
	json_object *rounds = json_object_new_array();
	uint64_t t_pre = mc_now_ns();
	/* pre-copy, and stop-and-copy with --direct-pages: the final dump's pages go straight to a
	 * page server of the destination's (a round without pre-dumps) */
	bool direct = precopy || o.direct_pages;
	if (ret == 0 && direct) {
		struct sockaddr_in sa;
		int port;
		if (ct_mig_parse_endpoint(o.dest, &sa, err) < 0 ||
		    !inet_ntop(AF_INET, &sa.sin_addr, host, sizeof(host)))
			ret = mc_wrap(err, "migrate");
		if (ret == 0 && precopy)
			ret = pre_copy(g, s, &o, images, host, last, sizeof(last), &c, rounds, err);
		if (ret == 0 && round_begin(s, "", last, &port, err) < 0)
			ret = mc_wrap(err, "migrate: to %s", o.dest);
		snprintf(ps, sizeof(ps), "%s:%d", host, ret == 0 ? port : 0);
	}
	/* (a pre-copy round's answer is such a point already) */
	if (ret == 0 && !direct && sync_point(s, err) < 0)
		ret = mc_wrap(err, "migrate: %s", o.dest);
	double pre_ms = (mc_now_ns() - t_pre) / 1e6;
	/* post-copy: CRIU serves the pages from here (a port of ours) while the container runs
	 * there already; the rest of the stream goes as soon as the images are complete */
	bool postcopy = !strcmp(o.mode, "post-copy");
	int lazy_port = 0;
	if (ret == 0 && postcopy && (lazy_port = free_port(err)) < 0)
		ret = mc_wrap(err, "migrate");
	if (postcopy)
		snprintf(ps, sizeof(ps), "0.0.0.0:%d", lazy_port);
	/* stop: freeze and dump, the tasks stay frozen */
	struct fin f = {.s = s,
			.sk = sk,
			.o = &o,
			.st = &st,
			.images = images,
			.c = &c,
			.tree = &tree,
			.lazy_port = lazy_port,
			.ret = -1};
	uint64_t t_freeze = 0;
	uint64_t final_pages = 0;
	pid_t criu_pid = -1; /* the dump's criu, hung up on (ct_ckpt_opts.criu_left) */
	bool lost = false;
	if (ret == 0) {
		struct ct_ckpt_opts ko = {.id = o.id,
					  .com = {.image = images, .work = work, .lazy = postcopy},
					  .keep_frozen = true,
					  .parent = last[0] ? last : NULL,
					  .page_server = direct || postcopy ? ps : NULL,
					  .notified = postcopy ? notified_cb : NULL,
					  .pre_freeze = pre_freeze_cb,
					  .cb_arg = &f,
					  .frozen_at = &t_freeze,
					  .stay_frozen = &f.switched,
					  .criu_left = &criu_pid};
		ret = ct_checkpoint(g, &ko, err);
		frozen = ret == 0;
		if (ret == 0 && !postcopy)
			finish(&f);
		reap(&criu_pid);
		final_pages = pages_written(work);
		/* post-copy: the stream went inside the dump (notified_cb); after the switch-over
		 * its failure says more than CRIU's (a page server whose client went away) */
		if (ret < 0 && f.switched && f.ret < 0 && f.err) {
			mc_err ck = *err;
			*err = mc_steal_ptr(&f.err);
			append(err, "CRIU: %s", mc_error_text(ck));
			mc_error_free(&ck);
		}
		if (ret == 0 && f.ret < 0) {
			ret = -1;
			if (f.err)
				*err = mc_steal_ptr(&f.err);
			else
				mc_errorf(err, 0,
					  "migrate: CRIU's dump never said it was complete");
		}
		/* post-copy after the switch-over: the destination ran the container, so this
		 * copy must not run again, whatever went wrong (as with QEMU's post-copy) */
		lost = ret < 0 && f.switched;
	}
	plug_wait(&f); /* a dump that failed before the end marker */
	mc_error_free(&f.err);
	ct_mig_tree_free(&tree);
	uint64_t t_dumped = f.t_dumped, t_sent = f.t_sent;
	double restore_ms = f.restore_ms;
	/* the destination runs it: the downtime ended there (frozen_ms) */
	uint64_t t_answer = f.t_answer ? f.t_answer : mc_now_ns();
	if (ret == 0) {
		/* the destination runs it: the container here goes */
		ret = ct_container_destroy(g->root, &st, err);
		if (ret < 0)
			mc_wrap(err, "migrate: restored at %s, but deleting it here", o.dest);
	} else if (lost) {
		append(err,
		       "the container is lost: after the switch-over its copy here cannot resume "
		       "(the destination ran it); it stays frozen here (minict delete -f %s)",
		       o.id);
	} else if (frozen) {
		mc_err e2 = NULL;
		if (f.unplugged)
			plug(&f, true);
		if (ct_cg_freeze(&st.cg, false, &e2) < 0) {
			append(err, "thawing the container failed too: %s", mc_error_text(e2));
			mc_error_free(&e2);
		} else {
			append(err, "the container runs on here");
		}
	} else if (ret < 0 && t_freeze) {
		if (f.unplugged)
			plug(&f, true);
		append(err, "the dump failed and the container was thawed: it runs on here");
	} else if (ret < 0 && s) {
		append(err, "nothing was frozen yet: the container runs on here");
	}
	uint64_t t_end = mc_now_ns();
	if (ret == 0) {
		double stream_ms = (double)(t_sent - t_dumped) / 1e6;
		printf("{\"status\":\"ok\",\"id\":\"%s\",\"mode\":\"%s\",\"total_ms\":%.1f,"
		       "\"sync_ms\":%.1f,\"frozen_ms\":%.1f,\"dump_ms\":%.1f,\"stream_ms\":%.1f,"
		       "\"restore_ms\":%.1f,\"answer_ms\":%.1f,\"bytes_sent\":%llu,"
		       "\"rootfs_entries\":%llu,\"rootfs_bytes\":%llu,\"delta_entries\":%llu,"
		       "\"delta_bytes\":%llu,\"deleted\":%llu,\"image_bytes\":%llu,"
		       "\"pre_copy_ms\":%.1f,\"rounds\":%s,\"final_pages\":%llu,"
		       "\"post_copy_ms\":%.1f}\n",
		       o.id, o.mode, (double)(t_end - t0) / 1e6, (double)(t_freeze - t_sync) / 1e6,
		       (double)(t_answer - t_freeze) / 1e6, (double)(t_dumped - t_freeze) / 1e6,
		       stream_ms, restore_ms, (double)(t_answer - t_sent) / 1e6,
		       (unsigned long long)s->bytes, (unsigned long long)c.entries,
		       (unsigned long long)c.file_bytes, (unsigned long long)c.delta_entries,
		       (unsigned long long)c.delta_bytes, (unsigned long long)c.deleted,
		       (unsigned long long)c.image_bytes, pre_ms,
		       json_object_to_json_string_ext(rounds, JSON_C_TO_STRING_PLAIN),
		       (unsigned long long)final_pages,
		       f.t_complete ? (double)(f.t_complete - t_answer) / 1e6 : 0.0);
		fflush(stdout);
	}
	mc_log_debug("migrate: %.1f ms", ms_since(t0));
	if (made_work) {
		mc_err e2 = NULL;
		if (umount2(work, MNT_DETACH) < 0 && errno != EINVAL)
			mc_log_warn("migrate: unmount `%s`: %s", work, strerror(errno));
		if (ct_mig_rm_tree(work, &e2) < 0)
			mc_log_warn("migrate: %s", mc_error_text(e2));
		mc_error_free(&e2);
	}
	json_object_put(rounds);
	free(s);
	if (sk >= 0)
		close(sk);
	ct_state_free(&st);
	return ret;
}
