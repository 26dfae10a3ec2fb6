/* Process security set-up before exec: capabilities (libcap), seccomp (libseccomp), user and
 * groups, rlimits, no_new_privileges. */
#ifndef MINICT_SECURITY_H
#define MINICT_SECURITY_H

#include "error.h"
#include "spec.h"
#include "process.h"

/* Drop from the bounding set everything not listed (needs CAP_SETPCAP, so run first). */
int ct_caps_bounding(const struct ct_process *p, mc_err *err);
/* setgroups/setresgid/setresuid keeping capabilities across the uid change. */
int ct_set_user(const struct ct_process *p, mc_err *err);
/* Effective, permitted, inheritable, then ambient. An ambient capability missing from the
 * permitted or inheritable set can't be raised (the kernel's rule): it is skipped with a
 * warning through warn, as runc does, rather than failing the container. */
int ct_caps_apply(const struct ct_process *p, void (*warn)(void *, const char *), void *warn_arg,
		  mc_err *err);
/* Load a seccomp filter. no_new_privs is the config's business, never libseccomp's. */
int ct_seccomp_load(const struct ct_seccomp *sc, mc_err *err);
/* The built-in default profile, for minict's short form (`run --rootfs`) only: an OCI bundle
 * without linux.seccomp gets no filter. */
int ct_seccomp_default(const struct ct_process *p, struct ct_seccomp *sc, mc_err *err);
int ct_rlimits_apply(const struct ct_process *p, mc_err *err);

#endif
