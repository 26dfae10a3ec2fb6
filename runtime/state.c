/* State directory handling and the OCI state JSON. */
#include "state.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "util.h"

const char *ct_status_name(enum ct_status s)
{
	static const char *n[] = {"creating", "created", "running", "paused", "stopped"};
	return n[s];
}

int ct_check_id(const char *id, mc_err *err)
{
	size_t n = strlen(id);
	if (n == 0 || n > 1024 || !strcmp(id, ".") || !strcmp(id, ".."))
		return mc_errorf(err, 0, "invalid container id \"%s\"", id);
	for (size_t i = 0; i < n; i++) {
		char c = id[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '+' || c == '-' || c == '.'))
			return mc_errorf(err, 0, "invalid container id \"%s\": character '%c'", id,
					 c);
	}
	return 0;
}

char *ct_state_dir(const char *root, const char *id)
{
	char *p = NULL;
	if (asprintf(&p, "%s/%s", root, id) < 0)
		return NULL;
	return p;
}

int ct_state_claim(const char *root, const char *id, mc_err *err)
{
	if (mc_mkdir_p(root, 0700, err) < 0)
		return mc_wrap(err, "state root");
	_cleanup_free_ char *d = ct_state_dir(root, id);
	if (!d)
		return mc_errorf(err, ENOMEM, "state");
	if (mkdir(d, 0700) < 0) {
		if (errno == EEXIST)
			return mc_errorf(err, 0, "container \"%s\" already exists", id);
		return mc_errorf(err, errno, "mkdir `%s`", d);
	}
	return 0;
}

uint64_t ct_proc_start_time(pid_t pid)
{
	char buf[1024];
	if (mc_read_proc(pid, "stat", buf, sizeof(buf)) <= 0)
		return 0;
	char *p = strrchr(buf, ')');
	if (!p)
		return 0;
	/* after ") " come fields 3.. ; starttime is field 22 */
	int field = 2;
	for (p++; *p && field < 22; p++)
		if (*p == ' ')
			field++;
	/* state is field 3: a zombie counts as gone */
	char *st = strrchr(buf, ')') + 2;
	if (*st == 'Z' || *st == 'X')
		return 0;
	return strtoull(p, NULL, 10);
}

bool ct_state_alive(const struct ct_state *st)
{
	return st->pid > 0 && st->start_time && ct_proc_start_time(st->pid) == st->start_time;
}

int ct_state_save(const char *root, const struct ct_state *st, mc_err *err)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_string(st->id));
	json_object_object_add(o, "pid", json_object_new_int(st->pid));
	json_object_object_add(o, "startTime", json_object_new_uint64(st->start_time));
	if (st->bundle)
		json_object_object_add(o, "bundle", json_object_new_string(st->bundle));
	json_object_object_add(o, "rootfs", json_object_new_string(st->rootfs ? st->rootfs : ""));
	json_object_object_add(o, "created",
			       json_object_new_string(st->created ? st->created : ""));
	if (st->annotations)
		json_object_object_add(o, "annotations", json_object_get(st->annotations));
	if (st->has_cg)
		json_object_object_add(o, "cgroup", ct_cg_to_json(&st->cg));
	if (st->veth)
		json_object_object_add(o, "veth", json_object_new_string(st->veth));
	if (st->net_bridge)
		json_object_object_add(o, "bridge", json_object_new_string(st->net_bridge));
	if (st->creator) {
		json_object_object_add(o, "creatorPid", json_object_new_int(st->creator));
		json_object_object_add(o, "creatorStartTime",
				       json_object_new_uint64(st->creator_start));
	}
	const char *txt = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	_cleanup_free_ char *d = ct_state_dir(root, st->id), *tmp = NULL, *fin = NULL;
	int ret = 0;
	if (!d || asprintf(&tmp, "%s/state.json.tmp", d) < 0 ||
	    asprintf(&fin, "%s/state.json", d) < 0) {
		json_object_put(o);
		return mc_errorf(err, ENOMEM, "state");
	}
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || mc_write_all(fd, txt, strlen(txt)) < 0)
		ret = mc_errorf(err, errno, "write `%s`", tmp);
	if (fd >= 0)
		close(fd);
	if (ret == 0 && rename(tmp, fin) < 0)
		ret = mc_errorf(err, errno, "rename `%s`", tmp);
	json_object_put(o);
	return ret;
}

static char *jdup(json_object *o, const char *key)
{
	json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return strdup(json_object_get_string(v));
}

