/* Container cgroups: layout detection, placement, entering, freeze/kill, removal. */
#include "cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "util.h"

#define CG_ROOT "/sys/fs/cgroup"

static const char *ctrl_names[CT_CG_NCTRL] = {"memory",	 "cpu",	    "cpuacct", "cpuset",
					      "pids",	 "io",	    "freezer", "devices",
					      "hugetlb", "net_cls", "net_prio"};
/* v1 hierarchy directory per controller */
static const char *v1_dirs[CT_CG_NCTRL] = {"memory",  "cpu",	 "cpuacct", "cpuset",
					   "pids",    "blkio",	 "freezer", "devices",
					   "hugetlb", "net_cls", "net_prio"};

const char *ct_cg_v1_dir(enum ct_cg_ctrl c)
{
	return v1_dirs[c];
}

const char *ct_cg_ctrl_name(enum ct_cg_ctrl c)
{
	return ctrl_names[c];
}

static bool is_fs(const char *path, unsigned long magic)
{
	struct statfs sf;
	return statfs(path, &sf) == 0 && (unsigned long)sf.f_type == magic;
}

enum ct_cg_layout ct_cg_detect(void)
{
	if (is_fs(CG_ROOT, CGROUP2_SUPER_MAGIC))
		return CT_CG_V2;
	if (!is_fs(CG_ROOT, TMPFS_MAGIC))
		return CT_CG_NONE;
	if (is_fs(CG_ROOT "/unified", CGROUP2_SUPER_MAGIC))
		return CT_CG_HYBRID;
	return CT_CG_V1;
}

const char *ct_cg_layout_name(enum ct_cg_layout l)
{
	static const char *n[] = {"none", "v1", "v2", "hybrid"};
	return n[l];
}

static const char *v2_root(enum ct_cg_layout l)
{
	return l == CT_CG_V2 ? CG_ROOT : l == CT_CG_HYBRID ? CG_ROOT "/unified" : NULL;
}

/* The path of our own cgroup in a hierarchy: "" for v2 ("0::"), else the v1 controller. */
static char *own_cgroup(const char *v1ctrl)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/cgroup", "re");
	char line[4096];
	while (f && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		char *c1 = strchr(line, ':');
		char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c2 = 0;
		const char *ctrls = c1 + 1, *path = c2 + 1;
		if (!v1ctrl) {
			if (!*ctrls && !strncmp(line, "0", 1))
				return strdup(path);
			continue;
		}
		char *save = NULL, *copy = strdup(ctrls);
		for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
			if (!strcmp(t, v1ctrl)) {
				free(copy);
				return strdup(path);
			}
		free(copy);
	}
	return strdup("/");
}

/* Whether a controller list ("cpuset cpu io memory", as in cgroup.controllers and
 * cgroup.subtree_control) names want; whole words, so "cpu" is not found in "cpuset". */
static bool list_has(const char *list, const char *want)
{
	size_t n = strlen(want);
	for (const char *p = list; (p = strstr(p, want)) != NULL; p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == 0 || p[n] == ' ' || p[n] == '\n'))
			return true;
	return false;
}

static bool v2_has(const char *root, const char *ctrl)
{
	_cleanup_free_ char *path = NULL, *buf = NULL;
	size_t len;
	mc_err e = NULL;
	if (asprintf(&path, "%s/cgroup.controllers", root) < 0 ||
	    mc_read_file(path, 4096, &buf, &len, &e) < 0) {
		mc_error_free(&e);
		return false;
	}
	return list_has(buf, !strcmp(ctrl, "cpuacct") ? "cpu" : ctrl);
}

static bool needed(enum ct_cg_ctrl c, const struct ct_resources *res)
{
	switch (c) {
	case CT_CG_MEMORY:
	case CT_CG_PIDS:
	case CT_CG_CPU:
	case CT_CG_CPUACCT:
		return true; /* accounting for stats, even without limits */
	case CT_CG_CPUSET:
		return res && (res->cpus || res->mems);
	case CT_CG_IO:
		return res && (res->has_blkio_weight || res->nthrottle);
	case CT_CG_FREEZER:
		return true;
	case CT_CG_DEVICES:
		return res && res->ndevrules;
	case CT_CG_HUGETLB:
		return res && res->nhugepages;
	case CT_CG_NET_CLS:
		return res && res->has_net_class_id;
	case CT_CG_NET_PRIO:
		return res && res->nnet_prios;
	default:
		return false;
	}
}

