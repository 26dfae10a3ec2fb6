/* The density experiment (the seed study's chapter 4): N guests of one backend run the same
 * sysbench 1.0 workload (cpu, fileio or oltp) at the same moment, released by the barrier, on
 * the benchmark root filesystem (make images), each with 1 CPU and 512 MiB; per-guest results,
 * per-request latency, and the memory each guest costs the host. docs/bench.md has the method. */
#ifndef MB_DENSITY_H
#define MB_DENSITY_H

#include "cli.h"
#include "error.h"
#include "results.h"

/* The resources every guest gets, whatever the backend (the VM's vCPUs and RAM). */
#define MB_GUEST_CPUS	 1u
#define MB_GUEST_MEM_MIB 512u
#define MB_GUEST_NOFILE	 1024u /* RLIMIT_NOFILE: the OCI bundles' (bundle.c), native's, engines' */

/* Check before anything is created: the workload, the backends, root, the root filesystem. */
int mb_density_check(const struct mb_opts *o, mc_err *err);
int mb_density(const struct mb_opts *o, const char *workdir, struct mb_results *res, mc_err *err);
/* The benchmark root filesystem's directory into dir: $MINIVM_ROOTFS_DIR, else the
 * checkout's build/images.env (make images), else scripts/rootfs.sh path; fails with the
 * command that builds it. */
int mb_rootfs_find(char *dir, size_t size, mc_err *err);

#endif
