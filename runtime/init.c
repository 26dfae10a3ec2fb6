/* The container's init, from clone() to execve(): runs as PID 1 of the new pid namespace,
 * inside the new mount/uts/ipc/net namespaces. Each step that fails is reported to the
 * parent over the sync socket, prefixed with the step's name. Order:
 *   join namespaces given by path -> wait for uid/gid maps (user ns) -> hostname ->
 *   rootfs prepare + OCI mounts + /dev -> PREPIVOT (parent joins us to the cgroups, wires
 *   the network, runs createRuntime hooks) -> cgroup mounts, cgroup ns, eth0 ->
 *   createContainer hooks -> pivot_root -> masked/read-only paths -> sysctl -> terminal ->
 *   cwd, rlimits, oom_score_adj, resolve the executable -> READY -> block on exec.fifo until
 *   `start` -> startContainer hooks -> no_new_privs, user, capabilities, seccomp -> execve. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "container.h"
#include "hooks.h"
#include "mounts.h"
#include "network.h"
#include "security.h"
#include "sync.h"
#include "terminal.h"
#include "util.h"

__attribute__((noreturn)) static void fail(struct ct_init_args *a, mc_err *err)
{
	ct_sync_send(a->sync_fd, CT_SYNC_ERROR, (*err)->errnum, mc_error_text(*err));
	_exit(1);
}

static int join_namespaces(const struct ct_spec *spec, mc_err *err)
{
	/* user first: it decides what the others may do */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < spec->nnamespaces; i++) {
			const struct ct_namespace *ns = &spec->namespaces[i];
			if (!ns->path || ns->type == CLONE_NEWPID ||
			    (pass == 0) != (ns->type == CLONE_NEWUSER))
				continue;
			_cleanup_close_ int fd = open(ns->path, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				return mc_errorf(err, errno, "namespace `%s`", ns->path);
			if (setns(fd, ns->type) < 0)
				return mc_errorf(err, errno, "setns `%s`", ns->path);
		}
	return 0;
}

static int write_sysctls(const struct ct_spec *spec, mc_err *err)
{
	for (size_t i = 0; i < spec->nsysctls; i++) {
		char path[512];
		int n = snprintf(path, sizeof(path), "/proc/sys/%s", spec->sysctls[i].key);
		if (n < 0 || (size_t)n >= sizeof(path))
			return mc_errorf(err, 0, "sysctl %s: key too long", spec->sysctls[i].key);
		for (char *p = path + 10; *p; p++)
			if (*p == '.')
				*p = '/';
		if (mc_write_file(path, spec->sysctls[i].value, strlen(spec->sysctls[i].value),
				  err) < 0)
			return mc_wrap(err, "sysctl %s", spec->sysctls[i].key);
	}
	return 0;
}

static const char *getenv_from(char **env, const char *name)
{
	size_t n = strlen(name);
	for (char **e = env; e && *e; e++)
		if (!strncmp(*e, name, n) && (*e)[n] == '=')
			return *e + n + 1;
	return NULL;
}

/* Resolve process.args[0] against the container's PATH, as execvp would, so a missing
 * binary fails `create` rather than the (detached) `start`. */
static int resolve_exec(const struct ct_process *p, char **out, mc_err *err)
{
	const char *arg0 = p->args[0];
	struct stat st;
	if (strchr(arg0, '/')) {
		if (stat(arg0, &st) < 0)
			return mc_errorf(err, errno, "exec `%s`", arg0);
		if (!S_ISREG(st.st_mode) || access(arg0, X_OK) < 0)
			return mc_errorf(err, EACCES, "exec `%s`", arg0);
		*out = strdup(arg0);
		return 0;
	}
	const char *path = getenv_from(p->env, "PATH");
	if (!path)
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	_cleanup_free_ char *copy = strdup(path);
	for (char *save = NULL, *d = strtok_r(copy, ":", &save); d;
	     d = strtok_r(NULL, ":", &save)) {
		char full[4200];
		snprintf(full, sizeof(full), "%s/%s", d, arg0);
		if (stat(full, &st) == 0 && S_ISREG(st.st_mode) && access(full, X_OK) == 0) {
			*out = strdup(full);
			return 0;
		}
	}
	return mc_errorf(err, ENOENT, "exec: \"%s\": executable file not found in $PATH", arg0);
}

