#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "util.h"

struct report {
	int ok;
	unsigned failed; /* the guest that failed, when ok == 0 and status != 0 */
	int status;	 /* its wait status */
	char msg[512];
	double lat_ms[MB_MAX_GUESTS];
	double wall_ms;
};

static void guest_exec(const struct mb_launcher *l, const struct mb_guest_spec *g, char *id,
		       int logfd)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(logfd, 2) < 0)
		_exit(126);
	if (l->backend == MB_NATIVE) {
		if (chroot(g->rootfs) < 0 || chdir("/") < 0) {
			dprintf(2, "chroot %s: %s\n", g->rootfs, strerror(errno));
			_exit(126);
		}
		execv(g->argv[0], g->argv);
		dprintf(2, "exec %s: %s\n", g->argv[0], strerror(errno));
		_exit(127);
	}
	char *const argv[] = {(char *)l->tool,
			      "--root",
			      (char *)l->state,
			      "run",
			      "--bundle",
			      (char *)g->bundle,
			      id,
			      NULL};
	execv(argv[0], argv);
	dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

/* The runner: every guest is its child, so waitpid(-1) reaps exactly the guests. */
static void runner(const struct mb_launcher *l, const struct mb_guest_spec *g, unsigned n,
		   struct report *r)
{
	char ids[MB_MAX_GUESTS][128];
	pid_t pids[MB_MAX_GUESTS];
	uint64_t start[MB_MAX_GUESTS];
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
	for (unsigned k = 0; k < n; k++)
		snprintf(ids[k], sizeof(ids[k]), "%s-%u", g->id_prefix ? g->id_prefix : "g", k);
	unsigned started = 0;
	uint64_t t0 = mc_now_ns(), last = t0;
	for (; started < n; started++) {
		start[started] = mc_now_ns();
		pids[started] = fork();
		if (pids[started] == 0)
			guest_exec(l, g, ids[started], logfd);
		if (pids[started] < 0) {
			snprintf(r->msg, sizeof(r->msg), "fork guest %u: %s", started,
				 strerror(errno));
			break;
		}
	}
	int failed = 0;
	for (unsigned reaped = 0; reaped < started;) {
		int st;
		pid_t p = waitpid(-1, &st, 0);
		if (p < 0) {
			if (errno == EINTR)
				continue;
			snprintf(r->msg, sizeof(r->msg), "waitpid: %s", strerror(errno));
			return;
		}
		last = mc_now_ns();
		for (unsigned k = 0; k < started; k++) {
			if (pids[k] != p)
				continue;
			r->lat_ms[k] = (double)(last - start[k]) / 1e6;
			if ((!WIFEXITED(st) || WEXITSTATUS(st) != 0) && !failed) {
				failed = 1;
				r->failed = k;
				r->status = st;
			}
			reaped++;
		}
	}
	r->wall_ms = (double)(last - t0) / 1e6;
	r->ok = started == n && !failed;
}

/* The last non-empty line of the guests' stderr, for the error message. */
static void last_line(const char *path, char *buf, size_t size)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	mc_err e = NULL;
	buf[0] = 0;
	if (mc_read_file(path, 1 << 20, &text, &len, &e) < 0) {
		mc_error_free(&e);
		return;
	}
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == ' '))
		text[--len] = 0;
	char *nl = strrchr(text, '\n');
	snprintf(buf, size, "%s", nl ? nl + 1 : text);
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
		struct report r;
		memset(&r, 0, sizeof(r));
		runner(l, g, n, &r);
		_exit(mc_write_all(fds[1], &r, sizeof(r)) == (ssize_t)sizeof(r) ? 0 : 1);
	}
	close(fds[1]);
	struct report r;
	ssize_t got = mc_read_all(fds[0], &r, sizeof(r));
	close(fds[0]);
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (got != (ssize_t)sizeof(r))
		return mc_errorf(err, 0, "%s runner died without a report", name);
	if (!r.ok) {
		if (r.msg[0])
			return mc_errorf(err, 0, "%s: %s", name, r.msg);
		char line[256];
		last_line(g->log, line, sizeof(line));
		if (WIFSIGNALED(r.status))
			return mc_errorf(err, 0, "%s guest %u of %u killed by signal %d%s%s", name,
					 r.failed + 1, n, WTERMSIG(r.status), line[0] ? ": " : "",
					 line);
		return mc_errorf(err, 0, "%s guest %u of %u exited with status %d%s%s", name,
				 r.failed + 1, n, WEXITSTATUS(r.status), line[0] ? ": " : "", line);
	}
	out->n = n;
	memcpy(out->lat_ms, r.lat_ms, sizeof(out->lat_ms));
	out->wall_ms = r.wall_ms;
	return 0;
}
