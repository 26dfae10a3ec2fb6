/* What `checkpoint` and `restore` share (checkpoint.c): finding CRIU, the image directory,
 * the container's stdio descriptors and the names both sides give CRIU's external objects. */
#ifndef MINICT_CHECKPOINT_H
#define MINICT_CHECKPOINT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cli.h"
#include "criu_rpc.h"
#include "error.h"
#include "spec.h"

/* The key the container's network namespace has in the images: dumped as external
 * ("net[INODE]:KEY") and handed back on restore through inherit_fd. */
#define CT_CKPT_NETNS_KEY "minict-netns"
/* minict's own file in the image directory: the init's stdio as CRIU keys. */
#define CT_CKPT_DESCRIPTORS "descriptors.json"

/* CRIU as docs/checkpoint.md says: --criu PATH, else $MINICT_CRIU, else the newest
 * $MINI_CACHE/criu/<version>/criu. It must run, be >= 4.0 and pass `criu check`; the error
 * names the criu, where it came from and why it was refused. *bin is malloc'd. */
int ct_ckpt_find_criu(const char *opt, char **bin, mc_err *err);
/* Whether CRIU's lazy page server (a lazy dump: post-copy, --lazy-pages) can make its pipe:
 * CAP_SYS_RESOURCE or fs.pipe-max-size >= 4 MiB; the error says which sysctl to raise. */
