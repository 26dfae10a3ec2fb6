/* One batch: start N guests of one backend at once, hold them at a barrier until all are up,
 * release them at one moment, wait for all, and time each one's milestones.
 *
 * Every guest runs the same small script in the guests' busybox sh (MB_GUEST_SCRIPT): it says
 * "a K" on the FIFO /mb/events once it runs, reads one line from the FIFO /mb/go, runs the
 * workload, says "e K" and exits with the workload's status. The runner holds both FIFOs open
 * (read-write, so neither ever sees end-of-file or blocks a guest's open); when the last guest
 * has said "a", it writes one line per guest to go: that instant is every guest's `ready`.
 *
 * Milestones per guest, in ms since the batch's first fork (the names of DESIGN.md):
 *   start  the fork of the guest's launcher (runtime `run`, engine client, or chroot)
 *   init   its "a K" read by the runner: the guest's first command runs in it
 *   ready  the release (the same instant for all guests of a batch)
 *   exit   its "e K" read: the workload has exited
 *   gone   the launcher reaped: the runtime deleted the container / the engine removed it
 * setup and entry happen inside the runtimes and engines, which don't report them.
 */
#ifndef MB_SPAWN_H
#define MB_SPAWN_H

#include <signal.h>
#include <stdbool.h>

#include "backend.h"
#include "cli.h"
#include "error.h"

struct mb_vm_spec;

/* $0 is the guest's index, "$@" the workload */
#define MB_GUEST_SCRIPT                                                                            \
	"echo a $0 >/mb/events; read x </mb/go; \"$@\"; s=$?; echo e $0 >/mb/events; exit $s"

enum mb_milestone { MB_T_START, MB_T_INIT, MB_T_READY, MB_T_EXIT, MB_T_GONE, MB_NT };

struct mb_batch {
	unsigned n;
	double t[MB_MAX_GUESTS][MB_NT]; /* per guest: ms since the batch's first fork */
	double wall_ms;			/* the first fork to the last reaping */
	/* with mem_sample: the peak over the samples (at the release, then every
	 * MB_MEM_SAMPLE_MS until the last exit), per guest, of the sum over its processes (the
	 * launcher: runtime or engine client, and every descendant: the container's processes)
	 * of Rss and of Pss (shared pages divided among their users), in MiB; and the peak of
	 * the host's used memory (MemTotal - MemAvailable) over its value before the first fork */
	double rss_mib[MB_MAX_GUESTS], pss_mib[MB_MAX_GUESTS];
	double host_mib;
	unsigned mem_samples;
};

#define MB_MEM_SAMPLE_MS 500

struct mb_guest_spec {
	const char *bundles;   /* containers: guest K's bundle is <bundles>/g<K> */
	const char *rootfs;    /* native: the directory to chroot into */
	const char *mbdir;     /* the barrier's directory on the host (rootfs/mb) */
	char *const *argv;     /* the workload */
	const char *id_prefix; /* containers: ids are <prefix>-<k> */
	const char *log;       /* the guests' stderr (truncated per batch) */
	/* density: */
	const char *script; /* the guest's sh script ($0 = its index, "$@" = argv); NULL:
			       MB_GUEST_SCRIPT */
	const char *roots;  /* native: guest K chroots into <roots>/g<K>/root (NULL: rootfs) */
	const char *native_cgroup; /* native: guest K joins the cgroup <native_cgroup>-g<K>;
				      docker, podman: its container's cgroup parent */
	/* docker, podman with roots: each container's limits (--cpus, --memory, nofile), its
	 * cgroup parent /<native_cgroup>-g<K> and <roots>/g<K>/root/data at /data */
	unsigned cpus, nofile;
	unsigned long long mem_bytes;
	bool mem_sample; /* sample the guests' memory (mb_batch.rss_mib...) */
	/* vm, qemu: the VMs' images, disks and script (vmguest.h) */
	const struct mb_vm_spec *vm;
};

/* Set by main's SIGINT/SIGTERM/SIGHUP handler: the experiment stops after the batch that
 * runs, and the engines are cleaned up. */
extern volatile sig_atomic_t mb_stop_signal;

const char *mb_milestone_name(enum mb_milestone m);
/* Run one batch of n guests in a forked runner process (crun's runner first unshares its
 * mount namespace and unmounts the hybrid host's cgroup2, outside the timed part). Fails,
 * naming the guest and the last line of its stderr, if any guest exits non-zero or before the
 * release; the other guests are released and reaped first. */
int mb_spawn_batch(const struct mb_launcher *l, const struct mb_guest_spec *g, unsigned n,
		   struct mb_batch *out, mc_err *err);

#endif
