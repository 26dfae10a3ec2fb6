/* One batch: start N guests of one backend at once, wait for all, time each one. */
#ifndef MB_SPAWN_H
#define MB_SPAWN_H

#include "backend.h"
#include "cli.h"
#include "error.h"

struct mb_batch {
	unsigned n;
	double lat_ms[MB_MAX_GUESTS]; /* per guest: its fork to its reaping (start to exit) */
	double wall_ms;		      /* the first fork to the last reaping */
};

struct mb_guest_spec {
	const char *bundle;    /* containers: the OCI bundle */
	const char *rootfs;    /* native: the directory to chroot into */
	char *const *argv;     /* native: the workload */
	const char *id_prefix; /* containers: ids are <prefix>-<k> */
	const char *log;       /* the guests' stderr (truncated per batch) */
};

/* Run one batch of n guests in a forked runner process (crun's runner first unshares its
 * mount namespace and unmounts the hybrid host's cgroup2, outside the timed part). Fails,
 * naming the guest and the last line of its stderr, if any guest exits non-zero. */
int mb_spawn_batch(const struct mb_launcher *l, const struct mb_guest_spec *g, unsigned n,
		   struct mb_batch *out, mc_err *err);

#endif
