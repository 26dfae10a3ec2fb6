#include "script.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend.h"
#include "cleanup.h"
#include "engine.h"
#include "paths.h"
#include "util.h"

/* One line: a JSON object, handed to take. */
static int take_line(struct mb_script_call *c, const char *line, mc_err *err)
{
	json_object *row = json_tokener_parse(line);
	if (!row || !json_object_is_type(row, json_type_object)) {
		json_object_put(row);
		return mc_errorf(err, 0, "%s: not a JSON object: %.80s", c->jsonl, line);
	}
	int rc = c->take(c->ctx, row, err);
	json_object_put(row);
	return rc < 0 ? mc_wrap(err, "%s", c->jsonl) : 0;
}

/* list (NULL-ended; NULL: none) onto argv at *n, at most MB_SCRIPT_MAX_ARGS of them. */
static int append(char **argv, size_t *n, const char *const *list, const struct mb_script_call *c,
		  const char *what, mc_err *err)
{
	for (size_t i = 0; list && list[i]; i++) {
		if (i == MB_SCRIPT_MAX_ARGS)
			return mc_errorf(err, 0, "bench/%s: more than %d %s", c->script,
					 MB_SCRIPT_MAX_ARGS, what);
		argv[(*n)++] = (char *)list[i];
	}
	return 0;
}

int mb_script_call(struct mb_script_call *c, mc_err *err)
{
	char path[PATH_MAX + 32], e_jsonl[PATH_MAX + 80], e_bin[PATH_MAX + 8];
	char *argv[6 + 2 * MB_SCRIPT_MAX_ARGS + 3];
	size_t n = 0;
	if (mb_pathf(c->jsonl, sizeof(c->jsonl), err, "%s/%s-%u.jsonl", c->work, c->tag, c->run) <
		0 ||
	    mb_pathf(c->log, sizeof(c->log), err, "%s/%s.log", c->work, c->tag) < 0)
		return -1;
	unlink(c->jsonl);
	snprintf(path, sizeof(path), "%s/bench/%s", c->checkout, c->script);
	snprintf(e_jsonl, sizeof(e_jsonl), "JSONL=%s", c->jsonl);
	snprintf(e_bin, sizeof(e_bin), "BIN=%s", mb_self_dir());
	argv[n++] = "/usr/bin/env";
	argv[n++] = "RUNS=1";
	argv[n++] = "RECORD=0";
	argv[n++] = e_jsonl;
	argv[n++] = e_bin;
	if (append(argv, &n, c->env, c, "variables", err) < 0)
		return -1;
	argv[n++] = "bash";
	argv[n++] = path;
	if (append(argv, &n, c->args, c, "arguments", err) < 0)
		return -1;
	argv[n] = NULL;
	mc_err e = NULL;
	if (mb_run_cmd(argv, c->log, &e) < 0) {
		char line[512];
		mc_error_free(&e);
		mb_last_line(c->log, line, sizeof(line));
		return mc_errorf(err, 0, "bench/%s failed: %s (log: %s)", c->script,
				 line[0] ? line : "no output", c->log);
	}
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	if (mc_read_file(c->jsonl, c->max_bytes, &text, &len, err) < 0)
		return mc_wrap(err, "bench/%s wrote no JSON line%s", c->script,
			       c->first_only ? "" : "s");
	if (c->first_only) {
		char *nl = memchr(text, '\n', len);
		if (nl)
			*nl = 0;
		return take_line(c, text, err);
	}
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (take_line(c, line, err) < 0)
			return -1;
	return 0;
}

int mb_script_vm_check(enum mb_backend b, const char *script, const char *guest, mc_err *err)
{
	char path[PATH_MAX + 64];
	struct stat st;
	if (stat("/dev/kvm", &st) < 0 || !S_ISCHR(st.st_mode))
		return mc_errorf(err, 0, "backend %s: this host has no /dev/kvm",
				 mb_backend_name(b));
	if (b == MB_QEMU && !mb_which("qemu-system-x86_64", path, sizeof(path)))
		return mc_errorf(err, 0, "backend qemu: QEMU is not installed (make deps)");
	/* both run minivm's image of the test guest's build; vm runs minivm itself */
	snprintf(path, sizeof(path), "%s/minivm", mb_self_dir());
	if (b == MB_VM && access(path, X_OK) < 0)
		return mc_errorf(err, 0, "backend vm: no %s (make all)", path);
	if (!mb_which("python3", path, sizeof(path)))
		return mc_errorf(err, 0, "backend %s: no python3 (bench/%s is Python)",
				 mb_backend_name(b), script);
	if (access(guest, R_OK) < 0)
		return mc_errorf(err, 0, "backend %s: no test guest %s (make all)",
				 mb_backend_name(b), guest);
	return 0;
}

int mb_script_num(json_object *o, const char *key, bool null_ok, double max, double *v, mc_err *err)
{
	json_object *f;
	if (!json_object_object_get_ex(o, key, &f) ||
	    (null_ok && json_object_is_type(f, json_type_null))) {
		*v = NAN;
		return null_ok ? 0 : mc_errorf(err, 0, "no number `%s`", key);
	}
	if (!json_object_is_type(f, json_type_double) && !json_object_is_type(f, json_type_int))
		return mc_errorf(err, 0, "`%s` is not a number", key);
	*v = json_object_get_double(f);
	if (!isfinite(*v) || *v < 0 || *v > max)
		return mc_errorf(err, 0, "`%s` is %g", key, *v);
	return 0;
}