static int close_fds_from(int first)
{
	return syscall(SYS_close_range, first, ~0U, 4 /* CLOSE_RANGE_CLOEXEC */);
}

void ct_init_main(struct ct_init_args *a)
{
	struct ct_spec *spec = a->spec;
	const struct ct_process *proc = &spec->process;
	mc_err err = NULL;
	bool userns = ct_spec_has_ns(spec, CLONE_NEWUSER, NULL);
	const char *nspath = NULL;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (join_namespaces(spec, &err) < 0)
		fail(a, &err);
	if (userns && !(ct_spec_has_ns(spec, CLONE_NEWUSER, &nspath) && nspath)) {
		if (ct_sync_expect(a->sync_fd, CT_SYNC_MAPS, &err) < 0)
			fail(a, &err);
		if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0) {
			mc_errorf(&err, errno, "user namespace: become root");
			fail(a, &err);
		}
	}
	if (ct_spec_has_ns(spec, CLONE_NEWUTS, NULL)) {
		if (spec->hostname && sethostname(spec->hostname, strlen(spec->hostname)) < 0) {
			mc_errorf(&err, errno, "sethostname");
			fail(a, &err);
		}
		if (spec->domainname &&
		    setdomainname(spec->domainname, strlen(spec->domainname)) < 0) {
			mc_errorf(&err, errno, "setdomainname");
			fail(a, &err);
		}
	}
	bool own_mntns = ct_spec_has_ns(spec, CLONE_NEWNS, &nspath) && !nspath;
	_cleanup_close_ int rootfd = -1;
	if (own_mntns) {
		rootfd = ct_rootfs_prepare(spec, &err);
		if (rootfd < 0) {
			mc_wrap(&err, "rootfs");
			fail(a, &err);
		}
		if (ct_mounts_apply(spec, rootfd, a->cg, false, &err) < 0 ||
		    ct_devices_setup(spec, rootfd, userns, &err) < 0)
			fail(a, &err);
	}
	/* the parent joins us to the cgroups and wires the network meanwhile */
	if (ct_sync_send(a->sync_fd, CT_SYNC_PREPIVOT, 0, NULL) < 0)
		_exit(1);
	struct ct_sync_msg cont;
	if (ct_sync_recv(a->sync_fd, &cont, &err) < 0 || cont.type != CT_SYNC_CONTINUE)
		_exit(1); /* parent gave up: it cleans up */
	int host_pid = atoi(cont.text);
	if (own_mntns && ct_mounts_apply(spec, rootfd, a->cg, true, &err) < 0)
		fail(a, &err);
	if (ct_spec_has_ns(spec, CLONE_NEWCGROUP, &nspath) && !nspath &&
	    unshare(CLONE_NEWCGROUP) < 0) {
		mc_errorf(&err, errno, "unshare cgroup namespace");
		fail(a, &err);
	}
	if (ct_spec_has_ns(spec, CLONE_NEWNET, &nspath) && !nspath) {
		if (ct_net_loopback_up(&err) < 0)
			fail(a, &err);
		if (a->net_config && ct_net_setup_container(spec->net_cidr, &err) < 0)
			fail(a, &err);
	}
	if (spec->hooks.count[CT_HOOK_CREATE_CONTAINER]) {
		_cleanup_free_ char *hs = ct_hook_state(a->opts->id, host_pid, a->opts->bundle,
							"creating", spec->annotations);
		if (ct_hooks_run(spec, CT_HOOK_CREATE_CONTAINER, hs, &err) < 0)
			fail(a, &err);
	}
	if (own_mntns) {
		if (ct_pivot_root(spec->root_path, a->opts->no_pivot, &err) < 0)
			fail(a, &err);
		/* sysctls before /proc/sys turns read-only */
		if (write_sysctls(spec, &err) < 0)
			fail(a, &err);
		if (ct_mounts_finish(spec, &err) < 0)
			fail(a, &err);
	} else if (chdir("/") < 0 || write_sysctls(spec, &err) < 0) {
		if (!err)
			mc_errorf(&err, errno, "chdir /");
		fail(a, &err);
	}
	if (proc->terminal) {
		if (a->console_fd < 0) {
			mc_errorf(&err, 0,
				  "process.terminal is true but no --console-socket given");
			fail(a, &err);
		}
		if (ct_terminal_setup(a->console_fd, proc->console_h, proc->console_w, &err) < 0)
			fail(a, &err);
	}
	if (a->console_fd >= 0)
		close(a->console_fd);
	if (chdir(proc->cwd) < 0) {
		mc_errorf(&err, errno, "chdir to process.cwd `%s`", proc->cwd);
		fail(a, &err);
	}
	if (ct_rlimits_apply(proc, &err) < 0)
		fail(a, &err);
	if (proc->has_oom_score_adj) {
		char b[16];
		int n = snprintf(b, sizeof(b), "%d", proc->oom_score_adj);
		if (mc_write_file("/proc/self/oom_score_adj", b, n, &err) < 0)
			fail(a, &err);
	}
	if (proc->has_umask)
		umask(proc->umask);
	_cleanup_free_ char *exe = NULL;
	if (resolve_exec(proc, &exe, &err) < 0)
		fail(a, &err);
	if (ct_caps_bounding(proc, &err) < 0)
		fail(a, &err);
	/* `create` exits after READY: from now on minict's exit must not kill us */
	prctl(PR_SET_PDEATHSIG, 0);
	if (ct_sync_send(a->sync_fd, CT_SYNC_READY, 0, NULL) < 0)
		_exit(1);
	/* wait for `start` */
	if (a->fifo_fd >= 0) {
		char p[64];
		snprintf(p, sizeof(p), "/proc/self/fd/%d", a->fifo_fd);
		int w = open(p, O_WRONLY | O_CLOEXEC);
		if (w < 0 || write(w, "0", 1) != 1) {
			fprintf(stderr, "minict: container init: exec.fifo: %s\n", strerror(errno));
			_exit(1);
		}
		close(w);
		close(a->fifo_fd);
	} else {
		if (ct_sync_expect(a->sync_fd, CT_SYNC_CONTINUE, &err) < 0)
			_exit(1);
	}
	/* from here errors go to stderr: the parent may be gone (create/start) */
	if (spec->hooks.count[CT_HOOK_START_CONTAINER]) {
		_cleanup_free_ char *hs = ct_hook_state(a->opts->id, host_pid, a->opts->bundle,
							"created", spec->annotations);
		if (ct_hooks_run(spec, CT_HOOK_START_CONTAINER, hs, &err) < 0)
			goto late;
	}
	if (proc->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		mc_errorf(&err, errno, "no_new_privileges");
		goto late;
	}
	if (!proc->no_new_privileges && ct_seccomp_load(spec, &err) < 0)
		goto late;
	if (ct_set_user(proc, &err) < 0 || ct_caps_apply(proc, &err) < 0)
		goto late;
	if (proc->no_new_privileges && ct_seccomp_load(spec, &err) < 0)
		goto late;
	close(a->sync_fd);
	close_fds_from(3 + a->opts->preserve_fds);
	execve(exe, proc->args, proc->env ? proc->env : (char *[]){NULL});
	mc_errorf(&err, errno, "exec `%s`", exe);
late:
	ct_sync_send(a->sync_fd, CT_SYNC_ERROR, err->errnum, mc_error_text(err));
	fprintf(stderr, "minict: container init: %s\n", mc_error_text(err));
	_exit(127);
}
