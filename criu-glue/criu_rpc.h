/* A CRIU client over its RPC interface: `criu swrk FD` on a SOCK_SEQPACKET socketpair, one
 * criu_req / criu_resp (CRIU's own rpc.proto, through protobuf-c) per packet, with the
 * NOTIFY messages CRIU sends during an operation answered in between. Nothing here knows about
 * containers: runtime/verb_checkpoint.c and verb_restore.c fill a ct_criu_req. */
#ifndef CT_CRIU_RPC_H
#define CT_CRIU_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "error.h"

enum ct_criu_op { CT_CRIU_DUMP, CT_CRIU_PRE_DUMP, CT_CRIU_RESTORE, CT_CRIU_PAGE_SERVER };

/* An inherited descriptor: fd is a number in criu's own table (kept open across the exec). */
struct ct_criu_ifd {
	const char *key;
	int fd;
};
/* The cgroup a controller is restored under; ctrl NULL: every controller without its own. */
struct ct_criu_cgroot {
	const char *ctrl, *path;
};

struct ct_criu_req {
	enum ct_criu_op op;
	int images_fd, work_fd; /* directories; CRIU opens them through /proc/<our pid>/fd */
	const char *log_file;	/* inside the work directory */
	int log_level;		/* 0: CRIU's default */
	pid_t pid;		/* dump: the root of the tree */
	const char *root;	/* the container's rootfs */
	const char *parent;	/* previous (pre-)dump, relative to the images directory */
	const char *freeze_cgroup;
	const char *cgroup_yard; /* every hierarchy mounted at DIR/<controllers>, or NULL */
	bool leave_running, tcp_established, file_locks, ext_unix_sk, shell_job, lazy_pages,
	    track_mem, rst_sibling, manage_cgroups, network_lock_skip;
	int cg_mode;		/* enum criu_cg_mode; < 0: CRIU's default */
	int timeout_s;		/* > 0: give up (and kill criu) when it has not answered by then */
	const char *ps_address; /* page server, or NULL */
	int ps_port;
	const char *const *external; /* --external strings: "mnt[...]:...", "net[...]:..." */
	size_t nexternal;
	const struct ct_criu_ifd *inherit;
	size_t ninherit;
	const struct ct_criu_cgroot *cg_root;
	size_t ncg_root;
	/* Called for each NOTIFY ("setup-namespaces", "post-restore"...) with the pid CRIU gives
	 * (the restored root task, where it applies); < 0 fails the operation. May be NULL. */
	int (*notify)(void *arg, const char *script, pid_t pid, mc_err *err);
	void *notify_arg;
	/* Called after a NOTIFY was answered (CRIU goes on meanwhile), e.g. "post-dump": the
	 * images are complete and a lazy dump starts serving pages. < 0 fails the operation
	 * here (criu is left to the caller: stop it). May be NULL. */
	int (*after_notify)(void *arg, const char *script, mc_err *err);
};

struct ct_criu {
	pid_t pid; /* the `criu swrk` process, -1 when none */
	int sk;	   /* our end of the socketpair */
};

/* fork + exec `bin swrk FD`. keep[] stay open in criu at the same numbers (inherit_fd); its
 * stdio is ours with stdio (restore hands it to the container), else /dev/null (criu prints
 * a complaint there when a session ends without a final request). */
int ct_criu_start(struct ct_criu *c, const char *bin, const int *keep, size_t nkeep, bool stdio,
		  mc_err *err);
/* The same with criu in the network namespace netns (an fd; -1: ours). CRIU dumps no network
 * namespace it shares, and its restore leaves the tasks in its own. */
int ct_criu_start_in(struct ct_criu *c, const char *bin, const int *keep, size_t nkeep, bool stdio,
		     int netns, mc_err *err);
/* VERSION (the session stays open): e.g. 4, 1, 1. */
int ct_criu_version(struct ct_criu *c, int *major, int *minor, int *sub, mc_err *err);
/* FEATURE_CHECK (the session stays open): dirty-memory tracking and lazy pages. */
int ct_criu_features(struct ct_criu *c, bool *mem_track, bool *lazy_pages, mc_err *err);
/* Send the request, answer NOTIFY messages, wait for the result. RESTORE: *restored is the
 * root task's pid. On failure the error carries CRIU's own reason (its message, else the
 * first error line of the log) and the log's path. */
int ct_criu_run(struct ct_criu *c, const struct ct_criu_req *r, pid_t *restored, mc_err *err);
/* PAGE_SERVER: a page server (a daemon: it outlives this session and exits when its client
 * closes) listening on r->ps_address, port r->ps_port (0: any; *port says which), writing into
 * r->images_fd with r->parent; *pid is the daemon's. Uses images_fd, work_fd, log_file,
 * log_level, parent, ps_address, ps_port. */
int ct_criu_page_server(struct ct_criu *c, const struct ct_criu_req *r, pid_t *pid, int *port,
			mc_err *err);
/* Close the socket and reap criu. */
void ct_criu_stop(struct ct_criu *c);
/* Hang up on criu without waiting for it to exit: its pid (-1: none) for the caller to reap. */
pid_t ct_criu_hangup(struct ct_criu *c);

/* CRIU's first real error in log (skipping what this host always logs), "" when none. */
void ct_criu_log_error(int dirfd, const char *log, char *buf, size_t n);

#endif
