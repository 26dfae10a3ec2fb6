/* The container's tmpfs mounts that hold no data (/dev, /sys/fs/cgroup's tmpfs, an empty
 * /dev/shm): external to CRIU, recreated by minict. CRIU dumps a tmpfs with a tar+gzip child
 * and restores it with an untar (on a busy host 20-60 ms each way for /dev alone); a tmpfs whose
 * regular files are all empty is nothing but its tree of names, modes, owners, device numbers,
 * link targets and times, which minict records in the image directory (CT_CKPT_TMPFS) and
 * rebuilds on a fresh tmpfs of the same options, handed to CRIU as an external mount. CRIU
 * then dumps and restores everything else about it (its flags, the mounts on it, the open files
 * in it, by path, and unlinked ones as ghost files) as before. docs/checkpoint.md. */
#include "checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cleanup.h"
#include "log.h"
#include "util.h"

#define TMPFS_KEY    "minict-tmpfs-"
#define STAGE	     "/run/minict/ext"
#define MAX_MOUNTS   16
#define MAX_ENTRIES  1024
#define MAX_DEPTH    16
#define MAX_OPTS     1024
#define MAX_PATH_LEN 4095

/* ---- the dump side ---- */

/* One line of /proc/PID/mountinfo, the fields used here (octal escapes of the mount point
 * undone). */
struct mi_line {
	unsigned maj, min;
	char root[4096], mp[4096], fstype[64], super[MAX_OPTS + 1];
	bool propagates; /* shared: or master: */
};

static void unescape(char *s)
{
	char *o = s;
	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*o++ = *s;
		}
	}
	*o = 0;
}

static bool parse_line(const char *line, struct mi_line *m)
{
	const char *dash = strstr(line, " - ");
	if (!dash ||
	    sscanf(line, "%*s %*s %u:%u %4095s %4095s", &m->maj, &m->min, m->root, m->mp) != 4 ||
	    sscanf(dash + 3, "%63s %*s %1024s", m->fstype, m->super) != 2)
		return false;
	unescape(m->root);
	unescape(m->mp);
	/* the optional fields: after the sixth field, before " - " */
	const char *opt = line;
	for (int i = 0; opt && i < 6; i++)
		opt = strchr(opt + 1, ' ');
	m->propagates = false;
	for (const char *t = opt; t && t < dash; t = strchr(t + 1, ' '))
		m->propagates |= !strncmp(t, " shared:", 8) || !strncmp(t, " master:", 8);
	return true;
}

/* minict made these tmpfs mounts itself (create): the spec's non-bind tmpfs mounts, and the
 * tmpfs under the cgroup hierarchies on a v1 or hybrid host. */
static bool minict_tmpfs(const struct ct_spec *spec, const char *mp)
{
	for (size_t i = 0; spec && i < spec->nmounts; i++) {
		const struct ct_mount *m = &spec->mounts[i];
		if (!m->bind && m->type &&
		    (!strcmp(m->type, "tmpfs") || !strcmp(m->type, "cgroup")) &&
		    !strcmp(m->destination, mp))
			return true;
	}
	return false;
}

/* The candidates: minict's tmpfs mounts, whole (root "/"), each the only mount at its mount
 * point, none propagating (CRIU would have to restore the peer group). Other mounts of the same
 * superblock (the masked files are binds of /dev/null) CRIU binds from the external one. */
static size_t candidates(pid_t pid, const struct ct_spec *spec, struct mi_line *out, size_t max)
{
	char p[64], line[16384];
	snprintf(p, sizeof(p), "/proc/%d/mountinfo", pid);
	_cleanup_fclose_ FILE *f = fopen(p, "re");
	if (!f)
		return 0;
	struct mi_line *all = calloc(512, sizeof(*all));
	size_t n = 0, k = 0;
	while (all && n < 512 && fgets(line, sizeof(line), f))
		if (parse_line(line, &all[n]))
			n++;
	for (size_t i = 0; all && i < n && k < max; i++) {
		const struct mi_line *m = &all[i];
		if (strcmp(m->fstype, "tmpfs") || strcmp(m->root, "/") || m->propagates ||
		    !minict_tmpfs(spec, m->mp))
			continue;
		bool alone = true;
		for (size_t j = 0; j < n; j++)
			alone &= j == i || strcmp(all[j].mp, m->mp);
		if (alone)
			out[k++] = *m;
	}
	free(all);
	return k;
}

