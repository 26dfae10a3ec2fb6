/* Shared by checkpoint and restore: CRIU's binary, image directory files, external objects. */
#include "checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "util.h"
#include <json-c/json.h>

/* CRIU's kernel probe (kerndat: ~60 ms a run here, on each side of a migration) is cached in
 * /run/criu.kdat, but CRIU only writes that file when /run is a tmpfs (so that a reboot drops
 * it), and /run is an ordinary directory on some hosts (this one). It reads the file wherever
 * it is, though: minict runs its once-per-boot `criu check` with a private tmpfs on /run,
 * where CRIU writes the cache, and copies it into the real /run. The stamp below ties it to the
 * boot and the binary: a new boot or binary removes it first (CRIU itself does not check that
 * the cache matches the kernel). */
#define CRIU_KDAT    "/run/criu.kdat"
#define TMPFS_MAGIC_ 0x01021994

static bool run_is_tmpfs(void)
{
	struct statfs s;
	return statfs("/run", &s) == 0 && s.f_type == TMPFS_MAGIC_;
}

/* In the child of run_capture: a private mount namespace whose /run is a fresh tmpfs; the real
 * /run stays reachable through *realrun. Best effort: on failure criu runs as it would. */
static void kdat_ns(int *realrun)
{
	*realrun = -1;
	int fd = open("/run", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0 ||
	    mount("minict-kdat", "/run", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "size=1m,mode=0755") < 0) {
		close(fd);
		return;
	}
	*realrun = fd;
}

/* Copy the cache CRIU left in the private /run to the real one (atomically). */
static void kdat_copy(int realrun)
{
	char buf[1 << 16];
	int in = open(CRIU_KDAT, O_RDONLY | O_CLOEXEC);
	ssize_t n = in >= 0 ? mc_read_all(in, buf, sizeof(buf)) : -1;
	if (in >= 0)
		close(in);
	if (n <= 0 || (size_t)n == sizeof(buf))
		return;
	unlinkat(realrun, "criu.kdat.minict", 0);
	int out =
	    openat(realrun, "criu.kdat.minict", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0)
		return;
	int r = mc_write_all(out, buf, n);
	if (close(out) < 0 || r < 0 ||
	    renameat(realrun, "criu.kdat.minict", realrun, "criu.kdat") < 0)
		unlinkat(realrun, "criu.kdat.minict", 0);
}

/* Run bin with one argument; its output (stdout+stderr, at most n-1 bytes) in out. Returns the
 * exit status, or -1 with errno when it could not run. kdat: in a private tmpfs /run, whose
 * criu.kdat is copied to the real /run afterwards (see above). */
static int run_capture(const char *bin, const char *arg, char *out, size_t n, bool kdat)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(p[0]);
		close(p[1]);
		errno = e;
		return -1;
	}
	if (pid == 0) {
		int nul = open("/dev/null", O_RDONLY | O_CLOEXEC), realrun = -1;
		if (nul >= 0)
			dup2(nul, 0);
		dup2(p[1], 1);
		dup2(p[1], 2);
		if (kdat)
			kdat_ns(&realrun);
		pid_t c = realrun >= 0 ? fork() : 0;
		if (c == 0) {
			execl(bin, bin, arg, (char *)NULL);
			_exit(127);
		}
		int st = 0;
		while (c > 0 && waitpid(c, &st, 0) < 0 && errno == EINTR)
			;
		if (c > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0)
			kdat_copy(realrun);
		_exit(c < 0 ? 127 : WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	}
	close(p[1]);
	size_t len = 0;
	char sink[4096];
	for (;;) {
		ssize_t r = len + 1 < n ? read(p[0], out + len, n - 1 - len)
					: read(p[0], sink, sizeof(sink));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (len + 1 < n)
			len += r;
	}
	out[len] = 0;
	close(p[0]);
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* The newest <cache>/criu/<version>/criu, by version. */
static char *cache_criu(const char *cache)
{
	_cleanup_free_ char *dir = NULL;
	if (asprintf(&dir, "%s/criu", cache) < 0)
		return NULL;
	_cleanup_closedir_ DIR *d = opendir(dir);
	struct dirent *e;
	char best[256] = "";
	while (d && (e = readdir(d)) != NULL) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9' || strlen(e->d_name) >= sizeof(best))
			continue;
		char p[4096];
		snprintf(p, sizeof(p), "%s/%s/criu", dir, e->d_name);
		if (access(p, F_OK) == 0 && (!best[0] || strverscmp(e->d_name, best) > 0))
			snprintf(best, sizeof(best), "%s", e->d_name);
	}
	char *p = NULL;
	if (best[0] && asprintf(&p, "%s/%s/criu", dir, best) < 0)
		p = NULL;
	return p;
}

