/* The guests' userland: a busybox-static root filesystem and an OCI bundle around it. */
#ifndef MB_BUNDLE_H
#define MB_BUNDLE_H

#include "error.h"

/* DIR/rootfs: bin/ with busybox and a link per applet, sbin, etc/passwd and etc/group (root,
 * nobody), proc, sys, dev, tmp (1777), root, usr/bin, usr/sbin; the layout of
 * tests/host/runtime_lib.bash's mk_rootfs. Idempotent: an existing tree is refreshed. */
int mb_rootfs_make(const char *rootfs, mc_err *err);
/* DIR/rootfs as above and DIR/config.json: `runc spec` of runc 1.1 (pid, network, ipc, uts,
 * mount and cgroup namespaces, the usual mounts, masked paths, three capabilities, a read-only
 * root that all guests share) with terminal false, process.args = args and hostname
 * "minibench". */
int mb_bundle_make(const char *dir, char *const *args, mc_err *err);

#endif
