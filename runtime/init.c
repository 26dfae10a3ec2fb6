/* The container's init, from clone() to execve(): runs as PID 1 of the new pid namespace,
 * inside the new mount/uts/ipc/net namespaces. Everything that can fail happens before it
 * tells the parent READY, so `create` fails with the step named; a failure is sent over the
 * sync socket, prefixed with the step's name. Order:
 *   join namespaces given by path -> wait for uid/gid maps (user ns) -> hostname ->
 *   rootfs prepare + OCI mounts + /dev -> PREPIVOT (parent joins us to the cgroups, wires
 *   the network, runs prestart/createRuntime hooks) -> cgroup mounts, cgroup ns, network ->
 *   createContainer hooks -> pivot_root (or chroot without a mount namespace of our own) ->
 *   sysctl, masked/read-only paths -> terminal -> the process sequence (process.c: cwd,
 *   rlimits, capabilities, no_new_privs, user, seccomp, executable lookup) -> READY ->
 *   wait for `start` on exec.fifo -> startContainer hooks -> execve. The exec.fifo's write
 *   end stays open (close-on-exec) until execve, so `start` returns once the program runs. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "cleanup.h"
#include "container.h"
#include "hooks.h"
#include "mounts.h"
#include "network.h"
#include "process.h"
#include "sync.h"
#include "terminal.h"
#include "util.h"

/* Until execve the init is minict's code running as PID 1 of its pid namespace, and the
 * kernel drops every signal PID 1 has no handler for (SIGKILL from outside aside): without
 * handlers `kill ID TERM` on a created container would do nothing, and a client that stops
 * with SIGTERM first (docker stop, containerd's Kill, podman stop) would wait out its timeout
 * while the init sits on exec.fifo. runc's init (Go) dies of those signals; ours does too,
 * exiting 128+N. Only signals whose default action ends a process and that nobody set to
 * SIG_IGN get the handler: execve resets caught signals to SIG_DFL, so the program starts with
 * exactly the dispositions it would have had. SIGPIPE, SIGTRAP and SIGSYS stay as they are:
 * they come from our own writes (console socket, exec.fifo; EPIPE names the failing step) or
 * from a seccomp filter's TRAP action, not from someone stopping the container. */
static void die_of_signal(int sig)
{
	_exit(128 + sig);
}

static void catch_terminating_signals(void)
{
	static const int sigs[] = {SIGHUP,  SIGINT,  SIGQUIT, SIGUSR1,	 SIGUSR2,
				   SIGALRM, SIGTERM, SIGXCPU, SIGXFSZ,	 SIGVTALRM,
				   SIGPROF, SIGIO,   SIGPWR,  SIGSTKFLT, SIGABRT};
	struct sigaction sa = {.sa_handler = die_of_signal}, old;
	sigfillset(&sa.sa_mask);
	for (int s = 1; s <= SIGRTMAX; s++) {
		bool terminating = s >= SIGRTMIN;
		for (size_t i = 0; i < MC_ARRAY_SIZE(sigs) && !terminating; i++)
			terminating = sigs[i] == s;
		if (terminating && sigaction(s, NULL, &old) == 0 && old.sa_handler == SIG_DFL)
			sigaction(s, &sa, NULL);
	}
}

__attribute__((noreturn)) static void fail(struct ct_init_args *a, mc_err *err)
{
	ct_sync_send(a->sync_fd, CT_SYNC_ERROR, (*err)->errnum, mc_error_text(*err));
	_exit(1);
}

static void warn_parent(void *arg, const char *msg)
{
	ct_sync_send(*(int *)arg, CT_SYNC_WARN, 0, msg);
}

