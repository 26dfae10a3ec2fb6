/* minict receive --listen HOST:PORT [--work-dir DIR] [--cgroups-path PATH]
 * The destination of `minict migrate` (docs/checkpoint.md "Migration"): one connection, the
 * stream checked as it comes (every length, every name, no path out of WORK/ID), then the
 * container restored as `restore -d` does and `restored` sent back. Any failure removes
 * WORK/ID and whatever restore made, sends the error to the source, and fails with it. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "checkpoint.h"
#include "cleanup.h"
#include "cli.h"
#include "container.h"
#include "log.h"
#include "migrate.h"
#include "state.h"
#include "util.h"

struct rcv_opts {
	const char *listen, *work, *cgroups_path;
};

static int parse_opts(int argc, char **argv, struct rcv_opts *o, mc_err *err)
{
	static const struct option opts[] = {{"listen", required_argument, 0, 'l'},
					     {"work-dir", required_argument, 0, 'w'},
					     {"cgroups-path", required_argument, 0, 'c'},
					     {0, 0, 0, 0}};
	int c;
	o->work = "/var/lib/minict/receive";
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			o->listen = optarg;
			break;
		case 'w':
			o->work = optarg;
			break;
		case 'c':
			o->cgroups_path = optarg;
			break;
		default:
			return mc_errorf(err, 0, "receive: bad option (see docs/checkpoint.md)");
		}
	}
	if (optind != argc || !o->listen)
		return mc_errorf(err, 0, "receive: want --listen HOST:PORT");
	return 0;
}

static int listen_on(const char *addr, mc_err *err)
{
	struct sockaddr_in sa;
	if (ct_mig_parse_endpoint(addr, &sa, err) < 0)
		return mc_wrap(err, "receive: --listen");
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	if (fd < 0)
		return mc_errorf(err, errno, "receive: socket");
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1) < 0) {
		int e = errno;
		close(fd);
		return mc_errorf(err, e, "receive: listen on %s", addr);
	}
	return fd;
}

/* What one migration makes here, so one place undoes it. */
struct rcv {
	struct rcv_opts o;
	char *id, *dir; /* WORK/ID, once made */
	int dirfd, rootfd, imgfd;
	int curfd; /* where images go: imgfd, or a pre-copy round's directory */
	struct ct_mig_counts c;
	struct ct_global *g;
	int sk;
	/* pre-copy rounds: their names, the page servers started for them */
	char rounds[16][32];
	size_t nrounds;
	pid_t ps[17];
	size_t nps;
	bool final_round;
	/* post-copy: the source's lazy page server (CT_MIG_LAZY), our lazy-pages daemon */
	bool lazy;
	int lazy_port;
	pid_t lazyd;
	bool img_tmpfs; /* WORK/ID/images is our tmpfs (images_tmpfs) */
};

/* config.json for the new bundle: root.path is "rootfs" here; --cgroups-path. */
static int write_config(struct rcv *r, json_object *cfg, mc_err *err)
{
	json_object *root = NULL, *ro = NULL, *linux_ = NULL;
	bool readonly = json_object_object_get_ex(cfg, "root", &root) &&
			json_object_object_get_ex(root, "readonly", &ro) &&
			json_object_get_boolean(ro);
	json_object *nr = json_object_new_object();
	json_object_object_add(nr, "path", json_object_new_string("rootfs"));
	json_object_object_add(nr, "readonly", json_object_new_boolean(readonly));
	json_object_object_add(cfg, "root", nr);
	if (r->o.cgroups_path) {
		if (!json_object_object_get_ex(cfg, "linux", &linux_) ||
		    !json_object_is_type(linux_, json_type_object))
			return mc_errorf(err, 0, "config: no linux section");
		json_object_object_add(linux_, "cgroupsPath",
				       json_object_new_string(r->o.cgroups_path));
	}
	const char *txt = json_object_to_json_string_ext(cfg, JSON_C_TO_STRING_PRETTY);
	_cleanup_close_ int fd =
	    openat(r->dirfd, "bundle/config.json", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || mc_write_all(fd, txt, strlen(txt)) < 0)
		return mc_errorf(err, errno, "write bundle/config.json");
	return 0;
}

