/* The CRIU RPC client: `criu swrk FD`, criu_req/criu_resp packets (rpc.pb-c.h is generated at
 * build time from criu-glue/rpc.proto, CRIU 4.1.1's images/rpc.proto). */
#include "criu_rpc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "rpc.pb-c.h"
#include "util.h"

int ct_criu_start(struct ct_criu *c, const char *bin, const int *keep, size_t nkeep, bool stdio,
		  mc_err *err)
{
	return ct_criu_start_in(c, bin, keep, nkeep, stdio, -1, err);
}

int ct_criu_start_in(struct ct_criu *c, const char *bin, const int *keep, size_t nkeep, bool stdio,
		     int netns, mc_err *err)
{
	c->pid = -1;
	c->sk = -1;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return mc_errorf(err, errno, "criu: socketpair");
	int errp[2];
	if (pipe2(errp, O_CLOEXEC) < 0) {
		close(sv[0]);
		close(sv[1]);
		return mc_errorf(err, errno, "criu: pipe");
	}
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(sv[0]);
		close(sv[1]);
		close(errp[0]);
		close(errp[1]);
		return mc_errorf(err, e, "criu: fork");
	}
	if (pid == 0) {
		/* the socket and the inherited descriptors cross the exec, nothing else */
		fcntl(sv[1], F_SETFD, 0);
		for (size_t i = 0; i < nkeep; i++)
			fcntl(keep[i], F_SETFD, 0);
		int nul = stdio ? -1 : open("/dev/null", O_RDWR | O_CLOEXEC);
		for (int fd = 0; nul >= 0 && fd < 3; fd++)
			dup2(nul, fd);
		char fdtxt[16];
		snprintf(fdtxt, sizeof(fdtxt), "%d", sv[1]);
		if (netns >= 0 && setns(netns, CLONE_NEWNET) < 0) {
			int e = -errno; /* negative: setns, not exec */
			mc_write_all(errp[1], &e, sizeof(e));
			_exit(127);
		}
		execl(bin, bin, "swrk", fdtxt, (char *)NULL);
		int e = errno;
		mc_write_all(errp[1], &e, sizeof(e));
		_exit(127);
	}
	close(sv[1]);
	close(errp[1]);
	int e = 0;
	ssize_t n = mc_read_all(errp[0], &e, sizeof(e));
	close(errp[0]);
	if (n == sizeof(e)) {
		close(sv[0]);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		return e < 0 ? mc_errorf(err, -e, "criu: join the network namespace")
			     : mc_errorf(err, e, "criu: exec `%s`", bin);
	}
	c->pid = pid;
	c->sk = sv[0];
	return 0;
}

void ct_criu_stop(struct ct_criu *c)
{
	if (c->sk >= 0)
		close(c->sk);
	c->sk = -1;
	if (c->pid > 0)
		while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
			;
	c->pid = -1;
}

pid_t ct_criu_hangup(struct ct_criu *c)
{
	if (c->sk >= 0)
		close(c->sk);
	c->sk = -1;
	pid_t pid = c->pid;
	c->pid = -1;
	return pid;
}

static int send_req(struct ct_criu *c, const CriuReq *req, mc_err *err)
{
	size_t len = criu_req__get_packed_size(req);
	_cleanup_free_ uint8_t *buf = malloc(len ? len : 1);
	if (!buf)
		return mc_errorf(err, ENOMEM, "criu: request");
	criu_req__pack(req, buf);
	ssize_t n;
	while ((n = send(c->sk, buf, len, MSG_NOSIGNAL)) < 0 && errno == EINTR)
		;
	if (n != (ssize_t)len)
		return mc_errorf(err, n < 0 ? errno : EIO, "criu: send request");
	return 0;
}

/* One packet from criu; NULL with err set when it hung up, sent garbage or, with a deadline
 * (monotonic ns, 0 none), did not answer in time (ETIMEDOUT). */
