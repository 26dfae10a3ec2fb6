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

static void now_rfc3339(char *buf, size_t n)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t l = strftime(buf, n, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + l, n - l, ".%09ldZ", ts.tv_nsec);
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

int ct_container_create(struct ct_spec *spec, const struct ct_create_opts *opts,
			struct ct_state *st, int *sync_out, mc_err *err)
{
	struct ct_cgroup cg = {0};
	int sv[2] = {-1, -1};
	_cleanup_close_ int fifo = -1, console = -1;
	pid_t pid = -1;
	bool claimed = false, have_cg = false;
	char veth[16] = "";
	_cleanup_free_ char *dir = NULL, *fifo_path = NULL;

	int flags = clone_flags(spec, err);
	if (flags < 0)
		return -1;
	if (ct_state_claim(opts->root, opts->id, err) < 0)
		return -1;
	claimed = true;
	dir = ct_state_dir(opts->root, opts->id);
	if (!dir || asprintf(&fifo_path, "%s/exec.fifo", dir) < 0) {
		mc_errorf(err, ENOMEM, "create");
		goto fail;
	}
	if (!opts->foreground) {
		if (mkfifo(fifo_path, 0600) < 0) {
			mc_errorf(err, errno, "mkfifo `%s`", fifo_path);
			goto fail;
		}
		/* a user-namespaced init opens it as the container's root */
		if (spec->nuid_maps && chown(fifo_path, spec->uid_maps[0].host_id,
					     spec->ngid_maps ? spec->gid_maps[0].host_id : 0) < 0) {
			mc_errorf(err, errno, "chown `%s`", fifo_path);
			goto fail;
		}
		fifo = open(fifo_path, O_PATH | O_CLOEXEC);
		if (fifo < 0) {
			mc_errorf(err, errno, "open `%s`", fifo_path);
			goto fail;
		}
	}
	if (opts->console_socket) {
		console = ct_console_connect(opts->console_socket, err);
		if (console < 0)
			goto fail;
	} else if (opts->console_sock_fd >= 0) {
		console = dup(opts->console_sock_fd);
	}
	if (spec->process.terminal && console < 0) {
		mc_errorf(err, 0, "process.terminal is true: --console-socket is required");
		goto fail;
	}
	if (ct_cg_create(&cg, spec->cgroups_path, opts->id, spec->has_resources ? &spec->res : NULL,
			 err) < 0)
		goto fail;
	have_cg = true;
	if (ct_cg_apply(&cg, spec->has_resources ? &spec->res : NULL, err) < 0)
		goto fail;
	for (int c = 0; c < CT_CG_NCTRL; c++)
		if (cg.path[c])
			mc_log_debug("cgroup: %s -> %s %s", ct_cg_ctrl_name(c), cg.ops[c]->name,
				     cg.path[c]);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		mc_errorf(err, errno, "socketpair");
		goto fail;
	}
	const char *pidns = NULL;
	if (ct_spec_has_ns(spec, CLONE_NEWPID, &pidns) && pidns) {
		_cleanup_close_ int nfd = open(pidns, O_RDONLY | O_CLOEXEC);
		if (nfd < 0 || setns(nfd, CLONE_NEWPID) < 0) {
			mc_errorf(err, errno, "join pid namespace `%s`", pidns);
			goto fail;
		}
	}
	struct ct_init_args ia = {.spec = spec,
				  .opts = opts,
				  .cg = &cg,
				  .sync_fd = sv[1],
				  .fifo_fd = fifo,
				  .console_fd = console,
				  .net_config = spec->net_bridge && spec->net_cidr};
	pid = syscall(SYS_clone, (unsigned long)flags | SIGCHLD, NULL, NULL, NULL, 0);
	if (pid < 0) {
		mc_errorf(err, errno, "clone");
		goto fail;
	}
	if (pid == 0) {
		close(sv[0]);
		ct_init_main(&ia);
	}
	close(sv[1]);
	sv[1] = -1;
	if (ct_spec_has_ns(spec, CLONE_NEWUSER, &pidns) && !pidns) {
		if (write_idmap(pid, "uid_map", spec->uid_maps, spec->nuid_maps, err) < 0 ||
		    write_idmap(pid, "gid_map", spec->gid_maps, spec->ngid_maps, err) < 0) {
			mc_wrap(err, "user namespace maps");
			goto fail;
		}
		ct_sync_send(sv[0], CT_SYNC_MAPS, 0, NULL);
	}
	/* overlapped with the child's mounts */
	if (ct_cg_enter(&cg, pid, err) < 0)
		goto fail;
	if (ia.net_config) {
		ct_net_ifname(opts->id, veth);
		if (ct_net_setup_host(spec->net_bridge, spec->net_cidr, veth, pid, err) < 0) {
			veth[0] = 0;
			goto fail;
		}
	}
	if (ct_sync_expect(sv[0], CT_SYNC_PREPIVOT, err) < 0)
		goto fail;
	if (spec->hooks.count[CT_HOOK_PRESTART] || spec->hooks.count[CT_HOOK_CREATE_RUNTIME]) {
		_cleanup_free_ char *hs =
		    ct_hook_state(opts->id, pid, opts->bundle, "creating", spec->annotations);
		if (ct_hooks_run(spec, CT_HOOK_PRESTART, hs, err) < 0 ||
		    ct_hooks_run(spec, CT_HOOK_CREATE_RUNTIME, hs, err) < 0)
			goto fail;
	}
	/* the child learns its pid in our namespace (for its hooks' state) */
	char pidtxt[24];
	snprintf(pidtxt, sizeof(pidtxt), "%d", pid);
	ct_sync_send(sv[0], CT_SYNC_CONTINUE, 0, pidtxt);
	if (ct_sync_expect(sv[0], CT_SYNC_READY, err) < 0)
		goto fail;

	char created[64];
	now_rfc3339(created, sizeof(created));
	memset(st, 0, sizeof(*st));
	st->id = strdup(opts->id);
	st->pid = pid;
	st->start_time = ct_proc_start_time(pid);
	st->bundle = opts->bundle ? strdup(opts->bundle) : NULL;
	st->rootfs = strdup(spec->root_path);
	st->created = strdup(created);
	st->annotations = spec->annotations ? json_object_get(spec->annotations) : NULL;
	st->cg = cg;
	st->has_cg = true;
	have_cg = false;
	st->veth = veth[0] ? strdup(veth) : NULL;
	st->net_bridge = veth[0] && spec->net_bridge ? strdup(spec->net_bridge) : NULL;
	if (ct_state_save(opts->root, st, err) < 0) {
		cg = st->cg;
		have_cg = true;
		memset(&st->cg, 0, sizeof(st->cg));
		ct_state_free(st);
		goto fail;
	}
	if (opts->pid_file) {
		char b[24];
		int n = snprintf(b, sizeof(b), "%d", pid);
		_cleanup_free_ char *tmp = NULL;
		int fd = -1;
		if (asprintf(&tmp, "%s.tmp", opts->pid_file) < 0 ||
		    (fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0 ||
		    mc_write_all(fd, b, n) < 0 || close(fd) < 0 ||
		    rename(tmp, opts->pid_file) < 0) {
			mc_errorf(err, errno, "pid file `%s`", opts->pid_file);
			if (tmp)
				unlink(tmp);
			cg = st->cg;
			have_cg = true;
			memset(&st->cg, 0, sizeof(st->cg));
			ct_state_free(st);
			goto fail;
		}
	}
	if (sync_out)
		*sync_out = sv[0];
	else
		close(sv[0]);
	return 0;

fail:
	if (pid > 0) {
		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	mc_err e2 = NULL;
	if (veth[0])
		ct_net_remove(veth, &e2);
	mc_error_free(&e2);
	if (have_cg) {
		/* the dead init may linger a moment in the cgroup */
		ct_cg_destroy(&cg, &e2);
		mc_error_free(&e2);
		ct_cg_free(&cg);
	}
	if (claimed)
		ct_state_remove(opts->root, opts->id);
	return mc_wrap(err, "create");
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
	_cleanup_close_ int fd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return mc_errorf(err, errno, "start: open `%s`", fifo);
	_cleanup_close_ int pidfd = syscall(SYS_pidfd_open, st->pid, 0);
	for (;;) {
		struct pollfd p[2] = {{.fd = fd, .events = POLLIN},
				      {.fd = pidfd, .events = POLLIN}};
		if (poll(p, pidfd >= 0 ? 2 : 1, 10000) <= 0)
			return mc_errorf(err, ETIMEDOUT, "start: container init did not answer");
		if (p[0].revents & POLLIN)
			break;
		if (pidfd >= 0 && (p[1].revents & POLLIN))
			return mc_errorf(err, 0, "start: container init exited");
	}
	char c;
	if (read(fd, &c, 1) != 1)
		return mc_errorf(err, errno, "start: read exec.fifo");
	unlink(fifo);
	if (st->bundle) {
		struct ct_spec *spec = NULL;
		mc_err e2 = NULL;
		if (ct_spec_load(st->bundle, &spec, &e2) == 0 &&
		    spec->hooks.count[CT_HOOK_POSTSTART]) {
			_cleanup_free_ char *hs =
			    ct_hook_state(st->id, st->pid, st->bundle, "running", st->annotations);
			if (ct_hooks_run(spec, CT_HOOK_POSTSTART, hs, &e2) < 0)
				mc_log_warn("%s", mc_error_text(e2));
		}
		mc_error_free(&e2);
		ct_spec_free(spec);
	}
	return 0;
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
	if (st->bundle) {
		struct ct_spec *spec = NULL;
		if (ct_spec_load(st->bundle, &spec, &e2) == 0 &&
		    spec->hooks.count[CT_HOOK_POSTSTOP]) {
			_cleanup_free_ char *hs =
			    ct_hook_state(st->id, st->pid, st->bundle, "stopped", st->annotations);
			if (ct_hooks_run(spec, CT_HOOK_POSTSTOP, hs, &e2) < 0)
				mc_log_warn("%s", mc_error_text(e2));
		}
		mc_error_free(&e2);
		ct_spec_free(spec);
	}
	if (ret == 0)
		ct_state_remove(root, st->id);
	return ret;
}
