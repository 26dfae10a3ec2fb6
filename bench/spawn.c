#include "spawn.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup.h"
#include "cleanup.h"
#include "paths.h"
#include "util.h"
#include "vmguest.h"

/* Not a figure's bound: a batch whose guests are not all up after this is stuck (a guest
 * that never reaches the barrier), so the run fails instead of hanging. */
#define BARRIER_TIMEOUT_MS (600 * 1000)

volatile sig_atomic_t mb_stop_signal;

static const char *const milestone_names[MB_NT] = {"start", "init", "ready", "exit", "gone"};

const char *mb_milestone_name(enum mb_milestone m)
{
	return (size_t)m < MB_NT ? milestone_names[m] : "?";
}

struct report {
	int ok;
	unsigned failed; /* the guest that failed, when ok == 0 and msg is empty */
	int status;	 /* its wait status */
	char msg[512];
	double t[MB_MAX_GUESTS][MB_NT];
	double wall_ms;
	double rss_mib[MB_MAX_GUESTS], pss_mib[MB_MAX_GUESTS];
	double host_mib;
	unsigned mem_samples;
};

static void guest_exec(const struct mb_launcher *l, const struct mb_guest_spec *g, unsigned k,
		       char *id, int logfd)
{
	sigset_t all;
	sigfillset(&all);
	sigprocmask(SIG_UNBLOCK, &all, NULL); /* the runner blocks SIGCHLD for its signalfd */
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(logfd, 2) < 0)
		_exit(126);
	if ((l->backend == MB_VM || l->backend == MB_QEMU) && g->vm)
		mb_vm_guest_exec(l, g->vm, k); /* a relay and the VMM under it */
	char idx[16], bundle[4200];
	snprintf(idx, sizeof(idx), "%u", k);
	char *argv[96];
	size_t n = 0;
	if (l->backend == MB_NATIVE) {
		char root[4200];
		if (g->roots)
			snprintf(root, sizeof(root), "%s/g%u/root", g->roots, k);
		else
			snprintf(root, sizeof(root), "%s", g->rootfs);
		if (g->native_cgroup) {
			char cg[256];
			mc_err cerr = NULL;
			snprintf(cg, sizeof(cg), "%s-g%u", g->native_cgroup, k);
			if (mb_cgroup_join(cg, &cerr) < 0) {
				dprintf(2, "%s\n", mc_error_text(cerr));
				_exit(126);
			}
			/* the containers' RLIMIT_NOFILE (bundle.c's spec) */
			struct rlimit nofile = {1024, 1024};
			setrlimit(RLIMIT_NOFILE, &nofile);
		}
		if (g->roots) {
			/* a chroot with /proc and the host's /dev (the containers get theirs
			 * from the runtime), in a mount namespace of its own */
			char proc[4300], dev[4300];
			snprintf(proc, sizeof(proc), "%s/proc", root);
			snprintf(dev, sizeof(dev), "%s/dev", root);
			if (unshare(CLONE_NEWNS) < 0 ||
			    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
			    mount("proc", proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) <
				0 ||
			    mount("/dev", dev, NULL, MS_BIND | MS_REC, NULL) < 0) {
				dprintf(2, "mount /proc and /dev in %s: %s\n", root,
					strerror(errno));
				_exit(126);
			}
		}
		if (chroot(root) < 0 || chdir("/") < 0) {
			dprintf(2, "chroot %s: %s\n", root, strerror(errno));
			_exit(126);
		}
	} else if (l->engine) {
		/* density: guest K's limits, its cgroup parent and its /data (the overlay's) */
		char cg[256], data[4300];
		static char buf[8192];
		snprintf(cg, sizeof(cg), "/%s-g%u", g->native_cgroup ? g->native_cgroup : "", k);
		snprintf(data, sizeof(data), "%s/g%u/root/data", g->roots ? g->roots : "", k);
		const struct mb_engine_guest gu = {cg, g->cpus, g->mem_bytes, g->nofile, data};
		n = mb_engine_run_argv(l->engine, l->runtime, g->mbdir,
				       g->roots && g->native_cgroup ? &gu : NULL, argv, 64, buf,
				       sizeof(buf));
		if (n == 0) {
			dprintf(2, "%s: argv too long\n", mb_backend_name(l->backend));
			_exit(126);
		}
	} else {
		snprintf(bundle, sizeof(bundle), "%s/g%u", g->bundles, k);
		char *const oci[] = {(char *)l->tool,
				     "--root",
				     (char *)l->state,
				     "run",
				     "--bundle",
				     bundle,
				     id,
				     NULL};
		execv(oci[0], oci);
		dprintf(2, "exec %s: %s\n", oci[0], strerror(errno));
		_exit(127);
	}
	argv[n++] = "/bin/sh";
	argv[n++] = "-c";
	argv[n++] = (char *)(g->script ? g->script : MB_GUEST_SCRIPT);
	argv[n++] = idx;
	for (size_t i = 0; g->argv[i] && n < MC_ARRAY_SIZE(argv) - 1; i++)
		argv[n++] = g->argv[i];
	argv[n] = NULL;
	execv(argv[0], argv);
	dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

