#include "cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <linux/magic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "cleanup.h"
#include "util.h"

#define CPU_PERIOD_US 100000u

static bool unified(void)
{
	struct statfs s;
	return statfs("/sys/fs/cgroup", &s) == 0 && s.f_type == CGROUP2_SUPER_MAGIC;
}

/* v1: the cpu and memory hierarchies; v2: the one tree. */
static const char *const v1_dirs[] = {"/sys/fs/cgroup/cpu", "/sys/fs/cgroup/memory"};
static const char *const v2_dirs[] = {"/sys/fs/cgroup"};

static size_t roots(const char *const **dirs)
{
	if (unified()) {
		*dirs = v2_dirs;
		return MC_ARRAY_SIZE(v2_dirs);
	}
	*dirs = v1_dirs;
	return MC_ARRAY_SIZE(v1_dirs);
}

static int put(const char *dir, const char *file, const char *value, mc_err *err)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
	size_t len = strlen(value);
	if (fd < 0 || write(fd, value, len) != (ssize_t)len)
		return mc_errorf(err, errno, "cgroup: write `%s` into `%s`", value, path);
	return 0;
}

int mb_cgroup_create(const char *name, const struct mb_limits *l, mc_err *err)
{
	const char *const *dirs;
	size_t n = roots(&dirs);
	bool v2 = dirs == v2_dirs;
	char dir[4096], val[64];
	if (v2) {
		char *ctl = NULL;
		size_t len = 0;
		if (mc_read_file("/sys/fs/cgroup/cgroup.subtree_control", 4096, &ctl, &len, err) <
		    0)
			return mc_wrap(err, "cgroup");
		bool ok = strstr(ctl, "cpu") && strstr(ctl, "memory");
		free(ctl);
		if (!ok)
			return mc_errorf(
			    err, 0,
			    "cgroup: the cpu and memory controllers are not enabled in "
			    "/sys/fs/cgroup/cgroup.subtree_control");
	}
	for (size_t i = 0; i < n; i++) {
		snprintf(dir, sizeof(dir), "%s/%s", dirs[i], name);
		if (access(dirs[i], F_OK) < 0)
			return mc_errorf(err, errno, "cgroup: no hierarchy `%s`", dirs[i]);
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return mc_errorf(err, errno, "cgroup: mkdir `%s`", dir);
		bool cpu = v2 || strstr(dirs[i], "/cpu"), mem = v2 || strstr(dirs[i], "/memory");
		if (cpu && l->cpus) {
			if (v2) {
				snprintf(val, sizeof(val), "%u %u", l->cpus * CPU_PERIOD_US,
					 CPU_PERIOD_US);
				if (put(dir, "cpu.max", val, err) < 0)
					return -1;
			} else {
				snprintf(val, sizeof(val), "%u", CPU_PERIOD_US);
				if (put(dir, "cpu.cfs_period_us", val, err) < 0)
					return -1;
				snprintf(val, sizeof(val), "%u", l->cpus * CPU_PERIOD_US);
				if (put(dir, "cpu.cfs_quota_us", val, err) < 0)
					return -1;
			}
		}
		if (mem && l->mem_bytes) {
			snprintf(val, sizeof(val), "%llu", l->mem_bytes);
			if (put(dir, v2 ? "memory.max" : "memory.limit_in_bytes", val, err) < 0)
				return -1;
		}
	}
	return 0;
}

int mb_cgroup_join(const char *name, mc_err *err)
{
	const char *const *dirs;
	size_t n = roots(&dirs);
	char dir[4096];
	for (size_t i = 0; i < n; i++) {
		snprintf(dir, sizeof(dir), "%s/%s", dirs[i], name);
		if (put(dir, "cgroup.procs", "0", err) < 0)
			return -1;
	}
	return 0;
}

/* rmdir dir, its empty child cgroups first (podman's conmon/ below a container's parent),
 * retrying while the last process leaves; fails if it stays. */
static int remove_dir(const char *dir, mc_err *err)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	struct dirent *de;
	char sub[4096];
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.' || de->d_type != DT_DIR)
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", dir, de->d_name);
		if (remove_dir(sub, err) < 0)
			return -1;
	}
	for (int t = 0; t < 50 && rmdir(dir) < 0 && errno == EBUSY; t++)
		usleep(20000);
	if (access(dir, F_OK) == 0)
		return mc_errorf(err, 0, "cgroup `%s` is still there", dir);
	return 0;
}

int mb_cgroup_remove(const char *name, mc_err *err)
{
	char dir[4096];
	int rc = 0;
	/* every hierarchy: a runtime given the same name made it in all of them */
	_cleanup_closedir_ DIR *d = opendir("/sys/fs/cgroup");
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.' || de->d_type != DT_DIR)
			continue;
		snprintf(dir, sizeof(dir), "/sys/fs/cgroup/%s/%s", de->d_name, name);
		if (access(dir, F_OK) == 0 && remove_dir(dir, err) < 0)
			rc = -1;
	}
	snprintf(dir, sizeof(dir), "/sys/fs/cgroup/%s", name);
	if (access(dir, F_OK) == 0 && remove_dir(dir, err) < 0)
		rc = -1;
	return rc;
}

/* dir's cgroup.procs and those of its descendants into pids[*n...]. */
static void pids_below(const char *dir, pid_t *pids, size_t max, size_t *n, int depth)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	long v;
	while (f && *n < max && fscanf(f, "%ld", &v) == 1)
		pids[(*n)++] = (pid_t)v;
	if (depth >= 8)
		return;
	_cleanup_closedir_ DIR *d = opendir(dir);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.' || de->d_type != DT_DIR)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		pids_below(path, pids, max, n, depth + 1);
	}
}

size_t mb_cgroup_pids(const char *name, pid_t *pids, size_t max)
{
	char dir[4096];
	size_t n = 0;
	snprintf(dir, sizeof(dir), "%s/%s", unified() ? "/sys/fs/cgroup" : "/sys/fs/cgroup/memory",
		 name);
	pids_below(dir, pids, max, &n, 0);
	return n;
}