/* mkdir -p below base, recording what we made; v1 dirs get init_dir at each new level. */
static int make_dirs(struct ct_cgroup *cg, const char *base, const char *rel,
		     const struct ct_cg_ops *ops, enum ct_cg_ctrl ctrl, char **out, mc_err *err)
{
	_cleanup_free_ char *path = NULL;
	if (asprintf(&path, "%s/%s", base, rel) < 0)
		return mc_errorf(err, ENOMEM, "cgroup");
	size_t blen = strlen(base);
	int retries = 0;
	for (char *p = path + blen + 1;; p++) {
		if (*p != '/' && *p != 0)
			continue;
		char saved = *p;
		*p = 0;
		if (mkdir(path, 0755) == 0) {
			char **n = realloc(cg->created, (cg->ncreated + 1) * sizeof(char *));
			if (!n)
				return mc_errorf(err, ENOMEM, "cgroup");
			cg->created = n;
			cg->created[cg->ncreated++] = strdup(path);
			if (ops->init_dir && ops->init_dir(path, ctrl, err) < 0)
				return -1;
		} else if (errno == ENOENT && retries++ < 3) {
			/* a parent vanished under us (another container's delete): start over */
			*p = saved;
			p = path + blen;
			continue;
		} else if (errno != EEXIST) {
			int e = errno;
			*p = saved;
			return mc_errorf(err, e, "mkdir `%s`", path);
		} else if (saved == 0) {
			/* the leaf must be new: never adopt a cgroup we did not create */
			return mc_errorf(err, EEXIST, "cgroup `%s`", path);
		}
		*p = saved;
		if (!saved)
			break;
	}
	*out = mc_steal_ptr(&path);
	return 0;
}

static char *relative_path(const char *cgroups_path, const char *id, const char *own)
{
	char *rel = NULL;
	if (cgroups_path && *cgroups_path) {
		const char *c1 = strchr(cgroups_path, ':');
		if (c1 && cgroups_path[0] != '/') {
			/* systemd style "slice:prefix:name": lay it out as a plain path */
			const char *c2 = strchr(c1 + 1, ':');
			if (c2 && asprintf(&rel, "%.*s/%.*s-%s.scope", (int)(c1 - cgroups_path),
					   cgroups_path, (int)(c2 - c1 - 1), c1 + 1, c2 + 1) < 0)
				rel = NULL;
		} else if (cgroups_path[0] == '/') {
			rel = strdup(cgroups_path + 1);
		} else if (asprintf(&rel, "%s/%s", strcmp(own, "/") ? own + 1 : "", cgroups_path) <
			   0) {
			rel = NULL;
		}
	} else if (asprintf(&rel, "%s%sminict/%s", strcmp(own, "/") ? own + 1 : "",
			    strcmp(own, "/") ? "/" : "", id) < 0) {
		rel = NULL;
	}
	/* squeeze leading slashes */
	while (rel && rel[0] == '/')
		memmove(rel, rel + 1, strlen(rel));
	return rel;
}

/* Undo a half-made cgroup set-up; the error says what failed first. */
static int create_failed(struct ct_cgroup *cg, mc_err *err)
{
	mc_err e2 = NULL;
	ct_cg_destroy(cg, &e2);
	mc_error_free(&e2);
	return mc_wrap(err, "cgroup");
}

/* Enable controller name in cgroup.subtree_control of every cgroup from the v2 root down to
 * the leaf's parent (the leaf v2/rel exists already). */
static int enable_v2_controller(const char *v2, const char *rel, const char *name, mc_err *err)
{
	_cleanup_free_ char *full = NULL;
	if (asprintf(&full, "%s/%s", v2, rel) < 0)
		return mc_errorf(err, ENOMEM, "cgroup");
	for (char *p = full + strlen(v2); p && *p;) {
		char *next = strchr(p + 1, '/');
		*p = 0;
		_cleanup_free_ char *sc = NULL, *cur = NULL;
		size_t len;
		mc_err e2 = NULL;
		if (asprintf(&sc, "%s/cgroup.subtree_control", full) >= 0 &&
		    mc_read_file(sc, 4096, &cur, &len, &e2) == 0 && !list_has(cur, name)) {
			char buf[32];
			int n = snprintf(buf, sizeof(buf), "+%s", name);
			if (mc_write_file(sc, buf, n, &e2) < 0) {
				mc_errorf(err, e2->errnum, "cgroup: enable %s in `%s`", name, sc);
				mc_error_free(&e2);
				return -1;
			}
		}
		mc_error_free(&e2);
		*p = '/';
		p = next;
	}
	return 0;
}