/* The config section: the id, then WORK/ID with bundle/config.json, bundle/rootfs, images. */
static int recv_config(struct ct_global *g, struct rcv *r, struct mc_ms *s, mc_err *err)
{
	struct mc_ms_frame f;
	if (mc_ms_recv_frame(s, &f, NULL, 0, err) < 0)
		return -1;
	if (f.type != CT_MIG_CONFIG)
		return mc_errorf(err, 0, "the stream starts with frame type %u, not the config",
				 f.type);
	if (f.data_len == 0 || f.data_len > CT_MIG_CONFIG_MAX)
		return mc_errorf(err, 0, "config section of %llu bytes (at most %u)",
				 (unsigned long long)f.data_len, CT_MIG_CONFIG_MAX);
	_cleanup_free_ char *txt = malloc(f.data_len + 1);
	if (!txt)
		return mc_errorf(err, ENOMEM, "config");
	if (mc_ms_recv_data(s, txt, f.data_len, err) < 0)
		return -1;
	txt[f.data_len] = 0;
	json_object *o = strlen(txt) == f.data_len ? json_tokener_parse(txt) : NULL, *id, *cfg;
	int ret = 0;
	if (!o || !json_object_object_get_ex(o, "id", &id) ||
	    !json_object_is_type(id, json_type_string) ||
	    !json_object_object_get_ex(o, "config", &cfg) ||
	    !json_object_is_type(cfg, json_type_object))
		ret = mc_errorf(err, 0, "config section: not {\"id\": ..., \"config\": {...}}");
	if (ret == 0 && ct_check_id(json_object_get_string(id), err) < 0)
		ret = mc_wrap(err, "config section");
	json_object *mode;
	r->lazy = ret == 0 && json_object_object_get_ex(o, "mode", &mode) &&
		  !strcmp(json_object_get_string(mode), "post-copy");
	if (ret == 0)
		r->id = strdup(json_object_get_string(id));
	char p[4096];
	struct stat sb;
	if (ret == 0 && snprintf(p, sizeof(p), "%s/%s", g->root, r->id) < (int)sizeof(p) &&
	    stat(p, &sb) == 0)
		ret = mc_errorf(err, 0, "a container \"%s\" exists here already", r->id);
	if (ret == 0 && asprintf(&r->dir, "%s/%s", r->o.work, r->id) < 0) {
		r->dir = NULL;
		ret = mc_errorf(err, ENOMEM, "receive");
	}
	if (ret == 0 && mkdir(r->dir, 0700) < 0) {
		ret = mc_errorf(err, errno, "work directory `%s`", r->dir);
		free(r->dir);
		r->dir = NULL; /* not ours */
	}
	if (ret == 0 &&
	    ((r->dirfd = open(r->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	     mkdirat(r->dirfd, "bundle", 0755) < 0 ||
	     mkdirat(r->dirfd, "bundle/rootfs", 0755) < 0 ||
	     mkdirat(r->dirfd, "images", 0700) < 0 ||
	     (r->rootfd = openat(r->dirfd, "bundle/rootfs", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) <
		 0 ||
	     (r->imgfd = openat(r->dirfd, "images", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0))
		ret = mc_errorf(err, errno, "work directory `%s`", r->dir);
	r->curfd = r->imgfd;
	if (ret == 0)
		ret = write_config(r, cfg, err);
	json_object_put(o);
	return ret;
}

/* The images into a tmpfs of receive's own, on WORK/ID/images in its mount namespace (made by
 * ct_restore_begin; criu, the page servers and the lazy-pages daemon are forked into it): the
 * frozen window's images are written and read back by CRIU in memory, not through the work
 * dir's file system (on this host's disk, busy with other work, receiving an idle container's
 * ~230 KB of images took 1-42 ms), and they vanish with receive whatever happens to it. The
 * images are memory at the destination anyway, about the container's size: the tmpfs has the
 * kernel's default limit, half the RAM. */
static int images_tmpfs(struct rcv *r, mc_err *err)
{
	_cleanup_free_ char *p = NULL;
	if (asprintf(&p, "%s/images", r->dir) < 0)
		return mc_errorf(err, ENOMEM, "receive");
	if (mount("minict-images", p, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0700") < 0)
		return mc_errorf(err, errno, "receive: mount a tmpfs on `%s`", p);
	r->img_tmpfs = true;
	int fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return mc_errorf(err, errno, "receive: `%s`", p);
	close(r->imgfd);
	r->imgfd = r->curfd = fd;
	return 0;
}

static int recv_image(struct rcv *r, struct mc_ms *s, const char *name, uint32_t len,
		      uint64_t data_len, mc_err *err)
{
	if (ct_mig_check_name(name, len, err) < 0)
		return -1;
	if (data_len > CT_MIG_FILE_MAX)
		return mc_errorf(err, 0, "image file \"%s\": %llu bytes", name,
				 (unsigned long long)data_len);
	_cleanup_close_ int fd =
	    openat(r->curfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return mc_errorf(err, errno, "image file \"%s\"%s", name,
				 errno == EEXIST ? " (sent twice)" : "");
	if (mc_ms_recv_data_fd(s, fd, data_len, err) < 0)
		return mc_wrap(err, "image file \"%s\"", name);
	r->c.images++;
	r->c.image_bytes += data_len;
	return 0;
}

/* After a sync point or a round's answer the source runs CRIU's (pre-)dump before it sends
 * again: wait as long as it may take (its deadline, MINICT_CRIU_TIMEOUT, 300 s), not only the
 * stream's 60 s (the lab's emulated CPU needed more for a 64 MiB lazy dump). */
static int dump_wait(struct rcv *r, mc_err *err)
{
	int t = ct_ckpt_timeout(300);
	return ct_mig_timeouts(r->sk, t > CT_MIG_IO_TIMEOUT ? t : CT_MIG_IO_TIMEOUT, err);
}

/* A pre-copy round (CT_MIG_ROUND): its directory under images ("" the final dump's: images
 * itself), the previous round as CRIU's parent, a page server for it on the address the
 * stream came in on; its port goes back (CT_MIG_PS). Images that follow go there. */
static int recv_round(struct rcv *r, struct mc_ms *s, const char *name, uint32_t len,
		      uint64_t data_len, mc_err *err)
{
	char parent[32] = "";
	if (r->final_round)
		return mc_errorf(err, 0, "a round after the final one");
	if (data_len >= sizeof(parent) || (len && ct_mig_check_name(name, len, err) < 0) ||
	    len >= sizeof(r->rounds[0]))
		return mc_errorf(err, 0, "a bad round");
	if (mc_ms_recv_data(s, parent, data_len, err) < 0)
		return -1;
	parent[data_len] = 0;
	bool known = !parent[0];
	for (size_t i = 0; i < r->nrounds && !known; i++)
		known = !strcmp(r->rounds[i], parent);
	if (!known || strlen(parent) != data_len)
		return mc_errorf(err, 0, "round \"%s\": parent \"%.31s\" is no earlier round", name,
				 parent);
	if (len && r->nrounds == MC_ARRAY_SIZE(r->rounds))
		return mc_errorf(err, 0, "more than %zu rounds", MC_ARRAY_SIZE(r->rounds));
	if (r->curfd != r->imgfd)
		close(r->curfd);
	r->curfd = r->imgfd;
	if (len) {
		if (mkdirat(r->imgfd, name, 0700) < 0 ||
		    (r->curfd = openat(r->imgfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
			r->curfd = r->imgfd;
			return mc_errorf(err, errno, "round \"%s\"", name);
		}
		snprintf(r->rounds[r->nrounds++], sizeof(r->rounds[0]), "%s", name);
	} else {
		r->final_round = true;
	}
	/* the page server: on our end of the stream's address */
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	char addr[INET_ADDRSTRLEN], rel[64];
	if (getsockname(r->sk, (struct sockaddr *)&sa, &sl) < 0 ||
	    !inet_ntop(AF_INET, &sa.sin_addr, addr, sizeof(addr)))
		return mc_errorf(err, errno, "round \"%s\": our address", name);
	snprintf(rel, sizeof(rel), "%s%s", len ? "../" : "", parent);
	_cleanup_free_ char *criu = NULL;
	if (ct_ckpt_find_criu(r->g->criu, &criu, err) < 0)
		return -1;
	char log[64];
	snprintf(log, sizeof(log), "page-server-%s.log", len ? name : "final");
	struct ct_criu c = {.pid = -1, .sk = -1};
	struct ct_criu_req q = {.op = CT_CRIU_PAGE_SERVER,
				.images_fd = r->curfd,
				.work_fd = r->dirfd,
				.log_file = log,
				.log_level = r->g->debug ? 4 : 2,
				.parent = parent[0] ? rel : NULL,
				.cg_mode = -1,
				.ps_address = addr,
				.ps_port = 0};
	pid_t pid = -1;
	int port = 0;
	int ret = ct_criu_start(&c, criu, NULL, 0, false, err);
	if (ret == 0)
		ret = ct_criu_page_server(&c, &q, &pid, &port, err);
	ct_criu_stop(&c);
	if (ret < 0)
		return mc_wrap(err, "round \"%s\"", name);
	if (pid > 1 && r->nps < MC_ARRAY_SIZE(r->ps))
		r->ps[r->nps++] = pid; /* (never kill(0) or kill(-1) later) */
	char ans[64];
	int n = snprintf(ans, sizeof(ans), "{\"port\":%d}", port);
	if (mc_ms_turn(s, err) < 0 || mc_ms_send(s, CT_MIG_PS, NULL, 0, ans, n, err) < 0 ||
	    mc_ms_flush(s, err) < 0 || mc_ms_turn(s, err) < 0 || dump_wait(r, err) < 0)
		return mc_wrap(err, "round \"%s\"", name);
	mc_log_debug("receive: round \"%s\" (parent \"%s\"): page server %d on %s:%d", name, parent,
		     pid, addr, port);
	return 0;
}

/* post-copy: where the source serves the pages (its port; the address is the stream's). */
static int recv_lazy(struct rcv *r, struct mc_ms *s, uint64_t data_len, mc_err *err)
{
	char buf[64];
	if (!r->lazy || r->lazy_port || data_len >= sizeof(buf))
		return mc_errorf(err, 0, "an unexpected lazy-pages frame");
	if (mc_ms_recv_data(s, buf, data_len, err) < 0)
		return -1;
	buf[data_len] = 0;
	json_object *o = json_tokener_parse(buf), *v;
	r->lazy_port = o && json_object_object_get_ex(o, "port", &v) ? json_object_get_int(v) : 0;
	json_object_put(o);
	if (r->lazy_port <= 0 || r->lazy_port > 65535)
		return mc_errorf(err, 0, "lazy-pages frame: no port");
	return 0;
}

/* post-copy: `criu lazy-pages` fetching from the source's page server, for the restore that
 * follows (it finds the daemon's socket in the work directory). It exits once every page is
 * here. */
static int start_lazy_pages(struct rcv *r, mc_err *err)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	char addr[INET_ADDRSTRLEN], port[16];
	if (getpeername(r->sk, (struct sockaddr *)&sa, &sl) < 0 ||
	    !inet_ntop(AF_INET, &sa.sin_addr, addr, sizeof(addr)))
		return mc_errorf(err, errno, "lazy pages: the source's address");
	snprintf(port, sizeof(port), "%d", r->lazy_port);
	_cleanup_free_ char *criu = NULL, *img = NULL, *sock = NULL;
	if (ct_ckpt_find_criu(r->g->criu, &criu, err) < 0)
		return mc_wrap(err, "lazy pages");
	if (asprintf(&img, "%s/images", r->dir) < 0 ||
	    asprintf(&sock, "%s/lazy-pages.socket", r->dir) < 0)
		return mc_errorf(err, ENOMEM, "lazy pages");
	pid_t pid = fork();
	if (pid < 0)
		return mc_errorf(err, errno, "lazy pages: fork");
	if (pid == 0) {
		int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
		for (int fd = 0; nul >= 0 && fd < 3; fd++)
			dup2(nul, fd);
		execl(criu, criu, "lazy-pages", "--page-server", "--address", addr, "--port", port,
		      "--images-dir", img, "--work-dir", r->dir, "--log-file", "lazy-pages.log",
		      r->g->debug ? "-v4" : "-v2", (char *)NULL);
		_exit(127);
	}
	r->lazyd = pid;
	/* its socket, before the restore connects to it */
	for (int i = 0; i < 60000; i++) {
		if (access(sock, F_OK) == 0)
			return 0;
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			r->lazyd = 0;
			return mc_errorf(err, 0,
					 "lazy pages: the daemon exited (log: %s/lazy-pages.log)",
					 r->dir);
		}
		usleep(1000);
	}
	return mc_errorf(err, ETIMEDOUT, "lazy pages: the daemon's socket");
}

/* Frames up to the end marker, which checks the checksum and the count. After CT_MIG_DELTA,
 * rootfs entries replace what the first pass made, and CT_MIG_DELETE removes. */
static int recv_sections(struct rcv *r, struct mc_ms *s, mc_err *err)
{
	_cleanup_free_ uint8_t *meta = malloc(CT_MIG_META_MAX + 1);
	if (!meta)
		return mc_errorf(err, ENOMEM, "receive");
	bool delta = false;
	for (;;) {
		struct mc_ms_frame f;
		if (mc_ms_recv_frame(s, &f, meta, CT_MIG_META_MAX, err) < 0)
			return -1;
		int ret;
		switch (f.type) {
		case MC_MS_END:
			mc_log_debug("receive: the end marker");
			return 0;
		case CT_MIG_FILE:
			ret = ct_mig_recv_entry(s, r->rootfd, meta, f.meta_len, f.data_len, delta,
						err);
			if (delta)
				r->c.delta_entries++;
			else
				r->c.entries++;
			break;
		case CT_MIG_DELTA:
			ret = delta || f.meta_len || f.data_len
				  ? mc_errorf(err, 0, "a second or non-empty delta marker")
				  : 0;
			delta = true;
			mc_log_debug("receive: the delta marker");
			break;
		case CT_MIG_DELETE:
			ret = !delta || f.data_len
				  ? mc_errorf(err, 0, "a delete frame %s",
					      delta ? "with data" : "before the delta marker")
				  : ct_mig_recv_delete(r->rootfd, (const char *)meta, f.meta_len,
						       err);
			r->c.deleted++;
			break;
		case CT_MIG_IMAGE:
			ret = recv_image(r, s, (const char *)meta, f.meta_len, f.data_len, err);
			break;
		case CT_MIG_ROUND:
			ret = recv_round(r, s, (const char *)meta, f.meta_len, f.data_len, err);
			break;
		case CT_MIG_LAZY:
			ret = recv_lazy(r, s, f.data_len, err);
			break;
		case CT_MIG_SYNC:
			/* all before it is here and the container's frame is made */
			ret = f.meta_len || f.data_len ? mc_errorf(err, 0, "a sync frame with data")
			      : mc_ms_turn(s, err) < 0 ||
				      mc_ms_send(s, CT_MIG_READY, NULL, 0, NULL, 0, err) < 0 ||
				      mc_ms_flush(s, err) < 0 || mc_ms_turn(s, err) < 0 ||
				      dump_wait(r, err) < 0
				  ? -1
				  : 0;
			break;
		default:
			ret = mc_errorf(err, 0, "unexpected frame type %u", f.type);
		}
		if (ret < 0)
			return -1;
	}
}

static void send_answer(struct mc_ms *s, uint32_t type, const char *txt)
{
	mc_err e = NULL;
	size_t n = strlen(txt) > CT_MIG_ANSWER_MAX ? CT_MIG_ANSWER_MAX : strlen(txt);
	if (mc_ms_send(s, type, NULL, 0, txt, n, &e) < 0 || mc_ms_flush(s, &e) < 0)
		mc_log_warn("receive: the answer to the source: %s", mc_error_text(e));
	mc_error_free(&e);
}

/* post-copy, after `restored`: the container runs here while the lazy-pages daemon fetches its
 * pages from the source; the daemon exits once every page is here (complete goes back and the
 * images can go), or fails (the source died, the link broke). A process whose pages are not all
 * here must not run on: userfaultfd gone, its missing pages would read as zeros. So the
 * container here is deleted, and the source hears of it (it cannot resume its own copy after
 * the switch-over, docs/checkpoint.md "Post-copy"). */
static int await_pages(struct ct_global *g, struct rcv *r, struct mc_ms *s, uint64_t t_restored,
		       mc_err *err)
{
	int st = 0;
	uint64_t deadline = mc_now_ns() + (uint64_t)ct_ckpt_timeout(300) * 1000000000ull;
	pid_t w;
	while ((w = waitpid(r->lazyd, &st, WNOHANG)) == 0 && mc_now_ns() < deadline)
		usleep(2000);
	if (w == 0) {
		kill(r->lazyd, SIGKILL);
		waitpid(r->lazyd, &st, 0);
	}
	r->lazyd = 0;
	double ms = (mc_now_ns() - t_restored) / 1e6;
	if (w == 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		char why[768];
		ct_criu_log_error(r->dirfd, "lazy-pages.log", why, sizeof(why));
		mc_errorf(
		    err, 0,
		    "post-copy: the lazy-pages daemon %s after %.0f ms (%s), with pages still "
		    "at the source: the container here was deleted",
		    w == 0 ? "did not finish in time" : "failed", ms,
		    why[0] ? why : "its log says no more");
		struct ct_state cs = {0};
		mc_err e2 = NULL;
		if (ct_state_load(g->root, r->id, &cs, &e2) < 0 ||
		    ct_container_destroy(g->root, &cs, &e2) < 0)
			mc_log_warn("receive: deleting the container: %s", mc_error_text(e2));
		mc_error_free(&e2);
		ct_state_free(&cs);
		mc_wrap(err, "receive");
		send_answer(s, CT_MIG_FAILED, mc_error_text(*err));
		return -1;
	}
	char ans[64];
	snprintf(ans, sizeof(ans), "{\"lazy_ms\":%.1f}", ms);
	send_answer(s, CT_MIG_COMPLETE, ans);
	printf("{\"status\":\"complete\",\"id\":\"%s\",\"lazy_ms\":%.1f}\n", r->id, ms);
	fflush(stdout);
	return 0;
}

static int receive(struct ct_global *g, struct rcv *r, int sk, mc_err *err)
{
	_cleanup_free_ struct mc_ms *s = malloc(sizeof(*s));
	if (!s)
		return mc_errorf(err, ENOMEM, "receive");
	mc_ms_init(s, sk);
	if (mc_ms_send_hello(s, CT_MIG_MAGIC, CT_MIG_VERSION, err) < 0)
		return mc_wrap(err, "receive");
	mc_ms_init(s, sk);
	uint64_t t0 = mc_now_ns();
	int ret = mc_ms_recv_hello(s, CT_MIG_MAGIC, CT_MIG_VERSION, err);
	if (ret == 0)
		ret = recv_config(g, r, s, err);
	/* the container's frame (id, cgroups, network, criu waiting in them) while the rootfs and
	 * the images are on their way */
	_cleanup_free_ char *img = NULL, *bundle = NULL;
	struct ct_restoring *rs = NULL;
	if (ret == 0 &&
	    (asprintf(&img, "%s/images", r->dir) < 0 || asprintf(&bundle, "%s/bundle", r->dir) < 0))
		ret = mc_errorf(err, ENOMEM, "receive");
	struct ct_restore_opts ro = {.id = r->id,
				     .com = {.image = img, .work = r->dir},
				     .bundle = bundle,
				     .detach = true,
				     .link_later = true};
	ro.com.lazy = r->lazy;
	if (ret == 0)
		ret = ct_restore_begin(g, &ro, &rs, err);
	if (ret == 0)
		ret = images_tmpfs(r, err);
	uint64_t tb = mc_now_ns();
	if (ret == 0)
		ret = recv_sections(r, s, err);
	if (ret == 0 && r->lazy && !r->lazy_port)
		ret = mc_errorf(err, 0, "post-copy without the source's page server");
	if (ret == 0 && r->lazy)
		ret = start_lazy_pages(r, err);
	uint64_t t1 = mc_now_ns();
	pid_t pid = -1;
	if (ret == 0)
		ret = ct_restore_finish(g, mc_steal_ptr(&rs), &pid, err);
	else
		ct_restore_abort(g, mc_steal_ptr(&rs));
	uint64_t t2 = mc_now_ns();
	mc_log_debug("receive: config to restore set up %.1f ms, the rest of the stream %.1f ms, "
		     "restore %.1f ms",
		     (tb - t0) / 1e6, (t1 - tb) / 1e6, (t2 - t1) / 1e6);
	if (ret == 0)
		ret = mc_ms_turn(s, err);
	else
		s->len = s->pos = 0; /* the error goes back whatever was left unread */
	if (ret < 0) {
		mc_wrap(err, "receive");
		send_answer(s, CT_MIG_FAILED, mc_error_text(*err));
		return -1;
	}
	char ans[128];
	snprintf(ans, sizeof(ans), "{\"pid\":%d,\"restore_ms\":%.1f}", pid, (t2 - t1) / 1e6);
	send_answer(s, CT_MIG_RESTORED, ans);
	printf("{\"status\":\"restored\",\"id\":\"%s\",\"pid\":%d,\"receive_ms\":%.1f,"
	       "\"restore_ms\":%.1f,\"bytes\":%llu,\"rootfs_entries\":%llu,"
	       "\"delta_entries\":%llu,\"deleted\":%llu,\"images\":%llu}\n",
	       r->id, pid, (t1 - t0) / 1e6, (t2 - t1) / 1e6, (unsigned long long)s->bytes,
	       (unsigned long long)r->c.entries, (unsigned long long)r->c.delta_entries,
	       (unsigned long long)r->c.deleted, (unsigned long long)r->c.images);
	fflush(stdout);
	return r->lazyd > 0 ? await_pages(g, r, s, t2, err) : 0;
}

int ct_verb_receive(struct ct_global *g, int argc, char **argv, mc_err *err)
{
	struct rcv r = {.dirfd = -1, .rootfd = -1, .imgfd = -1, .curfd = -1, .g = g};
	if (parse_opts(argc, argv, &r.o, err) < 0)
		return -1;
	signal(SIGPIPE, SIG_IGN);
	if (mc_mkdir_p(r.o.work, 0700, err) < 0)
		return mc_wrap(err, "receive: --work-dir");
	_cleanup_close_ int lfd = listen_on(r.o.listen, err);
	if (lfd < 0)
		return -1;
	printf("listening on %s\n", r.o.listen);
	fflush(stdout);
	int sk;
	while ((sk = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) < 0 && errno == EINTR)
		;
	if (sk < 0)
		return mc_errorf(err, errno, "receive: accept");
	close(mc_steal_fd(&lfd));
	r.sk = sk;
	int ret = ct_mig_timeouts(sk, CT_MIG_IO_TIMEOUT, err);
	if (ret == 0)
		ret = receive(g, &r, sk, err);
	close(sk);
	/* a page server whose client never came or went away, a lazy-pages daemon */
	for (size_t i = 0; i < r.nps; i++)
		if (ret < 0)
			kill(r.ps[i], SIGKILL);
	if (r.lazyd > 0 && ret < 0) {
		kill(r.lazyd, SIGKILL);
		waitpid(r.lazyd, NULL, 0);
	}
	if (r.curfd >= 0 && r.curfd != r.imgfd)
		close(r.curfd);
	int fds[] = {r.dirfd, r.rootfd, r.imgfd};
	for (size_t i = 0; i < MC_ARRAY_SIZE(fds); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	mc_err e2 = NULL;
	_cleanup_free_ char *img = NULL;
	if (r.dir && asprintf(&img, "%s/images", r.dir) < 0)
		img = NULL;
	if (r.img_tmpfs && img && umount2(img, MNT_DETACH) < 0)
		mc_log_warn("receive: unmount `%s`: %s", img, strerror(errno));
	if (r.dir && ret < 0 && ct_mig_rm_tree(r.dir, &e2) < 0)
		mc_log_warn("receive: %s", mc_error_text(e2));
	if (r.dir && ret == 0) {
		/* the bundle stays: it is the container's now; the images go (post-copy: the
		 * lazy-pages daemon, which read them, is done) */
		if (img && ct_mig_rm_tree(img, &e2) < 0)
			mc_log_warn("receive: %s", mc_error_text(e2));
	}
	mc_error_free(&e2);
	free(r.dir);
	free(r.id);
	return ret;
}
