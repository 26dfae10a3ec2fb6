/* The parent side of create/start/delete. minict clones the container init directly into
 * its new namespaces and overlaps its own slow work (joining v1 cgroups, which can block for
 * milliseconds, and the veth) with the child's mount set-up. */
#include "container.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "hooks.h"
#include "log.h"
#include "network.h"
#include "sync.h"
#include "terminal.h"
#include "util.h"

static int write_idmap(pid_t pid, const char *file, const struct ct_idmap *m, size_t n, mc_err *err)
{
	char buf[340 * 40], path[64];
	size_t len = 0;
	for (size_t i = 0; i < n && len + 40 < sizeof(buf); i++)
		len += snprintf(buf + len, sizeof(buf) - len, "%u %u %u\n", m[i].container_id,
				m[i].host_id, m[i].size);
	snprintf(path, sizeof(path), "/proc/%d/%s", pid, file);
	return mc_write_file(path, buf, len, err);
}

static int clone_flags(const struct ct_spec *spec, mc_err *err)
{
	int flags = 0;
	for (size_t i = 0; i < spec->nnamespaces; i++) {
		const struct ct_namespace *ns = &spec->namespaces[i];
		if (ns->type == CLONE_NEWTIME)
			return mc_errorf(err, 0,
					 "linux.namespaces: time namespaces are not supported");
		if (ns->path || ns->type == CLONE_NEWCGROUP)
			continue; /* joined by the child; cgroup ns is unshared after joining */
		flags |= ns->type;
	}
	return flags;
}

/* Everything create has made so far, so one place can undo it. */
struct create_ctx {
	struct ct_spec *spec;
	const struct ct_create_opts *opts;
	struct ct_cgroup cg;
	bool claimed, have_cg;
	int sv[2]; /* sync socket: [0] ours, [1] the child's */
	int fifo, console;
	pid_t pid;
	char veth[16];
};

/* The state directory and, for create/start, the exec.fifo the init blocks on. */
static int claim_state(struct create_ctx *c, mc_err *err)
{
	const struct ct_create_opts *o = c->opts;
	if (ct_state_claim(o->root, o->id, err) < 0)
		return -1;
	c->claimed = true;
	if (o->foreground)
		return 0;
	_cleanup_free_ char *dir = ct_state_dir(o->root, o->id), *fifo = NULL;
	if (!dir || asprintf(&fifo, "%s/exec.fifo", dir) < 0)
		return mc_errorf(err, ENOMEM, "create");
	/* 0622 as runc: the init opens it for writing after it became process.user */
	if (mkfifo(fifo, 0622) < 0 || chmod(fifo, 0622) < 0)
		return mc_errorf(err, errno, "mkfifo `%s`", fifo);
	/* a user-namespaced init opens it as the container's root */
	const struct ct_spec *spec = c->spec;
	if (spec->nuid_maps && chown(fifo, spec->uid_maps[0].host_id,
				     spec->ngid_maps ? spec->gid_maps[0].host_id : 0) < 0)
		return mc_errorf(err, errno, "chown `%s`", fifo);
	c->fifo = open(fifo, O_PATH | O_CLOEXEC);
	if (c->fifo < 0)
		return mc_errorf(err, errno, "open `%s`", fifo);
	return 0;
}

static int open_console(struct create_ctx *c, mc_err *err)
{
	const struct ct_create_opts *o = c->opts;
	if (o->console_socket) {
		c->console = ct_console_connect(o->console_socket, err);
		if (c->console < 0)
			return -1;
	} else if (o->console_sock_fd >= 0) {
		c->console = fcntl(o->console_sock_fd, F_DUPFD_CLOEXEC, 3);
		if (c->console < 0)
			return mc_errorf(err, errno, "console socket");
	}
	if (c->spec->process.terminal && c->console < 0)
		return mc_errorf(err, 0, "process.terminal is true: --console-socket is required");
	return 0;
}

/* Directories made and limits written before the clone, so the child knows the paths for
 * its cgroup mounts; nothing is joined yet. */
static int make_cgroups(struct create_ctx *c, mc_err *err)
{
	const struct ct_spec *spec = c->spec;
	const struct ct_resources *res = spec->has_resources ? &spec->res : NULL;
	if (ct_cg_create(&c->cg, spec->cgroups_path, c->opts->id, res, err) < 0)
		return -1;
	c->have_cg = true;
	if (ct_cg_apply(&c->cg, res, err) < 0)
		return -1;
	for (int k = 0; k < CT_CG_NCTRL; k++)
		if (c->cg.path[k])
			mc_log_debug("cgroup: %s -> %s %s", ct_cg_ctrl_name(k), c->cg.ops[k]->name,
				     c->cg.path[k]);
	return 0;
}