static int make_extra_dirs(struct ct_cgroup *cg, const char *cgroups_path, const char *id,
			   mc_err *err);

int ct_cg_create(struct ct_cgroup *cg, const char *cgroups_path, const char *id,
		 const struct ct_resources *res, mc_err *err)
{
	memset(cg, 0, sizeof(*cg));
	cg->layout = ct_cg_detect();
	if (cg->layout == CT_CG_NONE)
		return mc_errorf(err, 0, "cgroup: no cgroup filesystem at " CG_ROOT);
	const char *v2 = v2_root(cg->layout);
	_cleanup_free_ char *v2_rel = NULL;
	if (v2) {
		_cleanup_free_ char *own = own_cgroup(NULL);
		v2_rel = own ? relative_path(cgroups_path, id, own) : NULL;
		if (!v2_rel)
			return mc_errorf(err, ENOMEM, "cgroup");
		if (make_dirs(cg, v2, v2_rel, &ct_cg_v2_ops, CT_CG_FREEZER, &cg->unified, err) < 0)
			return create_failed(cg, err);
	}
	for (int c = 0; c < CT_CG_NCTRL; c++) {
		if (!needed(c, res))
			continue;
		if (v2 && (c == CT_CG_FREEZER || v2_has(v2, ctrl_names[c]))) {
			/* cpuacct rides on cpu; the freezer is built into v2 */
			if (c != CT_CG_FREEZER && c != CT_CG_CPUACCT &&
			    enable_v2_controller(v2, v2_rel, ctrl_names[c], err) < 0)
				return create_failed(cg, err);
			cg->path[c] = strdup(cg->unified);
			cg->ops[c] = &ct_cg_v2_ops;
			continue;
		}
		if (cg->layout == CT_CG_V2) {
			/* pure v2: device rules become an eBPF filter on the container's cgroup */
			if (c == CT_CG_DEVICES && cg->unified) {
				cg->path[c] = strdup(cg->unified);
				cg->ops[c] = &ct_cg_v2_ops;
			}
			continue;
		}
		char base[128];
		snprintf(base, sizeof(base), CG_ROOT "/%s", v1_dirs[c]);
		if (!is_fs(base, CGROUP_SUPER_MAGIC))
			continue;
		_cleanup_free_ char *own = own_cgroup(v1_dirs[c]);
		_cleanup_free_ char *rel = own ? relative_path(cgroups_path, id, own) : NULL;
		if (!rel) {
			mc_errorf(err, ENOMEM, "the path of the %s cgroup", v1_dirs[c]);
			return create_failed(cg, err);
		}
		if (make_dirs(cg, base, rel, &ct_cg_v1_ops, c, &cg->path[c], err) < 0)
			return create_failed(cg, err);
		cg->ops[c] = &ct_cg_v1_ops;
	}
	if (cg->layout != CT_CG_V2 && make_extra_dirs(cg, cgroups_path, id, err) < 0)
		return create_failed(cg, err);
	return 0;
}

static bool hierarchy_in_use(const struct ct_cgroup *cg, const char *dir)
{
	size_t n = strlen(dir);
	for (int c = 0; c < CT_CG_NCTRL; c++)
		if (cg->path[c] && cg->ops[c] == &ct_cg_v1_ops && !strncmp(cg->path[c], dir, n) &&
		    cg->path[c][n] == '/')
			return true;
	return false;
}

/* Our own cgroup in a v1 hierarchy named like "cpu,cpuacct" or "systemd" (name=systemd). */
static char *own_cgroup_in(const char *name)
{
	_cleanup_free_ char *copy = strdup(name), *named = NULL;
	char *save = NULL, *first = copy ? strtok_r(copy, ",", &save) : NULL;
	if (!first || asprintf(&named, "name=%s", first) < 0)
		return NULL;
	_cleanup_fclose_ FILE *f = fopen("/proc/self/cgroup", "re");
	char line[4096];
	while (f && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c2 = 0;
		char *s2 = NULL;
		for (char *t = strtok_r(c1 + 1, ",", &s2); t; t = strtok_r(NULL, ",", &s2))
			if (!strcmp(t, first) || !strcmp(t, named))
				return strdup(c2 + 1);
	}
	return NULL;
}

/* The v1 hierarchies no controller of ours is served from: a directory for the container in
 * each (no limits written there), so it sits in every hierarchy as under runc. */
