/* config.json -> struct ct_spec: the top level, process, mounts and hooks. The linux section
 * is in config_linux.c. Every error names the field it is about. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "cleanup.h"
#include "config_internal.h"
#include "jsonh.h"
#include "util.h"

static const struct {
	const char *name;
	int res;
} rlimit_names[] = {
    {"RLIMIT_AS", RLIMIT_AS},
    {"RLIMIT_CORE", RLIMIT_CORE},
    {"RLIMIT_CPU", RLIMIT_CPU},
    {"RLIMIT_DATA", RLIMIT_DATA},
    {"RLIMIT_FSIZE", RLIMIT_FSIZE},
    {"RLIMIT_LOCKS", RLIMIT_LOCKS},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
    {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
    {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"RLIMIT_NPROC", RLIMIT_NPROC},
    {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
    {"RLIMIT_RTTIME", RLIMIT_RTTIME},
    {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_STACK", RLIMIT_STACK},
};

static int parse_caps(json_object *o, struct ct_caps *caps, mc_err *err)
{
	static const char *keys[5] = {"bounding", "effective", "permitted", "inheritable",
				      "ambient"};
	for (int k = 0; k < 5; k++) {
		char **names = NULL;
		size_t n = 0;
		caps->count[k] = -1;
		int r = ct_j_strv(o, "process.capabilities", keys[k], &names, &n, err);
		if (r < 0)
			return -1;
		if (r == 0)
			continue;
		caps->set[k] = calloc(n + 1, sizeof(int));
		if (!caps->set[k]) {
			ct_strv_free(names);
			return mc_errorf(err, ENOMEM, "process.capabilities");
		}
		caps->count[k] = 0;
		for (size_t i = 0; i < n; i++) {
			cap_value_t v;
			if (cap_from_name(names[i], &v) < 0) {
				mc_errorf(err, 0,
					  "process.capabilities.%s[%zu]: unknown capability "
					  "\"%s\"",
					  keys[k], i, names[i]);
				ct_strv_free(names);
				return -1;
			}
			if (!CAP_IS_SUPPORTED(v)) {
				/* a capability newer than this kernel: skip like runc does */
				continue;
			}
			caps->set[k][caps->count[k]++] = v;
		}
		ct_strv_free(names);
	}
	return 0;
}

/* Fields of the spec minict knows but cannot honour: refused with a clear error when set
 * (an empty string, array or object counts as unset), never silently dropped. Unknown
 * fields are ignored, as config.md requires. */
static const char *const process_unsupported[] = {"selinuxLabel", "ioPriority", "scheduler",
						  "execCPUAffinity", NULL};

static int parse_user(json_object *o, struct ct_process *proc, mc_err *err)
{
	int64_t v;
	int r;
	if ((r = ct_j_i64(o, "process.user", "uid", 0, UINT32_MAX - 1, &v, err)) < 0)
		return -1;
	if (r)
		proc->uid = v;
	if ((r = ct_j_i64(o, "process.user", "gid", 0, UINT32_MAX - 1, &v, err)) < 0)
		return -1;
	if (r)
		proc->gid = v;
	if ((r = ct_j_i64(o, "process.user", "umask", 0, 0777, &v, err)) < 0)
		return -1;
	if (r) {
		proc->has_umask = true;
		proc->umask = v;
	}
	json_object *a;
	if ((r = ct_j_arr(o, "process.user", "additionalGids", &a, err)) < 0)
		return -1;
	if (r) {
		size_t n = json_object_array_length(a);
		if (n > 65536)
			return mc_errorf(err, 0, "process.user.additionalGids: too many");
		proc->gids = calloc(n + 1, sizeof(gid_t));
		if (!proc->gids)
			return mc_errorf(err, ENOMEM, "process.user.additionalGids");
		for (size_t i = 0; i < n; i++) {
			json_object *e = json_object_array_get_idx(a, i);
			if (!e || !json_object_is_type(e, json_type_int) ||
			    json_object_get_int64(e) < 0 || json_object_get_int64(e) >= UINT32_MAX)
				return mc_errorf(err, 0,
						 "process.user.additionalGids[%zu]: expected "
						 "a gid",
						 i);
			proc->gids[i] = json_object_get_int64(e);
		}
		proc->ngids = n;
	}
	return 0;
}

