/* config.json "linux.seccomp": actions, architectures, syscall rules (names checked with
 * libseccomp so a typo is reported at parse time, not silently ignored). */
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"
#include "jsonh.h"

static int parse_action(json_object *o, const char *ctx, const char *key, const char *errno_key,
			uint32_t *out, mc_err *err)
{
	char *a = NULL;
	int r = ct_j_str(o, ctx, key, &a, err);
	if (r < 0)
		return -1;
	if (!r)
		return mc_errorf(err, 0, "%s.%s: missing", ctx, key);
	int64_t eno = EPERM;
	if (ct_j_i64(o, ctx, errno_key, 0, 4095, &eno, err) < 0) {
		free(a);
		return -1;
	}
	if (!strcmp(a, "SCMP_ACT_KILL") || !strcmp(a, "SCMP_ACT_KILL_THREAD"))
		*out = SCMP_ACT_KILL_THREAD;
	else if (!strcmp(a, "SCMP_ACT_KILL_PROCESS"))
		*out = SCMP_ACT_KILL_PROCESS;
	else if (!strcmp(a, "SCMP_ACT_TRAP"))
		*out = SCMP_ACT_TRAP;
	else if (!strcmp(a, "SCMP_ACT_ERRNO"))
		*out = SCMP_ACT_ERRNO(eno);
	else if (!strcmp(a, "SCMP_ACT_TRACE"))
		*out = SCMP_ACT_TRACE(eno);
	else if (!strcmp(a, "SCMP_ACT_ALLOW"))
		*out = SCMP_ACT_ALLOW;
	else if (!strcmp(a, "SCMP_ACT_LOG"))
		*out = SCMP_ACT_LOG;
	else {
		mc_errorf(err, 0, "%s.%s: unknown seccomp action \"%s\"", ctx, key, a);
		free(a);
		return -1;
	}
	free(a);
	return 0;
}

static int parse_arch(const char *name, uint32_t *out)
{
	static const struct {
		const char *n;
		uint32_t a;
	} t[] = {
	    {"SCMP_ARCH_X86", SCMP_ARCH_X86},		{"SCMP_ARCH_X86_64", SCMP_ARCH_X86_64},
	    {"SCMP_ARCH_X32", SCMP_ARCH_X32},		{"SCMP_ARCH_ARM", SCMP_ARCH_ARM},
	    {"SCMP_ARCH_AARCH64", SCMP_ARCH_AARCH64},	{"SCMP_ARCH_MIPS", SCMP_ARCH_MIPS},
	    {"SCMP_ARCH_MIPS64", SCMP_ARCH_MIPS64},	{"SCMP_ARCH_MIPSEL", SCMP_ARCH_MIPSEL},
	    {"SCMP_ARCH_MIPSEL64", SCMP_ARCH_MIPSEL64}, {"SCMP_ARCH_PPC", SCMP_ARCH_PPC},
	    {"SCMP_ARCH_PPC64", SCMP_ARCH_PPC64},	{"SCMP_ARCH_PPC64LE", SCMP_ARCH_PPC64LE},
	    {"SCMP_ARCH_S390", SCMP_ARCH_S390},		{"SCMP_ARCH_S390X", SCMP_ARCH_S390X},
	    {"SCMP_ARCH_RISCV64", SCMP_ARCH_RISCV64}};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (!strcmp(name, t[i].n)) {
			*out = t[i].a;
			return 0;
		}
	return -1;
}

static int parse_op(const char *s, int *op)
{
	static const struct {
		const char *n;
		int op;
	} t[] = {{"SCMP_CMP_NE", SCMP_CMP_NE},
		 {"SCMP_CMP_LT", SCMP_CMP_LT},
		 {"SCMP_CMP_LE", SCMP_CMP_LE},
		 {"SCMP_CMP_EQ", SCMP_CMP_EQ},
		 {"SCMP_CMP_GE", SCMP_CMP_GE},
		 {"SCMP_CMP_GT", SCMP_CMP_GT},
		 {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ}};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (!strcmp(s, t[i].n)) {
			*op = t[i].op;
			return 0;
		}
	return -1;
}