static int make_extra_dirs(struct ct_cgroup *cg, const char *cgroups_path, const char *id,
			   mc_err *err)
{
	_cleanup_closedir_ DIR *d = opendir(CG_ROOT);
	struct dirent *e;
	while (d && (e = readdir(d)) != NULL) {
		if (e->d_type != DT_DIR || e->d_name[0] == '.' || !strcmp(e->d_name, "unified"))
			continue;
		_cleanup_free_ char *base = NULL, *own = NULL, *rel = NULL;
		if (asprintf(&base, CG_ROOT "/%s", e->d_name) < 0)
			return mc_errorf(err, ENOMEM, "cgroup");
		if (!is_fs(base, CGROUP_SUPER_MAGIC) || hierarchy_in_use(cg, base))
			continue;
		if (cg->nextra == MC_ARRAY_SIZE(cg->extra))
			break;
		own = own_cgroup_in(e->d_name);
		if (!own)
			continue; /* not a hierarchy we are in */
		rel = relative_path(cgroups_path, id, own);
		if (!rel)
			return mc_errorf(err, ENOMEM, "cgroup");
		enum ct_cg_ctrl ctrl = CT_CG_NCTRL;
		for (int c = 0; c < CT_CG_NCTRL; c++)
			if (!strcmp(v1_dirs[c], e->d_name))
				ctrl = c;
		struct ct_cg_extra *x = &cg->extra[cg->nextra];
		if (make_dirs(cg, base, rel, &ct_cg_v1_ops, ctrl, &x->path, err) < 0)
			return -1;
		x->name = strdup(e->d_name);
		cg->nextra++;
	}
	return 0;
}

int ct_cg_apply(struct ct_cgroup *cg, const struct ct_resources *res, mc_err *err)
{
	if (!res)
		return 0;
	for (int c = 0; c < CT_CG_NCTRL; c++) {
		if (!cg->path[c])
			continue;
		if (cg->ops[c]->apply(cg->path[c], c, res, err) < 0)
			return mc_wrap(err, "cgroup %s (%s)", ctrl_names[c], cg->ops[c]->name);
	}
	/* limits asked for but with no controller anywhere: say so rather than ignore */
	if ((res->has_mem_limit || res->has_mem_swap) && !cg->path[CT_CG_MEMORY])
		return mc_errorf(err, 0, "cgroup: memory limit given but no memory controller");
	if (res->has_pids_limit && !cg->path[CT_CG_PIDS])
		return mc_errorf(err, 0, "cgroup: pids limit given but no pids controller");
	if ((res->has_cpu_quota || res->has_cpu_shares) && !cg->path[CT_CG_CPU])
		return mc_errorf(err, 0, "cgroup: cpu limit given but no cpu controller");
	/* the rest are never optional either: refuse rather than run without them */
	for (int c = CT_CG_CPUSET; c < CT_CG_NCTRL; c++)
		if (c != CT_CG_FREEZER && needed(c, res) && !cg->path[c])
			return mc_errorf(err, EOPNOTSUPP,
					 "cgroup: linux.resources needs the %s controller, which "
					 "this host does not offer",
					 ctrl_names[c]);
	return 0;
}

int ct_cg_enter(struct ct_cgroup *cg, pid_t pid, mc_err *err)
{
	char buf[24];
	int n = snprintf(buf, sizeof(buf), "%d", pid);
	const char *done[CT_CG_NCTRL + 1 + 16] = {0};
	size_t ndone = 0;
	for (int c = -1; c < CT_CG_NCTRL + (int)cg->nextra; c++) {
		const char *dir = c < 0		    ? cg->unified
				  : c < CT_CG_NCTRL ? cg->path[c]
						    : cg->extra[c - CT_CG_NCTRL].path;
		if (!dir)
			continue;
		bool dup = false;
		for (size_t i = 0; i < ndone; i++)
			dup |= !strcmp(done[i], dir);
		if (dup)
			continue;
		done[ndone++] = dir;
		_cleanup_free_ char *p = NULL;
		if (asprintf(&p, "%s/cgroup.procs", dir) < 0)
			return mc_errorf(err, ENOMEM, "cgroup");
		if (mc_write_file(p, buf, n, err) < 0)
			return mc_wrap(err, "cgroup: add pid %d", pid);
	}
	return 0;
}

int ct_cg_freeze(struct ct_cgroup *cg, bool frozen, mc_err *err)
{
	if (cg->unified)
		return ct_cg_v2_ops.freeze(cg->unified, frozen, err);
	if (cg->path[CT_CG_FREEZER])
		return ct_cg_v1_ops.freeze(cg->path[CT_CG_FREEZER], frozen, err);
	return mc_errorf(err, ENOTSUP, "cgroup: no freezer");
}

