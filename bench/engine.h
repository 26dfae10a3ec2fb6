/* The container engines as baselines: a private dockerd, or podman with a private store.
 *
 * Docker: minibench starts dockerd itself with tests/host/dockerd.bash's flags (its own socket,
 * data root, exec root, pid file, config file with the trust key kept inside, vfs storage, the
 * cgroupfs driver under a cgroup parent of its own, no bridge/iptables/ip-forward/masquerade,
 * `--add-runtime minict=PATH`), with PR_SET_PDEATHSIG so it dies with minibench. Podman: no
 * daemon; every call names its own --root, --runroot and --tmpdir, vfs, cgroupfs, file events.
 * Both import one image from a root filesystem directory (`docker import -`/`podman import -` of
 * a tar stream, no registry): latency's busybox rootfs, or density's benchmark rootfs tagged by
 * its content key (minibench-rootfs:KEY; one import serves every batch and guest of the run).
 * Stopping removes what the engine made: containers, the image, the daemon (by PID), the cgroup
 * parent in every hierarchy, its directory; what it could not remove is an error.
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
	char image[192];   /* the imported image */
	char cgroup[96];   /* the cgroup parent of its containers (a name under every root) */
	char log[128];	   /* the engine's own output (dockerd, imports, clean-up) */
	char storage[16];  /* vfs, overlay2 (docker) or overlay (podman) */
	pid_t daemon;	   /* dockerd, 0 for podman */
	bool had_key, had_runcd;
};

/* Check that the engine's tools are installed (before anything is created). */
int mb_engine_check(enum mb_engine_kind kind, mc_err *err);
/* What an engine is started with. */
struct mb_engine_opts {
	const char *rootfs; /* imported as the image, without the barrier files in rootfs/mb */
	const char *tag;    /* the image's name:tag (NULL: minibench-PID-busybox:latest) */
	bool overlay;	    /* overlay storage (docker overlay2, podman overlay), else vfs */
	const char *minict; /* docker: the runtime registered as `minict` (NULL: none) */
};

/* Start the engine and import o->rootfs as its image (skipped if the daemon has the tag).
 * On failure everything made so far is removed again. */
int mb_engine_start(struct mb_engine *e, enum mb_engine_kind kind, const struct mb_engine_opts *o,
		    mc_err *err);
/* Stop and remove everything (idempotent; a no-op when not on). */
int mb_engine_stop(struct mb_engine *e, mc_err *err);
/* A density guest's container: its limits, cgroup parent and data directory. */
struct mb_engine_guest {
	const char *cgroup_parent;    /* `--cgroup-parent` (absolute: /NAME) */
	unsigned cpus;		      /* `--cpus` */
	unsigned long long mem_bytes; /* `-m` and `--memory-swap` (no swap beyond it) */
	unsigned nofile;	      /* `--ulimit nofile=N:N` */
	const char *data;	      /* bound at /data */
};

/* The argv of one guest up to and including the image: `docker -H SOCK run --rm --network none
 * [--runtime RT] -v MBDIR:/mb IMAGE` or podman's equivalent; with gu (NULL: none) also its
 * limits, cgroup parent and /data. runtime: NULL for the engine's default (docker: runc;
 * podman: the runc found). The strings are written into buf. Returns the count, or 0 if max
 * or buf is too small. */
size_t mb_engine_run_argv(const struct mb_engine *e, const char *runtime, const char *mbdir,
			  const struct mb_engine_guest *gu, char **argv, size_t max, char *buf,
			  size_t size);
/* The rootfs's content key for an image tag: the name of the directory above rootfs when that
 * is the cache's `SUITE-HASH` (scripts/rootfs.sh), else a hash of rootfs's path and mtime. */
void mb_engine_rootfs_key(const char *rootfs, char *key, size_t size);
/* Run argv (stdin /dev/null, stdout and stderr appended to log); fails with its last log line
 * unless it exits 0. */
int mb_run_cmd(char *const *argv, const char *log, mc_err *err);

#endif
