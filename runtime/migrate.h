/* What `migrate` and `receive` share (docs/checkpoint.md "Migration"): the stream's sections
 * on top of lib/migstream.h, the rootfs and image sections, their checks, the endpoints. */
#ifndef MINICT_MIGRATE_H
#define MINICT_MIGRATE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "error.h"
#include "migstream.h"

#define CT_MIG_MAGIC   "MCTMIGR\n"
#define CT_MIG_VERSION 2u
enum {
	CT_MIG_CONFIG = 1,
	CT_MIG_FILE = 2,
	CT_MIG_IMAGE = 3,
	CT_MIG_DELTA = 4,  /* no meta, no data: rootfs entries after it replace what is there */
	CT_MIG_DELETE = 5, /* after CT_MIG_DELTA: meta is a rootfs path to remove */
	CT_MIG_ROUND = 6,  /* pre-copy: meta a round's directory ("" the final images), data the
			      previous round's name; the destination answers CT_MIG_PS */
	CT_MIG_SYNC = 8,   /* no meta, no data: the destination answers CT_MIG_READY once it has
			      everything before (the source freezes after that) */
	CT_MIG_LAZY = 7,   /* post-copy, before the end: data JSON {"port": N}, the source's
			      lazy page server (on the stream's source address) */
	CT_MIG_RESTORED = 16,
	CT_MIG_FAILED = 17,
	CT_MIG_PS = 18,	      /* data: JSON {"port": N}, the page server for the round */
	CT_MIG_READY = 19,    /* the answer to CT_MIG_SYNC */
	CT_MIG_COMPLETE = 20, /* post-copy, after CT_MIG_RESTORED: every page is here (data: JSON
				 {"lazy_ms": X}); CT_MIG_FAILED instead: the destination lost it */
};
enum { CT_MIG_DIR = 1, CT_MIG_REG = 2, CT_MIG_SYMLINK = 3, CT_MIG_FIFO = 4 };
#define CT_MIG_ENTRY_HDR  32u
#define CT_MIG_PATH_MAX	  4095u
#define CT_MIG_META_MAX	  (4096u + CT_MIG_ENTRY_HDR)
#define CT_MIG_CONFIG_MAX (1u << 20)
#define CT_MIG_FILE_MAX	  (1ull << 40)
#define CT_MIG_ANSWER_MAX 4096u
#define CT_MIG_IO_TIMEOUT 60

/* "HOST:PORT" (an IPv4 address or a name that resolves to one), after an optional "tcp:". */
int ct_mig_parse_endpoint(const char *s, struct sockaddr_in *sa, mc_err *err);
/* Send and receive timeouts on a socket. */
int ct_mig_timeouts(int fd, int seconds, mc_err *err);

struct ct_mig_counts {
	uint64_t entries, file_bytes, images, image_bytes, delta_entries, delta_bytes, deleted;
};
/* What the first pass sent (path, ctime, size, type), for the delta after the freeze. */
struct ct_mig_tree {
	struct ct_mig_rec *v;
	size_t n, cap;
	struct timespec t0; /* when the first pass started (CLOCK_REALTIME) */
};
void ct_mig_tree_free(struct ct_mig_tree *t);
/* Source: every entry of the tree at root (not across mount points), recorded in tree (may be
 * NULL); then every file of the CRIU image directory but its logs. */
int ct_mig_send_rootfs(struct mc_ms *s, const char *root, struct ct_mig_counts *c,
		       struct ct_mig_tree *tree, mc_err *err);
/* The second pass, once the container is frozen: CT_MIG_DELTA, then the entries that are new
 * or changed since the first pass (another ctime or size, or a ctime close to or after its
 * start: timestamps are as coarse as the kernel's tick), then CT_MIG_DELETE for what went. */
int ct_mig_send_rootfs_delta(struct mc_ms *s, const char *root, struct ct_mig_counts *c,
			     struct ct_mig_tree *tree, mc_err *err);
int ct_mig_send_images(struct mc_ms *s, const char *dir, struct ct_mig_counts *c, mc_err *err);

/* Destination checks: a rootfs path (relative, no "", ".", ".." components, no NUL, at most
 * CT_MIG_PATH_MAX; "." alone is the root) and an image file name. */
int ct_mig_check_path(const char *p, size_t len, mc_err *err);
int ct_mig_check_name(const char *n, size_t len, mc_err *err);
/* Create one rootfs entry under rootfd from its meta, its data read from s; replace: what is
 * there under that path goes first (a directory onto a directory only gets its owner and mode). */
int ct_mig_recv_entry(struct mc_ms *s, int rootfd, const uint8_t *meta, uint32_t meta_len,
		      uint64_t data_len, bool replace, mc_err *err);
/* Remove a rootfs path (CT_MIG_DELETE), never crossing a mount point; gone already is fine. */
int ct_mig_recv_delete(int rootfd, const char *path, uint32_t len, mc_err *err);
/* rm -rf that never crosses a mount point (CRIU's cgroup yard, a bind mount): what is mounted
 * stays, and the function fails. */
int ct_mig_rm_tree(const char *path, mc_err *err);

#endif
