/* /dev inside the container: the default nodes (null, zero, full, random, urandom, tty), the
 * spec's devices, and the usual symlinks. Nodes are made with mknod, or bind-mounted from the
 * host inside a user namespace (where mknod is not allowed). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "cleanup.h"
#include "mounts.h"

static const struct ct_device default_devices[] = {
    {.path = "/dev/null", .type = 'c', .major = 1, .minor = 3},
    {.path = "/dev/zero", .type = 'c', .major = 1, .minor = 5},
    {.path = "/dev/full", .type = 'c', .major = 1, .minor = 7},
    {.path = "/dev/random", .type = 'c', .major = 1, .minor = 8},
    {.path = "/dev/urandom", .type = 'c', .major = 1, .minor = 9},
    {.path = "/dev/tty", .type = 'c', .major = 5, .minor = 0},
};

static int make_node(const struct ct_device *d, int rootfd, bool bind, mc_err *err)
{
	const char *rel = d->path + 1;
	mode_t mode = (d->has_mode ? d->mode : 0666) & 07777;
	mode_t type = d->type == 'b' ? S_IFBLK : d->type == 'p' ? S_IFIFO : S_IFCHR;
	/* the parent must resolve inside the root */
	_cleanup_free_ char *dir = strdup(d->path);
	if (!dir)
		return mc_errorf(err, ENOMEM, "devices");
	*strrchr(dir, '/') = 0;
	_cleanup_close_ int dfd = ct_open_in_root(rootfd, dir, true, false, err);
	if (dfd < 0)
		return -1;
	const char *name = strrchr(rel, '/') + 1;
	char dpath[64];
	snprintf(dpath, sizeof(dpath), "/proc/self/fd/%d", dfd);
	_cleanup_close_ int realdir = open(dpath, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (realdir < 0)
		return mc_errorf(err, errno, "open `%s`", dir);
	if (bind) {
		int f = openat(realdir, name, O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (f < 0)
			return mc_errorf(err, errno, "create `%s`", d->path);
		close(f);
		char src[4200], dst[4200];
		snprintf(src, sizeof(src), "%s", d->path);
		snprintf(dst, sizeof(dst), "%s/%s", dpath, name);
		if (mount(src, dst, NULL, MS_BIND, NULL) < 0)
			return mc_errorf(err, errno, "bind device `%s`", d->path);
		return 0;
	}
	unlinkat(realdir, name, 0);
	if (mknodat(realdir, name, type | mode, makedev(d->major, d->minor)) < 0)
		return mc_errorf(err, errno, "mknod `%s`", d->path);
	if (fchmodat(realdir, name, mode, 0) < 0)
		return mc_errorf(err, errno, "chmod `%s`", d->path);
	if ((d->has_uid || d->has_gid) &&
	    fchownat(realdir, name, d->has_uid ? d->uid : (uid_t)-1,
		     d->has_gid ? d->gid : (gid_t)-1, AT_SYMLINK_NOFOLLOW) < 0)
		return mc_errorf(err, errno, "chown `%s`", d->path);
	return 0;
}

int ct_devices_setup(const struct ct_spec *spec, int rootfd, bool in_userns, mc_err *err)
{
	bool dev_tmpfs = false;
	for (size_t i = 0; i < spec->nmounts; i++)
		if (!strcmp(spec->mounts[i].destination, "/dev") && !spec->mounts[i].bind)
			dev_tmpfs = true;
	if (dev_tmpfs) {
		for (size_t i = 0; i < MC_ARRAY_SIZE(default_devices); i++) {
			bool dup = false;
			for (size_t k = 0; k < spec->ndevices; k++)
				dup |= !strcmp(spec->devices[k].path, default_devices[i].path);
			if (!dup && make_node(&default_devices[i], rootfd, in_userns, err) < 0)
				return mc_wrap(err, "devices");
		}
	}
	for (size_t i = 0; i < spec->ndevices; i++)
		if (make_node(&spec->devices[i], rootfd, in_userns, err) < 0)
			return mc_wrap(err, "linux.devices[%zu]", i);
	if (!dev_tmpfs)
		return 0;
	static const char *links[][2] = {
	    {"/proc/self/fd", "fd"},	   {"/proc/self/fd/0", "stdin"},
	    {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"},
	    {"pts/ptmx", "ptmx"},	   {"/proc/kcore", "core"}};
	_cleanup_close_ int dfd = ct_open_in_root(rootfd, "/dev", false, false, err);
	if (dfd < 0)
		return -1;
	char dpath[64];
	snprintf(dpath, sizeof(dpath), "/proc/self/fd/%d", dfd);
	_cleanup_close_ int realdir = open(dpath, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (realdir < 0)
		return mc_errorf(err, errno, "open /dev");
	for (size_t i = 0; i < MC_ARRAY_SIZE(links); i++) {
		if (!strcmp(links[i][1], "ptmx"))
			unlinkat(realdir, "ptmx", 0);
		if (symlinkat(links[i][0], realdir, links[i][1]) < 0 && errno != EEXIST)
			return mc_errorf(err, errno, "symlink /dev/%s", links[i][1]);
	}
	return 0;
}