/* `criu check` costs ~60 ms a call here: once it has passed for a binary in this boot, a stamp
 * (root-only, on /run) naming the binary's identity and the boot lets later calls skip it. A
 * replaced binary, a new kernel or a reboot makes the check run again. */
#define CRIU_STAMP "/run/minict/.criu-checked"

static int criu_identity(const char *path, char *buf, size_t n)
{
	struct stat st;
	_cleanup_free_ char *boot = NULL;
	size_t len;
	mc_err e = NULL;
	if (stat(path, &st) < 0 ||
	    mc_read_file("/proc/sys/kernel/random/boot_id", 64, &boot, &len, &e) < 0) {
		mc_error_free(&e);
		return -1;
	}
	boot[strcspn(boot, "\n")] = 0;
	int w = snprintf(buf, n, "%s %lu %lu %lld.%09ld %s\n", path, (unsigned long)st.st_dev,
			 (unsigned long)st.st_ino, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
			 boot);
	return w > 0 && (size_t)w < n ? w : -1;
}

static bool criu_checked(const char *path)
{
	char want[4600];
	_cleanup_free_ char *have = NULL;
	size_t len;
	mc_err e = NULL;
	int n = criu_identity(path, want, sizeof(want));
	if (n < 0 || mc_read_file(CRIU_STAMP, sizeof(want), &have, &len, &e) < 0) {
		mc_error_free(&e);
		return false;
	}
	return len == (size_t)n && !memcmp(have, want, len);
}