struct runstate {
	unsigned started, arrived, reaped;
	int released, failed;
	uint64_t t0;
	pid_t pids[MB_MAX_GUESTS];
	char carry[64];
	size_t ncarry;
	double host0;	      /* host memory used before the first fork (MiB) */
	uint64_t next_sample; /* mem_sample: when the next one is due */
	unsigned exited;      /* guests that said "e" */
};

static double since(const struct runstate *s, uint64_t now)
{
	return (double)(now - s->t0) / 1e6;
}

static void fail_msg(struct report *r, struct runstate *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail_msg(struct report *r, struct runstate *s, const char *fmt, ...)
{
	if (!s->failed) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
		va_end(ap);
	}
	s->failed = 1;
}

/* "a K" (init) and "e K" (exit) lines from the events FIFO, each stamped when read. */
static void read_events(int fd, struct runstate *s, struct report *r)
{
	char buf[4096];
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			return;
		uint64_t now = mc_now_ns();
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] != '\n') {
				if (s->ncarry < sizeof(s->carry) - 1)
					s->carry[s->ncarry++] = buf[i];
				continue;
			}
			s->carry[s->ncarry] = 0;
			s->ncarry = 0;
			char what;
			unsigned k;
			if (sscanf(s->carry, "%c %u", &what, &k) != 2 || k >= s->started)
				continue;
			if (what == 'a' && r->t[k][MB_T_INIT] == 0) {
				r->t[k][MB_T_INIT] = since(s, now);
				s->arrived++;
			} else if (what == 'e' && r->t[k][MB_T_EXIT] == 0) {
				r->t[k][MB_T_EXIT] = since(s, now);
				s->exited++;
			}
		}
	}
}

/* MemTotal - MemAvailable in MiB, or NAN. */
static double host_used_mib(void)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/meminfo", "re");
	char line[256];
	long long total = -1, avail = -1, v;
	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "MemTotal: %lld kB", &v) == 1)
			total = v;
		else if (sscanf(line, "MemAvailable: %lld kB", &v) == 1)
			avail = v;
	}
	return total < 0 || avail < 0 ? NAN : (double)(total - avail) / 1024.0;
}

#define MAX_PROCS 16384

/* The owner of a process that is no guest's: -1; the engine's daemon tree: OWNER_DAEMON. */
#define OWNER_DAEMON (-2)

/* One memory sample: every process that descends from a guest's launcher (the guests are
 * the runner's children) adds its Rss and Pss (smaps_rollup) to that guest. docker and podman
 * (density, where each guest has its own cgroup parent): a container's processes are not its
 * client's descendants, so guest K also owns the processes in its cgroup <native_cgroup>-gK
 * (and below), and their parent when that is the container's shim (containerd-shim) or conmon;
 * the daemon (dockerd and its containerd) serves all guests: its sums are divided evenly among
 * the batch's guests. */