static int parse_rule(json_object *e, const char *ctx, struct ct_seccomp_rule *rule, mc_err *err)
{
	int r = ct_j_strv(e, ctx, "names", &rule->names, &rule->nnames, err);
	if (r < 0)
		return -1;
	if (!r || rule->nnames == 0)
		return mc_errorf(err, 0, "%s.names: must be a non-empty array", ctx);
	for (size_t i = 0; i < rule->nnames; i++)
		if (seccomp_syscall_resolve_name(rule->names[i]) == __NR_SCMP_ERROR)
			return mc_errorf(err, 0, "%s.names[%zu]: unknown syscall \"%s\"", ctx, i,
					 rule->names[i]);
	if (parse_action(e, ctx, "action", "errnoRet", &rule->action, err) < 0)
		return -1;
	json_object *a;
	if ((r = ct_j_arr(e, ctx, "args", &a, err)) < 0)
		return -1;
	if (!r)
		return 0;
	size_t n = json_object_array_length(a);
	if (n > 6)
		return mc_errorf(err, 0, "%s.args: at most 6 argument filters", ctx);
	rule->args = calloc(n + 1, sizeof(*rule->args));
	if (!rule->args)
		return mc_errorf(err, ENOMEM, "%s", ctx);
	for (size_t i = 0; i < n; i++) {
		json_object *ae = json_object_array_get_idx(a, i);
		char actx[96];
		snprintf(actx, sizeof(actx), "%s.args[%zu]", ctx, i);
		if (!ae || !json_object_is_type(ae, json_type_object))
			return mc_errorf(err, 0, "%s: expected an object", actx);
		struct ct_seccomp_arg *sa = &rule->args[i];
		int64_t idx;
		if (ct_j_i64(ae, actx, "index", 0, 5, &idx, err) != 1)
			return mc_errorf(err, 0, "%s.index: missing or not 0..5", actx);
		sa->index = idx;
		json_object *v;
		if (!json_object_object_get_ex(ae, "value", &v) ||
		    !json_object_is_type(v, json_type_int))
			return mc_errorf(err, 0, "%s.value: expected an integer", actx);
		sa->value = json_object_get_uint64(v);
		if (json_object_object_get_ex(ae, "valueTwo", &v) && v) {
			if (!json_object_is_type(v, json_type_int))
				return mc_errorf(err, 0, "%s.valueTwo: expected an integer", actx);
			sa->value_two = json_object_get_uint64(v);
		}
		char *op = NULL;
		if (ct_j_str(ae, actx, "op", &op, err) != 1)
			return mc_errorf(err, 0, "%s.op: missing", actx);
		if (parse_op(op, &sa->op) < 0) {
			mc_errorf(err, 0, "%s.op: unknown operator \"%s\"", actx, op);
			free(op);
			return -1;
		}
		free(op);
		rule->nargs = i + 1;
	}
	return 0;
}

int ct_spec_parse_seccomp(json_object *o, struct ct_seccomp *sc, mc_err *err)
{
	const char *ctx = "linux.seccomp";
	if (parse_action(o, ctx, "defaultAction", "defaultErrnoRet", &sc->default_action, err) < 0)
		return -1;
	int r;
	char **v = NULL;
	size_t n = 0;
	if ((r = ct_j_strv(o, ctx, "architectures", &v, &n, err)) < 0)
		return -1;
	if (r) {
		sc->archs = calloc(n + 1, sizeof(uint32_t));
		if (!sc->archs) {
			ct_strv_free(v);
			return mc_errorf(err, ENOMEM, "%s", ctx);
		}
		for (size_t i = 0; i < n; i++)
			if (parse_arch(v[i], &sc->archs[i]) < 0) {
				mc_errorf(err, 0,
					  "%s.architectures[%zu]: unknown architecture \"%s\"", ctx,
					  i, v[i]);
				ct_strv_free(v);
				return -1;
			}
		sc->narchs = n;
		ct_strv_free(v);
	}
	v = NULL;
	if ((r = ct_j_strv(o, ctx, "flags", &v, &n, err)) < 0)
		return -1;
	for (size_t i = 0; r && i < n; i++) {
		if (!strcmp(v[i], "SECCOMP_FILTER_FLAG_LOG"))
			sc->flag_log = true;
		else if (!strcmp(v[i], "SECCOMP_FILTER_FLAG_SPEC_ALLOW"))
			sc->flag_spec_allow = true;
		else if (strcmp(v[i], "SECCOMP_FILTER_FLAG_TSYNC") != 0) {
			mc_errorf(err, 0, "%s.flags[%zu]: unknown flag \"%s\"", ctx, i, v[i]);
			ct_strv_free(v);
			return -1;
		}
	}
	ct_strv_free(v);
	json_object *a;
	if ((r = ct_j_arr(o, ctx, "syscalls", &a, err)) < 0)
		return -1;
	if (!r)
		return 0;
	n = json_object_array_length(a);
	sc->rules = calloc(n + 1, sizeof(*sc->rules));
	if (!sc->rules)
		return mc_errorf(err, ENOMEM, "%s", ctx);
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(a, i);
		char rctx[64];
		snprintf(rctx, sizeof(rctx), "%s.syscalls[%zu]", ctx, i);
		if (!e || !json_object_is_type(e, json_type_object))
			return mc_errorf(err, 0, "%s: expected an object", rctx);
		sc->nrules = i + 1;
		if (parse_rule(e, rctx, &sc->rules[i], err) < 0)
			return -1;
	}
	return 0;
}