static void criu_mark_checked(const char *path)
{
	char id[4600];
	mc_err e = NULL;
	int n = criu_identity(path, id, sizeof(id));
	if (n < 0 || mc_mkdir_p("/run/minict", 0700, &e) < 0) {
		mc_error_free(&e);
		return;
	}
	int fd = open(CRIU_STAMP ".tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	int r = mc_write_all(fd, id, n);
	if (close(fd) < 0 || r < 0 || rename(CRIU_STAMP ".tmp", CRIU_STAMP) < 0)
		unlink(CRIU_STAMP ".tmp");
}

int ct_ckpt_find_criu(const char *opt, char **bin, mc_err *err)
{
	const char *from, *env = getenv("MINICT_CRIU");
	_cleanup_free_ char *path = NULL;
	if (opt) {
		from = "--criu";
		path = strdup(opt);
	} else if (env && *env) {
		from = "MINICT_CRIU";
		path = strdup(env);
	} else {
		const char *cache = getenv("MINI_CACHE");
		if (!cache || !*cache)
			cache = "/var/cache/minivm";
		from = "the cache";
		path = cache_criu(cache);
		if (!path)
			return mc_errorf(
			    err, 0,
			    "no CRIU: none given (--criu, MINICT_CRIU) and no CRIU "
			    ">= 4.0 in %s/criu (run make deps or scripts/criu.sh ensure)",
			    cache);
	}
	if (!path)
		return mc_errorf(err, ENOMEM, "criu");
	if (access(path, X_OK) < 0)
		return mc_errorf(err, errno, "criu `%s` (from %s) is missing or not executable",
				 path, from);
	bool kdat = !run_is_tmpfs();
	if (criu_checked(path)) {
		/* the cache went (another CRIU build finds it stale and removes it): again */
		if (kdat && access(CRIU_KDAT, F_OK) < 0) {
			char o[256];
			run_capture(path, "check", o, sizeof(o), true);
		}
		*bin = mc_steal_ptr(&path);
		return 0;
	}
	if (kdat)
		unlink(CRIU_KDAT); /* another boot's or binary's */
	char out[4096];
	int st = run_capture(path, "--version", out, sizeof(out), false);
	const char *v = strstr(out, "Version: ");
	if (st != 0 || !v) {
		out[strcspn(out, "\n")] = 0;
		return mc_errorf(
		    err, st < 0 ? errno : 0,
		    "criu `%s` (from %s) does not run as CRIU: `--version` said \"%.200s\"", path,
		    from, st < 0 ? "exec failed" : out);
	}
	char ver[32] = "";
	sscanf(v + 9, "%31[0-9.]", ver);
	if (strverscmp(ver, "4.0") < 0)
		return mc_errorf(err, 0, "criu `%s` (from %s) is CRIU %s, older than 4.0", path,
				 from, ver);
	st = run_capture(path, "check", out, sizeof(out), kdat);
	if (st != 0) {
		/* its first error line, without CRIU's source location */
		char *e = strstr(out, "Error (");
		char *msg = e ? strstr(e, "): ") : NULL;
		msg = msg ? msg + 3 : out;
		msg[strcspn(msg, "\n")] = 0;
		return mc_errorf(err, 0, "criu `%s` (from %s, CRIU %s) fails criu check: %s", path,
				 from, ver, msg);
	}
	criu_mark_checked(path);
	*bin = mc_steal_ptr(&path);
	return 0;
}

/* CRIU 4.1.1's lazy page server sizes its pipe to 819 pages (F_SETPIPE_SZ, which rounds up to
 * 4 MiB) without looking at the result: where that is refused it splices into fd -1 at the
 * first page it serves ("page-pipe: splice: -1: Bad file descriptor"). Above
 * fs.pipe-max-size (1 MiB by default) only CAP_SYS_RESOURCE may. */
#define CRIU_LAZY_PIPE (4u << 20)

int ct_ckpt_lazy_pipe(mc_err *err)
{
	_cleanup_free_ char *max = NULL, *status = NULL;
	size_t len;
	if (mc_read_file("/proc/sys/fs/pipe-max-size", 64, &max, &len, err) < 0 ||
	    mc_read_file("/proc/self/status", 1 << 16, &status, &len, err) < 0)
		return -1;
	const char *cap = strstr(status, "\nCapEff:");
	unsigned long long eff = cap ? strtoull(cap + 8, NULL, 16) : 0;
	unsigned long long pmax = strtoull(max, NULL, 10);
	if (eff & (1ull << 24) || pmax >= CRIU_LAZY_PIPE) /* CAP_SYS_RESOURCE */
		return 0;
	return mc_errorf(
	    err, 0,
	    "CRIU's lazy page server needs a %u MiB pipe, and fs.pipe-max-size is %llu "
	    "without CAP_SYS_RESOURCE here (raise it: sysctl -w fs.pipe-max-size=%u)",
	    CRIU_LAZY_PIPE >> 20, pmax, CRIU_LAZY_PIPE);
}

int ct_ckpt_timeout(int def)
{
	const char *s = getenv("MINICT_CRIU_TIMEOUT");
	uint64_t v;
	mc_err e = NULL;
	if (s && *s && mc_parse_uint(s, 1, 86400, &v, "MINICT_CRIU_TIMEOUT", &e) == 0)
		return (int)v;
	mc_error_free(&e);
	return def;
}

int ct_ckpt_open_dir(const char *path, bool create, mc_err *err)
{
	if (create && mc_mkdir_p(path, 0700, err) < 0)
		return -1;
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return mc_errorf(err, errno, "open `%s`", path);
	return fd;
}

int ct_strlist_add(struct ct_strlist *l, mc_err *err, const char *fmt, ...)
{
	char **n = realloc(l->v, (l->n + 2) * sizeof(char *));
	if (!n)
		return mc_errorf(err, ENOMEM, "criu options");
	l->v = n;
	va_list ap;
	va_start(ap, fmt);
	int r = vasprintf(&l->v[l->n], fmt, ap);
	va_end(ap);
	if (r < 0)
		return mc_errorf(err, ENOMEM, "criu options");
	l->v[++l->n] = NULL;
	return 0;
}

void ct_strlist_free(struct ct_strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* The masked directories (maskedPaths: an empty read-only tmpfs each) are external too: CRIU
 * would dump each tmpfs with a tar and gzip child and untar it on restore (~5 ms a side each
 * here); restore binds an empty read-only directory of ours there instead. */
#define MASKED_KEY "minict-masked"
#define MASKED_DIR "/run/minict/masked"

static bool masked_dir_mount(const struct ct_spec *spec, const char *line)
{
	char mp[4096], opts[1024];
	const char *dash = strstr(line, " - ");
	if (!dash || sscanf(line, "%*s %*s %*s %*s %4095s %1023s", mp, opts) != 2 ||
	    strncmp(dash + 3, "tmpfs ", 6) || strncmp(opts, "ro", 2) || (opts[2] && opts[2] != ','))
		return false;
	for (size_t i = 0; i < spec->nmasked; i++)
		if (!strcmp(spec->masked_paths[i], mp))
			return true;
	return false;
}

int ct_ckpt_masked_mounts(pid_t pid, const struct ct_spec *spec, struct ct_strlist *l, mc_err *err)
{
	if (!spec || !spec->nmasked)
		return 0;
	char p[64], line[8192];
	snprintf(p, sizeof(p), "/proc/%d/mountinfo", pid);
	_cleanup_fclose_ FILE *f = fopen(p, "re");
	while (f && fgets(line, sizeof(line), f)) {
		char mp[4096];
		if (masked_dir_mount(spec, line) &&
		    sscanf(line, "%*s %*s %*s %*s %4095s", mp) == 1 &&
		    ct_strlist_add(l, err, "mnt[%s]:" MASKED_KEY, mp) < 0)
			return -1;
	}
	return 0;
}

int ct_ckpt_ext_mounts(const struct ct_spec *spec, bool restore, struct ct_strlist *l, mc_err *err)
{
	if (restore && spec && spec->nmasked) {
		if (mc_mkdir_p(MASKED_DIR, 0555, err) < 0)
			return mc_wrap(err, "masked paths");
		if (ct_strlist_add(l, err, "mnt[" MASKED_KEY "]:" MASKED_DIR) < 0)
			return -1;
	}
	for (size_t i = 0; spec && i < spec->nmounts; i++) {
		const struct ct_mount *m = &spec->mounts[i];
		if (!m->bind || !m->source)
			continue;
		if (ct_strlist_add(l, err, "mnt[%s]:%s", m->destination,
				   restore ? m->source : m->destination) < 0)
			return -1;
	}
	return ct_strlist_add(l, err, "mnt[]");
}

/* Whether mount mnt_id is one of pid's (its mount namespace). */
static bool has_mount(pid_t pid, unsigned long mnt_id)
{
	char p[64], line[4096];
	snprintf(p, sizeof(p), "/proc/%d/mountinfo", pid);
	_cleanup_fclose_ FILE *f = fopen(p, "re");
	while (f && fgets(line, sizeof(line), f))
		if (strtoul(line, NULL, 10) == mnt_id)
			return true;
	return false;
}

static unsigned long fd_mnt_id(pid_t pid, int fd)
{
	char p[64], line[256];
	snprintf(p, sizeof(p), "/proc/%d/fdinfo/%d", pid, fd);
	_cleanup_fclose_ FILE *f = fopen(p, "re");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "mnt_id:", 7))
			return strtoul(line + 7, NULL, 10);
	return 0;
}