static int parse_rlimits(json_object *a, struct ct_process *proc, mc_err *err)
{
	int r;
	size_t n = json_object_array_length(a);
	proc->rlimits = calloc(n + 1, sizeof(*proc->rlimits));
	if (!proc->rlimits)
		return mc_errorf(err, ENOMEM, "process.rlimits");
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(a, i);
		char ctx[64];
		snprintf(ctx, sizeof(ctx), "process.rlimits[%zu]", i);
		if (!e || !json_object_is_type(e, json_type_object))
			return mc_errorf(err, 0, "%s: expected an object", ctx);
		struct ct_rlimit *rl = &proc->rlimits[i];
		proc->nrlimits = i + 1;
		if ((r = ct_j_str(e, ctx, "type", &rl->type, err)) < 0)
			return -1;
		if (!r)
			return mc_errorf(err, 0, "%s.type: missing", ctx);
		rl->resource = -1;
		for (size_t k = 0; k < MC_ARRAY_SIZE(rlimit_names); k++)
			if (!strcmp(rl->type, rlimit_names[k].name))
				rl->resource = rlimit_names[k].res;
		if (rl->resource < 0)
			return mc_errorf(err, 0, "%s.type: unknown rlimit \"%s\"", ctx, rl->type);
		json_object *jv;
		for (int k = 0; k < 2; k++) {
			const char *key = k ? "hard" : "soft";
			if (!json_object_object_get_ex(e, key, &jv) ||
			    !json_object_is_type(jv, json_type_int))
				return mc_errorf(err, 0, "%s.%s: expected an integer", ctx, key);
			uint64_t x = json_object_get_uint64(jv);
			if (json_object_get_int64(jv) < 0)
				x = RLIM_INFINITY;
			*(k ? &rl->hard : &rl->soft) = x;
		}
		if (rl->soft > rl->hard)
			return mc_errorf(err, 0, "%s: soft limit above hard limit", ctx);
	}
	return 0;
}

static int parse_process(json_object *p, struct ct_process *proc, mc_err *err)
{
	json_object *o;
	int64_t v;
	int r;
	if (ct_j_bool(p, "process", "terminal", &proc->terminal, err) < 0)
		return -1;
	if ((r = ct_j_obj(p, "process", "consoleSize", &o, err)) < 0)
		return -1;
	if (r) {
		if (ct_j_i64(o, "process.consoleSize", "height", 0, 65535, &v, err) < 0)
			return -1;
		proc->console_h = v;
		if (ct_j_i64(o, "process.consoleSize", "width", 0, 65535, &v, err) < 0)
			return -1;
		proc->console_w = v;
	}
	if ((r = ct_j_obj(p, "process", "user", &o, err)) < 0)
		return -1;
	if (r && parse_user(o, proc, err) < 0)
		return -1;
	size_t nargs = 0;
	if ((r = ct_j_strv(p, "process", "args", &proc->args, &nargs, err)) < 0)
		return -1;
	if (!r || nargs == 0)
		return mc_errorf(err, 0, "process.args: must be a non-empty array");
	if (ct_j_strv(p, "process", "env", &proc->env, NULL, err) < 0)
		return -1;
	if ((r = ct_j_str(p, "process", "cwd", &proc->cwd, err)) < 0)
		return -1;
	if (!r)
		proc->cwd = strdup("/");
	if (proc->cwd[0] != '/')
		return mc_errorf(err, 0, "process.cwd: \"%s\" is not an absolute path", proc->cwd);
	if ((r = ct_j_obj(p, "process", "capabilities", &o, err)) < 0)
		return -1;
	if (r) {
		proc->has_caps = true;
		if (parse_caps(o, &proc->caps, err) < 0)
			return -1;
	}
	json_object *a;
	if ((r = ct_j_arr(p, "process", "rlimits", &a, err)) < 0)
		return -1;
	if (r && parse_rlimits(a, proc, err) < 0)
		return -1;
	if (ct_j_bool(p, "process", "noNewPrivileges", &proc->no_new_privileges, err) < 0)
		return -1;
	if ((r = ct_j_i64(p, "process", "oomScoreAdj", -1000, 1000, &v, err)) < 0)
		return -1;
	if (r) {
		proc->has_oom_score_adj = true;
		proc->oom_score_adj = v;
	}
	if (ct_j_str(p, "process", "apparmorProfile", &proc->apparmor_profile, err) < 0)
		return -1;
	if (proc->apparmor_profile && !*proc->apparmor_profile) {
		free(proc->apparmor_profile);
		proc->apparmor_profile = NULL;
	}
	return ct_j_refuse(p, "process", process_unsupported, err);
}

