/* Per-guest limits for the native backend: the container runtimes get theirs from
 * config.json's linux.resources; a chroot gets the same from a cgroup minibench makes itself,
 * named NAME directly under the root of each hierarchy it needs: on cgroup v1 (and hybrid
 * hosts, whose controllers are v1) the cpu and memory hierarchies, on v2 the unified tree
 * (which needs cpu and memory in the root's cgroup.subtree_control). */
#ifndef MB_CGROUP_H
#define MB_CGROUP_H

#include <stddef.h>
#include <sys/types.h>

#include "error.h"

struct mb_limits {
	unsigned cpus;		      /* CPU time: cpus x the period (100 ms); 0: no limit */
	unsigned long long mem_bytes; /* memory limit; 0: none */
};

/* Create NAME with the limits (an existing one is reused and set again). */
int mb_cgroup_create(const char *name, const struct mb_limits *l, mc_err *err);
/* Move the calling process into NAME (in every hierarchy mb_cgroup_create used). */
int mb_cgroup_join(const char *name, mc_err *err);
/* Remove NAME from every hierarchy (where a container runtime given the same cgroupsPath made
 * it too); fails if one stays (a process left in it). A missing one is fine. */
int mb_cgroup_remove(const char *name, mc_err *err);

/* The processes in NAME and below it, in the memory hierarchy (v1, hybrid) or the unified tree
 * (v2), into pids (at most max); how many. */
size_t mb_cgroup_pids(const char *name, pid_t *pids, size_t max);

#endif