int ct_ckpt_save_stdio(pid_t pid, int images_fd, struct ct_strlist *external, mc_err *err)
{
	json_object *a = json_object_new_array();
	int ret = 0;
	for (int fd = 0; fd < 3 && ret == 0; fd++) {
		char p[64], link[4096];
		snprintf(p, sizeof(p), "/proc/%d/fd/%d", pid, fd);
		ssize_t n = readlink(p, link, sizeof(link) - 1);
		if (n < 0) {
			json_object_array_add(a, NULL); /* closed */
			continue;
		}
		link[n] = 0;
		struct stat st;
		if (!strncmp(link, "pipe:", 5)) {
			json_object_array_add(a, json_object_new_string(link));
		} else if (link[0] == '/' && stat(p, &st) == 0) {
			/* a file from the host (e.g. /dev/null or a log): CRIU can't reach it
			 * inside the container, so it is external and restore hands in ours */
			unsigned long mnt = fd_mnt_id(pid, fd);
			if (has_mount(pid, mnt)) {
				json_object_array_add(a, NULL);
				continue;
			}
			char key[64];
			snprintf(key, sizeof(key), "file[%lx:%lx]", mnt, (unsigned long)st.st_ino);
			json_object_array_add(a, json_object_new_string(key));
			bool dup = false;
			for (size_t i = 0; i < external->n; i++)
				dup |= !strcmp(external->v[i], key);
			if (!dup)
				ret = ct_strlist_add(external, err, "%s", key);
		} else {
			json_object_array_add(a, NULL); /* sockets, ttys: CRIU's own business */
		}
	}
	if (ret == 0) {
		const char *txt = json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN);
		int fd = openat(images_fd, CT_CKPT_DESCRIPTORS,
				O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0 || mc_write_all(fd, txt, strlen(txt)) < 0)
			ret = mc_errorf(err, errno, "write " CT_CKPT_DESCRIPTORS);
		if (fd >= 0)
			close(fd);
	}
	json_object_put(a);
	return ret;
}

