/* Parent <-> container init synchronisation over a SOCK_SEQPACKET socketpair. A failure in
 * the child travels back as CT_SYNC_ERROR carrying the failing step ("pivot_root: ..."). */
#ifndef MINICT_SYNC_H
#define MINICT_SYNC_H

#include "error.h"

enum ct_sync_type {
	CT_SYNC_MAPS = 1, /* parent -> child: uid/gid maps written */
	CT_SYNC_PREPIVOT, /* child -> parent: mounts done, waiting before pivot_root */
	CT_SYNC_CONTINUE, /* parent -> child: cgroup joined, network and hooks done */
	CT_SYNC_READY,	  /* child -> parent: waiting on exec.fifo */
	CT_SYNC_ERROR,	  /* child -> parent: text names the step */
	CT_SYNC_WARN,	  /* child -> parent: a warning for minict's log; not an answer */
	CT_SYNC_COMMIT,	  /* parent -> child: state.json written, the container exists */
};

struct ct_sync_msg {
	int type;
	int errnum;
	char text[3800];
};

int ct_sync_send(int fd, int type, int errnum, const char *text);
/* Receive one message; EOF becomes "container init exited". */
int ct_sync_recv(int fd, struct ct_sync_msg *m, mc_err *err);
/* Receive and require `want`; a CT_SYNC_ERROR becomes the error, CT_SYNC_WARNs on the way
 * are logged. */
int ct_sync_expect(int fd, int want, mc_err *err);

#endif
