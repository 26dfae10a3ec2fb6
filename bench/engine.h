/* The container engines as baselines: a private dockerd, or podman with a private store.
 *
 * Docker: minibench starts dockerd itself with tests/host/dockerd.bash's flags (its own socket,
 * data root, exec root, pid file, config file with the trust key kept inside, vfs storage, the
 * cgroupfs driver under a cgroup parent of its own, no bridge/iptables/ip-forward/masquerade,
 * `--add-runtime minict=PATH`), with PR_SET_PDEATHSIG so it dies with minibench. Podman: no
 * daemon; every call names its own --root, --runroot and --tmpdir, vfs, cgroupfs, file events.
 * Both import one image from the guests' busybox rootfs (`docker import`/`podman import`, no
 * registry). Stopping removes what the engine made: containers, the image, the daemon (by PID),
 * the cgroup parent in every hierarchy, its directory; what it could not remove is an error.
 */
#ifndef MB_ENGINE_H
#define MB_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "error.h"

enum mb_engine_kind { MB_ENGINE_DOCKER, MB_ENGINE_PODMAN };

struct mb_engine {
	enum mb_engine_kind kind;
	bool on;
	char dir[64];	   /* /tmp/mb-docker.XXXXXX: roots, socket, logs (short: socket paths) */
	char client[4096]; /* docker or podman */
	char runc[4096];   /* podman: the runc it drives (its default, crun, refuses hybrid) */
	char sock[128];	   /* docker: unix:///tmp/mb-docker.XXXXXX/docker.sock */
	char image[96];	   /* the imported busybox image */
	char cgroup[96];   /* the cgroup parent of its containers (a name under every root) */
	char log[128];	   /* the engine's own output (dockerd, imports, clean-up) */
	pid_t daemon;	   /* dockerd, 0 for podman */
	bool had_key, had_runcd;
};

/* Check that the engine's tools are installed (before anything is created). */
int mb_engine_check(enum mb_engine_kind kind, mc_err *err);
/* Start the engine and import rootfs (excluding the barrier files in rootfs/mb) as its image.
 * minict: the runtime dockerd registers as `minict` (NULL: none). On failure everything made
 * so far is removed again. */
int mb_engine_start(struct mb_engine *e, enum mb_engine_kind kind, const char *rootfs,
		    const char *minict, mc_err *err);
/* Stop and remove everything (idempotent; a no-op when not on). */
int mb_engine_stop(struct mb_engine *e, mc_err *err);
/* The argv of one guest up to and including the image: `docker -H SOCK run --rm --network none
 * [--runtime RT] -v MBDIR:/mb IMAGE` or podman's equivalent. runtime: NULL for the engine's
 * default (docker: runc; podman: the runc found). Returns the count, or 0 if max is too small. */
size_t mb_engine_run_argv(const struct mb_engine *e, const char *runtime, const char *mbdir,
			  char **argv, size_t max);
/* Run argv (stdin /dev/null, stdout and stderr appended to log); fails with its last log line
 * unless it exits 0. */
int mb_run_cmd(char *const *argv, const char *log, mc_err *err);

#endif