static void sample_memory(const struct mb_launcher *l, const struct mb_guest_spec *g,
			  const struct runstate *s, struct report *r)
{
	static pid_t pid[MAX_PROCS], ppid[MAX_PROCS], cgpids[MAX_PROCS];
	static int owner[MAX_PROCS];
	static char comm[MAX_PROCS][16];
	size_t n = 0;
	_cleanup_closedir_ DIR *d = opendir("/proc");
	struct dirent *de;
	while (d && (de = readdir(d)) && n < MAX_PROCS) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		char buf[1024];
		pid[n] = (pid_t)atoi(de->d_name);
		if (mc_read_proc(pid[n], "stat", buf, sizeof(buf)) <= 0)
			continue;
		const char *lp = strchr(buf, '('), *rp = strrchr(buf, ')');
		int pp;
		if (!lp || !rp || rp < lp || sscanf(rp + 1, " %*c %d", &pp) != 1)
			continue;
		snprintf(comm[n], sizeof(comm[n]), "%.*s", (int)(rp - lp - 1), lp + 1);
		ppid[n] = pp;
		owner[n] = -1;
		for (unsigned k = 0; k < s->started; k++)
			if (s->pids[k] == pid[n])
				owner[n] = (int)k;
		if (l->engine && l->engine->daemon == pid[n])
			owner[n] = OWNER_DAEMON;
		n++;
	}
	if (l->engine && g->native_cgroup) {
		for (unsigned k = 0; k < s->started; k++) {
			char cg[256];
			snprintf(cg, sizeof(cg), "%s-g%u", g->native_cgroup, k);
			size_t m = mb_cgroup_pids(cg, cgpids, MAX_PROCS);
			for (size_t i = 0; i < n; i++)
				for (size_t j = 0; j < m; j++)
					if (pid[i] == cgpids[j])
						owner[i] = (int)k;
		}
		/* the container's shim or conmon: the parent of one of its processes */
		for (size_t i = 0; i < n; i++) {
			if (owner[i] != -1 || (strncmp(comm[i], "containerd-shim", 15) != 0 &&
					       strcmp(comm[i], "conmon") != 0))
				continue;
			for (size_t j = 0; j < n; j++)
				if (owner[j] >= 0 && ppid[j] == pid[i])
					owner[i] = owner[j];
		}
	}
	/* descendants: pass after pass until nothing changes (the trees are a few levels deep) */
	for (int changed = 1; changed;) {
		changed = 0;
		for (size_t i = 0; i < n; i++) {
			if (owner[i] != -1)
				continue;
			for (size_t j = 0; j < n; j++)
				if (owner[j] != -1 && pid[j] == ppid[i]) {
					owner[i] = owner[j];
					changed = 1;
					break;
				}
		}
	}
	double rss[MB_MAX_GUESTS] = {0}, pss[MB_MAX_GUESTS] = {0}, drss = 0, dpss = 0;
	for (size_t i = 0; i < n; i++) {
		if (owner[i] == -1)
			continue;
		char path[64], line[256];
		snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid[i]);
		_cleanup_fclose_ FILE *f = fopen(path, "re");
		long long kib;
		double *rs = owner[i] >= 0 ? &rss[owner[i]] : &drss;
		double *ps = owner[i] >= 0 ? &pss[owner[i]] : &dpss;
		while (f && fgets(line, sizeof(line), f)) {
			if (sscanf(line, "Rss: %lld kB", &kib) == 1)
				*rs += (double)kib / 1024.0;
			else if (sscanf(line, "Pss: %lld kB", &kib) == 1)
				*ps += (double)kib / 1024.0;
		}
	}
	for (unsigned k = 0; k < s->started; k++) {
		rss[k] += drss / s->started;
		pss[k] += dpss / s->started;
		if (rss[k] > r->rss_mib[k])
			r->rss_mib[k] = rss[k];
		if (pss[k] > r->pss_mib[k])
			r->pss_mib[k] = pss[k];
	}
	double host = host_used_mib() - s->host0;
	if (isfinite(host) && host > r->host_mib)
		r->host_mib = host;
	r->mem_samples++;
}

static void release(int go, struct runstate *s, struct report *r)
{
	char lines[MB_MAX_GUESTS];
	memset(lines, '\n', sizeof(lines));
	double t = since(s, mc_now_ns());
	s->released = 1;
	for (unsigned k = 0; k < s->started; k++)
		r->t[k][MB_T_READY] = t;
	if (mc_write_all(go, lines, s->started) != (ssize_t)s->started)
		fail_msg(r, s, "write the barrier `go`: %s", strerror(errno));
}

