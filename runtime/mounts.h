/* Root filesystem set-up inside the container's mount namespace (called by init.c). */
#ifndef MINICT_MOUNTS_H
#define MINICT_MOUNTS_H

#include <stdbool.h>

#include "cgroup.h"
#include "error.h"
#include "spec.h"

/* Open (creating when missing: a directory, or a file when as_file) path inside the rootfs,
 * resolving symlinks as if rootfd were "/" (openat2 RESOLVE_IN_ROOT). Returns an O_PATH fd. */
int ct_open_in_root(int rootfd, const char *path, bool create, bool as_file, mc_err *err);
/* Make / private/slave as configured and bind the rootfs onto itself. Returns rootfd. */
int ct_rootfs_prepare(const struct ct_spec *spec, mc_err *err);
/* Every OCI mount except cgroup ones (deferred: pass cgroup_pass=true after joining cgroups). */
int ct_mounts_apply(const struct ct_spec *spec, int rootfd, const struct ct_cgroup *cg,
		    bool cgroup_pass, mc_err *err);
int ct_pivot_root(const char *rootfs, bool no_pivot, mc_err *err);
/* After pivot_root: masked and read-only paths, read-only root, rootfs propagation. */
int ct_mounts_finish(const struct ct_spec *spec, mc_err *err);
/* Default device nodes and /dev symlinks when /dev is a fresh tmpfs, plus spec devices. */
int ct_devices_setup(const struct ct_spec *spec, int rootfd, bool in_userns, mc_err *err);

#endif