/* clone straight into the new namespaces: the child is the container's PID 1. A pid
 * namespace given by path is joined here first (it applies to our children). */
static int clone_init(struct create_ctx *c, mc_err *err)
{
	int flags = clone_flags(c->spec, err);
	if (flags < 0)
		return -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, c->sv) < 0)
		return mc_errorf(err, errno, "socketpair");
	const char *pidns = NULL;
	if (ct_spec_has_ns(c->spec, CLONE_NEWPID, &pidns) && pidns) {
		_cleanup_close_ int nfd = open(pidns, O_RDONLY | O_CLOEXEC);
		if (nfd < 0 || setns(nfd, CLONE_NEWPID) < 0)
			return mc_errorf(err, errno, "join pid namespace `%s`", pidns);
	}
	struct ct_init_args ia = {.spec = c->spec,
				  .opts = c->opts,
				  .cg = &c->cg,
				  .sync_fd = c->sv[1],
				  .fifo_fd = c->fifo,
				  .console_fd = c->console,
				  .net_config = c->spec->net_bridge && c->spec->net_cidr};
	c->pid = syscall(SYS_clone, (unsigned long)flags | SIGCHLD, NULL, NULL, NULL, 0);
	if (c->pid < 0)
		return mc_errorf(err, errno, "clone");
	if (c->pid == 0) {
		close(c->sv[0]);
		ct_init_main(&ia);
	}
	close(c->sv[1]);
	c->sv[1] = -1;
	return 0;
}

/* While the child builds its root: id maps, cgroups (the first cgroup.procs write can block
 * for milliseconds, so it overlaps the child's mounts), the veth; then the hooks that run
 * in the runtime's namespace, and the wait until the init is ready to exec. */
static int setup_from_parent(struct create_ctx *c, mc_err *err)
{
	const struct ct_spec *spec = c->spec;
	const char *path = NULL;
	if (ct_spec_has_ns(spec, CLONE_NEWUSER, &path) && !path) {
		if (write_idmap(c->pid, "uid_map", spec->uid_maps, spec->nuid_maps, err) < 0 ||
		    write_idmap(c->pid, "gid_map", spec->gid_maps, spec->ngid_maps, err) < 0)
			return mc_wrap(err, "user namespace maps");
		ct_sync_send(c->sv[0], CT_SYNC_MAPS, 0, NULL);
	}
	if (ct_cg_enter(&c->cg, c->pid, err) < 0)
		return -1;
	if (spec->net_bridge && spec->net_cidr) {
		ct_net_ifname(c->opts->id, c->veth);
		if (ct_net_setup_host(spec->net_bridge, spec->net_cidr, c->veth, c->pid, err) < 0) {
			c->veth[0] = 0;
			return -1;
		}
	}
	if (ct_sync_expect(c->sv[0], CT_SYNC_PREPIVOT, err) < 0)
		return -1;
	if (spec->hooks.count[CT_HOOK_PRESTART] || spec->hooks.count[CT_HOOK_CREATE_RUNTIME]) {
		_cleanup_free_ char *hs = ct_hook_state(c->opts->id, c->pid, c->opts->bundle,
							"creating", spec->annotations);
		if (ct_hooks_run(spec, CT_HOOK_PRESTART, hs, false, err) < 0 ||
		    ct_hooks_run(spec, CT_HOOK_CREATE_RUNTIME, hs, false, err) < 0)
			return -1;
	}
	/* the child learns its pid in our namespace (for its hooks' state) */
	char pidtxt[24];
	snprintf(pidtxt, sizeof(pidtxt), "%d", c->pid);
	ct_sync_send(c->sv[0], CT_SYNC_CONTINUE, 0, pidtxt);
	return ct_sync_expect(c->sv[0], CT_SYNC_READY, err);
}

static int write_pid_file(const char *file, pid_t pid, mc_err *err)
{
	char b[24];
	int n = snprintf(b, sizeof(b), "%d", pid);
	_cleanup_free_ char *tmp = NULL;
	if (asprintf(&tmp, "%s.tmp", file) < 0)
		return mc_errorf(err, ENOMEM, "pid file");
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return mc_errorf(err, errno, "pid file `%s`", file);
	int r = mc_write_all(fd, b, n);
	if (close(fd) < 0 || r < 0 || rename(tmp, file) < 0) {
		int e = errno;
		unlink(tmp);
		return mc_errorf(err, e, "pid file `%s`", file);
	}
	return 0;
}