/* A child in the container's mount namespace clones each mount (open_tree, without the mounts
 * on it: the mount points underneath are what the tmpfs holds) and sends the fds back; a clone
 * of another namespace's mount is refused from outside (EINVAL). fds[i] is -1 where it failed. */
static int clone_mounts(pid_t pid, struct mi_line *m, size_t n, int *fds, mc_err *err)
{
	for (size_t i = 0; i < n; i++)
		fds[i] = -1;
	int sk[2];
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sk) < 0)
		return mc_errorf(err, errno, "tmpfs mounts: socketpair");
	char p[64];
	snprintf(p, sizeof(p), "/proc/%d/ns/mnt", pid);
	int ns = open(p, O_RDONLY | O_CLOEXEC);
	if (ns < 0) {
		int e = errno;
		close(sk[0]);
		close(sk[1]);
		return mc_errorf(err, e, "tmpfs mounts: open `%s`", p);
	}
	pid_t c = fork();
	if (c == 0) {
		close(sk[0]);
		bool in = setns(ns, CLONE_NEWNS) == 0;
		for (size_t i = 0; i < n; i++) {
			int fd =
			    in ? open_tree(AT_FDCWD, m[i].mp, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC)
			       : -1;
			char b = fd >= 0;
			struct iovec io = {&b, 1};
			union {
				char buf[CMSG_SPACE(sizeof(int))];
				struct cmsghdr align;
			} u;
			struct msghdr mh = {.msg_iov = &io, .msg_iovlen = 1};
			if (fd >= 0) {
				mh.msg_control = u.buf;
				mh.msg_controllen = sizeof(u.buf);
				struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
				cm->cmsg_level = SOL_SOCKET;
				cm->cmsg_type = SCM_RIGHTS;
				cm->cmsg_len = CMSG_LEN(sizeof(int));
				memcpy(CMSG_DATA(cm), &fd, sizeof(int));
			}
			if (sendmsg(sk[1], &mh, 0) != 1)
				_exit(1);
			if (fd >= 0)
				close(fd);
		}
		_exit(0);
	}
	int e = errno;
	close(ns);
	close(sk[1]);
	if (c < 0) {
		close(sk[0]);
		return mc_errorf(err, e, "tmpfs mounts: fork");
	}
	for (size_t i = 0; i < n; i++) {
		char b;
		struct iovec io = {&b, 1};
		union {
			char buf[CMSG_SPACE(sizeof(int))];
			struct cmsghdr align;
		} u;
		struct msghdr mh = {.msg_iov = &io,
				    .msg_iovlen = 1,
				    .msg_control = u.buf,
				    .msg_controllen = sizeof(u.buf)};
		ssize_t r;
		while ((r = recvmsg(sk[0], &mh, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
			;
		if (r != 1)
			break;
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		if (b && cm && cm->cmsg_type == SCM_RIGHTS && cm->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(&fds[i], CMSG_DATA(cm), sizeof(int));
	}
	close(sk[0]);
	while (waitpid(c, NULL, 0) < 0 && errno == EINTR)
		;
	return 0;
}

struct walk {
	json_object *entries;
	size_t n;
	const char *why; /* why it can't be recreated */
};

static json_object *entry(const char *path, const struct stat *st, const char *link)
{
	json_object *o = json_object_new_object();
	char t = S_ISDIR(st->st_mode)	? 'd'
		 : S_ISREG(st->st_mode) ? 'f'
		 : S_ISLNK(st->st_mode) ? 'l'
		 : S_ISCHR(st->st_mode) ? 'c'
		 : S_ISBLK(st->st_mode) ? 'b'
					: 'p';
	char ts[2] = {t, 0};
	json_object_object_add(o, "p", json_object_new_string(path));
	json_object_object_add(o, "t", json_object_new_string(ts));
	json_object_object_add(o, "m", json_object_new_int(st->st_mode & 07777));
	json_object_object_add(o, "u", json_object_new_int64(st->st_uid));
	json_object_object_add(o, "g", json_object_new_int64(st->st_gid));
	json_object_object_add(o, "s", json_object_new_int64(st->st_mtim.tv_sec));
	json_object_object_add(o, "n", json_object_new_int64(st->st_mtim.tv_nsec));
	if (t == 'c' || t == 'b') {
		json_object_object_add(o, "ma", json_object_new_int64(major(st->st_rdev)));
		json_object_object_add(o, "mi", json_object_new_int64(minor(st->st_rdev)));
	}
	if (link)
		json_object_object_add(o, "l", json_object_new_string(link));
	return o;
}

/* Pre-order: a directory before what it holds. */
static void walk_dir(struct walk *w, int dfd, const char *prefix, int depth)
{
	_cleanup_closedir_ DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		w->why = "unreadable directory";
		return;
	}
	struct dirent *e;
	while (!w->why && (e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char path[MAX_PATH_LEN + 1];
		int pl =
		    snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "/" : "", e->d_name);
		struct stat st;
		if (pl <= 0 || pl > MAX_PATH_LEN || ++w->n > MAX_ENTRIES) {
			w->why = "too many entries or too long a path";
			return;
		}
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			w->why = "stat failed";
			return;
		}
		char link[MAX_PATH_LEN + 1];
		const char *lp = NULL;
		if (S_ISREG(st.st_mode) && (st.st_size || st.st_nlink != 1)) {
			w->why = "a file with data (or hard links)";
			return;
		}
		if (S_ISSOCK(st.st_mode)) {
			w->why = "a socket";
			return;
		}
		if (S_ISLNK(st.st_mode)) {
			ssize_t ln = readlinkat(dirfd(d), e->d_name, link, MAX_PATH_LEN);
			if (ln <= 0) {
				w->why = "unreadable symlink";
				return;
			}
			link[ln] = 0;
			lp = link;
		}
		json_object_array_add(w->entries, entry(path, &st, lp));
		if (S_ISDIR(st.st_mode)) {
			if (depth >= MAX_DEPTH) {
				w->why = "too deep";
				return;
			}
			int sub = openat(dirfd(d), e->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0) {
				w->why = "unreadable directory";
				return;
			}
			walk_dir(w, sub, path, depth + 1);
		}
	}
}

/* The mount's tree as entries, or NULL with *why. */
static json_object *shape(int mfd, const struct mi_line *m, const char **why)
{
	struct stat st;
	if (fstat(mfd, &st) < 0 || major(st.st_dev) != m->maj || minor(st.st_dev) != m->min) {
		*why = "not the mount mountinfo names";
		return NULL;
	}
	struct walk w = {.entries = json_object_new_array()};
	json_object_array_add(w.entries, entry(".", &st, NULL));
	int d = openat(mfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d < 0)
		w.why = "unreadable";
	else
		walk_dir(&w, d, "", 1);
	if (w.why) {
		*why = w.why;
		json_object_put(w.entries);
		return NULL;
	}
	return w.entries;
}

/* The superblock's options for a new mount: mountinfo's super options without rw/ro. */
static json_object *mount_opts(const char *super, bool *ro)
{
	char buf[MAX_OPTS + 1], out[MAX_OPTS + 1] = "";
	snprintf(buf, sizeof(buf), "%s", super);
	*ro = false;
	char *save = NULL;
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (!strcmp(t, "ro"))
			*ro = true;
		if (!strcmp(t, "ro") || !strcmp(t, "rw"))
			continue;
		size_t l = strlen(out);
		snprintf(out + l, sizeof(out) - l, "%s%s", l ? "," : "", t);
	}
	return json_object_new_string(out);
}