static const struct {
	const char *name;
	bool clear;
	unsigned long flag;
} mount_flags[] = {
    {"defaults", false, 0},
    {"ro", false, MS_RDONLY},
    {"rw", true, MS_RDONLY},
    {"nosuid", false, MS_NOSUID},
    {"suid", true, MS_NOSUID},
    {"nodev", false, MS_NODEV},
    {"dev", true, MS_NODEV},
    {"noexec", false, MS_NOEXEC},
    {"exec", true, MS_NOEXEC},
    {"sync", false, MS_SYNCHRONOUS},
    {"async", true, MS_SYNCHRONOUS},
    {"dirsync", false, MS_DIRSYNC},
    {"remount", false, MS_REMOUNT},
    {"mand", false, MS_MANDLOCK},
    {"nomand", true, MS_MANDLOCK},
    {"atime", true, MS_NOATIME},
    {"noatime", false, MS_NOATIME},
    {"diratime", true, MS_NODIRATIME},
    {"nodiratime", false, MS_NODIRATIME},
    {"relatime", false, MS_RELATIME},
    {"norelatime", true, MS_RELATIME},
    {"strictatime", false, MS_STRICTATIME},
    {"nostrictatime", true, MS_STRICTATIME},
    {"lazytime", false, MS_LAZYTIME},
    {"nolazytime", true, MS_LAZYTIME},
};
static const struct {
	const char *name;
	unsigned long flag;
} prop_flags[] = {
    {"private", MS_PRIVATE},	   {"rprivate", MS_PRIVATE | MS_REC},
    {"shared", MS_SHARED},	   {"rshared", MS_SHARED | MS_REC},
    {"slave", MS_SLAVE},	   {"rslave", MS_SLAVE | MS_REC},
    {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC},
};

int ct_mount_options(struct ct_mount *m, char **opts, size_t n, mc_err *err)
{
	size_t cap = 1, len = 0;
	for (size_t i = 0; i < n; i++)
		cap += strlen(opts[i]) + 1;
	_cleanup_free_ char *data = calloc(1, cap);
	if (!data)
		return mc_errorf(err, ENOMEM, "mount options");
	for (size_t i = 0; i < n; i++) {
		const char *o = opts[i];
		bool done = false;
		if (!strcmp(o, "bind") || !strcmp(o, "rbind")) {
			m->bind = true;
			m->flags |= MS_BIND | (o[0] == 'r' ? MS_REC : 0);
			continue;
		}
		/* SELinux relabel and copy-up hints: nothing to do for us */
		if (!strcmp(o, "z") || !strcmp(o, "Z") || !strcmp(o, "tmpcopyup") ||
		    !strcmp(o, "notmpcopyup"))
			continue;
		for (size_t k = 0; k < MC_ARRAY_SIZE(mount_flags) && !done; k++)
			if (!strcmp(o, mount_flags[k].name)) {
				if (mount_flags[k].clear) {
					m->flags &= ~mount_flags[k].flag;
					m->clear_flags |= mount_flags[k].flag;
				} else {
					m->flags |= mount_flags[k].flag;
					m->clear_flags &= ~mount_flags[k].flag;
				}
				done = true;
			}
		for (size_t k = 0; k < MC_ARRAY_SIZE(prop_flags) && !done; k++)
			if (!strcmp(o, prop_flags[k].name)) {
				m->propagation = prop_flags[k].flag;
				done = true;
			}
		if (done)
			continue;
		if (len)
			data[len++] = ',';
		strcpy(data + len, o);
		len += strlen(o);
	}
	free(m->data);
	m->data = len ? mc_steal_ptr(&data) : NULL;
	return 0;
}