/* state.json (which takes over the cgroup) and the pid file. */
static int record_state(struct create_ctx *c, struct ct_state *st, mc_err *err)
{
	const struct ct_create_opts *o = c->opts;
	char created[64];
	ct_now_rfc3339(created, sizeof(created));
	memset(st, 0, sizeof(*st));
	st->id = strdup(o->id);
	st->pid = c->pid;
	st->start_time = ct_proc_start_time(c->pid);
	st->bundle = o->bundle ? strdup(o->bundle) : NULL;
	st->rootfs = strdup(c->spec->root_path);
	st->created = strdup(created);
	st->annotations = c->spec->annotations ? json_object_get(c->spec->annotations) : NULL;
	st->veth = c->veth[0] ? strdup(c->veth) : NULL;
	st->net_bridge = c->veth[0] && c->spec->net_bridge ? strdup(c->spec->net_bridge) : NULL;
	st->cg = c->cg;
	st->has_cg = true;
	/* COMMIT: the init stops watching for our death (init.c); it must not come before the
	 * state that lets `kill` and `delete` find the container */
	int r = ct_state_save(o->root, st, err);
	if (r == 0 && o->pid_file)
		r = write_pid_file(o->pid_file, c->pid, err);
	if (r == 0 && ct_sync_send(c->sv[0], CT_SYNC_COMMIT, 0, NULL) < 0) {
		r = mc_errorf(err, errno, "container init exited before it was ready");
		if (o->pid_file)
			unlink(o->pid_file);
	}
	if (r < 0) {
		memset(&st->cg, 0, sizeof(st->cg)); /* still ours to undo */
		st->has_cg = false;
		ct_state_free(st);
		return -1;
	}
	c->have_cg = false; /* the state owns it now */
	return 0;
}

/* state.json while the create is in progress: no init yet, but the cgroups and who creates.
 * A `create` killed before its final state (a client that gave up on it: containerd's shim
 * kills `create` when its request is cancelled) leaves something `delete` can find and clean
 * up, instead of a state directory and cgroups that "do not exist". */
static int record_early_state(struct create_ctx *c, mc_err *err)
{
	const struct ct_create_opts *o = c->opts;
	struct ct_state st = {.id = (char *)o->id,
			      .bundle = (char *)o->bundle,
			      .rootfs = c->spec->root_path,
			      .cg = c->cg,
			      .has_cg = true,
			      .creator = getpid(),
			      .creator_start = ct_proc_start_time(getpid())};
	return ct_state_save(o->root, &st, err);
}

static void undo_create(struct create_ctx *c)
{
	if (c->pid > 0) {
		kill(c->pid, SIGKILL);
		while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	mc_err e2 = NULL;
	if (c->veth[0])
		ct_net_remove(c->veth, &e2);
	mc_error_free(&e2);
	if (c->have_cg) {
		/* the dead init may linger a moment in the cgroup */
		ct_cg_destroy(&c->cg, &e2);
		mc_error_free(&e2);
		ct_cg_free(&c->cg);
	}
	if (c->claimed)
		ct_state_remove(c->opts->root, c->opts->id);
}

int ct_container_create(struct ct_spec *spec, const struct ct_create_opts *opts,
			struct ct_state *st, int *sync_out, mc_err *err)
{
	struct create_ctx c = {
	    .spec = spec, .opts = opts, .sv = {-1, -1}, .fifo = -1, .console = -1, .pid = -1};
	int r = ct_spec_check_namespaces(spec, err);
	if (r == 0)
		r = claim_state(&c, err);
	if (r == 0)
		r = open_console(&c, err);
	if (r == 0)
		r = make_cgroups(&c, err);
	if (r == 0)
		r = record_early_state(&c, err);
	if (r == 0)
		r = clone_init(&c, err);
	if (r == 0)
		r = setup_from_parent(&c, err);
	if (r == 0)
		r = record_state(&c, st, err);
	if (c.fifo >= 0)
		close(c.fifo);
	if (c.console >= 0)
		close(c.console);
	if (c.sv[1] >= 0)
		close(c.sv[1]);
	if (r < 0) {
		if (c.sv[0] >= 0)
			close(c.sv[0]);
		undo_create(&c);
		return mc_wrap(err, "create");
	}
	if (sync_out)
		*sync_out = c.sv[0];
	else
		close(c.sv[0]);
	return 0;
}

void ct_container_poststart(struct ct_spec *spec, const struct ct_state *st)
{
	if (!spec || !spec->hooks.count[CT_HOOK_POSTSTART])
		return;
	_cleanup_free_ char *hs =
	    ct_hook_state(st->id, st->pid, st->bundle, "running", st->annotations);
	mc_err e2 = NULL;
	ct_hooks_run(spec, CT_HOOK_POSTSTART, hs, true, &e2);
	mc_error_free(&e2);
}

/* Read the init's answer on exec.fifo: "0" when released, then end-of-file once execve
 * closed its write end, or an error text if the last steps failed. */
static int wait_exec(int fd, int pidfd, const char *id, mc_err *err)
{
	char buf[4096];
	size_t len = 0;
	bool released = false;
	for (;;) {
		struct pollfd p[2] = {{.fd = fd, .events = POLLIN},
				      {.fd = pidfd, .events = POLLIN}};
		/* before the release the init may be gone: watch it too */
		int n = poll(p, !released && pidfd >= 0 ? 2 : 1, released ? -1 : 10000);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return mc_errorf(err, ETIMEDOUT, "start: container init did not answer");
		if (p[0].revents & (POLLIN | POLLHUP)) {
			ssize_t r = read(fd, buf + len, sizeof(buf) - 1 - len);
			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (r <= 0)
				break; /* end of file: execve happened, or the init died */
			len += r;
			released = true;
			if (len == sizeof(buf) - 1)
				break;
			continue;
		}
		if (!released && (p[1].revents & POLLIN))
			return mc_errorf(err, 0, "start: container \"%s\" init exited", id);
	}
	if (!len)
		return mc_errorf(err, 0, "start: container \"%s\" init exited", id);
	if (len > 1) {
		buf[len] = 0;
		return mc_errorf(err, 0, "start: %s", buf + 1);
	}
	return 0;
}

int ct_container_start(const char *root, struct ct_state *st, mc_err *err)
{
	enum ct_status s = ct_state_status(root, st);
	if (s != CT_CREATED)
		return mc_errorf(err, 0, "container \"%s\" is %s, not created: cannot start",
				 st->id, ct_status_name(s));
	_cleanup_free_ char *dir = ct_state_dir(root, st->id), *fifo = NULL;
	if (!dir || asprintf(&fifo, "%s/exec.fifo", dir) < 0)
		return mc_errorf(err, ENOMEM, "start");
	/* parse the config first: poststart hooks must not depend on a later read */
	struct ct_spec *spec = NULL;
	mc_err e2 = NULL;
	if (st->bundle && ct_spec_load(st->bundle, &spec, &e2) < 0) {
		mc_log_warn("start: %s (poststart hooks not run)", mc_error_text(e2));
		mc_error_free(&e2);
	}
	_cleanup_close_ int fd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		ct_spec_free(spec);
		return mc_errorf(err, errno, "start: open `%s`", fifo);
	}
	_cleanup_close_ int pidfd = syscall(SYS_pidfd_open, st->pid, 0);
	int r = wait_exec(fd, pidfd, st->id, err);
	/* released: no fifo = running (or stopped, if the init failed) */
	unlink(fifo);
	if (r == 0)
		ct_container_poststart(spec, st);
	ct_spec_free(spec);
	return r;
}