int ct_ckpt_tmpfs_dump(pid_t pid, const struct ct_spec *spec, int images_fd, struct ct_strlist *ext,
		       mc_err *err)
{
	unlinkat(images_fd, CT_CKPT_TMPFS, 0);
	struct mi_line *m = calloc(MAX_MOUNTS, sizeof(*m));
	if (!m)
		return mc_errorf(err, ENOMEM, "tmpfs mounts");
	size_t n = candidates(pid, spec, m, MAX_MOUNTS);
	int fds[MAX_MOUNTS];
	if (n == 0 || clone_mounts(pid, m, n, fds, err) < 0) {
		free(m);
		return n == 0 ? 0 : -1;
	}
	json_object *a = json_object_new_array();
	int ret = 0;
	for (size_t i = 0; i < n; i++) {
		const char *why = "open_tree failed";
		json_object *ents = fds[i] >= 0 ? shape(fds[i], &m[i], &why) : NULL;
		if (fds[i] >= 0)
			close(fds[i]);
		if (!ents) {
			mc_log_debug("checkpoint: tmpfs %s goes to CRIU (%s)", m[i].mp, why);
			continue;
		}
		size_t k = json_object_array_length(a);
		bool ro;
		json_object *o = json_object_new_object();
		json_object_object_add(o, "mnt", json_object_new_string(m[i].mp));
		json_object_object_add(o, "opts", mount_opts(m[i].super, &ro));
		json_object_object_add(o, "ro", json_object_new_boolean(ro));
		json_object_object_add(o, "entries", ents);
		json_object_array_add(a, o);
		if (ct_strlist_add(ext, err, "mnt[%s]:" TMPFS_KEY "%zu", m[i].mp, k) < 0) {
			ret = -1;
			break;
		}
		mc_log_debug("checkpoint: tmpfs %s recreated by minict (%zu entries)", m[i].mp,
			     json_object_array_length(ents));
	}
	free(m);
	if (ret == 0 && json_object_array_length(a) > 0) {
		const char *txt = json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN);
		int fd = openat(images_fd, CT_CKPT_TMPFS, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
				0600);
		if (fd < 0 || mc_write_all(fd, txt, strlen(txt)) < 0)
			ret = mc_errorf(err, errno, "write " CT_CKPT_TMPFS);
		if (fd >= 0 && close(fd) < 0 && ret == 0)
			ret = mc_errorf(err, errno, "write " CT_CKPT_TMPFS);
	}
	json_object_put(a);
	return ret;
}

