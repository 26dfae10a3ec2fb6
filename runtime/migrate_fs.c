/* The rootfs and image sections of a migration stream, both sides, and their checks. */
#include "migrate.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "util.h"

int ct_mig_parse_endpoint(const char *s, struct sockaddr_in *sa, mc_err *err)
{
	const char *hp = !strncmp(s, "tcp:", 4) ? s + 4 : s;
	const char *colon = strrchr(hp, ':');
	if (!colon || colon == hp || (size_t)(colon - hp) >= 256)
		return mc_errorf(err, 0, "\"%s\": want tcp:HOST:PORT", s);
	char host[256];
	snprintf(host, sizeof(host), "%.*s", (int)(colon - hp), hp);
	uint64_t port;
	if (mc_parse_uint(colon + 1, 1, 65535, &port, "port", err) < 0)
		return mc_wrap(err, "\"%s\"", s);
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &sa->sin_addr) == 1)
		return 0;
	struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *ai = NULL;
	int r = getaddrinfo(host, NULL, &hints, &ai);
	if (r != 0 || !ai)
		return mc_errorf(err, 0, "\"%s\": %s", host, gai_strerror(r));
	sa->sin_addr = ((struct sockaddr_in *)ai->ai_addr)->sin_addr;
	freeaddrinfo(ai);
	return 0;
}

int ct_mig_timeouts(int fd, int seconds, mc_err *err)
{
	struct timeval tv = {.tv_sec = seconds};
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
		return mc_errorf(err, errno, "socket timeouts");
	return 0;
}

/* ---- source ------------------------------------------------------------------------------ */

static int send_entry(struct mc_ms *s, uint32_t kind, const struct stat *st, const char *path,
		      int fd, const char *target, mc_err *err)
{
	size_t plen = strlen(path);
	uint8_t meta[CT_MIG_META_MAX];
	if (plen > CT_MIG_PATH_MAX)
		return mc_errorf(err, 0, "rootfs: path too long: %.100s...", path);
	uint32_t h[4] = {htole32(kind), htole32(st->st_mode & 07777), htole32(st->st_uid),
			 htole32(st->st_gid)};
	int64_t ms = (int64_t)htole64((uint64_t)st->st_mtim.tv_sec);
	uint32_t mns = htole32((uint32_t)st->st_mtim.tv_nsec), pl = htole32((uint32_t)plen);
	memcpy(meta, h, 16);
	memcpy(meta + 16, &ms, 8);
	memcpy(meta + 24, &mns, 4);
	memcpy(meta + 28, &pl, 4);
	memcpy(meta + CT_MIG_ENTRY_HDR, path, plen);
	uint32_t mlen = CT_MIG_ENTRY_HDR + (uint32_t)plen;
	if (kind == CT_MIG_REG)
		return mc_ms_send_fd(s, CT_MIG_FILE, meta, mlen, fd, (uint64_t)st->st_size, err);
	return mc_ms_send(s, CT_MIG_FILE, meta, mlen, target, target ? strlen(target) : 0, err);
}

/* ---- the first pass's record, for the delta --------------------------------------------- */

struct ct_mig_rec {
	char *path; /* NULL: a free slot */
	int64_t csec;
	uint32_t cnsec, kind;
	uint64_t size;
	bool seen; /* by the second pass */
};