int ct_ckpt_lazy_pipe(mc_err *err);
/* How long minict waits for CRIU's answer: $MINICT_CRIU_TIMEOUT seconds, else def. */
int ct_ckpt_timeout(int def);
/* Open a directory (made with its parents when create). */
int ct_ckpt_open_dir(const char *path, bool create, mc_err *err);
/* A list of strings CRIU takes (--external ...). */
struct ct_strlist {
	char **v;
	size_t n;
};
int ct_strlist_add(struct ct_strlist *l, mc_err *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void ct_strlist_free(struct ct_strlist *l);
/* "/sys/fs/cgroup" when every cgroup hierarchy of pid is mounted there as CRIU names them in a
 * yard ("cpu", "cpu,cpuacct", "systemd", "unified": systemd's hybrid layout), else NULL: CRIU's
 * dump then opens those directories instead of mounting each hierarchy anew. */
const char *ct_ckpt_cgroup_yard(pid_t pid);
/* The external bind mounts of spec: "mnt[DEST]:DEST" (dump) or "mnt[DEST]:SOURCE" (restore),
 * and "mnt[]" for anything else bound in from the host. */
int ct_ckpt_ext_mounts(const struct ct_spec *spec, bool restore, struct ct_strlist *l, mc_err *err);
/* Dump side: the container's masked directories (read-only tmpfs on a maskedPaths entry) as
 * external "mnt[PATH]:minict-masked"; restore (ct_ckpt_ext_mounts) binds an empty read-only
 * directory (/run/minict/masked) there. */
int ct_ckpt_masked_mounts(pid_t pid, const struct ct_spec *spec, struct ct_strlist *l, mc_err *err);
/* minict's own file in the image directory: the tmpfs mounts it recreates (ckpt_tmpfs.c). */
#define CT_CKPT_TMPFS "minict-tmpfs.json"
/* Dump side, the container frozen: its tmpfs mounts that minict made (the spec's tmpfs and
 * cgroup mounts) and whose regular files are all empty, as external "mnt[PATH]:minict-tmpfs-N"
 * with their trees in CT_CKPT_TMPFS; the others stay CRIU's (its tar). */
int ct_ckpt_tmpfs_dump(pid_t pid, const struct ct_spec *spec, int images_fd, struct ct_strlist *ext,
		       mc_err *err);
/* Restore side, before criu starts: a mount namespace of our own (a slave of the host's), so
 * that the tmpfs mounts made for CRIU go with minict and criu and are seen by nobody else. */
int ct_ckpt_tmpfs_ns(mc_err *err);
/* Restore side: each tmpfs of CT_CKPT_TMPFS (if any) made again from its record, every field
 * checked, and "mnt[minict-tmpfs-N]:PATH" added to ext. */
int ct_ckpt_tmpfs_restore(int images_fd, struct ct_strlist *ext, mc_err *err);
/* After CRIU's restore: the staging of those mounts goes (the container keeps its binds). */
void ct_ckpt_tmpfs_release(void);
/* Dump side: the init's fds 0-2 as CRIU keys ("pipe:[N]", or "file[MNT:INO]" for a file
 * outside the container, which becomes external), written to the image directory. */
int ct_ckpt_save_stdio(pid_t pid, int images_fd, struct ct_strlist *external, mc_err *err);
/* Restore side: those keys (NULL where none), to inherit our own fds 0-2. */
int ct_ckpt_load_stdio(int images_fd, char *keys[3], mc_err *err);

/* The options checkpoint and restore share (runc's flags), parsed once here. */
struct ct_criu_opts {
	const char *image, *work;
	bool tcp, ext_unix_sk, shell_job, file_locks, lazy;
};
/* Their getopt_long entries, for a verb's option table (needs <getopt.h>). */
/* clang-format off */
#define CT_CRIU_LONGOPTS                                                                           \
	{"image-path", required_argument, 0, 'i'}, {"work-path", required_argument, 0, 'w'},       \
	{"tcp-established", no_argument, 0, 't'}, {"ext-unix-sk", no_argument, 0, 'u'},            \
	{"shell-job", no_argument, 0, 's'}, {"file-locks", no_argument, 0, 'f'},                   \
	{"lazy-pages", no_argument, 0, 'L'}
/* clang-format on */
/* One of those options (getopt's c and optarg) into o: true if c was one of them. */
bool ct_criu_opt(int c, const char *arg, struct ct_criu_opts *o);
/* Without --image-path, runc's default ./checkpoint (*defimg is malloc'd, o->image points
 * into it). */
int ct_criu_opts_default_image(struct ct_criu_opts *o, char **defimg, const char *verb,
			       mc_err *err);
/* The request fields those options set (the network lock is skipped unless TCP connections
 * go along: the network namespace is handed back on restore). */
void ct_criu_opts_req(const struct ct_criu_opts *o, struct ct_criu_req *r);

/* checkpoint's options (runc's flags), and keep_frozen for migrate: dump with leave_running
 * but leave the tasks frozen afterwards (CRIU restores the frozen state it found); the caller
 * then thaws or deletes the container. Only a running container then. */
struct ct_ckpt_opts {
	const char *id;
	struct ct_criu_opts com;
	const char *parent, *page_server;
	bool leave_running, pre_dump, keep_frozen;
	/* migrate: called after each of CRIU's notifications was answered, while CRIU goes on:
	 * "post-dump" (the images are complete), and with com.lazy "status-ready" (the lazy
	 * page server listens on page_server's port; CRIU serves the pages until the client
	 * that fetches them disconnects, then the dump returns). < 0 fails the dump. */
	int (*notified)(void *arg, const char *script, mc_err *err);
	/* migrate: called when all is ready, right before the freeze (a failure stops there);
	 * *frozen_at gets the time of the freeze (mc_now_ns) */
	int (*pre_freeze)(void *arg, mc_err *err);
	void *cb_arg; /* for notified and pre_freeze */
	uint64_t *frozen_at;
	/* migrate (post-copy): once *stay_frozen is true (the destination runs the container),
	 * a dump that fails from then on leaves the tasks frozen instead of thawing them */
	const bool *stay_frozen;
	/* migrate: after a dump that worked criu is hung up on, not waited for: its pid goes
	 * here, for the caller to reap once the stream is out (criu's exit after its answer took
	 * 0.6-7 ms, inside the frozen window; the images are complete at the answer) */
	pid_t *criu_left;
};
int ct_checkpoint(struct ct_global *g, const struct ct_ckpt_opts *o, mc_err *err);

/* restore's options (runc's flags); mac_from_ip is always on (network.c). link_later
 * (receive): the veth's host end stays off its bridge (up) from its creation until CRIU's
 * request, so nothing the container's MAC (the same as the source's, still running there)
 * sends before reaches a bridge. */
struct ct_restore_opts {
	const char *id;
	struct ct_criu_opts com;
	const char *bundle, *pid_file;
	bool detach, link_later;
};
/* Restore a container as `restore` does; *pid (may be NULL) is the restored init. Without
 * detach, waits for the container and returns its exit status. */
int ct_restore(struct ct_global *g, const struct ct_restore_opts *o, pid_t *pid, mc_err *err);
/* The same in two steps, for receive: begin makes everything that does not need the images
 * (the id claimed, cgroups, network namespace and veth, criu swrk started in the cgroups)
 * while they are still on their way; finish reads them and restores (detached). finish and
 * abort undo what begin made when they fail, and free r. o's strings must outlive r. */
struct ct_restoring;
int ct_restore_begin(struct ct_global *g, const struct ct_restore_opts *o, struct ct_restoring **r,
		     mc_err *err);
int ct_restore_finish(struct ct_global *g, struct ct_restoring *r, pid_t *pid, mc_err *err);
void ct_restore_abort(struct ct_global *g, struct ct_restoring *r);

#endif
