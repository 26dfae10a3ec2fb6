/* Parent <-> container init synchronisation over a SOCK_SEQPACKET socketpair. A failure in
 * the child travels back as MC_SYNC_ERROR carrying the failing step ("pivot_root: ..."). */
#ifndef MINICT_SYNC_H
#define MINICT_SYNC_H

#include "error.h"

enum mc_sync_type {
	MC_SYNC_MAPS = 1, /* parent -> child: uid/gid maps written */
	MC_SYNC_PREPIVOT, /* child -> parent: mounts done, waiting before pivot_root */
	MC_SYNC_CONTINUE, /* parent -> child: cgroup joined, network and hooks done */
	MC_SYNC_READY,	  /* child -> parent: waiting on exec.fifo */
	MC_SYNC_ERROR,	  /* child -> parent: text names the step */
};

struct mc_sync_msg {
	int type;
	int errnum;
	char text[3800];
};

int mc_sync_send(int fd, int type, int errnum, const char *text);
/* Receive one message; EOF becomes "container init exited". */
int mc_sync_recv(int fd, struct mc_sync_msg *m, mc_err *err);
/* Receive and require `want`; an MC_SYNC_ERROR becomes the error. */
int mc_sync_expect(int fd, int want, mc_err *err);

#endif