static size_t path_hash(const char *p)
{
	uint64_t h = 1469598103934665603ull;
	for (; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ull;
	return (size_t)h;
}

static struct ct_mig_rec *tree_find(struct ct_mig_tree *t, const char *path)
{
	if (!t->cap)
		return NULL;
	for (size_t i = path_hash(path) & (t->cap - 1);; i = (i + 1) & (t->cap - 1))
		if (!t->v[i].path || !strcmp(t->v[i].path, path))
			return &t->v[i];
}

static int tree_add(struct ct_mig_tree *t, const char *path, uint32_t kind, const struct stat *st,
		    mc_err *err)
{
	if (2 * (t->n + 1) > t->cap) {
		struct ct_mig_tree nt = {.cap = t->cap ? 2 * t->cap : 1024, .t0 = t->t0};
		nt.v = calloc(nt.cap, sizeof(*nt.v));
		if (!nt.v)
			return mc_errorf(err, ENOMEM, "rootfs");
		for (size_t i = 0; i < t->cap; i++)
			if (t->v[i].path)
				*tree_find(&nt, t->v[i].path) = t->v[i];
		nt.n = t->n;
		free(t->v);
		*t = nt;
	}
	struct ct_mig_rec *r = tree_find(t, path);
	if (!r->path) {
		if (!(r->path = strdup(path)))
			return mc_errorf(err, ENOMEM, "rootfs");
		t->n++;
	}
	r->csec = st->st_ctim.tv_sec;
	r->cnsec = (uint32_t)st->st_ctim.tv_nsec;
	r->kind = kind;
	r->size = (uint64_t)st->st_size;
	return 0;
}

void ct_mig_tree_free(struct ct_mig_tree *t)
{
	for (size_t i = 0; i < t->cap; i++)
		free(t->v[i].path);
	free(t->v);
	t->v = NULL;
	t->n = t->cap = 0;
}

/* Whether the second pass sends this entry: new, of another kind, another ctime or size, or
 * changed within 50 ms of the first pass's start (a change in the same clock tick as the first
 * pass's stat leaves the same ctime). Marks it seen. */
static bool changed(struct ct_mig_tree *t, const char *path, uint32_t kind, const struct stat *st)
{
	struct ct_mig_rec *r = tree_find(t, path);
	if (!r || !r->path)
		return true;
	r->seen = true;
	int64_t recent = (int64_t)t->t0.tv_sec * 1000000000 + t->t0.tv_nsec - 50000000;
	return r->kind != kind || r->size != (uint64_t)st->st_size ||
	       r->csec != st->st_ctim.tv_sec || r->cnsec != (uint32_t)st->st_ctim.tv_nsec ||
	       r->csec * 1000000000 + r->cnsec >= recent;
}

/* ---- the walk ---------------------------------------------------------------------------- */

struct walk {
	struct mc_ms *s;
	dev_t dev;
	struct ct_mig_counts *c;
	struct ct_mig_tree *tree; /* first pass: record; delta: compare */
	bool delta;
};

/* One entry: recorded, or (delta) skipped when unchanged; counted. */
static int visit(struct walk *w, uint32_t kind, const struct stat *st, const char *path, int fd,
		 const char *target, mc_err *err)
{
	if (w->delta && !changed(w->tree, path, kind, st))
		return 0;
	if (!w->delta && w->tree && tree_add(w->tree, path, kind, st, err) < 0)
		return -1;
	if (send_entry(w->s, kind, st, path, fd, target, err) < 0)
		return -1;
	uint64_t bytes = kind == CT_MIG_REG ? (uint64_t)st->st_size : 0;
	if (w->delta) {
		w->c->delta_entries++;
		w->c->delta_bytes += bytes;
	} else {
		w->c->entries++;
		w->c->file_bytes += bytes;
	}
	return 0;
}

/* path: the relative path of dirfd's directory ("" for the root), extended in place. */
static int walk(struct walk *w, int dirfd, char *path, size_t plen, mc_err *err)
{
	int dfd = dup(dirfd);
	if (dfd < 0)
		return mc_errorf(err, errno, "rootfs: dup");
	_cleanup_closedir_ DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return mc_errorf(err, errno, "rootfs: `%s`", path);
	}
	struct dirent *e;
	while ((errno = 0, e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		size_t n = strlen(e->d_name);
		if (plen + 1 + n >= PATH_MAX)
			return mc_errorf(err, ENAMETOOLONG, "rootfs: `%s/%s`", path, e->d_name);
		if (plen)
			path[plen] = '/';
		memcpy(path + plen + (plen ? 1 : 0), e->d_name, n + 1);
		size_t nlen = plen + (plen ? 1 : 0) + n;
		struct stat st;
		if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return mc_errorf(err, errno, "rootfs: stat `%s`", path);
		int ret = 0;
		if (S_ISDIR(st.st_mode)) {
			ret = visit(w, CT_MIG_DIR, &st, path, -1, NULL, err);
			/* a mount point: the directory, not what is mounted on it */
			if (ret == 0 && st.st_dev == w->dev) {
				_cleanup_close_ int sub =
				    openat(dirfd, e->d_name,
					   O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
				if (sub < 0)
					return mc_errorf(err, errno, "rootfs: open `%s`", path);
				ret = walk(w, sub, path, nlen, err);
			}
		} else if (S_ISREG(st.st_mode)) {
			_cleanup_close_ int fd = -1;
			if (!w->delta || changed(w->tree, path, CT_MIG_REG, &st)) {
				fd = openat(dirfd, e->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
				/* what is sent is what was opened: its size now */
				if (fd < 0 || fstat(fd, &st) < 0)
					return mc_errorf(err, errno, "rootfs: open `%s`", path);
				if (w->delta) {
					/* changed() marked it; send it whatever its ctime now */
					ret =
					    send_entry(w->s, CT_MIG_REG, &st, path, fd, NULL, err);
					w->c->delta_entries++;
					w->c->delta_bytes += (uint64_t)st.st_size;
				} else {
					ret = visit(w, CT_MIG_REG, &st, path, fd, NULL, err);
				}
			}
		} else if (S_ISLNK(st.st_mode)) {
			char target[CT_MIG_PATH_MAX + 1];
			ssize_t l = readlinkat(dirfd, e->d_name, target, sizeof(target));
			if (l <= 0 || (size_t)l >= sizeof(target))
				return mc_errorf(err, l < 0 ? errno : ENAMETOOLONG,
						 "rootfs: readlink `%s`", path);
			target[l] = 0;
			ret = visit(w, CT_MIG_SYMLINK, &st, path, -1, target, err);
		} else if (S_ISFIFO(st.st_mode)) {
			ret = visit(w, CT_MIG_FIFO, &st, path, -1, NULL, err);
		} else if (!w->delta) {
			mc_log_warn("migrate: rootfs: `%s` is a device node or socket: not sent",
				    path);
		}
		if (ret < 0)
			return mc_wrap(err, "rootfs");
		path[plen] = 0;
	}
	if (errno)
		return mc_errorf(err, errno, "rootfs: read `%s`", path);
	return 0;
}

static int send_tree(struct mc_ms *s, const char *root, struct ct_mig_counts *c,
		     struct ct_mig_tree *tree, bool delta, mc_err *err)
{
	_cleanup_close_ int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		return mc_errorf(err, errno, "rootfs `%s`", root);
	struct walk w = {.s = s, .dev = st.st_dev, .c = c, .tree = tree, .delta = delta};
	/* the root itself: always (its owner and mode only) */
	if (send_entry(s, CT_MIG_DIR, &st, ".", -1, NULL, err) < 0)
		return mc_wrap(err, "rootfs");
	if (delta)
		c->delta_entries++;
	else
		c->entries++;
	_cleanup_free_ char *path = calloc(1, PATH_MAX);
	if (!path)
		return mc_errorf(err, ENOMEM, "rootfs");
	return walk(&w, fd, path, 0, err);
}

int ct_mig_send_rootfs(struct mc_ms *s, const char *root, struct ct_mig_counts *c,
		       struct ct_mig_tree *tree, mc_err *err)
{
	if (tree)
		clock_gettime(CLOCK_REALTIME, &tree->t0);
	return send_tree(s, root, c, tree, false, err);
}

int ct_mig_send_rootfs_delta(struct mc_ms *s, const char *root, struct ct_mig_counts *c,
			     struct ct_mig_tree *tree, mc_err *err)
{
	if (mc_ms_send(s, CT_MIG_DELTA, NULL, 0, NULL, 0, err) < 0 ||
	    send_tree(s, root, c, tree, true, err) < 0)
		return -1;
	/* what the first pass sent and is gone now; a removed directory's entries follow it
	 * and are gone already at the destination, which is fine */
	for (size_t i = 0; i < tree->cap; i++) {
		const struct ct_mig_rec *r = &tree->v[i];
		if (!r->path || r->seen)
			continue;
		if (mc_ms_send(s, CT_MIG_DELETE, r->path, (uint32_t)strlen(r->path), NULL, 0, err) <
		    0)
			return mc_wrap(err, "rootfs");
		c->deleted++;
	}
	return 0;
}

int ct_mig_send_images(struct mc_ms *s, const char *dir, struct ct_mig_counts *c, mc_err *err)
{
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return mc_errorf(err, errno, "images `%s`", dir);
	int d2 = dup(dfd);
	_cleanup_closedir_ DIR *d = d2 >= 0 ? fdopendir(d2) : NULL;
	if (!d) {
		if (d2 >= 0)
			close(d2);
		return mc_errorf(err, errno, "images `%s`", dir);
	}
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);
		if (e->d_name[0] == '.' || (n > 4 && !strcmp(e->d_name + n - 4, ".log")))
			continue;
		struct stat st;
		/* pre-copy: CRIU's link to the previous dump (the destination makes its own) and
		 * the rounds' directories (sent with their rounds) */
		if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    ((S_ISLNK(st.st_mode) && !strcmp(e->d_name, "parent")) || S_ISDIR(st.st_mode)))
			continue;
		_cleanup_close_ int fd = openat(dfd, e->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st) < 0)
			return mc_errorf(err, errno, "images: `%s`", e->d_name);
		if (!S_ISREG(st.st_mode))
			return mc_errorf(err, 0, "images: `%s` is not a file", e->d_name);
		if (ct_mig_check_name(e->d_name, n, err) < 0 ||
		    mc_ms_send_fd(s, CT_MIG_IMAGE, e->d_name, (uint32_t)n, fd, (uint64_t)st.st_size,
				  err) < 0)
			return mc_wrap(err, "images");
		c->images++;
		c->image_bytes += (uint64_t)st.st_size;
	}
	return 0;
}