static void reap(int evfd, struct runstate *s, struct report *r)
{
	int st;
	pid_t p;
	/* what a guest said before it exited is in the FIFO already: stamp it first */
	read_events(evfd, s, r);
	while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
		uint64_t now = mc_now_ns();
		for (unsigned k = 0; k < s->started; k++) {
			if (s->pids[k] != p)
				continue;
			r->t[k][MB_T_GONE] = since(s, now);
			s->reaped++;
			if ((!WIFEXITED(st) || WEXITSTATUS(st) != 0) && !s->failed) {
				s->failed = 1;
				r->failed = k;
				r->status = st;
			} else if (!s->released && !s->failed) {
				fail_msg(r, s, "guest %u exited before the barrier released it",
					 k + 1);
			}
		}
	}
}

/* The runner: every guest is its child, so waitpid(-1) reaps exactly the guests. */
static void runner(const struct mb_launcher *l, const struct mb_guest_spec *g, unsigned n,
		   struct report *r)
{
	char ids[MB_MAX_GUESTS][128], path[4200];
	struct runstate s;
	memset(&s, 0, sizeof(s));
	if (l->private_cgroup2_umount) {
		if (unshare(CLONE_NEWNS) < 0 ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
		    umount2("/sys/fs/cgroup/unified", MNT_DETACH) < 0) {
			snprintf(r->msg, sizeof(r->msg),
				 "private mount namespace without /sys/fs/cgroup/unified: %s",
				 strerror(errno));
			return;
		}
	}
	_cleanup_close_ int logfd =
	    open(g->log, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
	if (logfd < 0) {
		snprintf(r->msg, sizeof(r->msg), "open `%s`: %s", g->log, strerror(errno));
		return;
	}
	snprintf(path, sizeof(path), "%s/events", g->mbdir);
	_cleanup_close_ int evfd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	snprintf(path, sizeof(path), "%s/go", g->mbdir);
	_cleanup_close_ int go = open(path, O_RDWR | O_CLOEXEC);
	if (evfd < 0 || go < 0) {
		snprintf(r->msg, sizeof(r->msg), "open the barrier `%.300s`: %s", path,
			 strerror(errno));
		return;
	}
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	_cleanup_close_ int sfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sfd < 0) {
		snprintf(r->msg, sizeof(r->msg), "signalfd: %s", strerror(errno));
		return;
	}
	for (unsigned k = 0; k < n; k++)
		snprintf(ids[k], sizeof(ids[k]), "%s-%u", g->id_prefix ? g->id_prefix : "g", k);
	if (g->mem_sample)
		s.host0 = host_used_mib();
	s.t0 = mc_now_ns();
	uint64_t last = s.t0;
	for (; s.started < n; s.started++) {
		uint64_t t = mc_now_ns();
		s.pids[s.started] = fork();
		if (s.pids[s.started] == 0)
			guest_exec(l, g, s.started, ids[s.started], logfd);
		if (s.pids[s.started] < 0) {
			fail_msg(r, &s, "fork guest %u: %s", s.started + 1, strerror(errno));
			break;
		}
		r->t[s.started][MB_T_START] = since(&s, t);
	}
	while (s.reaped < s.started) {
		if (!s.released && (s.failed || s.arrived == s.started)) {
			release(go, &s, r); /* on a failure: so that the others finish */
			s.next_sample = mc_now_ns();
		}
		/* memory: at the release, then every MB_MEM_SAMPLE_MS while a workload runs */
		if (g->mem_sample && s.released && !s.failed && s.exited < s.started &&
		    mc_now_ns() >= s.next_sample) {
			sample_memory(l, g, &s, r);
			s.next_sample = mc_now_ns() + (uint64_t)MB_MEM_SAMPLE_MS * 1000000;
		}
		struct pollfd p[2] = {{evfd, POLLIN, 0}, {sfd, POLLIN, 0}};
		int timeout = -1;
		if (!s.released) {
			double left = BARRIER_TIMEOUT_MS - since(&s, mc_now_ns());
			timeout = left > 0 ? (int)left + 1 : 0;
		} else if (g->mem_sample && s.exited < s.started) {
			uint64_t now = mc_now_ns();
			timeout =
			    s.next_sample > now ? (int)((s.next_sample - now) / 1000000) + 1 : 0;
		}
		int got = poll(p, 2, timeout);
		if (got < 0 && errno != EINTR) {
			snprintf(r->msg, sizeof(r->msg), "poll: %s", strerror(errno));
			return;
		}
		if (got == 0 && s.released)
			continue; /* a memory sample is due */
		if (got == 0) {
			fail_msg(r, &s, "only %u of %u guests reached the barrier in %d s",
				 s.arrived, s.started, BARRIER_TIMEOUT_MS / 1000);
			continue;
		}
		if (p[0].revents & POLLIN)
			read_events(evfd, &s, r);
		if (p[1].revents & POLLIN) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
				;
			reap(evfd, &s, r);
			last = mc_now_ns();
		}
	}
	read_events(evfd, &s, r);
	r->wall_ms = since(&s, last);
	for (unsigned k = 0; k < s.started && !s.failed; k++)
		if (r->t[k][MB_T_INIT] == 0 || r->t[k][MB_T_EXIT] == 0)
			fail_msg(r, &s, "guest %u never said it was up or done on /mb/events",
				 k + 1);
	r->ok = s.started == n && !s.failed;
}

