/* Capabilities through libcap, and the uid/gid switch that keeps them. */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "security.h"

static bool in_set(const struct ct_caps *c, int k, int cap)
{
	for (int i = 0; i < c->count[k]; i++)
		if (c->set[k][i] == cap)
			return true;
	return false;
}

int ct_caps_bounding(const struct ct_process *p, mc_err *err)
{
	/* A missing object or set is an empty one (as in runc): root regains at execve
	 * whatever the bounding set still holds, so it has to go too. */
	for (int cap = 0; cap <= CAP_LAST_CAP || CAP_IS_SUPPORTED(cap); cap++) {
		if (!CAP_IS_SUPPORTED(cap))
			break;
		if (p->has_caps && in_set(&p->caps, CT_CAP_BOUNDING, cap))
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			return mc_errorf(err, errno, "capabilities: drop %s from bounding set",
					 cap_to_name(cap));
	}
	return 0;
}

int ct_set_user(const struct ct_process *p, mc_err *err)
{
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return mc_errorf(err, errno, "prctl KEEPCAPS");
	if (setgroups(p->ngids, p->gids) < 0 && !(errno == EPERM && p->ngids == 0))
		return mc_errorf(err, errno, "setgroups");
	if (setresgid(p->gid, p->gid, p->gid) < 0)
		return mc_errorf(err, errno, "setresgid %u", p->gid);
	if (setresuid(p->uid, p->uid, p->uid) < 0)
		return mc_errorf(err, errno, "setresuid %u", p->uid);
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		return mc_errorf(err, errno, "prctl KEEPCAPS");
	return 0;
}

int ct_caps_apply(const struct ct_process *p, void (*warn)(void *, const char *), void *warn_arg,
		  mc_err *err)
{
	if (!p->has_caps) {
		/* no capabilities object: the process gets none (as in the OCI spec) */
		cap_t c = cap_init();
		int r = c ? cap_set_proc(c) : -1;
		int e = errno;
		cap_free(c);
		return r < 0 ? mc_errorf(err, e, "capabilities: clear") : 0;
	}
	cap_t c = cap_init();
	if (!c)
		return mc_errorf(err, errno, "cap_init");
	static const cap_flag_t flags[3] = {CAP_EFFECTIVE, CAP_PERMITTED, CAP_INHERITABLE};
	static const int kinds[3] = {CT_CAP_EFFECTIVE, CT_CAP_PERMITTED, CT_CAP_INHERITABLE};
	for (int k = 0; k < 3; k++) {
		int n = p->caps.count[kinds[k]];
		if (n > 0 && cap_set_flag(c, flags[k], n, p->caps.set[kinds[k]], CAP_SET) < 0) {
			cap_free(c);
			return mc_errorf(err, errno, "cap_set_flag");
		}
	}
	if (cap_set_proc(c) < 0) {
		int e = errno;
		cap_free(c);
		return mc_errorf(err, e, "capabilities: set effective/permitted/inheritable");
	}
	cap_free(c);
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return mc_errorf(err, errno, "capabilities: clear ambient");
	for (int i = 0; i < p->caps.count[CT_CAP_AMBIENT]; i++) {
		int cap = p->caps.set[CT_CAP_AMBIENT][i];
		if (in_set(&p->caps, CT_CAP_PERMITTED, cap) &&
		    in_set(&p->caps, CT_CAP_INHERITABLE, cap)) {
			if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
				return mc_errorf(err, errno, "capabilities: raise ambient %s",
						 cap_to_name(cap));
			continue;
		}
		if (warn) {
			char *n = cap_to_name(cap), msg[128];
			snprintf(msg, sizeof(msg),
				 "process.capabilities.ambient: %s is not in both the permitted "
				 "and inheritable sets, so it cannot be raised; skipped",
				 n ? n : "?");
			cap_free(n);
			warn(warn_arg, msg);
		}
	}
	return 0;
}