int ct_ckpt_load_stdio(int images_fd, char *keys[3], mc_err *err)
{
	keys[0] = keys[1] = keys[2] = NULL;
	_cleanup_close_ int fd = openat(images_fd, CT_CKPT_DESCRIPTORS, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0; /* not made by minict: nothing to hand in */
		return mc_errorf(err, errno, "open " CT_CKPT_DESCRIPTORS);
	}
	char buf[8192];
	ssize_t n = mc_read_all(fd, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = 0;
	json_object *a = json_tokener_parse(buf);
	if (!a || !json_object_is_type(a, json_type_array) || json_object_array_length(a) > 3) {
		json_object_put(a);
		return mc_errorf(err, 0, CT_CKPT_DESCRIPTORS ": not minict's stdio list");
	}
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		json_object *v = json_object_array_get_idx(a, i);
		if (v && json_object_is_type(v, json_type_string))
			keys[i] = strdup(json_object_get_string(v));
	}
	json_object_put(a);
	return 0;
}

bool ct_criu_opt(int c, const char *arg, struct ct_criu_opts *o)
{
	switch (c) {
	case 'i':
		o->image = arg;
		return true;
	case 'w':
		o->work = arg;
		return true;
	case 't':
		o->tcp = true;
		return true;
	case 'u':
		o->ext_unix_sk = true;
		return true;
	case 's':
		o->shell_job = true;
		return true;
	case 'f':
		o->file_locks = true;
		return true;
	case 'L':
		o->lazy = true;
		return true;
	}
	return false;
}

int ct_criu_opts_default_image(struct ct_criu_opts *o, char **defimg, const char *verb, mc_err *err)
{
	if (o->image)
		return 0;
	char cwd[PATH_MAX];
	if (!getcwd(cwd, sizeof(cwd)) || asprintf(defimg, "%s/checkpoint", cwd) < 0)
		return mc_errorf(err, errno, "%s: current directory", verb);
	o->image = *defimg;
	return 0;
}

void ct_criu_opts_req(const struct ct_criu_opts *o, struct ct_criu_req *r)
{
	r->tcp_established = o->tcp;
	r->file_locks = o->file_locks;
	r->ext_unix_sk = o->ext_unix_sk;
	r->shell_job = o->shell_job;
	r->lazy_pages = o->lazy;
	r->network_lock_skip = !o->tcp;
}

/* CRIU names a hierarchy's directory in a yard by its controllers ("cpu,cpuacct"), its name
 * ("systemd" for name=systemd) or "unified" (cgroup2). */
static bool yard_has(const char *yard, const char *ctrls, const char *mi)
{
	char dir[512], want[300];
	const char *name = !*ctrls ? "unified" : !strncmp(ctrls, "name=", 5) ? ctrls + 5 : ctrls;
	snprintf(dir, sizeof(dir), " %s/%s ", yard, name);
	const char *l = strstr(mi, dir);
	if (!l)
		return false;
	const char *eol = strchr(l, '\n'), *dash = strstr(l, " - ");
	if (!dash || (eol && dash > eol))
		return false;
	if (!*ctrls)
		return !strncmp(dash, " - cgroup2 ", 11);
	if (strncmp(dash, " - cgroup ", 10))
		return false;
	/* each controller (or the name) among the super options */
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", ctrls);
	char *save = NULL;
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		snprintf(want, sizeof(want), ",%s", t);
		const char *o = strstr(dash, want);
		if (!o || (eol && o > eol) || (o[strlen(want)] != ',' && o[strlen(want)] != '\n'))
			return false;
	}
	return true;
}

const char *ct_ckpt_cgroup_yard(pid_t pid)
{
	static const char yard[] = "/sys/fs/cgroup";
	char p[64];
	_cleanup_free_ char *cg = NULL, *mi = NULL;
	size_t len;
	mc_err e = NULL;
	snprintf(p, sizeof(p), "/proc/%d/cgroup", pid);
	if (mc_read_file(p, 1 << 16, &cg, &len, &e) < 0 ||
	    mc_read_file("/proc/self/mountinfo", 1 << 20, &mi, &len, &e) < 0) {
		mc_error_free(&e);
		return NULL;
	}
	int n = 0;
	char *save = NULL;
	for (char *l = strtok_r(cg, "\n", &save); l; l = strtok_r(NULL, "\n", &save), n++) {
		char *c1 = strchr(l, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2 || c2 - c1 - 1 > 200)
			return NULL;
		*c2 = 0;
		if (!yard_has(yard, c1 + 1, mi))
			return NULL;
	}
	return n > 0 ? yard : NULL;
}
