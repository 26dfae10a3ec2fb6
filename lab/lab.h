/* minilab: the nested-KVM lab (docs/lab.md). The host side: start/stop/status of the QEMU TCG
 * VM and its virtio-fs daemons, and `run`, the client of the agent inside. */
#ifndef LAB_LAB_H
#define LAB_LAB_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

/* minilab's own failures (lab can't start, connection lost): as `docker run` does. */
#define LAB_EXIT_FAILURE 125

struct lab_paths {
	char checkout[4096]; /* the project checkout this minilab belongs to */
	char state[4200];    /* <checkout>/build/lab: token, port, pids, logs */
	char sockdir[256];   /* /run/minilab/<hash>: vhost-user sockets (short paths) */
};

struct lab_state {
	pid_t qemu, vfs_root, vfs_checkout;
	uint16_t port;
	char token[80];
};

int lab_paths_init(struct lab_paths *p, mc_err *err);
/* The socket folder that belongs to p->state. */
void lab_paths_set_sockdir(struct lab_paths *p);
/* 1 if a lab of this checkout is running (st filled), 0 if not, -1 on error. */
int lab_running(const struct lab_paths *p, struct lab_state *st, mc_err *err);
#define LAB_START_QUIET 1u /* no "ready" line */
#define LAB_START_TIED	2u /* QEMU and virtiofsd die with this process (one-shot runs) */
int lab_start(const struct lab_paths *p, unsigned flags, mc_err *err);
int lab_stop(const struct lab_paths *p, mc_err *err);
/* force: don't ask the agent to power off (a lab that stopped answering), end QEMU at once. */
int lab_stop_how(const struct lab_paths *p, bool force, mc_err *err);
/* Connect to the agent and authenticate; returns the socket. */
int lab_connect(const struct lab_state *st, mc_err *err);
/* Run argv in the lab, relaying stdio; *status gets the command's exit status. Returns 0, -1
 * on failure, or LAB_RUN_DEAD when the lab stopped answering (no frame for LAB_DEAD_MS). */
#define LAB_RUN_DEAD (-2)
int lab_run(const struct lab_state *st, char **argv, int *status, mc_err *err);
/* Write what QEMU's monitor says about the lab's CPUs (info cpus, info registers -a) to
 * out_path: for a lab that stopped answering. 0 or -1. */
int lab_dump_cpus(const struct lab_paths *p, const char *out_path);
/* Where the lab kernel's code symbols are saved (by the agent, once per kernel version). */
int lab_kallsyms_path(const struct lab_paths *p, const char *kver, char *out, size_t n);

#endif