int ct_state_load(const char *root, const char *id, struct ct_state *st, mc_err *err)
{
	memset(st, 0, sizeof(*st));
	if (ct_check_id(id, err) < 0)
		return -1;
	_cleanup_free_ char *d = ct_state_dir(root, id), *p = NULL, *buf = NULL;
	size_t len;
	if (!d || asprintf(&p, "%s/state.json", d) < 0)
		return mc_errorf(err, ENOMEM, "state");
	if (access(d, F_OK) < 0)
		return mc_errorf(err, 0, "container \"%s\" does not exist", id);
	mc_err e2 = NULL;
	if (mc_read_file(p, 1 << 20, &buf, &len, &e2) < 0) {
		mc_error_free(&e2);
		return mc_errorf(err, 0, "container \"%s\" does not exist (no state yet)", id);
	}
	json_object *o = json_tokener_parse(buf);
	if (!o || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return mc_errorf(err, 0, "container \"%s\": corrupt state file `%s`", id, p);
	}
	json_object *v;
	st->id = strdup(id);
	if (json_object_object_get_ex(o, "pid", &v))
		st->pid = json_object_get_int(v);
	if (json_object_object_get_ex(o, "startTime", &v))
		st->start_time = json_object_get_uint64(v);
	if (json_object_object_get_ex(o, "creatorPid", &v))
		st->creator = json_object_get_int(v);
	if (json_object_object_get_ex(o, "creatorStartTime", &v))
		st->creator_start = json_object_get_uint64(v);
	st->bundle = jdup(o, "bundle");
	st->rootfs = jdup(o, "rootfs");
	st->created = jdup(o, "created");
	st->veth = jdup(o, "veth");
	st->net_bridge = jdup(o, "bridge");
	if (json_object_object_get_ex(o, "annotations", &v))
		st->annotations = json_object_get(v);
	int ret = 0;
	if (json_object_object_get_ex(o, "cgroup", &v)) {
		st->has_cg = true;
		ret = ct_cg_from_json(v, &st->cg, err);
	}
	json_object_put(o);
	return ret;
}

void ct_state_free(struct ct_state *st)
{
	free(st->id);
	free(st->bundle);
	free(st->rootfs);
	free(st->created);
	free(st->veth);
	free(st->net_bridge);
	json_object_put(st->annotations);
	ct_cg_free(&st->cg);
	memset(st, 0, sizeof(*st));
}

void ct_state_remove(const char *root, const char *id)
{
	_cleanup_free_ char *d = ct_state_dir(root, id);
	if (!d)
		return;
	static const char *files[] = {"state.json", "state.json.tmp", "exec.fifo", "config.json"};
	for (size_t i = 0; i < MC_ARRAY_SIZE(files); i++) {
		char p[4200];
		snprintf(p, sizeof(p), "%s/%s", d, files[i]);
		unlink(p);
	}
	rmdir(d);
}

enum ct_status ct_state_status(const char *root, struct ct_state *st)
{
	if (!ct_state_alive(st))
		return st->pid ? CT_STOPPED : CT_CREATING;
	if (st->has_cg && ct_cg_is_frozen(&st->cg))
		return CT_PAUSED;
	_cleanup_free_ char *d = ct_state_dir(root, st->id), *f = NULL;
	if (d && asprintf(&f, "%s/exec.fifo", d) >= 0 && access(f, F_OK) == 0)
		return CT_CREATED;
	return CT_RUNNING;
}

json_object *ct_state_oci_json(const char *root, struct ct_state *st)
{
	enum ct_status s = ct_state_status(root, st);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "ociVersion", json_object_new_string("1.0.2"));
	json_object_object_add(o, "id", json_object_new_string(st->id));
	json_object_object_add(o, "pid", json_object_new_int(s == CT_STOPPED ? 0 : st->pid));
	json_object_object_add(o, "status", json_object_new_string(ct_status_name(s)));
	json_object_object_add(o, "bundle", json_object_new_string(st->bundle ? st->bundle : ""));
	json_object_object_add(o, "rootfs", json_object_new_string(st->rootfs ? st->rootfs : ""));
	json_object_object_add(o, "created",
			       json_object_new_string(st->created ? st->created : ""));
	json_object_object_add(o, "owner", json_object_new_string(""));
	if (st->annotations)
		json_object_object_add(o, "annotations", json_object_get(st->annotations));
	if (st->has_cg)
		json_object_object_add(o, "cgroups", ct_cg_to_json(&st->cg));
	return o;
}

void ct_now_rfc3339(char *buf, size_t n)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t l = strftime(buf, n, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + l, n - l, ".%09ldZ", ts.tv_nsec);
}