int mb_spawn_batch(const struct mb_launcher *l, const struct mb_guest_spec *g, unsigned n,
		   struct mb_batch *out, mc_err *err)
{
	const char *name = mb_backend_name(l->backend);
	if (n == 0 || n > MB_MAX_GUESTS)
		return mc_errorf(err, 0, "%u guests: out of range 1..%d", n, MB_MAX_GUESTS);
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) < 0)
		return mc_errorf(err, errno, "pipe");
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return mc_errorf(err, errno, "fork the %s runner", name);
	}
	if (pid == 0) {
		close(fds[0]);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		struct report r;
		memset(&r, 0, sizeof(r));
		runner(l, g, n, &r);
		_exit(mc_write_all(fds[1], &r, sizeof(r)) == (ssize_t)sizeof(r) ? 0 : 1);
	}
	close(fds[1]);
	struct report *r = calloc(1, sizeof(*r));
	if (!r) {
		close(fds[0]);
		waitpid(pid, NULL, 0);
		return mc_errorf(err, ENOMEM, "report");
	}
	ssize_t got = mc_read_all(fds[0], r, sizeof(*r));
	close(fds[0]);
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	int rc = 0;
	if (mb_stop_signal) {
		rc = mc_errorf(err, 0, "interrupted by signal %d", (int)mb_stop_signal);
	} else if (got != (ssize_t)sizeof(*r)) {
		rc = mc_errorf(err, 0, "%s runner died without a report", name);
	} else if (!r->ok) {
		char line[256];
		mb_last_line(g->log, line, sizeof(line));
		if (r->msg[0])
			rc = mc_errorf(err, 0, "%s: %s%s%s", name, r->msg, line[0] ? ": " : "",
				       line);
		else if (WIFSIGNALED(r->status))
			rc = mc_errorf(err, 0, "%s guest %u of %u killed by signal %d%s%s", name,
				       r->failed + 1, n, WTERMSIG(r->status), line[0] ? ": " : "",
				       line);
		else
			rc = mc_errorf(err, 0, "%s guest %u of %u exited with status %d%s%s", name,
				       r->failed + 1, n, WEXITSTATUS(r->status),
				       line[0] ? ": " : "", line);
	} else {
		out->n = n;
		memcpy(out->t, r->t, sizeof(out->t));
		out->wall_ms = r->wall_ms;
		memcpy(out->rss_mib, r->rss_mib, sizeof(out->rss_mib));
		memcpy(out->pss_mib, r->pss_mib, sizeof(out->pss_mib));
		out->host_mib = r->host_mib;
		out->mem_samples = r->mem_samples;
	}
	free(r);
	return rc;
}