static int parse_mounts(json_object *a, struct ct_spec *s, mc_err *err)
{
	size_t n = json_object_array_length(a);
	s->mounts = calloc(n + 1, sizeof(*s->mounts));
	if (!s->mounts)
		return mc_errorf(err, ENOMEM, "mounts");
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(a, i);
		char ctx[48];
		snprintf(ctx, sizeof(ctx), "mounts[%zu]", i);
		if (!e || !json_object_is_type(e, json_type_object))
			return mc_errorf(err, 0, "%s: expected an object", ctx);
		struct ct_mount *m = &s->mounts[i];
		s->nmounts = i + 1;
		int r;
		if ((r = ct_j_str(e, ctx, "destination", &m->destination, err)) < 0)
			return -1;
		if (!r)
			return mc_errorf(err, 0, "%s.destination: missing", ctx);
		if (m->destination[0] != '/')
			return mc_errorf(err, 0, "%s.destination: \"%s\" is not absolute", ctx,
					 m->destination);
		if (strlen(m->destination) >= PATH_MAX)
			return mc_errorf(err, 0, "%s.destination: too long", ctx);
		if (ct_j_str(e, ctx, "type", &m->type, err) < 0 ||
		    ct_j_str(e, ctx, "source", &m->source, err) < 0)
			return -1;
		char **opts = NULL;
		size_t nopts = 0;
		if (ct_j_strv(e, ctx, "options", &opts, &nopts, err) < 0)
			return -1;
		r = ct_mount_options(m, opts, nopts, err);
		ct_strv_free(opts);
		if (r < 0)
			return mc_wrap(err, "%s.options", ctx);
		if (!m->type && !m->bind)
			return mc_errorf(err, 0, "%s.type: missing (and not a bind mount)", ctx);
		if (m->type && !strcmp(m->type, "bind")) {
			m->bind = true;
			m->flags |= MS_BIND;
		}
		if (m->bind && !m->source)
			return mc_errorf(err, 0, "%s.source: missing for a bind mount", ctx);
	}
	return 0;
}

static int parse_hooks(json_object *h, struct ct_hooks *hooks, mc_err *err)
{
	static const char *keys[CT_HOOK_KINDS] = {"prestart",	     "createRuntime",
						  "createContainer", "startContainer",
						  "poststart",	     "poststop"};
	for (int k = 0; k < CT_HOOK_KINDS; k++) {
		json_object *a;
		int r = ct_j_arr(h, "hooks", keys[k], &a, err);
		if (r < 0)
			return -1;
		if (!r)
			continue;
		size_t n = json_object_array_length(a);
		hooks->list[k] = calloc(n + 1, sizeof(struct ct_hook));
		if (!hooks->list[k])
			return mc_errorf(err, ENOMEM, "hooks");
		for (size_t i = 0; i < n; i++) {
			json_object *e = json_object_array_get_idx(a, i);
			char ctx[64];
			snprintf(ctx, sizeof(ctx), "hooks.%s[%zu]", keys[k], i);
			if (!e || !json_object_is_type(e, json_type_object))
				return mc_errorf(err, 0, "%s: expected an object", ctx);
			struct ct_hook *hk = &hooks->list[k][i];
			hooks->count[k] = i + 1;
			if ((r = ct_j_str(e, ctx, "path", &hk->path, err)) < 0)
				return -1;
			if (!r || hk->path[0] != '/')
				return mc_errorf(err, 0, "%s.path: must be an absolute path", ctx);
			int64_t t = 0;
			if (ct_j_strv(e, ctx, "args", &hk->args, NULL, err) < 0 ||
			    ct_j_strv(e, ctx, "env", &hk->env, NULL, err) < 0 ||
			    ct_j_i64(e, ctx, "timeout", 1, 86400, &t, err) < 0)
				return -1;
			hk->timeout = t;
		}
	}
	return 0;
}

int ct_spec_parse(const char *json, size_t len, struct ct_spec **out, mc_err *err)
{
	json_tokener *tok = json_tokener_new();
	if (!tok)
		return mc_errorf(err, ENOMEM, "json");
	json_object *root = json_tokener_parse_ex(tok, json, len);
	enum json_tokener_error jerr = json_tokener_get_error(tok);
	size_t off = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (!root || jerr != json_tokener_success) {
		json_object_put(root);
		return mc_errorf(err, 0, "invalid JSON at byte %zu: %s", off,
				 json_tokener_error_desc(
				     jerr == json_tokener_success ? json_tokener_continue : jerr));
	}
	/* trailing garbage other than whitespace */
	for (size_t i = off; i < len; i++)
		if (json[i] != ' ' && json[i] != '\n' && json[i] != '\t' && json[i] != '\r') {
			json_object_put(root);
			return mc_errorf(err, 0, "invalid JSON: trailing data at byte %zu", i);
		}
	struct ct_spec *s = calloc(1, sizeof(*s));
	if (!s) {
		json_object_put(root);
		return mc_errorf(err, ENOMEM, "spec");
	}
	int r = ct_spec_from_json(root, s, err);
	json_object_put(root);
	if (r < 0) {
		ct_spec_free(s);
		return -1;
	}
	*out = s;
	return 0;
}

