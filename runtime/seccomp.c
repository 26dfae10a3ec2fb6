/* Load a seccomp filter from struct ct_seccomp with libseccomp. */
#include <errno.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>

#include "security.h"

int ct_seccomp_load(const struct ct_seccomp *sc, mc_err *err)
{
	int ret = 0;
	scmp_filter_ctx ctx = seccomp_init(sc->default_action);
	if (!ctx) {
		ret = mc_errorf(err, EINVAL, "seccomp: init");
		goto out;
	}
	for (size_t i = 0; i < sc->narchs; i++) {
		int r = seccomp_arch_add(ctx, sc->archs[i]);
		if (r < 0 && r != -EEXIST) {
			ret = mc_errorf(err, -r, "seccomp: architectures[%zu]", i);
			goto out;
		}
	}
	/* libseccomp sets no_new_privs before loading unless told not to: whether the process
	 * gets it is process.noNewPrivileges' decision (without it, loading needs
	 * CAP_SYS_ADMIN, which the caller still holds then) */
	if (seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0) < 0) {
		ret = mc_errorf(err, EINVAL, "seccomp: clear the no_new_privs attribute");
		goto out;
	}
	if (sc->flag_log)
		seccomp_attr_set(ctx, SCMP_FLTATR_CTL_LOG, 1);
	if (sc->flag_spec_allow)
		seccomp_attr_set(ctx, SCMP_FLTATR_CTL_SSB, 1);
	for (size_t i = 0; i < sc->nrules; i++) {
		const struct ct_seccomp_rule *rule = &sc->rules[i];
		if (rule->action == sc->default_action)
			continue;
		struct scmp_arg_cmp cmp[6];
		for (size_t k = 0; k < rule->nargs && k < 6; k++) {
			cmp[k].arg = rule->args[k].index;
			cmp[k].op = rule->args[k].op;
			cmp[k].datum_a = rule->args[k].value;
			cmp[k].datum_b = rule->args[k].value_two;
		}
		for (size_t n = 0; n < rule->nnames; n++) {
			int nr = seccomp_syscall_resolve_name(rule->names[n]);
			if (nr == __NR_SCMP_ERROR)
				continue;
			int r = seccomp_rule_add_array(ctx, rule->action, nr, rule->nargs, cmp);
			if (r < 0) {
				ret = mc_errorf(err, -r, "seccomp: syscalls[%zu] %s", i,
						rule->names[n]);
				goto out;
			}
		}
	}
	int r = seccomp_load(ctx);
	if (r < 0)
		ret = mc_errorf(err, -r, "seccomp: load filter");
out:
	if (ctx)
		seccomp_release(ctx);
	return ret;
}