bool ct_cg_is_frozen(struct ct_cgroup *cg)
{
	if (cg->unified)
		return ct_cg_v2_ops.frozen(cg->unified) == 1;
	if (cg->path[CT_CG_FREEZER])
		return ct_cg_v1_ops.frozen(cg->path[CT_CG_FREEZER]) == 1;
	return false;
}

static const char *procs_dir(struct ct_cgroup *cg)
{
	if (cg->unified)
		return cg->unified;
	for (int c = 0; c < CT_CG_NCTRL; c++)
		if (cg->path[c])
			return cg->path[c];
	return NULL;
}

int ct_cg_pids(struct ct_cgroup *cg, pid_t **pids, size_t *n, mc_err *err)
{
	const char *dir = procs_dir(cg);
	*pids = NULL;
	*n = 0;
	if (!dir)
		return 0;
	_cleanup_free_ char *p = NULL, *buf = NULL;
	size_t len;
	if (asprintf(&p, "%s/cgroup.procs", dir) < 0)
		return mc_errorf(err, ENOMEM, "cgroup");
	if (mc_read_file(p, 1 << 22, &buf, &len, err) < 0)
		return -1;
	size_t cap = 16;
	pid_t *v = malloc(cap * sizeof(pid_t));
	if (!v)
		return mc_errorf(err, ENOMEM, "cgroup");
	for (char *save = NULL, *t = strtok_r(buf, "\n", &save); t;
	     t = strtok_r(NULL, "\n", &save)) {
		if (*n == cap) {
			pid_t *nv = realloc(v, (cap *= 2) * sizeof(pid_t));
			if (!nv) {
				free(v);
				return mc_errorf(err, ENOMEM, "cgroup");
			}
			v = nv;
		}
		v[(*n)++] = atoi(t);
	}
	*pids = v;
	return 0;
}

int ct_cg_kill_all(struct ct_cgroup *cg, int sig, mc_err *err)
{
	if (sig == SIGKILL && cg->unified) {
		_cleanup_free_ char *p = NULL;
		if (asprintf(&p, "%s/cgroup.kill", cg->unified) < 0)
			return mc_errorf(err, ENOMEM, "cgroup");
		if (access(p, F_OK) == 0)
			return mc_write_file(p, "1", 1, err);
	}
	/* one pass over cgroup.procs; SIGKILL loops until the cgroup is empty */
	for (int round = 0; round < 100; round++) {
		pid_t *pids;
		size_t n;
		if (ct_cg_pids(cg, &pids, &n, err) < 0)
			return -1;
		for (size_t i = 0; i < n; i++)
			kill(pids[i], sig);
		free(pids);
		if (sig != SIGKILL || n == 0)
			return 0;
		usleep(1000);
	}
	return 0;
}

json_object *ct_cg_stats(struct ct_cgroup *cg)
{
	json_object *o = json_object_new_object();
	for (int c = 0; c < CT_CG_NCTRL; c++)
		if (cg->path[c] && cg->ops[c]->stats)
			cg->ops[c]->stats(cg->path[c], c, o);
	return o;
}

int ct_cg_destroy(struct ct_cgroup *cg, mc_err *err)
{
	int ret = 0;
	for (size_t i = cg->ncreated; i-- > 0;) {
		if (!cg->created[i])
			continue;
		int tries = 0;
		while (rmdir(cg->created[i]) < 0) {
			if (errno == ENOENT)
				break;
			if (errno == EBUSY && i + 1 < cg->ncreated) {
				/* a shared parent (other containers live there): keep it */
				break;
			}
			if (errno == EBUSY && ++tries < 200) {
				usleep(tries < 20 ? 500 : 5000);
				continue;
			}
			ret = mc_errorf(err, errno, "cgroup: rmdir `%s`", cg->created[i]);
			break;
		}
	}
	if (ret == 0)
		ct_cg_remove_default_parents(cg);
	return ret;
}

/* The default layout puts containers under a "minict" directory inside minict's own cgroup;
 * drop it once empty so the cgroup it sits in (the supervisor's, on this host) can still be
 * removed by its owner. Busy (other containers) or already gone is fine. */