/* ---- the restore side ---- */

int ct_ckpt_tmpfs_ns(mc_err *err)
{
	if (unshare(CLONE_NEWNS) < 0)
		return mc_errorf(err, errno, "unshare(CLONE_NEWNS)");
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
		return mc_errorf(err, errno, "make / a slave");
	return 0;
}

static const char *get_str(json_object *o, const char *k)
{
	json_object *v;
	return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)
		   ? json_object_get_string(v)
		   : NULL;
}

static bool get_int(json_object *o, const char *k, int64_t min, int64_t max, int64_t *out)
{
	json_object *v;
	if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_int))
		return false;
	errno = 0;
	*out = json_object_get_int64(v);
	return errno == 0 && *out >= min && *out <= max;
}

/* A relative path of plain components (no "", "." or ".."), "." alone for the root. */
static bool good_path(const char *p)
{
	size_t l = strlen(p);
	if (!strcmp(p, "."))
		return true;
	if (l == 0 || l > MAX_PATH_LEN || p[0] == '/')
		return false;
	for (const char *c = p; *c;) {
		size_t cl = strcspn(c, "/");
		if (cl == 0 || (cl == 1 && c[0] == '.') || (cl == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		c += cl + (c[cl] == '/');
		if (c[-1] == '/' && !*c)
			return false;
	}
	return true;
}

/* The parent directory of path inside the tree at root, never through a symlink or out of it;
 * *name the last component. */
static int open_parent(int root, const char *path, const char **name)
{
	const char *slash = strrchr(path, '/');
	*name = slash ? slash + 1 : path;
	if (!slash)
		return fcntl(root, F_DUPFD_CLOEXEC, 0);
	char dir[MAX_PATH_LEN + 1];
	snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	struct open_how how = {.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC,
			       .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
					  RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV};
	return syscall(SYS_openat2, root, dir, &how, sizeof(how));
}

static int make_entry(int root, json_object *e, bool times, mc_err *err)
{
	const char *p = get_str(e, "p"), *t = get_str(e, "t"), *name;
	int64_t mode, uid, gid, sec, nsec, ma = 0, mi = 0;
	if (!p || !good_path(p) || !t || strlen(t) != 1 || !strchr("dflcbp", t[0]) ||
	    !get_int(e, "m", 0, 07777, &mode) || !get_int(e, "u", 0, UINT32_MAX - 1, &uid) ||
	    !get_int(e, "g", 0, UINT32_MAX - 1, &gid) ||
	    !get_int(e, "s", INT64_MIN, INT64_MAX, &sec) || !get_int(e, "n", 0, 999999999, &nsec))
		return mc_errorf(err, 0, "bad entry %.100s",
				 json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN));
	bool dev = t[0] == 'c' || t[0] == 'b';
	if (dev && (!get_int(e, "ma", 0, UINT32_MAX, &ma) || !get_int(e, "mi", 0, UINT32_MAX, &mi)))
		return mc_errorf(err, 0, "`%s`: bad device number", p);
	const char *link = get_str(e, "l");
	if (t[0] == 'l' && (!link || !*link || strlen(link) > MAX_PATH_LEN))
		return mc_errorf(err, 0, "`%s`: bad symlink target", p);
	bool top = !strcmp(p, ".");
	if (top && t[0] != 'd')
		return mc_errorf(err, 0, "the root is not a directory");
	_cleanup_close_ int dfd =
	    top ? fcntl(root, F_DUPFD_CLOEXEC, 0) : open_parent(root, p, &name);
	if (top)
		name = ".";
	if (dfd < 0)
		return mc_errorf(err, errno, "`%s`: its directory", p);
	int r = 0;
	if (times) { /* second pass: the times, once nothing is created in the directories */
		struct timespec ts[2] = {{.tv_nsec = UTIME_OMIT}, {sec, nsec}};
		if (utimensat(dfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
			return mc_errorf(err, errno, "`%s`: set its time", p);
		return 0;
	}
	if (!top) {
		switch (t[0]) {
		case 'd':
			r = mkdirat(dfd, name, 0700);
			break;
		case 'l':
			r = symlinkat(link, dfd, name);
			break;
		case 'f': {
			int fd = openat(dfd, name,
					O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
			r = fd < 0 ? -1 : close(fd);
			break;
		}
		default:
			r = mknodat(dfd, name,
				    (t[0] == 'c'   ? S_IFCHR
				     : t[0] == 'b' ? S_IFBLK
						   : S_IFIFO) |
					0600,
				    dev ? makedev(ma, mi) : 0);
		}
		if (r < 0)
			return mc_errorf(err, errno, "`%s`: create", p);
	}
	if (fchownat(dfd, name, (uid_t)uid, (gid_t)gid, AT_SYMLINK_NOFOLLOW) < 0)
		return mc_errorf(err, errno, "`%s`: chown", p);
	if (t[0] != 'l' && fchmodat(dfd, name, (mode_t)mode, 0) < 0)
		return mc_errorf(err, errno, "`%s`: chmod", p);
	return 0;
}

static bool good_opts(const char *s)
{
	if (strlen(s) > MAX_OPTS)
		return false;
	for (; *s; s++)
		if (!(*s >= 'a' && *s <= 'z') && !(*s >= 'A' && *s <= 'Z') &&
		    !(*s >= '0' && *s <= '9') && !strchr("=,._:-", *s))
			return false;
	return true;
}

static int make_mount(json_object *o, size_t k, mc_err *err)
{
	json_object *ents, *rov;
	const char *opts = get_str(o, "opts"), *mnt = get_str(o, "mnt");
	if (!mnt || !opts || !good_opts(opts) || !json_object_object_get_ex(o, "entries", &ents) ||
	    !json_object_is_type(ents, json_type_array) || json_object_array_length(ents) < 1 ||
	    json_object_array_length(ents) > MAX_ENTRIES + 1 ||
	    !json_object_object_get_ex(o, "ro", &rov) ||
	    !json_object_is_type(rov, json_type_boolean))
		return mc_errorf(err, 0, "mount %zu: not minict's tmpfs record", k);
	char dir[64];
	snprintf(dir, sizeof(dir), STAGE "/%zu", k);
	if (mkdir(dir, 0700) < 0)
		return mc_errorf(err, errno, "mkdir `%s`", dir);
	/* no flags: CRIU sets the container's on its bind mount (nodev would stay on /dev) */
	if (mount("tmpfs", dir, "tmpfs", 0, opts) < 0)
		return mc_errorf(err, errno, "%.200s: mount tmpfs (%s)", mnt, opts);
	_cleanup_close_ int root = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return mc_errorf(err, errno, "open `%s`", dir);
	size_t n = json_object_array_length(ents);
	for (int pass = 0; pass < 2; pass++)
		/* times last, the deepest first: setting one touches nothing else */
		for (size_t i = 0; i < n; i++) {
			json_object *e = json_object_array_get_idx(ents, pass ? n - 1 - i : i);
			if (make_entry(root, e, pass == 1, err) < 0)
				return mc_wrap(err, "%.200s", mnt);
		}
	if (json_object_get_boolean(rov) &&
	    mount(NULL, dir, NULL, MS_REMOUNT | MS_RDONLY, opts) < 0)
		return mc_errorf(err, errno, "%.200s: remount read-only", mnt);
	return 0;
}

int ct_ckpt_tmpfs_restore(int images_fd, struct ct_strlist *ext, mc_err *err)
{
	_cleanup_close_ int fd = openat(images_fd, CT_CKPT_TMPFS, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : mc_errorf(err, errno, "open " CT_CKPT_TMPFS);
	struct stat st;
	if (fstat(fd, &st) < 0 || st.st_size > (16 << 20))
		return mc_errorf(err, 0, CT_CKPT_TMPFS ": unreadable or larger than 16 MiB");
	_cleanup_free_ char *buf = malloc(st.st_size + 1);
	ssize_t n = buf ? mc_read_all(fd, buf, st.st_size) : -1;
	if (n != st.st_size)
		return mc_errorf(err, errno, "read " CT_CKPT_TMPFS);
	buf[n] = 0;
	json_object *a = json_tokener_parse(buf);
	int ret = 0;
	if (!a || !json_object_is_type(a, json_type_array) ||
	    json_object_array_length(a) > MAX_MOUNTS)
		ret = mc_errorf(err, 0, "not minict's list of tmpfs mounts");
	/* a tmpfs of our own (mount namespace: ct_ckpt_tmpfs_ns) holds the mounts */
	if (ret == 0 && mc_mkdir_p(STAGE, 0700, err) < 0)
		ret = -1;
	if (ret == 0 && mount("minict-ext", STAGE, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
			      "size=64k,mode=0700") < 0)
		ret = mc_errorf(err, errno, "mount tmpfs on " STAGE);
	for (size_t k = 0; ret == 0 && a && k < json_object_array_length(a); k++) {
		json_object *o = json_object_array_get_idx(a, k);
		if (!json_object_is_type(o, json_type_object))
			ret = mc_errorf(err, 0, "mount %zu: not minict's tmpfs record", k);
		else if (make_mount(o, k, err) < 0 ||
			 ct_strlist_add(ext, err, "mnt[" TMPFS_KEY "%zu]:" STAGE "/%zu", k, k) < 0)
			ret = -1;
	}
	json_object_put(a);
	return ret < 0 ? mc_wrap(err, CT_CKPT_TMPFS) : 0;
}

void ct_ckpt_tmpfs_release(void)
{
	/* the container's bind mounts keep the superblocks; the staging goes */
	umount2(STAGE, MNT_DETACH);
}
