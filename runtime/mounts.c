/* OCI mounts, pivot_root, masked/read-only paths. Mount targets are resolved inside the rootfs
 * with openat2(RESOLVE_IN_ROOT) and mounted through /proc/self/fd, so a symlink in the image
 * cannot redirect a mount onto the host. */
#include "mounts.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"

static int openat2_in_root(int rootfd, const char *path, int flags)
{
	struct open_how how = {.flags = flags | O_CLOEXEC,
			       .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
	while (*path == '/')
		path++;
	if (!*path)
		path = ".";
	return syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
}

int ct_open_in_root(int rootfd, const char *path, bool create, bool as_file, mc_err *err)
{
	int fd = openat2_in_root(rootfd, path, O_PATH);
	if (fd >= 0 || errno != ENOENT || !create) {
		if (fd < 0)
			return mc_errorf(err, errno, "open `%s` in rootfs", path);
		return fd;
	}
	/* create missing components one by one, each resolved inside the root */
	_cleanup_free_ char *copy = strdup(path);
	if (!copy)
		return mc_errorf(err, ENOMEM, "path");
	char *p = copy;
	while (*p == '/')
		p++;
	for (;;) {
		char *slash = strchr(p, '/');
		if (slash)
			*slash = 0;
		int dfd = openat2_in_root(rootfd, copy, O_PATH);
		if (dfd < 0 && errno == ENOENT) {
			char *last = strrchr(copy, '/');
			_cleanup_close_ int parent = -1;
			const char *name = copy;
			if (last && last != copy) {
				*last = 0;
				parent = openat2_in_root(rootfd, copy, O_PATH | O_DIRECTORY);
				*last = '/';
				name = last + 1;
			} else {
				parent = openat2_in_root(rootfd, "/", O_PATH | O_DIRECTORY);
				name = copy + (copy[0] == '/');
			}
			if (parent < 0)
				return mc_errorf(err, errno, "open parent of `%s` in rootfs", copy);
			int r;
			if (!slash && as_file) {
				r = mknodat(parent, name, S_IFREG | 0644, 0);
				if (r < 0 && errno == EPERM) {
					/* mknodat of regular files may be refused: use openat */
					int t = openat(parent, name,
						       O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW,
						       0644);
					r = t < 0 ? -1 : 0;
					if (t >= 0)
						close(t);
				}
			} else {
				r = mkdirat(parent, name, 0755);
			}
			if (r < 0 && errno != EEXIST)
				return mc_errorf(err, errno, "create `%s` in rootfs", copy);
		} else if (dfd < 0) {
			return mc_errorf(err, errno, "open `%s` in rootfs", copy);
		} else {
			close(dfd);
		}
		if (!slash)
			break;
		*slash = '/';
		p = slash + 1;
	}
	fd = openat2_in_root(rootfd, path, O_PATH);
	if (fd < 0)
		return mc_errorf(err, errno, "open `%s` in rootfs", path);
	return fd;
}

static void fdpath(char *buf, size_t n, int fd)
{
	snprintf(buf, n, "/proc/self/fd/%d", fd);
}

int ct_rootfs_prepare(const struct ct_spec *spec, mc_err *err)
{
	/* stop mount events from leaking back to the host; the final propagation of / is set
	 * after pivot_root */
	unsigned long prop =
	    spec->rootfs_propagation ? spec->rootfs_propagation : MS_REC | MS_SLAVE;
	if (prop & MS_SHARED)
		prop = MS_REC | MS_SLAVE;
	if (mount(NULL, "/", NULL, prop | MS_REC, NULL) < 0)
		return mc_errorf(err, errno, "make / %s", prop & MS_PRIVATE ? "private" : "slave");
	if (mount(spec->root_path, spec->root_path, NULL, MS_BIND | MS_REC, NULL) < 0)
		return mc_errorf(err, errno, "bind rootfs `%s`", spec->root_path);
	int fd = open(spec->root_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return mc_errorf(err, errno, "open rootfs `%s`", spec->root_path);
	return fd;
}

static int remount_flags(int rootfd, const char *dest, unsigned long flags, mc_err *err)
{
	_cleanup_close_ int fd = ct_open_in_root(rootfd, dest, false, false, err);
	if (fd < 0)
		return -1;
	char p[64];
	fdpath(p, sizeof(p), fd);
	if (mount(NULL, p, NULL, MS_REMOUNT | MS_BIND | flags, NULL) == 0)
		return 0;
	int e = errno;
	/* inside a user namespace the kernel refuses to clear flags locked on the source
	 * (nosuid, nodev, noexec, ro, atime): keep what the mount already has and retry */
	struct statvfs sv;
	if (e == EPERM && statvfs(p, &sv) == 0) {
		static const struct {
			unsigned long st, ms;
		} keep[] = {{ST_NOSUID, MS_NOSUID},    {ST_NODEV, MS_NODEV},
			    {ST_NOEXEC, MS_NOEXEC},    {ST_RDONLY, MS_RDONLY},
			    {ST_NOATIME, MS_NOATIME},  {ST_NODIRATIME, MS_NODIRATIME},
			    {ST_RELATIME, MS_RELATIME}};
		for (size_t i = 0; i < MC_ARRAY_SIZE(keep); i++)
			if (sv.f_flag & keep[i].st)
				flags |= keep[i].ms;
		if (mount(NULL, p, NULL, MS_REMOUNT | MS_BIND | flags, NULL) == 0)
			return 0;
		e = errno;
	}
	return mc_errorf(err, e, "remount `%s`", dest);
}

/* cgroup mount: cgroup2 when the host is pure v2, else a tmpfs with one bind per hierarchy
 * (the container's own directories only), as runc lays it out. */
static int mount_cgroup(const struct ct_mount *m, int rootfd, int tfd, const struct ct_cgroup *cg,
			mc_err *err)
{
	char p[64];
	fdpath(p, sizeof(p), tfd);
	unsigned long fl = m->flags & (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME);
	if (cg->layout == CT_CG_V2) {
		if (mount("cgroup2", p, "cgroup2", fl | (m->flags & MS_RDONLY), NULL) == 0)
			return 0;
		if (!cg->unified)
			return mc_errorf(err, errno, "mount cgroup2 on `%s`", m->destination);
		if (mount(cg->unified, p, NULL, MS_BIND, NULL) < 0)
			return mc_errorf(err, errno, "bind cgroup on `%s`", m->destination);
		return (m->flags & MS_RDONLY)
			   ? remount_flags(rootfd, m->destination, fl | MS_RDONLY, err)
			   : 0;
	}
	if (mount("tmpfs", p, "tmpfs", fl, "mode=755") < 0)
		return mc_errorf(err, errno, "mount tmpfs on `%s`", m->destination);
	/* the v1 hierarchies, each the container's own directory, as runc lays them out; the
	 * hybrid host's cgroup2 only when it serves a controller of the container (hugetlb
	 * here): minict's freeze and kill go through it from outside */
	bool v2_serves = false;
	for (int c = 0; c < CT_CG_NCTRL; c++)
		v2_serves |= c != CT_CG_FREEZER && cg->path[c] && cg->ops[c] == &ct_cg_v2_ops;
	for (int c = v2_serves ? -1 : 0; c < CT_CG_NCTRL + (int)cg->nextra; c++) {
		bool extra = c >= CT_CG_NCTRL;
		const char *src = c < 0	  ? cg->unified
				  : extra ? cg->extra[c - CT_CG_NCTRL].path
					  : cg->path[c];
		if (!src || (c >= 0 && !extra && cg->ops[c] != &ct_cg_v1_ops))
			continue;
		char dest[4200];
		snprintf(dest, sizeof(dest), "%s/%s", m->destination,
			 c < 0	 ? "unified"
			 : extra ? cg->extra[c - CT_CG_NCTRL].name
				 : ct_cg_v1_dir(c));
		_cleanup_close_ int dfd = ct_open_in_root(rootfd, dest, true, false, err);
		if (dfd < 0)
			return -1;
		char dp[64];
		fdpath(dp, sizeof(dp), dfd);
		if (mount(src, dp, NULL, MS_BIND, NULL) < 0)
			return mc_errorf(err, errno, "bind `%s` on `%s`", src, dest);
		if ((m->flags & MS_RDONLY) && remount_flags(rootfd, dest, fl | MS_RDONLY, err) < 0)
			return -1;
	}
	if (m->flags & MS_RDONLY)
		return remount_flags(rootfd, m->destination, fl | MS_RDONLY, err);
	return 0;
}

static int mount_one(const struct ct_mount *m, int rootfd, const struct ct_cgroup *cg, mc_err *err)
{
	bool as_file = false;
	if (m->bind) {
		struct stat st;
		if (stat(m->source, &st) < 0)
			return mc_errorf(err, errno, "bind source `%s`", m->source);
		as_file = !S_ISDIR(st.st_mode);
	}
	_cleanup_close_ int tfd = ct_open_in_root(rootfd, m->destination, true, as_file, err);
	if (tfd < 0)
		return -1;
	char p[64];
	fdpath(p, sizeof(p), tfd);
	if (m->type && !strcmp(m->type, "cgroup"))
		return mount_cgroup(m, rootfd, tfd, cg, err);
	unsigned long flags = m->flags & ~(MS_REMOUNT);
	if (m->bind) {
		if (mount(m->source, p, NULL, MS_BIND | (flags & MS_REC), NULL) < 0)
			return mc_errorf(err, errno, "bind `%s` on `%s`", m->source,
					 m->destination);
		unsigned long extra = flags & ~(MS_BIND | MS_REC);
		if (extra && remount_flags(rootfd, m->destination, extra, err) < 0)
			return -1;
	} else {
		const char *type = m->type;
		int r = mount(m->source ? m->source : type, p, type, flags, m->data);
		if (r < 0 && errno == EPERM && !strcmp(type, "sysfs")) {
			/* no network namespace of our own: fall back to the host's /sys, read-only
			 */
			r = mount("/sys", p, NULL, MS_BIND | MS_REC, NULL);
			if (r == 0)
				r = remount_flags(rootfd, m->destination,
						  MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
						  err);
		}
		if (r < 0 && errno == EINVAL && !strcmp(type, "mqueue"))
			r = 0; /* no POSIX mqueue in this kernel */
		if (r < 0)
			return mc_errorf(err, errno, "mount %s on `%s`", type, m->destination);
	}
	if (m->propagation) {
		_cleanup_close_ int nfd =
		    ct_open_in_root(rootfd, m->destination, false, false, err);
		if (nfd < 0)
			return -1;
		fdpath(p, sizeof(p), nfd);
		if (mount(NULL, p, NULL, m->propagation, NULL) < 0)
			return mc_errorf(err, errno, "set propagation of `%s`", m->destination);
	}
	return 0;
}

int ct_mounts_apply(const struct ct_spec *spec, int rootfd, const struct ct_cgroup *cg,
		    bool cgroup_pass, mc_err *err)
{
	for (size_t i = 0; i < spec->nmounts; i++) {
		const struct ct_mount *m = &spec->mounts[i];
		bool is_cg = m->type && !strcmp(m->type, "cgroup");
		if (is_cg != cgroup_pass)
			continue;
		if (is_cg && (!cg || cg->layout == CT_CG_NONE))
			continue;
		if (mount_one(m, rootfd, cg, err) < 0)
			return mc_wrap(err, "mounts[%zu] %s", i, m->destination);
	}
	return 0;
}

int ct_pivot_root(const char *rootfs, bool no_pivot, mc_err *err)
{
	if (chdir(rootfs) < 0)
		return mc_errorf(err, errno, "chdir `%s`", rootfs);
	if (no_pivot) {
		if (mount(rootfs, "/", NULL, MS_MOVE, NULL) < 0)
			return mc_errorf(err, errno, "move rootfs to /");
		if (chroot(".") < 0)
			return mc_errorf(err, errno, "chroot");
		return chdir("/") < 0 ? mc_errorf(err, errno, "chdir /") : 0;
	}
	/* pivot_root(".", "."): the old root ends up stacked on the new one; detach it */
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return mc_errorf(err, errno, "pivot_root `%s`", rootfs);
	if (mount(NULL, ".", NULL, MS_REC | MS_SLAVE, NULL) < 0)
		return mc_errorf(err, errno, "make old root slave");
	if (umount2(".", MNT_DETACH) < 0)
		return mc_errorf(err, errno, "detach old root");
	if (chdir("/") < 0)
		return mc_errorf(err, errno, "chdir /");
	return 0;
}

static int mask_path(const char *path, mc_err *err)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : mc_errorf(err, errno, "maskedPaths `%s`", path);
	int r;
	if (S_ISDIR(st.st_mode))
		r = mount("tmpfs", path, "tmpfs", MS_RDONLY, "size=0k,mode=755");
	else
		r = mount("/dev/null", path, NULL, MS_BIND, NULL);
	if (r < 0 && errno != ENOENT)
		return mc_errorf(err, errno, "maskedPaths `%s`", path);
	return 0;
}

static int readonly_path(const char *path, mc_err *err)
{
	if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0) {
		if (errno == ENOENT)
			return 0;
		return mc_errorf(err, errno, "readonlyPaths `%s`", path);
	}
	if (mount(NULL, path, NULL,
		  MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		return mc_errorf(err, errno, "readonlyPaths remount `%s`", path);
	return 0;
}

int ct_mounts_finish(const struct ct_spec *spec, mc_err *err)
{
	for (size_t i = 0; i < spec->nreadonly; i++)
		if (readonly_path(spec->readonly_paths[i], err) < 0)
			return -1;
	for (size_t i = 0; i < spec->nmasked; i++)
		if (mask_path(spec->masked_paths[i], err) < 0)
			return -1;
	if (spec->root_readonly &&
	    mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0)
		return mc_errorf(err, errno, "remount / read-only");
	unsigned long prop =
	    spec->rootfs_propagation ? spec->rootfs_propagation : MS_REC | MS_PRIVATE;
	if (mount(NULL, "/", NULL, prop, NULL) < 0)
		return mc_errorf(err, errno, "rootfsPropagation");
	return 0;
}