int ct_spec_from_json(json_object *root, struct ct_spec *s, mc_err *err)
{
	json_object *o;
	int r;
	if (!json_object_is_type(root, json_type_object))
		return mc_errorf(err, 0, "config: expected a JSON object at the top");
	if ((r = ct_j_str(root, "", "ociVersion", &s->oci_version, err)) < 0)
		return -1;
	if (!r)
		return mc_errorf(err, 0, "ociVersion: missing");
	if (strncmp(s->oci_version, "1.", 2) != 0)
		return mc_errorf(err, 0, "ociVersion: unsupported version \"%s\" (need 1.x)",
				 s->oci_version);
	if ((r = ct_j_obj(root, "", "root", &o, err)) < 0)
		return -1;
	if (!r)
		return mc_errorf(err, 0, "root: missing");
	if ((r = ct_j_str(o, "root", "path", &s->root_path, err)) < 0)
		return -1;
	if (!r || !*s->root_path)
		return mc_errorf(err, 0, "root.path: missing");
	if (ct_j_bool(o, "root", "readonly", &s->root_readonly, err) < 0)
		return -1;
	if (ct_j_str(root, "", "hostname", &s->hostname, err) < 0 ||
	    ct_j_str(root, "", "domainname", &s->domainname, err) < 0)
		return -1;
	if (s->hostname && strlen(s->hostname) > 64)
		return mc_errorf(err, 0, "hostname: longer than 64 bytes");
	if (s->domainname && strlen(s->domainname) > 64)
		return mc_errorf(err, 0, "domainname: longer than 64 bytes");
	if ((r = ct_j_obj(root, "", "process", &o, err)) < 0)
		return -1;
	if (r) {
		s->has_process = true;
		if (parse_process(o, &s->process, err) < 0)
			return -1;
	}
	json_object *a;
	if ((r = ct_j_arr(root, "", "mounts", &a, err)) < 0)
		return -1;
	if (r && parse_mounts(a, s, err) < 0)
		return -1;
	if ((r = ct_j_obj(root, "", "hooks", &o, err)) < 0)
		return -1;
	if (r && parse_hooks(o, &s->hooks, err) < 0)
		return -1;
	if ((r = ct_j_obj(root, "", "annotations", &o, err)) < 0)
		return -1;
	if (r) {
		json_object_object_foreach(o, k, v)
		{
			if (!json_object_is_type(v, json_type_string))
				return mc_errorf(err, 0, "annotations.%s: expected a string", k);
		}
		s->annotations = json_object_get(o);
	}
	if ((r = ct_j_obj(root, "", "linux", &o, err)) < 0)
		return -1;
	if (r && ct_spec_parse_linux(o, s, err) < 0)
		return -1;
	/* minict extension used by the short form */
	if ((r = ct_j_obj(root, "", "minict", &o, err)) < 0)
		return -1;
	if (r && (ct_j_str(o, "minict", "netBridge", &s->net_bridge, err) < 0 ||
		  ct_j_str(o, "minict", "netAddress", &s->net_cidr, err) < 0))
		return -1;
	return 0;
}

int ct_spec_resolve_root(struct ct_spec *spec, const char *bundle, mc_err *err)
{
	char *joined = NULL;
	if (spec->root_path[0] != '/') {
		if (!bundle)
			return mc_errorf(err, 0,
					 "root.path: \"%s\" is relative and there is no bundle",
					 spec->root_path);
		if (asprintf(&joined, "%s/%s", bundle, spec->root_path) < 0)
			return mc_errorf(err, ENOMEM, "root.path");
	}
	const char *p = joined ? joined : spec->root_path;
	char *real = realpath(p, NULL);
	if (!real) {
		int e = errno;
		free(joined);
		return mc_errorf(err, e, "root.path: rootfs `%s`", p);
	}
	free(joined);
	struct stat st;
	if (stat(real, &st) < 0 || !S_ISDIR(st.st_mode)) {
		free(real);
		return mc_errorf(err, ENOTDIR, "root.path: rootfs `%s`", p);
	}
	if (spec->root_path[0] != '/') {
		/* a relative root must stay inside the bundle (lexically: a symlinked rootfs
		 * directory is fine, "../x" is not) */
		int depth = 0;
		_cleanup_free_ char *copy = strdup(spec->root_path);
		for (char *save = NULL, *t = copy ? strtok_r(copy, "/", &save) : NULL; t;
		     t = strtok_r(NULL, "/", &save)) {
			if (!strcmp(t, ".."))
				depth--;
			else if (strcmp(t, ".") != 0)
				depth++;
			if (depth < 0)
				break;
		}
		if (depth < 0) { /* "." is the bundle itself: allowed */
			mc_errorf(err, 0, "root.path: \"%s\" is outside the bundle",
				  spec->root_path);
			free(real);
			return -1;
		}
	}
	free(spec->root_path);
	spec->root_path = real;
	return 0;
}

