/* The security-and-exec sequence shared by the container's init and `exec` (process.c). */
#ifndef MINICT_PROCESS_H
#define MINICT_PROCESS_H

#include "error.h"
#include "spec.h"

/* Receives a warning the caller should log (e.g. an ambient capability the kernel refuses). */
typedef void (*ct_warn_fn)(void *arg, const char *msg);

/* cwd, rlimits, oom_score_adj, AppArmor, umask, bounding set, no_new_privs, user and groups,
 * capabilities, executable lookup, close-on-exec beyond fd 2 + keep_fds, seccomp (sc may be
 * NULL: no filter). On success *exe is the program to run (caller frees). */
int ct_process_prepare(const struct ct_process *p, const struct ct_seccomp *sc, int keep_fds,
		       ct_warn_fn warn, void *warn_arg, char **exe, mc_err *err);
/* execve; returns only on failure. */
int ct_process_exec(const char *exe, const struct ct_process *p, mc_err *err);

#endif