static CriuResp *recv_resp(struct ct_criu *c, uint64_t deadline, mc_err *err)
{
	ssize_t len;
	while (deadline) {
		uint64_t now = mc_now_ns();
		struct pollfd p = {.fd = c->sk, .events = POLLIN};
		int n = now >= deadline ? 0 : poll(&p, 1, (int)((deadline - now) / 1000000) + 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0) {
			mc_errorf(err, ETIMEDOUT, "criu: no answer");
			return NULL;
		}
		break;
	}
	while ((len = recv(c->sk, NULL, 0, MSG_PEEK | MSG_TRUNC)) < 0 && errno == EINTR)
		;
	if (len < 0) {
		mc_errorf(err, errno, "criu: receive");
		return NULL;
	}
	if (len == 0) {
		mc_errorf(err, 0, "criu exited without an answer");
		return NULL;
	}
	_cleanup_free_ uint8_t *buf = malloc(len);
	if (!buf) {
		mc_errorf(err, ENOMEM, "criu: answer");
		return NULL;
	}
	ssize_t n;
	while ((n = recv(c->sk, buf, len, 0)) < 0 && errno == EINTR)
		;
	if (n != len) {
		mc_errorf(err, n < 0 ? errno : EIO, "criu: receive");
		return NULL;
	}
	CriuResp *r = criu_resp__unpack(NULL, len, buf);
	if (!r)
		mc_errorf(err, 0, "criu: an answer that is not a criu_resp (%zd bytes)", len);
	return r;
}

/* A keep_open request without options and its answer. */
static CriuResp *simple(struct ct_criu *c, CriuReqType type, CriuFeatures *features, mc_err *err)
{
	CriuReq req = CRIU_REQ__INIT;
	req.type = type;
	req.has_keep_open = true;
	req.keep_open = true;
	req.features = features;
	if (send_req(c, &req, err) < 0)
		return NULL;
	CriuResp *r = recv_resp(c, 0, err);
	if (r && (r->type != type || !r->success)) {
		mc_errorf(err, 0, "criu: request %d refused%s%s", type, r->cr_errmsg ? ": " : "",
			  r->cr_errmsg ? r->cr_errmsg : "");
		criu_resp__free_unpacked(r, NULL);
		return NULL;
	}
	return r;
}

int ct_criu_version(struct ct_criu *c, int *major, int *minor, int *sub, mc_err *err)
{
	CriuResp *r = simple(c, CRIU_REQ_TYPE__VERSION, NULL, err);
	if (!r)
		return mc_wrap(err, "criu version");
	int ret = 0;
	if (!r->version)
		ret = mc_errorf(err, 0, "criu version: no version in the answer");
	else {
		*major = r->version->major_number;
		*minor = r->version->minor_number;
		*sub = r->version->has_sublevel ? r->version->sublevel : 0;
	}
	criu_resp__free_unpacked(r, NULL);
	return ret;
}

int ct_criu_features(struct ct_criu *c, bool *mem_track, bool *lazy_pages, mc_err *err)
{
	CriuFeatures want = CRIU_FEATURES__INIT;
	want.has_mem_track = want.mem_track = true;
	want.has_lazy_pages = want.lazy_pages = true;
	CriuResp *r = simple(c, CRIU_REQ_TYPE__FEATURE_CHECK, &want, err);
	if (!r)
		return mc_wrap(err, "criu feature check");
	*mem_track = r->features && r->features->has_mem_track && r->features->mem_track;
	*lazy_pages = r->features && r->features->has_lazy_pages && r->features->lazy_pages;
	criu_resp__free_unpacked(r, NULL);
	return 0;
}

