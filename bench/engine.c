#include "engine.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "cleanup.h"
#include "paths.h"
#include "spawn.h"
#include "util.h"

#define DOCKERD_WAIT_TRIES 120 /* x 0.5 s: dockerd's first start sets up its roots */
#define DOCKERD_STOP_TRIES 300 /* x 0.1 s: it stops its containerd and shims first */

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Fork and exec argv with stdin /dev/null and stdout+stderr to out (appended or truncated). */
static pid_t spawn_to(char *const *argv, const char *out, bool append, bool deathsig)
{
	pid_t parent = getpid();
	fflush(NULL);
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	if (deathsig && (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent))
		_exit(126);
	/* a ^C to minibench's process group must not kill the daemon or the clean-up's commands:
	 * minibench stops them itself */
	if (deathsig)
		setpgid(0, 0);
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int fd = open(out, O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0644);
	if (null < 0 || fd < 0 || dup2(null, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
		_exit(126);
	execv(argv[0], argv);
	dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

static int wait_status(pid_t pid)
{
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return st;
}

static int run_to(char *const *argv, const char *out, bool append, mc_err *err)
{
	pid_t pid = spawn_to(argv, out, append, false);
	if (pid < 0)
		return mc_errorf(err, errno, "fork for `%s`", argv[0]);
	int st = wait_status(pid);
	if (st == 0)
		return 0;
	char line[256];
	mb_last_line(out, line, sizeof(line));
	const char *prog = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	return mc_errorf(err, 0, "`%s %s` failed (status %d)%s%s", prog, argv[1] ? argv[1] : "",
			 WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), line[0] ? ": " : "",
			 line);
}

int mb_run_cmd(char *const *argv, const char *log, mc_err *err)
{
	return run_to(argv, log, true, err);
}

int mb_engine_check(enum mb_engine_kind kind, mc_err *err)
{
	char path[4096];
	if (kind == MB_ENGINE_PODMAN) {
		if (!mb_which("podman", path, sizeof(path)))
			return mc_errorf(err, 0, "podman is not installed (make deps)");
		if (!mb_which("runc", path, sizeof(path)))
			return mc_errorf(err, 0, "podman: runc is not installed (make deps)");
	} else {
		static const char *const tools[] = {"dockerd", "containerd", "runc"};
		for (size_t i = 0; i < MC_ARRAY_SIZE(tools); i++)
			if (!mb_which(tools[i], path, sizeof(path)))
				return mc_errorf(err, 0, "docker: %s is not installed (make deps)",
						 tools[i]);
		if (access("/usr/bin/docker", X_OK) < 0 && !mb_which("docker", path, sizeof(path)))
			return mc_errorf(err, 0,
					 "docker: the docker client is not installed "
					 "(make deps)");
	}
	if (!mb_which("tar", path, sizeof(path)))
		return mc_errorf(err, 0, "tar is not installed");
	return 0;
}

/* The engine's own argv prefix: docker -H SOCK, or podman with its private store. */
static size_t base_argv(struct mb_engine *e, char **argv)
{
	static char root[128], runroot[128], tmpdir[128];
	size_t n = 0;
	argv[n++] = e->client;
	if (e->kind == MB_ENGINE_DOCKER) {
		argv[n++] = "-H";
		argv[n++] = e->sock;
		return n;
	}
	snprintf(root, sizeof(root), "%s/root", e->dir);
	snprintf(runroot, sizeof(runroot), "%s/run", e->dir);
	snprintf(tmpdir, sizeof(tmpdir), "%s/tmp", e->dir);
	char *const rest[] = {"--root",		  root,	      "--runroot",	  runroot,
			      "--tmpdir",	  tmpdir,     "--storage-driver", e->storage,
			      "--cgroup-manager", "cgroupfs", "--events-backend", "file"};
	for (size_t i = 0; i < MC_ARRAY_SIZE(rest); i++)
		argv[n++] = rest[i];
	return n;
}

/* A formatted string appended to buf (at *used), or NULL when it does not fit. */
static char *bufprintf(char *buf, size_t size, size_t *used, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static char *bufprintf(char *buf, size_t size, size_t *used, const char *fmt, ...)
{
	if (*used >= size)
		return NULL;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf + *used, size - *used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size - *used)
		return NULL;
	char *s = buf + *used;
	*used += (size_t)n + 1;
	return s;
}

size_t mb_engine_run_argv(const struct mb_engine *e, const char *runtime, const char *mbdir,
			  const struct mb_engine_guest *gu, char **argv, size_t max, char *buf,
			  size_t size)
{
	char *a[64];
	size_t n = base_argv((struct mb_engine *)e, a), used = 0;
	a[n++] = "run";
	a[n++] = "--rm";
	a[n++] = "--network";
	a[n++] = "none";
	if (e->kind == MB_ENGINE_PODMAN) {
		a[n++] = "--runtime";
		a[n++] = (char *)(runtime ? runtime : e->runc);
		if (!gu) {
			a[n++] = "--cgroup-parent";
			a[n++] = bufprintf(buf, size, &used, "/%s", e->cgroup);
		}
		/* podman's default RLIMIT_NOFILE/NPROC (1048576) exceed root's hard limit where
		 * root lacks CAP_SYS_RESOURCE (this project's machines) */
		if (!gu) {
			a[n++] = "--ulimit";
			a[n++] = "nofile=4096:4096";
		}
		a[n++] = "--ulimit";
		a[n++] = "nproc=4096:4096";
	} else if (runtime) {
		a[n++] = "--runtime";
		a[n++] = (char *)runtime;
	}
	if (gu) {
		a[n++] = "--cgroup-parent";
		a[n++] = (char *)gu->cgroup_parent;
		a[n++] = "--cpus";
		a[n++] = bufprintf(buf, size, &used, "%u", gu->cpus);
		a[n++] = "--memory";
		a[n++] = bufprintf(buf, size, &used, "%llu", gu->mem_bytes);
		a[n++] = "--memory-swap";
		a[n++] = bufprintf(buf, size, &used, "%llu", gu->mem_bytes);
		a[n++] = "--ulimit";
		a[n++] = bufprintf(buf, size, &used, "nofile=%u:%u", gu->nofile, gu->nofile);
		a[n++] = "-v";
		a[n++] = bufprintf(buf, size, &used, "%s:/data", gu->data);
	}
	a[n++] = "-v";
	a[n++] = bufprintf(buf, size, &used, "%s:/mb", mbdir);
	a[n++] = (char *)e->image;
	for (size_t i = 0; i < n; i++)
		if (!a[i])
			return 0;
	if (n > max)
		return 0;
	memcpy(argv, a, n * sizeof(*a));
	return n;
}

void mb_engine_rootfs_key(const char *rootfs, char *key, size_t size)
{
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s", rootfs);
	size_t len = strlen(dir);
	while (len > 1 && dir[len - 1] == '/')
		dir[--len] = 0;
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = 0;
		const char *name = strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir;
		const char *dash = strrchr(name, '-');
		bool ok = dash && dash != name && strlen(dash + 1) >= 8 && strlen(name) < 100;
		for (const char *c = name; ok && *c; c++)
			ok = (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-' ||
			     *c == '.' || *c == '_';
		if (ok) {
			snprintf(key, size, "%s", name);
			return;
		}
	}
	/* FNV-1a over the path and the tree's mtime */
	struct stat st;
	uint64_t h = 1469598103934665603ull;
	long long mtime = stat(rootfs, &st) == 0 ? (long long)st.st_mtime : 0;
	char text[4200];
	snprintf(text, sizeof(text), "%s:%lld", rootfs, mtime);
	for (const char *c = text; *c; c++)
		h = (h ^ (unsigned char)*c) * 1099511628211ull;
	snprintf(key, size, "dir-%016llx", (unsigned long long)h);
}

static int start_dockerd(struct mb_engine *e, const char *minict, mc_err *err)
{
	char cfg[128], data[128], exec[128], pidf[128], key[160], json[256], cgp[128], rt[4200];
	snprintf(cfg, sizeof(cfg), "%s/daemon.json", e->dir);
	snprintf(data, sizeof(data), "%s/data", e->dir);
	snprintf(exec, sizeof(exec), "%s/exec", e->dir);
	snprintf(pidf, sizeof(pidf), "%s/dockerd.pid", e->dir);
	snprintf(key, sizeof(key), "%s/key.json", e->dir);
	snprintf(cgp, sizeof(cgp), "/%s", e->cgroup);
	snprintf(json, sizeof(json), "{\"deprecated-key-path\": \"%s\"}\n", key);
	if (mb_write_text(cfg, json, 0644, err) < 0)
		return -1;
	char dockerd[4096];
	if (!mb_which("dockerd", dockerd, sizeof(dockerd)))
		return mc_errorf(err, 0, "dockerd is not installed (make deps)");
	char *argv[40] = {dockerd,
			  "-H",
			  e->sock,
			  "--data-root",
			  data,
			  "--exec-root",
			  exec,
			  "--pidfile",
			  pidf,
			  "--config-file",
			  cfg,
			  "--storage-driver",
			  e->storage,
			  "--bridge=none",
			  "--iptables=false",
			  "--ip6tables=false",
			  "--ip-forward=false",
			  "--ip-masq=false",
			  "--exec-opt",
			  "native.cgroupdriver=cgroupfs",
			  "--cgroup-parent",
			  cgp};
	size_t n = 22;
	if (minict) {
		snprintf(rt, sizeof(rt), "minict=%s", minict);
		argv[n++] = "--add-runtime";
		argv[n++] = rt;
	}
	argv[n] = NULL;
	e->daemon = spawn_to(argv, e->log, true, true);
	if (e->daemon < 0) {
		e->daemon = 0;
		return mc_errorf(err, errno, "fork dockerd");
	}
	char probe[128];
	snprintf(probe, sizeof(probe), "%s/probe.log", e->dir);
	char *ver[8];
	size_t k = base_argv(e, ver);
	ver[k++] = "version";
	ver[k] = NULL;
	for (int i = 0; i < DOCKERD_WAIT_TRIES; i++) {
		mc_err perr = NULL;
		int ok = run_to(ver, probe, false, &perr) == 0;
		mc_error_free(&perr);
		if (ok)
			break;
		int st;
		if (waitpid(e->daemon, &st, WNOHANG) == e->daemon) {
			e->daemon = 0;
			char line[256];
			mb_last_line(e->log, line, sizeof(line));
			return mc_errorf(err, 0, "dockerd exited at start: %s", line);
		}
		if (mb_stop_signal)
			return mc_errorf(err, 0, "interrupted by signal %d while dockerd started",
					 (int)mb_stop_signal);
		if (i == DOCKERD_WAIT_TRIES - 1)
			return mc_errorf(err, 0,
					 "dockerd did not answer on %s within %d s (log %s)",
					 e->sock, DOCKERD_WAIT_TRIES / 2, e->log);
		sleep_ms(500);
	}
	if (!minict)
		return 0;
	char *info[8];
	k = base_argv(e, info);
	info[k++] = "info";
	info[k++] = "--format";
	info[k++] = "{{json .Runtimes}}";
	info[k] = NULL;
	if (run_to(info, probe, false, err) < 0)
		return -1;
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	if (mc_read_file(probe, 1 << 20, &text, &len, err) < 0)
		return -1;
	if (!strstr(text, "\"minict\""))
		return mc_errorf(err, 0, "dockerd does not list the minict runtime");
	return 0;
}

/* tar -C rootfs -c . | CLIENT import - IMAGE, both outputs into the engine's log. */
static int import_image(struct mb_engine *e, const char *rootfs, mc_err *err)
{
	char tar[4096], *imp[24];
	if (!mb_which("tar", tar, sizeof(tar)))
		return mc_errorf(err, 0, "tar is not installed");
	char *targv[] = {tar, "-C", (char *)rootfs, "--exclude=./mb/*", "-c", ".", NULL};
	size_t k = base_argv(e, imp);
	imp[k++] = "import";
	imp[k++] = "-";
	imp[k++] = e->image;
	imp[k] = NULL;
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return mc_errorf(err, errno, "pipe");
	pid_t pid[2];
	char *const *argvs[2] = {targv, imp};
	for (int i = 0; i < 2; i++) {
		fflush(NULL);
		pid[i] = fork();
		if (pid[i] == 0) {
			signal(SIGINT, SIG_IGN);
			int fd = open(e->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
			int null = open("/dev/null", O_RDWR | O_CLOEXEC);
			if (fd < 0 || null < 0 || dup2(i == 0 ? null : p[0], 0) < 0 ||
			    dup2(i == 0 ? p[1] : fd, 1) < 0 || dup2(fd, 2) < 0)
				_exit(126);
			execv(argvs[i][0], argvs[i]);
			dprintf(2, "exec %s: %s\n", argvs[i][0], strerror(errno));
			_exit(127);
		}
	}
	close(p[0]);
	close(p[1]);
	int st[2] = {-1, -1};
	for (int i = 0; i < 2; i++)
		if (pid[i] > 0)
			st[i] = wait_status(pid[i]);
	if (pid[0] < 0 || pid[1] < 0)
		return mc_errorf(err, errno, "fork for the image import");
	if (st[0] == 0 && st[1] == 0)
		return 0;
	char line[256];
	mb_last_line(e->log, line, sizeof(line));
	int bad = st[1] != 0 ? st[1] : st[0];
	return mc_errorf(
	    err, 0, "`%s` of `%s` failed (status %d)%s%s", st[1] != 0 ? "import" : "tar -c", rootfs,
	    WIFEXITED(bad) ? WEXITSTATUS(bad) : 128 + WTERMSIG(bad), line[0] ? ": " : "", line);
}

/* Whether the engine already has the image. */
static bool have_image(struct mb_engine *e)
{
	char *argv[24], out[128];
	size_t k = base_argv(e, argv);
	argv[k++] = "image";
	argv[k++] = "inspect";
	argv[k++] = e->image;
	argv[k] = NULL;
	snprintf(out, sizeof(out), "%s/inspect.out", e->dir);
	mc_err ierr = NULL;
	bool ok = run_to(argv, out, false, &ierr) == 0;
	mc_error_free(&ierr);
	return ok;
}

int mb_engine_start(struct mb_engine *e, enum mb_engine_kind kind, const struct mb_engine_opts *o,
		    mc_err *err)
{
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	const char *what = kind == MB_ENGINE_DOCKER ? "docker" : "podman";
	snprintf(e->storage, sizeof(e->storage), "%s",
		 !o->overlay		    ? "vfs"
		 : kind == MB_ENGINE_DOCKER ? "overlay2"
					    : "overlay");
	snprintf(e->dir, sizeof(e->dir), "/tmp/mb-%s.XXXXXX", what);
	if (!mkdtemp(e->dir))
		return mc_errorf(err, errno, "%s: mkdtemp `%s`", what, e->dir);
	e->on = true;
	snprintf(e->log, sizeof(e->log), "%s/%s.log", e->dir,
		 kind == MB_ENGINE_DOCKER ? "dockerd" : "podman");
	snprintf(e->cgroup, sizeof(e->cgroup), "minibench-%d-%s", (int)getpid(), what);
	e->had_key = access("/etc/docker/key.json", F_OK) == 0;
	e->had_runcd = access("/run/containerd", F_OK) == 0;
	char tag[160];
	if (o->tag)
		snprintf(tag, sizeof(tag), "%s", o->tag);
	else
		snprintf(tag, sizeof(tag), "minibench-%d-busybox:latest", (int)getpid());
	int rc;
	if (kind == MB_ENGINE_DOCKER) {
		snprintf(e->sock, sizeof(e->sock), "unix://%s/docker.sock", e->dir);
		snprintf(e->image, sizeof(e->image), "%s", tag);
		if (access("/usr/bin/docker", X_OK) == 0) /* the client matching Debian's daemon */
			snprintf(e->client, sizeof(e->client), "/usr/bin/docker");
		rc = e->client[0] || mb_which("docker", e->client, sizeof(e->client))
			 ? start_dockerd(e, o->minict, err)
			 : mc_errorf(err, 0, "docker is not installed (make deps)");
	} else {
		rc = mb_which("podman", e->client, sizeof(e->client)) &&
			     mb_which("runc", e->runc, sizeof(e->runc))
			 ? 0
			 : mc_errorf(err, 0, "podman or runc is not installed (make deps)");
		snprintf(e->image, sizeof(e->image), "localhost/%s", tag);
	}
	if (rc == 0 && !have_image(e))
		rc = import_image(e, o->rootfs, err);
	if (rc < 0) {
		mc_err serr = NULL;
		mb_engine_stop(e, &serr);
		mc_error_free(&serr);
		return mc_wrap(err, "%s", what);
	}
	return 0;
}

static int rm_dir_only(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (type == FTW_DP)
		rmdir(path);
	return 0;
}

/* The engine's cgroup parent in every hierarchy, deepest first; fails if any stays. */
static int remove_cgroups(const char *name, mc_err *err)
{
	char path[4096];
	int rc = 0;
	for (int pass = 0; pass < 2; pass++) {
		snprintf(path, sizeof(path), "/sys/fs/cgroup/%s", name);
		if (access(path, F_OK) == 0) {
			if (pass == 0)
				nftw(path, rm_dir_only, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
			else
				rc = mc_errorf(err, 0, "cgroup `%s` is still there", path);
		}
		_cleanup_closedir_ DIR *d = opendir("/sys/fs/cgroup");
		struct dirent *de;
		while (d && (de = readdir(d))) {
			if (de->d_name[0] == '.' || de->d_type != DT_DIR)
				continue;
			snprintf(path, sizeof(path), "/sys/fs/cgroup/%s/%s", de->d_name, name);
			if (access(path, F_OK) < 0)
				continue;
			if (pass == 0)
				nftw(path, rm_dir_only, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
			else
				rc = mc_errorf(err, 0, "cgroup `%s` is still there", path);
		}
	}
	return rc;
}

/* Mounts at or below dir: unmounted (lazily), and an error, since the engine should have. */
static int remove_mounts(const char *dir, mc_err *err)
{
	int rc = 0;
	for (int round = 0; round < 8; round++) {
		_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
		char line[8192], where[4096], last[4096] = "";
		size_t len = strlen(dir);
		while (f && fgets(line, sizeof(line), f)) {
			if (sscanf(line, "%*s %*s %*s %*s %4095s", where) != 1)
				continue;
			if (strncmp(where, dir, len) == 0 && (where[len] == 0 || where[len] == '/'))
				snprintf(last, sizeof(last), "%s", where);
		}
		if (!last[0])
			break;
		rc = mc_errorf(err, 0, "mount `%s` was left behind", last);
		if (umount2(last, MNT_DETACH) < 0)
			break;
	}
	return rc;
}

/* A process whose command line mentions dir/: the engine should have stopped it. */
static int find_process(const char *dir, mc_err *err)
{
	_cleanup_closedir_ DIR *d = opendir("/proc");
	struct dirent *de;
	char needle[128];
	snprintf(needle, sizeof(needle), "%s/", dir);
	while (d && (de = readdir(d))) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		char buf[4096];
		ssize_t n = mc_read_proc((pid_t)atoi(de->d_name), "cmdline", buf, sizeof(buf));
		if (n <= 0)
			continue;
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] == 0)
				buf[i] = ' ';
		if (strstr(buf, needle))
			return mc_errorf(err, 0, "process %s (%.80s) was left behind", de->d_name,
					 buf);
	}
	return 0;
}

static void stop_daemon(struct mb_engine *e, mc_err *err)
{
	if (!e->daemon)
		return;
	kill(e->daemon, SIGTERM);
	for (int i = 0; i < DOCKERD_STOP_TRIES; i++) {
		int st;
		pid_t p = waitpid(e->daemon, &st, WNOHANG);
		if (p == e->daemon || (p < 0 && errno != EINTR)) {
			e->daemon = 0;
			return;
		}
		sleep_ms(100);
	}
	mc_errorf(err, 0, "dockerd %d ignored SIGTERM for %d s, killed", (int)e->daemon,
		  DOCKERD_STOP_TRIES / 10);
	kill(e->daemon, SIGKILL);
	wait_status(e->daemon);
	e->daemon = 0;
}

int mb_engine_stop(struct mb_engine *e, mc_err *err)
{
	if (!e->on)
		return 0;
	e->on = false;
	char *argv[40], out[128];
	snprintf(out, sizeof(out), "%s/stop.out", e->dir);
	size_t k;
	mc_err ignore = NULL;
	if (e->kind == MB_ENGINE_PODMAN || e->daemon) {
		/* containers an interrupted run left (a guest's client killed by ^C) */
		k = base_argv(e, argv);
		if (e->kind == MB_ENGINE_PODMAN) {
			char *const rm[] = {"rm", "--all", "--force", "--time", "0", NULL};
			memcpy(argv + k, rm, sizeof(rm));
			run_to(argv, e->log, true, &ignore);
		} else {
			char *const ps[] = {"ps", "-aq", NULL};
			memcpy(argv + k, ps, sizeof(ps));
			if (run_to(argv, out, false, &ignore) == 0) {
				_cleanup_free_ char *ids = NULL;
				size_t len = 0, m = k;
				argv[m++] = "rm";
				argv[m++] = "-f";
				if (mc_read_file(out, 1 << 16, &ids, &len, &ignore) == 0) {
					char *save = NULL;
					for (char *id = strtok_r(ids, "\n", &save); id && m < 38;
					     id = strtok_r(NULL, "\n", &save))
						argv[m++] = id;
					argv[m] = NULL;
					if (m > k + 2)
						run_to(argv, e->log, true, &ignore);
				}
			}
		}
		mc_error_free(&ignore);
		k = base_argv(e, argv);
		argv[k++] = "rmi";
		argv[k++] = "-f";
		argv[k++] = e->image;
		argv[k] = NULL;
		run_to(argv, e->log, true, &ignore);
		mc_error_free(&ignore);
	}
	stop_daemon(e, err);
	find_process(e->dir, err);
	remove_mounts(e->dir, err);
	remove_cgroups(e->cgroup, err);
	if (e->kind == MB_ENGINE_DOCKER) {
		if (!e->had_key)
			unlink("/etc/docker/key.json");
		if (!e->had_runcd) {
			rmdir("/run/containerd/s");
			rmdir("/run/containerd");
		}
	}
	mb_rm_tree(e->dir);
	return *err ? mc_wrap(err, "%s clean-up", e->kind == MB_ENGINE_DOCKER ? "docker" : "podman")
		    : 0;
}