/* ---- destination ------------------------------------------------------------------------- */

int ct_mig_check_path(const char *p, size_t len, mc_err *err)
{
	if (len == 0 || len > CT_MIG_PATH_MAX)
		return mc_errorf(err, 0, "rootfs entry: bad path (length %zu)", len);
	if (strlen(p) != len)
		return mc_errorf(err, 0, "rootfs entry: bad path (a NUL byte)");
	if (len == 1 && p[0] == '.')
		return 0;
	if (p[0] == '/')
		return mc_errorf(err, 0, "rootfs entry \"%.200s\": bad path (absolute)", p);
	for (const char *c = p;;) {
		const char *slash = strchr(c, '/');
		size_t n = slash ? (size_t)(slash - c) : strlen(c);
		if (n == 0 || (n == 1 && c[0] == '.'))
			return mc_errorf(err, 0,
					 "rootfs entry \"%.200s\": bad path (an empty or . "
					 "component)",
					 p);
		if (n == 2 && c[0] == '.' && c[1] == '.')
			return mc_errorf(err, 0,
					 "rootfs entry \"%.200s\": bad path (a .. component)", p);
		if (!slash)
			return 0;
		c = slash + 1;
	}
}

int ct_mig_check_name(const char *n, size_t len, mc_err *err)
{
	if (len == 0 || len > 255 || strlen(n) != len || n[0] == '.')
		return mc_errorf(err, 0, "image file \"%.255s\": bad name", n);
	for (size_t i = 0; i < len; i++)
		if (!((n[i] >= 'a' && n[i] <= 'z') || (n[i] >= 'A' && n[i] <= 'Z') ||
		      (n[i] >= '0' && n[i] <= '9') || n[i] == '.' || n[i] == '_' || n[i] == '-'))
			return mc_errorf(err, 0, "image file \"%.255s\": bad name", n);
	return 0;
}