void ct_criu_log_error(int dirfd, const char *log, char *buf, size_t n)
{
	buf[0] = 0;
	_cleanup_close_ int fd = openat(dirfd, log, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	_cleanup_fclose_ FILE *f = fdopen(fd, "r");
	if (!f)
		return;
	fd = -1;
	char line[1024];
	while (fgets(line, sizeof(line), f)) {
		char *e = strstr(line, "Error (");
		if (!e || (e != line && (e < line + 2 || e[-2] != ')')))
			continue;
		/* what CRIU logs on every run here and carries on: root lacks CAP_SYS_RESOURCE,
		 * and its kernel feature probe tries a tun device */
		if (strstr(e, "Can't setup RLIMIT_NOFILE") || strstr(e, "Unable to create tun"))
			continue;
		char *msg = strstr(e + 7, "): ");
		msg = msg ? msg + 3 : e;
		msg[strcspn(msg, "\n")] = 0;
		snprintf(buf, n, "%s", msg);
		return;
	}
}

static const char *op_name(enum ct_criu_op op)
{
	return op == CT_CRIU_DUMP	   ? "dump"
	       : op == CT_CRIU_PRE_DUMP	   ? "pre-dump"
	       : op == CT_CRIU_PAGE_SERVER ? "page-server"
					   : "restore";
}

/* The failure: CRIU's message, else its log's first error, and where the log is. */
static int failed(const struct ct_criu_req *r, const CriuResp *resp, mc_err *err)
{
	char logerr[768], dir[512], link[64];
	ct_criu_log_error(r->work_fd, r->log_file, logerr, sizeof(logerr));
	snprintf(link, sizeof(link), "/proc/self/fd/%d", r->work_fd);
	ssize_t n = readlink(link, dir, sizeof(dir) - 1);
	dir[n > 0 ? n : 0] = 0;
	const char *why = logerr[0]		       ? logerr
			  : resp && resp->cr_errmsg    ? resp->cr_errmsg
			  : resp && resp->has_cr_errno ? strerror(resp->cr_errno)
						       : "no reason given";
	return mc_errorf(err, 0, "criu %s failed: %s (log: %s/%s)", op_name(r->op), why, dir,
			 r->log_file);
}

/* criu_opts from our request; the arrays point into storage that outlives the pack. */
struct opts_store {
	CriuOpts o;
	CriuPageServerInfo ps;
	InheritFd *ifd;
	InheritFd **ifdp;
	CgroupRoot *cgr;
	CgroupRoot **cgrp;
};

static int fill_opts(struct opts_store *s, const struct ct_criu_req *r, mc_err *err)
{
	CriuOpts *o = &s->o;
	criu_opts__init(o);
	o->images_dir_fd = r->images_fd;
	o->has_work_dir_fd = r->work_fd >= 0;
	o->work_dir_fd = r->work_fd;
	o->log_file = (char *)r->log_file;
	o->has_log_level = r->log_level > 0;
	o->log_level = r->log_level;
	if (r->pid > 0) {
		o->has_pid = true;
		o->pid = r->pid;
	}
	o->root = (char *)r->root;
	o->parent_img = (char *)r->parent;
	o->freeze_cgroup = (char *)r->freeze_cgroup;
	o->cgroup_yard = (char *)r->cgroup_yard;
#define FLAG(f)                                                                                    \
	do {                                                                                       \
		o->has_##f = r->f;                                                                 \
		o->f = r->f;                                                                       \
	} while (0)
	FLAG(leave_running);
	FLAG(tcp_established);
	FLAG(file_locks);
	FLAG(ext_unix_sk);
	FLAG(shell_job);
	FLAG(lazy_pages);
	FLAG(track_mem);
	FLAG(rst_sibling);
	FLAG(manage_cgroups);
#undef FLAG
	o->has_notify_scripts = o->notify_scripts = true;
	if (r->cg_mode >= 0) {
		o->has_manage_cgroups_mode = true;
		o->manage_cgroups_mode = r->cg_mode;
	}
	if (r->network_lock_skip) {
		o->has_network_lock = true;
		o->network_lock = CRIU_NETWORK_LOCK_METHOD__SKIP;
	}
	if (r->ps_address) {
		criu_page_server_info__init(&s->ps);
		s->ps.address = (char *)r->ps_address;
		s->ps.has_port = true;
		s->ps.port = r->ps_port;
		o->ps = &s->ps;
	}
	o->n_external = r->nexternal;
	o->external = (char **)r->external;
	s->ifd = calloc(r->ninherit + 1, sizeof(*s->ifd));
	s->ifdp = calloc(r->ninherit + 1, sizeof(*s->ifdp));
	s->cgr = calloc(r->ncg_root + 1, sizeof(*s->cgr));
	s->cgrp = calloc(r->ncg_root + 1, sizeof(*s->cgrp));
	if (!s->ifd || !s->ifdp || !s->cgr || !s->cgrp)
		return mc_errorf(err, ENOMEM, "criu: request");
	for (size_t i = 0; i < r->ninherit; i++) {
		inherit_fd__init(&s->ifd[i]);
		s->ifd[i].key = (char *)r->inherit[i].key;
		s->ifd[i].fd = r->inherit[i].fd;
		s->ifdp[i] = &s->ifd[i];
	}
	o->n_inherit_fd = r->ninherit;
	o->inherit_fd = s->ifdp;
	for (size_t i = 0; i < r->ncg_root; i++) {
		cgroup_root__init(&s->cgr[i]);
		s->cgr[i].ctrl = (char *)r->cg_root[i].ctrl;
		s->cgr[i].path = (char *)r->cg_root[i].path;
		s->cgrp[i] = &s->cgr[i];
	}
	o->n_cg_root = r->ncg_root;
	o->cg_root = s->cgrp;
	return 0;
}

static void free_opts(struct opts_store *s)
{
	free(s->ifd);
	free(s->ifdp);
	free(s->cgr);
	free(s->cgrp);
}

static int answer_notify(struct ct_criu *c, const struct ct_criu_req *r, const CriuResp *resp,
			 mc_err *err)
{
	const char *script = resp->notify && resp->notify->script ? resp->notify->script : "";
	pid_t pid = resp->notify && resp->notify->has_pid ? resp->notify->pid : 0;
	int ok = 0;
	if (r->notify)
		ok = r->notify(r->notify_arg, script, pid, err);
	CriuReq req = CRIU_REQ__INIT;
	req.type = CRIU_REQ_TYPE__NOTIFY;
	req.has_notify_success = true;
	req.notify_success = ok == 0;
	if (send_req(c, &req, ok == 0 ? err : NULL) < 0)
		return -1;
	return ok == 0 ? 0 : mc_wrap(err, "criu %s: %s", op_name(r->op), script);
}

/* A killed criu leaves its cgroup yard (a tmpfs with every hierarchy mounted, in the work
 * directory, in our mount namespace) behind: unmount it, deepest first, and remove it. */
static void drop_yard(int work_fd)
{
	char link[64], dir[PATH_MAX], line[4096];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", work_fd);
	ssize_t n = readlink(link, dir, sizeof(dir) - 1);
	if (n <= 0)
		return;
	dir[n] = 0;
	char prefix[PATH_MAX + 32];
	snprintf(prefix, sizeof(prefix), "%s/.criu.cgyard.", dir);
	char *mnts[64];
	size_t nm = 0;
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	while (f && nm < MC_ARRAY_SIZE(mnts) && fgets(line, sizeof(line), f)) {
		char mp[4096];
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) == 1 &&
		    !strncmp(mp, prefix, strlen(prefix)))
			mnts[nm++] = strdup(mp);
	}
	/* children were mounted after their parent: undo in reverse */
	for (size_t i = nm; i-- > 0;) {
		if (mnts[i] && umount2(mnts[i], MNT_DETACH) == 0)
			rmdir(mnts[i]);
		free(mnts[i]);
	}
}