/* "Path values for bind mounts are either absolute or relative to the bundle" (config.md). */
static int resolve_bind_sources(struct ct_spec *spec, const char *bundle, mc_err *err)
{
	for (size_t i = 0; i < spec->nmounts; i++) {
		struct ct_mount *m = &spec->mounts[i];
		char *abs = NULL;
		if (!m->bind || !m->source || m->source[0] == '/')
			continue;
		if (asprintf(&abs, "%s/%s", bundle, m->source) < 0)
			return mc_errorf(err, ENOMEM, "mounts[%zu].source", i);
		free(m->source);
		m->source = abs;
	}
	return 0;
}

int ct_spec_load(const char *bundle, struct ct_spec **out, mc_err *err)
{
	_cleanup_free_ char *path = NULL, *buf = NULL;
	size_t len;
	if (asprintf(&path, "%s/config.json", bundle) < 0)
		return mc_errorf(err, ENOMEM, "config");
	if (mc_read_file(path, 16 << 20, &buf, &len, err) < 0)
		return -1;
	if (ct_spec_parse(buf, len, out, err) < 0)
		return mc_wrap(err, "%s", path);
	if (!(*out)->has_process) {
		ct_spec_free(*out);
		*out = NULL;
		return mc_errorf(err, 0, "%s: process: missing", path);
	}
	if (ct_spec_resolve_root(*out, bundle, err) < 0 ||
	    resolve_bind_sources(*out, bundle, err) < 0) {
		ct_spec_free(*out);
		*out = NULL;
		return mc_wrap(err, "%s", path);
	}
	return 0;
}

static void free_hook(struct ct_hook *h)
{
	free(h->path);
	ct_strv_free(h->args);
	ct_strv_free(h->env);
}

void ct_spec_free(struct ct_spec *s)
{
	if (!s)
		return;
	free(s->oci_version);
	free(s->root_path);
	free(s->hostname);
	free(s->domainname);
	struct ct_process *p = &s->process;
	free(p->gids);
	ct_strv_free(p->args);
	ct_strv_free(p->env);
	free(p->cwd);
	free(p->apparmor_profile);
	for (int k = 0; k < 5; k++)
		free(p->caps.set[k]);
	for (size_t i = 0; i < p->nrlimits; i++)
		free(p->rlimits[i].type);
	free(p->rlimits);
	for (size_t i = 0; i < s->nmounts; i++) {
		free(s->mounts[i].destination);
		free(s->mounts[i].type);
		free(s->mounts[i].source);
		free(s->mounts[i].data);
	}
	free(s->mounts);
	for (int k = 0; k < CT_HOOK_KINDS; k++) {
		for (size_t i = 0; i < s->hooks.count[k]; i++)
			free_hook(&s->hooks.list[k][i]);
		free(s->hooks.list[k]);
	}
	for (size_t i = 0; i < s->nnamespaces; i++)
		free(s->namespaces[i].path);
	free(s->namespaces);
	free(s->uid_maps);
	free(s->gid_maps);
	for (size_t i = 0; i < s->ndevices; i++)
		free(s->devices[i].path);
	free(s->devices);
	free(s->cgroups_path);
	free(s->res.cpus);
	free(s->res.mems);
	free(s->res.throttle);
	for (size_t i = 0; i < s->res.nhugepages; i++)
		free(s->res.hugepages[i].page_size);
	free(s->res.hugepages);
	for (size_t i = 0; i < s->res.nnet_prios; i++)
		free(s->res.net_prios[i].iface);
	free(s->res.net_prios);
	free(s->res.devrules);
	for (size_t i = 0; i < s->nsysctls; i++) {
		free(s->sysctls[i].key);
		free(s->sysctls[i].value);
	}
	free(s->sysctls);
	for (size_t i = 0; i < s->seccomp.nrules; i++) {
		ct_strv_free(s->seccomp.rules[i].names);
		free(s->seccomp.rules[i].args);
	}
	free(s->seccomp.rules);
	free(s->seccomp.archs);
	ct_strv_free(s->masked_paths);
	ct_strv_free(s->readonly_paths);
	json_object_put(s->annotations);
	free(s->net_bridge);
	free(s->net_cidr);
	free(s);
}
