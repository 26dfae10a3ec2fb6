/* A cgroup per container, on v1, v2 or hybrid hosts. Each controller is served by the v2
 * hierarchy when cgroup2 offers it, else by its v1 hierarchy (as runc does on hybrid hosts);
 * freeze and kill use cgroup2's cgroup.freeze/cgroup.kill whenever a cgroup2 mount exists.
 * The per-hierarchy knobs sit behind a small vtable (cgroup_v1.c, cgroup_v2.c). */
#ifndef MINICT_CGROUP_H
#define MINICT_CGROUP_H

#include <stdbool.h>
#include <sys/types.h>

#include "error.h"
#include <json-c/json.h>
#include "spec.h"

enum ct_cg_layout { CT_CG_NONE, CT_CG_V1, CT_CG_V2, CT_CG_HYBRID };

/* Controllers minict manages. */
enum ct_cg_ctrl {
	CT_CG_MEMORY,
	CT_CG_CPU,
	CT_CG_CPUACCT,
	CT_CG_CPUSET,
	CT_CG_PIDS,
	CT_CG_IO,
	CT_CG_FREEZER,
	CT_CG_DEVICES,
	CT_CG_HUGETLB,
	CT_CG_NET_CLS,	/* v1 only */
	CT_CG_NET_PRIO, /* v1 only */
	CT_CG_NCTRL
};

struct ct_cg_dir;
struct ct_cg_ops {
	const char *name; /* "v1" or "v2" */
	/* apply the part of res that belongs to ctrl; notes the knob written in *where */
	int (*apply)(const char *dir, enum ct_cg_ctrl ctrl, const struct ct_resources *res,
		     mc_err *err);
	int (*freeze)(const char *dir, bool frozen, mc_err *err);
	/* 1 when frozen */
	int (*frozen)(const char *dir);
	/* add ctrl's statistics to out */
	void (*stats)(const char *dir, enum ct_cg_ctrl ctrl, json_object *out);
	/* prepare a freshly made directory (v1 cpuset: copy cpus/mems from the parent) */
	int (*init_dir)(const char *dir, enum ct_cg_ctrl ctrl, mc_err *err);
};
extern const struct ct_cg_ops ct_cg_v1_ops, ct_cg_v2_ops;
/* cgroup v2 device rules: attach an eBPF device filter to dir (cgroup_v2_devices.c). */
int ct_cg_v2_devices(const char *dir, const struct ct_resources *res, mc_err *err);

struct ct_cgroup {
	enum ct_cg_layout layout;
	char *path[CT_CG_NCTRL]; /* container dir serving each controller, or NULL */
	const struct ct_cg_ops *ops[CT_CG_NCTRL]; /* its backend */
	char *unified;				  /* container dir in cgroup2 (freeze/kill/procs) */
	/* Every other v1 hierarchy of the host (name=systemd, and controllers no limit asked
	 * for: cpuset, blkio...): the container gets a directory there too, as under runc, so
	 * its /sys/fs/cgroup looks the same. "name" is the hierarchy's directory name. */
	struct ct_cg_extra {
		char *name, *path;
	} extra[16];
	size_t nextra;
	char **created; /* directories minict made, in creation order */
	size_t ncreated;
};

const char *ct_cg_ctrl_name(enum ct_cg_ctrl c);
/* The v1 hierarchy's directory under /sys/fs/cgroup ("blkio" for io). */
const char *ct_cg_v1_dir(enum ct_cg_ctrl c);
enum ct_cg_layout ct_cg_detect(void);
const char *ct_cg_layout_name(enum ct_cg_layout l);

/* Plan and create the container's cgroup directories for cgroups_path (NULL: minict/<id>
 * under minict's own cgroup). Nothing is written into existing cgroups except enabling
 * a needed controller in a v2 parent's cgroup.subtree_control. On error everything made
 * so far is removed. */
int ct_cg_create(struct ct_cgroup *cg, const char *cgroups_path, const char *id,
		 const struct ct_resources *res, mc_err *err);
int ct_cg_apply(struct ct_cgroup *cg, const struct ct_resources *res, mc_err *err);
int ct_cg_enter(struct ct_cgroup *cg, pid_t pid, mc_err *err);
int ct_cg_freeze(struct ct_cgroup *cg, bool frozen, mc_err *err);
bool ct_cg_is_frozen(struct ct_cgroup *cg);
/* Signal every process in the container cgroup (cgroup.kill for SIGKILL on v2). */
int ct_cg_kill_all(struct ct_cgroup *cg, int sig, mc_err *err);
/* PIDs in the container cgroup (malloc'd), count in *n. */
int ct_cg_pids(struct ct_cgroup *cg, pid_t **pids, size_t *n, mc_err *err);
json_object *ct_cg_stats(struct ct_cgroup *cg);
/* Remove the directories minict created (retrying while the last tasks exit). */
int ct_cg_destroy(struct ct_cgroup *cg, mc_err *err);
void ct_cg_free(struct ct_cgroup *cg);
/* rmdir the "minict" directory above each leaf when it is empty (default layout only). */
void ct_cg_remove_default_parents(const struct ct_cgroup *cg);
/* {"layout": "...", "memory": "v1:/sys/fs/cgroup/memory/...", ..., "created": [...]} */
json_object *ct_cg_to_json(const struct ct_cgroup *cg);
int ct_cg_from_json(json_object *o, struct ct_cgroup *cg, mc_err *err);

#endif
