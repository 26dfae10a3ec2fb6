/* Process security set-up before exec: capabilities (libcap), seccomp (libseccomp), user and
 * groups, rlimits, no_new_privileges. */
#ifndef MINICT_SECURITY_H
#define MINICT_SECURITY_H

#include "error.h"
#include "spec.h"

/* Drop from the bounding set everything not listed (needs CAP_SETPCAP, so run first). */
int ct_caps_bounding(const struct ct_process *p, mc_err *err);
/* setgroups/setresgid/setresuid keeping capabilities across the uid change. */
int ct_set_user(const struct ct_process *p, mc_err *err);
/* Effective, permitted, inheritable, then ambient. */
int ct_caps_apply(const struct ct_process *p, mc_err *err);
/* Load the spec's filter, or the built-in default profile when spec has none. */
int ct_seccomp_load(const struct ct_spec *spec, mc_err *err);
/* Build the built-in default profile into spec->seccomp (used when config has none). */
int ct_seccomp_default(const struct ct_process *p, struct ct_seccomp *sc, mc_err *err);
int ct_rlimits_apply(const struct ct_process *p, mc_err *err);

#endif