int ct_criu_run(struct ct_criu *c, const struct ct_criu_req *r, pid_t *restored, mc_err *err)
{
	/* one pre-dump per session (PRE_DUMP would wait for more requests) */
	static const CriuReqType types[] = {CRIU_REQ_TYPE__DUMP, CRIU_REQ_TYPE__SINGLE_PRE_DUMP,
					    CRIU_REQ_TYPE__RESTORE, CRIU_REQ_TYPE__PAGE_SERVER};
	struct opts_store s = {0};
	CriuReq req = CRIU_REQ__INIT;
	req.type = types[r->op];
	req.opts = &s.o;
	int ret = fill_opts(&s, r, err);
	if (ret == 0)
		ret = send_req(c, &req, err);
	free_opts(&s);
	if (ret < 0)
		return -1;
	uint64_t deadline = r->timeout_s > 0 ? mc_now_ns() + r->timeout_s * 1000000000ull : 0;
	for (;;) {
		mc_err e2 = NULL;
		CriuResp *resp = recv_resp(c, deadline, &e2);
		if (!resp && e2 && e2->errnum == ETIMEDOUT) {
			/* e.g. CRIU 4.1.1's restorer spins on a truncated pages image */
			mc_error_free(&e2);
			kill(c->pid, SIGKILL);
			while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
				;
			c->pid = -1;
			drop_yard(r->work_fd);
			return mc_errorf(err, 0,
					 "criu %s: no answer after %d s, killed it (log: %s)",
					 op_name(r->op), r->timeout_s, r->log_file);
		}
		if (!resp) {
			/* criu died: its log says why */
			mc_error_free(&e2);
			return failed(r, NULL, err);
		}
		if (resp->type == CRIU_REQ_TYPE__NOTIFY) {
			ret = answer_notify(c, r, resp, err);
			if (ret == 0 && r->after_notify)
				ret = r->after_notify(r->notify_arg,
						      resp->notify && resp->notify->script
							  ? resp->notify->script
							  : "",
						      err);
			criu_resp__free_unpacked(resp, NULL);
			if (ret < 0)
				return -1;
			continue;
		}
		if (resp->type != req.type) {
			criu_resp__free_unpacked(resp, NULL);
			return mc_errorf(err, 0, "criu %s: an answer of type %d", op_name(r->op),
					 resp->type);
		}
		if (!resp->success) {
			ret = failed(r, resp, err);
			criu_resp__free_unpacked(resp, NULL);
			return ret;
		}
		if (restored)
			*restored = resp->restore ? resp->restore->pid : -1;
		criu_resp__free_unpacked(resp, NULL);
		return 0;
	}
}