static void wait_gone(pid_t pid, uint64_t start_time)
{
	int pidfd = syscall(SYS_pidfd_open, pid, 0);
	if (pidfd >= 0) {
		struct pollfd p = {.fd = pidfd, .events = POLLIN};
		poll(&p, 1, 10000);
		close(pidfd);
	}
	/* reap it if it is our child (run) */
	waitpid(pid, NULL, WNOHANG);
	for (int i = 0; i < 1000 && ct_proc_start_time(pid) == start_time && start_time; i++)
		usleep(1000);
}

int ct_container_destroy(const char *root, struct ct_state *st, mc_err *err)
{
	bool alive = ct_state_alive(st);
	if (st->has_cg) {
		/* everything in the container's own cgroup goes, init or not */
		mc_err e2 = NULL;
		if (ct_cg_is_frozen(&st->cg)) {
			ct_cg_kill_all(&st->cg, SIGKILL, &e2);
			ct_cg_freeze(&st->cg, false, &e2);
		}
		ct_cg_kill_all(&st->cg, SIGKILL, &e2);
		mc_error_free(&e2);
	}
	if (alive) {
		kill(st->pid, SIGKILL);
		wait_gone(st->pid, st->start_time);
	}
	int ret = 0;
	mc_err e2 = NULL;
	if (st->veth && ct_net_remove(st->veth, &e2) < 0) {
		mc_log_warn("%s", mc_error_text(e2));
		mc_error_free(&e2);
	}
	if (st->has_cg && ct_cg_destroy(&st->cg, err) < 0)
		ret = mc_wrap(err, "delete");
	if (st->bundle && !st->creator) { /* an abandoned create never had a container */
		struct ct_spec *spec = NULL;
		if (ct_spec_load(st->bundle, &spec, &e2) == 0 &&
		    spec->hooks.count[CT_HOOK_POSTSTOP]) {
			_cleanup_free_ char *hs =
			    ct_hook_state(st->id, st->pid, st->bundle, "stopped", st->annotations);
			ct_hooks_run(spec, CT_HOOK_POSTSTOP, hs, true, &e2);
		}
		mc_error_free(&e2);
		ct_spec_free(spec);
	}
	if (ret == 0)
		ct_state_remove(root, st->id);
	return ret;
}