/* The directory holding path's last component, walked from rootfd without following
 * symlinks; *name points into path. */
static int open_parent(int rootfd, char *path, const char **name, mc_err *err)
{
	char *slash = strrchr(path, '/');
	if (!slash) {
		*name = path;
		return fcntl(rootfd, F_DUPFD_CLOEXEC, 0);
	}
	*slash = 0;
	*name = slash + 1;
	int fd = fcntl(rootfd, F_DUPFD_CLOEXEC, 0);
	for (char *c = path, *save = NULL, *t = strtok_r(c, "/", &save); fd >= 0 && t;
	     t = strtok_r(NULL, "/", &save)) {
		int next = openat(fd, t, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(fd);
		fd = next;
	}
	if (fd < 0)
		mc_errorf(err, errno,
			  "rootfs entry \"%.200s/%.200s\": its directory was not received", path,
			  *name);
	return fd;
}

static int rm_at(int at, const char *name, dev_t dev, mc_err *err);

/* replace: clear the way for a new entry of kind at pfd/name. Returns 1 when a directory is
 * already there for a directory (it only gets its owner and mode), else 0. */
static int clear_for(int pfd, const char *name, uint32_t kind, const char *path, mc_err *err)
{
	struct stat st, pst;
	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : mc_errorf(err, errno, "rootfs entry \"%s\"", path);
	if (kind == CT_MIG_DIR && S_ISDIR(st.st_mode))
		return 1;
	if (fstat(pfd, &pst) < 0 || rm_at(pfd, name, pst.st_dev, err) < 0)
		return mc_wrap(err, "rootfs entry \"%s\": replacing it", path);
	return 0;
}

int ct_mig_recv_entry(struct mc_ms *s, int rootfd, const uint8_t *meta, uint32_t meta_len,
		      uint64_t data_len, bool replace, mc_err *err)
{
	if (meta_len < CT_MIG_ENTRY_HDR)
		return mc_errorf(err, 0, "rootfs entry: meta of %u bytes", meta_len);
	uint32_t kind, mode, uid, gid, mns, plen;
	int64_t ms;
	memcpy(&kind, meta, 4);
	memcpy(&mode, meta + 4, 4);
	memcpy(&uid, meta + 8, 4);
	memcpy(&gid, meta + 12, 4);
	memcpy(&ms, meta + 16, 8);
	memcpy(&mns, meta + 24, 4);
	memcpy(&plen, meta + 28, 4);
	kind = le32toh(kind), mode = le32toh(mode), uid = le32toh(uid), gid = le32toh(gid);
	ms = (int64_t)le64toh((uint64_t)ms), mns = le32toh(mns), plen = le32toh(plen);
	if (plen != meta_len - CT_MIG_ENTRY_HDR)
		return mc_errorf(err, 0, "rootfs entry: path of %u bytes in %u bytes of meta", plen,
				 meta_len);
	/* before the copy: the meta may hold one byte more than path has room for */
	if (plen > CT_MIG_PATH_MAX)
		return mc_errorf(err, 0, "rootfs entry: bad path (length %u)", plen);
	char path[CT_MIG_PATH_MAX + 1];
	memcpy(path, meta + CT_MIG_ENTRY_HDR, plen);
	path[plen] = 0;
	if (ct_mig_check_path(path, plen, err) < 0)
		return -1;
	if (mode & ~07777u)
		return mc_errorf(err, 0, "rootfs entry \"%s\": bad mode %o", path, mode);
	if (mns >= 1000000000u)
		return mc_errorf(err, 0, "rootfs entry \"%s\": bad mtime", path);
	if (kind == CT_MIG_REG	     ? data_len > CT_MIG_FILE_MAX
	    : kind == CT_MIG_SYMLINK ? (data_len == 0 || data_len > CT_MIG_PATH_MAX)
				     : data_len != 0)
		return mc_errorf(err, 0, "rootfs entry \"%s\": %llu bytes of data for kind %u",
				 path, (unsigned long long)data_len, kind);
	if (!strcmp(path, ".")) {
		if (kind != CT_MIG_DIR)
			return mc_errorf(err, 0, "rootfs entry \".\": not a directory");
		if (fchown(rootfd, uid, gid) < 0 || fchmod(rootfd, mode) < 0)
			return mc_errorf(err, errno, "rootfs: the root's owner and mode");
		return 0;
	}
	char where[CT_MIG_PATH_MAX + 1];
	memcpy(where, path, plen + 1);
	const char *name;
	_cleanup_close_ int pfd = open_parent(rootfd, where, &name, err);
	if (pfd < 0)
		return -1;
	struct timespec ts[2] = {{.tv_nsec = UTIME_OMIT}, {.tv_sec = ms, .tv_nsec = mns}};
	int r, there = replace ? clear_for(pfd, name, kind, path, err) : 0;
	if (there < 0)
		return -1;
	switch (kind) {
	case CT_MIG_DIR:
		r = there ? 0 : mkdirat(pfd, name, 0700);
		break;
	case CT_MIG_FIFO:
		r = mkfifoat(pfd, name, 0600);
		break;
	case CT_MIG_SYMLINK: {
		char target[CT_MIG_PATH_MAX + 1];
		if (mc_ms_recv_data(s, target, data_len, err) < 0)
			return -1;
		target[data_len] = 0;
		if (strlen(target) != data_len)
			return mc_errorf(err, 0, "rootfs entry \"%s\": a NUL in the link", path);
		r = symlinkat(target, pfd, name);
		break;
	}
	case CT_MIG_REG: {
		_cleanup_close_ int fd =
		    openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0)
			return mc_errorf(err, errno, "rootfs entry \"%s\"", path);
		if (mc_ms_recv_data_fd(s, fd, data_len, err) < 0)
			return mc_wrap(err, "rootfs entry \"%s\"", path);
		if (fchown(fd, uid, gid) < 0 || fchmod(fd, mode) < 0 || futimens(fd, ts) < 0)
			return mc_errorf(err, errno, "rootfs entry \"%s\": owner, mode, mtime",
					 path);
		return 0;
	}
	default:
		return mc_errorf(err, 0, "rootfs entry \"%s\": unknown kind %u", path, kind);
	}
	if (r < 0)
		return mc_errorf(err, errno, "rootfs entry \"%s\"%s", path,
				 errno == EEXIST ? " (sent twice)" : "");
	if (fchownat(pfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0 ||
	    (kind != CT_MIG_SYMLINK && fchmodat(pfd, name, mode, 0) < 0) ||
	    (kind != CT_MIG_DIR && utimensat(pfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0))
		return mc_errorf(err, errno, "rootfs entry \"%s\": owner, mode, mtime", path);
	return 0;
}

static int rm_at(int at, const char *name, dev_t dev, mc_err *err)
{
	struct stat st;
	if (fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : mc_errorf(err, errno, "stat `%s`", name);
	if (!S_ISDIR(st.st_mode)) {
		if (unlinkat(at, name, 0) < 0 && errno != ENOENT)
			return mc_errorf(err, errno, "unlink `%s`", name);
		return 0;
	}
	if (st.st_dev != dev)
		return mc_errorf(err, EBUSY, "`%s` is a mount point: left alone", name);
	int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return mc_errorf(err, errno, "open `%s`", name);
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return mc_errorf(err, errno, "open `%s`", name);
	}
	int ret = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
		    rm_at(dirfd(d), e->d_name, dev, err) < 0)
			ret = -1;
	closedir(d);
	if (ret == 0 && unlinkat(at, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		ret = mc_errorf(err, errno, "rmdir `%s`", name);
	return ret;
}

int ct_mig_recv_delete(int rootfd, const char *path, uint32_t len, mc_err *err)
{
	if (ct_mig_check_path(path, len, err) < 0)
		return -1;
	if (!strcmp(path, "."))
		return mc_errorf(err, 0, "rootfs: the root cannot be deleted");
	char where[CT_MIG_PATH_MAX + 1];
	memcpy(where, path, len + 1);
	const char *name;
	mc_err e = NULL;
	_cleanup_close_ int pfd = open_parent(rootfd, where, &name, &e);
	struct stat st;
	if (pfd < 0) {
		/* its directory went before it, or became something else: gone already */
		mc_error_free(&e);
		return 0;
	}
	if (fstat(pfd, &st) < 0 || rm_at(pfd, name, st.st_dev, err) < 0)
		return mc_wrap(err, "rootfs: delete \"%s\"", path);
	return 0;
}

int ct_mig_rm_tree(const char *path, mc_err *err)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : mc_errorf(err, errno, "stat `%s`", path);
	return rm_at(AT_FDCWD, path, st.st_dev, err) < 0 ? mc_wrap(err, "remove `%s`", path) : 0;
}
