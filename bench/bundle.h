/* The guests' userland: a busybox-static root filesystem and an OCI bundle around it. */
#ifndef MB_BUNDLE_H
#define MB_BUNDLE_H

#include <stdbool.h>

#include "error.h"

/* DIR/rootfs: bin/ with busybox and a link per applet, sbin, etc/passwd and etc/group (root,
 * nobody), proc, sys, dev, tmp (1777), root, usr/bin, usr/sbin; the layout of
 * tests/host/runtime_lib.bash's mk_rootfs. Idempotent: an existing tree is refreshed. */
int mb_rootfs_make(const char *rootfs, mc_err *err);
/* DIR/config.json for the root filesystem at rootfs (an absolute path, so that many bundles
 * share one tree): `runc spec` of runc 1.1 (pid, network, ipc, uts, mount and cgroup
 * namespaces, the usual mounts, masked paths, three capabilities, a read-only root) with
 * terminal false, process.args = args and hostname "minibench". Creates DIR. */
int mb_bundle_config(const char *dir, const char *rootfs, char *const *args, mc_err *err);
/* The same with what the density experiment changes: a writable root, per-guest limits
 * (linux.resources: the CPU quota as cpus x a 100 ms period, the memory limit), and one bind
 * mount (the barrier's directory, which is not part of the guest's root filesystem). */
struct mb_bundle_opts {
	const char *rootfs; /* absolute */
	char *const *args;
	bool writable;
	unsigned cpus;			 /* 0: no CPU limit */
	unsigned long long mem_bytes;	 /* 0: no memory limit */
	const char *bind_src, *bind_dst; /* NULL: none */
	const char *cgroups_path;	 /* linux.cgroupsPath; NULL: the runtime's default */
};
int mb_bundle_write(const char *dir, const struct mb_bundle_opts *o, mc_err *err);
/* The barrier's directory ROOTFS/mb with two FIFOs (0666): `events`, where a guest writes
 * "a K" when it is up and "e K" when its workload has exited, and `go`, from which every guest
 * reads one line before its workload starts (spawn.c holds both open while a batch runs). */
int mb_barrier_make(const char *rootfs, mc_err *err);

#endif