int ct_criu_page_server(struct ct_criu *c, const struct ct_criu_req *r, pid_t *pid, int *port,
			mc_err *err)
{
	struct opts_store s = {0};
	CriuReq req = CRIU_REQ__INIT;
	req.type = CRIU_REQ_TYPE__PAGE_SERVER;
	req.opts = &s.o;
	int ret = fill_opts(&s, r, err);
	/* fill_opts asks for notify messages: a page server sends none, but be plain */
	s.o.has_notify_scripts = false;
	if (ret == 0)
		ret = send_req(c, &req, err);
	free_opts(&s);
	if (ret < 0)
		return mc_wrap(err, "criu page-server");
	uint64_t deadline = mc_now_ns() + 60 * 1000000000ull;
	CriuResp *resp = recv_resp(c, deadline, err);
	if (!resp)
		return failed(r, NULL, err);
	if (resp->type != CRIU_REQ_TYPE__PAGE_SERVER || !resp->success || !resp->ps ||
	    !resp->ps->has_pid) {
		ret = failed(r, resp, err);
		criu_resp__free_unpacked(resp, NULL);
		return ret;
	}
	*pid = resp->ps->pid;
	*port = resp->ps->has_port ? resp->ps->port : r->ps_port;
	criu_resp__free_unpacked(resp, NULL);
	return 0;
}