static bool own_ns(const struct ct_spec *spec, int type)
{
	const char *path = NULL;
	return ct_spec_has_ns(spec, type, &path) && !path;
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

/* In a new user namespace: wait until the parent wrote our maps, then become its root. */
static int become_userns_root(struct ct_init_args *a, mc_err *err)
{
	if (!own_ns(a->spec, CLONE_NEWUSER))
		return 0;
	if (ct_sync_expect(a->sync_fd, CT_SYNC_MAPS, err) < 0)
		return -1;
	if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
		return mc_errorf(err, errno, "user namespace: become root");
	return 0;
}

static int set_names(const struct ct_spec *spec, mc_err *err)
{
	if (!ct_spec_has_ns(spec, CLONE_NEWUTS, NULL))
		return 0;
	if (spec->hostname && sethostname(spec->hostname, strlen(spec->hostname)) < 0)
		return mc_errorf(err, errno, "sethostname");
	if (spec->domainname && setdomainname(spec->domainname, strlen(spec->domainname)) < 0)
		return mc_errorf(err, errno, "setdomainname");
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

/* Own mount namespace: the rootfs bind, every OCI mount but the cgroup ones, /dev. */
static int build_rootfs(struct ct_init_args *a, int *rootfd, mc_err *err)
{
	if (!own_ns(a->spec, CLONE_NEWNS))
		return 0;
	*rootfd = ct_rootfs_prepare(a->spec, err);
	if (*rootfd < 0)
		return mc_wrap(err, "rootfs");
	if (ct_mounts_apply(a->spec, *rootfd, a->cg, false, err) < 0 ||
	    ct_devices_setup(a->spec, *rootfd, own_ns(a->spec, CLONE_NEWUSER), err) < 0)
		return -1;
	return 0;
}

/* Tell the parent our mounts are done; it answers once we are in our cgroups, the network
 * is wired and the prestart/createRuntime hooks ran. Returns our pid in its namespace. */
static pid_t wait_parent_setup(struct ct_init_args *a)
{
	if (ct_sync_send(a->sync_fd, CT_SYNC_PREPIVOT, 0, NULL) < 0)
		_exit(1);
	struct ct_sync_msg cont;
	mc_err err = NULL;
	if (ct_sync_recv(a->sync_fd, &cont, &err) < 0 || cont.type != CT_SYNC_CONTINUE)
		_exit(1); /* the parent gave up: it cleans up */
	return atoi(cont.text);
}

/* Inside the cgroups now: cgroup mounts, the cgroup namespace, lo and eth0. */
static int setup_after_cgroups(struct ct_init_args *a, int rootfd, mc_err *err)
{
	const struct ct_spec *spec = a->spec;
	if (rootfd >= 0 && ct_mounts_apply(spec, rootfd, a->cg, true, err) < 0)
		return -1;
	if (own_ns(spec, CLONE_NEWCGROUP) && unshare(CLONE_NEWCGROUP) < 0)
		return mc_errorf(err, errno, "unshare cgroup namespace");
	if (own_ns(spec, CLONE_NEWNET)) {
		if (ct_net_loopback_up(err) < 0)
			return -1;
		if (a->net_config && ct_net_setup_container(spec->net_cidr, err) < 0)
			return -1;
	}
	return 0;
}

static int run_hooks(struct ct_init_args *a, int kind, pid_t host_pid, const char *status,
		     mc_err *err)
{
	const struct ct_spec *spec = a->spec;
	if (!spec->hooks.count[kind])
		return 0;
	_cleanup_free_ char *hs =
	    ct_hook_state(a->opts->id, host_pid, a->opts->bundle, status, spec->annotations);
	return ct_hooks_run(spec, kind, hs, false, err);
}

/* Make root.path our "/": pivot_root in our own mount namespace; without one (the host's,
 * or one joined by path) chroot, so the process never sees the host's root. */
static int enter_root(struct ct_init_args *a, mc_err *err)
{
	const struct ct_spec *spec = a->spec;
	if (own_ns(spec, CLONE_NEWNS)) {
		if (ct_pivot_root(spec->root_path, a->opts->no_pivot, err) < 0)
			return -1;
		/* sysctls before /proc/sys turns read-only */
		if (write_sysctls(spec, err) < 0)
			return -1;
		return ct_mounts_finish(spec, err);
	}
	/* no mounts of ours here (create refuses them): /proc/sys is still the host view */
	if (write_sysctls(spec, err) < 0)
		return -1;
	if (chdir(spec->root_path) < 0)
		return mc_errorf(err, errno, "chdir `%s`", spec->root_path);
	if (chroot(".") < 0)
		return mc_errorf(err, errno, "chroot `%s`", spec->root_path);
	if (chdir("/") < 0)
		return mc_errorf(err, errno, "chdir /");
	return 0;
}

static int setup_terminal(struct ct_init_args *a, mc_err *err)
{
	const struct ct_process *p = &a->spec->process;
	int r = 0;
	if (p->terminal) {
		if (a->console_fd < 0)
			r = mc_errorf(err, 0,
				      "process.terminal is true but no --console-socket given");
		else
			r = ct_terminal_setup(a->console_fd, p->console_h, p->console_w, err);
	} else {
		/* a session of its own, as under runc: the container does not stay in the
		 * caller's session (CRIU refuses a session leader outside the pid namespace) */
		(void)setsid();
	}
	if (a->console_fd >= 0)
		close(a->console_fd);
	a->console_fd = -1;
	return r;
}

/* Block until `start` (exec.fifo) or `run` (CONTINUE on the sync socket) lets us go. Returns
 * where late errors go: the fifo's write end (held open until execve), or the sync socket. */
static int wait_release(struct ct_init_args *a)
{
	mc_err err = NULL;
	if (a->fifo_fd < 0) {
		if (ct_sync_expect(a->sync_fd, CT_SYNC_CONTINUE, &err) < 0)
			_exit(1);
		return -1;
	}
	char p[64];
	snprintf(p, sizeof(p), "/proc/self/fd/%d", a->fifo_fd);
	int w = open(p, O_WRONLY | O_CLOEXEC);
	if (w < 0 || write(w, "0", 1) != 1) {
		fprintf(stderr, "minict: container init: exec.fifo: %s\n", strerror(errno));
		_exit(1);
	}
	close(a->fifo_fd);
	a->fifo_fd = -1;
	return w;
}

/* After the release nobody waits on the sync socket in detached mode: a failure goes to
 * `start` through the fifo, to `run` through the socket, and to stderr. */
__attribute__((noreturn)) static void fail_late(struct ct_init_args *a, int fifo_w, mc_err *err)
{
	const char *msg = mc_error_text(*err);
	if (fifo_w >= 0)
		mc_write_all(fifo_w, msg, strlen(msg));
	else
		ct_sync_send(a->sync_fd, CT_SYNC_ERROR, (*err)->errnum, msg);
	fprintf(stderr, "minict: container init: %s\n", msg);
	_exit(127);
}

void ct_init_main(struct ct_init_args *a)
{
	struct ct_spec *spec = a->spec;
	mc_err err = NULL;
	_cleanup_close_ int rootfd = -1;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	catch_terminating_signals();
	if (join_namespaces(spec, &err) < 0 || become_userns_root(a, &err) < 0 ||
	    set_names(spec, &err) < 0 || build_rootfs(a, &rootfd, &err) < 0)
		fail(a, &err);
	pid_t host_pid = wait_parent_setup(a);
	if (setup_after_cgroups(a, rootfd, &err) < 0 ||
	    run_hooks(a, CT_HOOK_CREATE_CONTAINER, host_pid, "creating", &err) < 0 ||
	    enter_root(a, &err) < 0 || setup_terminal(a, &err) < 0)
		fail(a, &err);
	_cleanup_free_ char *exe = NULL;
	const struct ct_seccomp *sc = spec->has_seccomp ? &spec->seccomp : NULL;
	if (ct_process_prepare(&spec->process, sc, a->opts->preserve_fds, warn_parent, &a->sync_fd,
			       &exe, &err) < 0)
		fail(a, &err);
	/* `create` exits once state.json is written: from then on minict's exit must not kill
	 * us. Until then the socket does: if minict dies before COMMIT (a client that gave up on
	 * `create` and killed it), the recv sees end-of-file and we go, instead of waiting on
	 * exec.fifo for ever in cgroups nobody knows about. (The death signal alone can't: a
	 * change of uid, process.user's or the user namespace's, has already cleared it.) */
	prctl(PR_SET_PDEATHSIG, 0);
	if (ct_sync_send(a->sync_fd, CT_SYNC_READY, 0, NULL) < 0 ||
	    ct_sync_expect(a->sync_fd, CT_SYNC_COMMIT, &err) < 0)
		_exit(1);
	int fifo_w = wait_release(a);
	if (run_hooks(a, CT_HOOK_START_CONTAINER, host_pid, "created", &err) < 0)
		fail_late(a, fifo_w, &err);
	ct_process_exec(exe, &spec->process, &err);
	fail_late(a, fifo_w, &err);
}