static void remove_default_parent(const char *leaf)
{
	if (!leaf)
		return;
	char parent[PATH_MAX];
	if (snprintf(parent, sizeof(parent), "%s", leaf) >= (int)sizeof(parent))
		return;
	char *slash = strrchr(parent, '/');
	if (!slash)
		return;
	*slash = 0;
	const char *base = strrchr(parent, '/');
	if (base && !strcmp(base + 1, "minict"))
		rmdir(parent);
}

void ct_cg_remove_default_parents(const struct ct_cgroup *cg)
{
	remove_default_parent(cg->unified);
	for (int c = 0; c < CT_CG_NCTRL; c++)
		remove_default_parent(cg->path[c]);
	for (size_t i = 0; i < cg->nextra; i++)
		remove_default_parent(cg->extra[i].path);
}

void ct_cg_free(struct ct_cgroup *cg)
{
	for (int c = 0; c < CT_CG_NCTRL; c++)
		free(cg->path[c]);
	free(cg->unified);
	for (size_t i = 0; i < cg->nextra; i++) {
		free(cg->extra[i].name);
		free(cg->extra[i].path);
	}
	for (size_t i = 0; i < cg->ncreated; i++)
		free(cg->created[i]);
	free(cg->created);
	memset(cg, 0, sizeof(*cg));
}

json_object *ct_cg_to_json(const struct ct_cgroup *cg)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "layout", json_object_new_string(ct_cg_layout_name(cg->layout)));
	if (cg->unified)
		json_object_object_add(o, "unified", json_object_new_string(cg->unified));
	for (int c = 0; c < CT_CG_NCTRL; c++) {
		if (!cg->path[c])
			continue;
		char buf[4200];
		snprintf(buf, sizeof(buf), "%s:%s", cg->ops[c]->name, cg->path[c]);
		json_object_object_add(o, ctrl_names[c], json_object_new_string(buf));
	}
	json_object *x = json_object_new_object();
	for (size_t i = 0; i < cg->nextra; i++)
		json_object_object_add(x, cg->extra[i].name,
				       json_object_new_string(cg->extra[i].path));
	json_object_object_add(o, "extra", x);
	json_object *a = json_object_new_array();
	for (size_t i = 0; i < cg->ncreated; i++)
		json_object_array_add(a, json_object_new_string(cg->created[i]));
	json_object_object_add(o, "created", a);
	return o;
}

static bool under_cgroupfs(const char *p)
{
	return !strncmp(p, CG_ROOT "/", strlen(CG_ROOT "/")) && !strstr(p, "/../");
}

int ct_cg_from_json(json_object *o, struct ct_cgroup *cg, mc_err *err)
{
	memset(cg, 0, sizeof(*cg));
	json_object *v;
	cg->layout = ct_cg_detect();
	if (json_object_object_get_ex(o, "unified", &v) &&
	    under_cgroupfs(json_object_get_string(v)))
		cg->unified = strdup(json_object_get_string(v));
	for (int c = 0; c < CT_CG_NCTRL; c++) {
		if (!json_object_object_get_ex(o, ctrl_names[c], &v))
			continue;
		const char *s = json_object_get_string(v);
		if (!strncmp(s, "v1:", 3) && under_cgroupfs(s + 3))
			cg->ops[c] = &ct_cg_v1_ops;
		else if (!strncmp(s, "v2:", 3) && under_cgroupfs(s + 3))
			cg->ops[c] = &ct_cg_v2_ops;
		else
			return mc_errorf(err, 0, "state: bad cgroup entry for %s", ctrl_names[c]);
		cg->path[c] = strdup(s + 3);
	}
	if (json_object_object_get_ex(o, "extra", &v) && json_object_is_type(v, json_type_object)) {
		json_object_object_foreach(v, name, pv)
		{
			const char *p = json_object_get_string(pv);
			if (cg->nextra == MC_ARRAY_SIZE(cg->extra) || !p || !under_cgroupfs(p) ||
			    strchr(name, '/'))
				return mc_errorf(err, 0, "state: bad extra cgroup entry %s", name);
			cg->extra[cg->nextra].name = strdup(name);
			cg->extra[cg->nextra++].path = strdup(p);
		}
	}
	if (json_object_object_get_ex(o, "created", &v) &&
	    json_object_is_type(v, json_type_array)) {
		size_t n = json_object_array_length(v);
		cg->created = calloc(n + 1, sizeof(char *));
		for (size_t i = 0; cg->created && i < n; i++) {
			const char *s = json_object_get_string(json_object_array_get_idx(v, i));
			if (s && under_cgroupfs(s))
				cg->created[cg->ncreated++] = strdup(s);
		}
	}
	return 0;
}
