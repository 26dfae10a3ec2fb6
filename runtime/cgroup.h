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

enum mc_cg_layout { MC_CG_NONE, MC_CG_V1, MC_CG_V2, MC_CG_HYBRID };

/* Controllers minict manages. */
enum mc_cg_ctrl {
	MC_CG_MEMORY,
	MC_CG_CPU,
	MC_CG_CPUACCT,
	MC_CG_CPUSET,
	MC_CG_PIDS,
	MC_CG_IO,
	MC_CG_FREEZER,
	MC_CG_DEVICES,
	MC_CG_NCTRL
};

struct mc_cg_dir;
struct mc_cg_ops {
	const char *name; /* "v1" or "v2" */
	/* apply the part of res that belongs to ctrl; notes the knob written in *where */
	int (*apply)(const char *dir, enum mc_cg_ctrl ctrl, const struct mc_resources *res,
		     mc_err *err);
	int (*freeze)(const char *dir, bool frozen, mc_err *err);
	/* 1 when frozen */
	int (*frozen)(const char *dir);
	/* add ctrl's statistics to out */
	void (*stats)(const char *dir, enum mc_cg_ctrl ctrl, json_object *out);
	/* prepare a freshly made directory (v1 cpuset: copy cpus/mems from the parent) */
	int (*init_dir)(const char *dir, enum mc_cg_ctrl ctrl, mc_err *err);
};
extern const struct mc_cg_ops mc_cg_v1_ops, mc_cg_v2_ops;
/* cgroup v2 device rules: attach an eBPF device filter to dir (cgroup_v2_devices.c). */
int mc_cg_v2_devices(const char *dir, const struct mc_resources *res, mc_err *err);

struct mc_cgroup {
	enum mc_cg_layout layout;
	char *path[MC_CG_NCTRL]; /* container dir serving each controller, or NULL */
	const struct mc_cg_ops *ops[MC_CG_NCTRL]; /* its backend */
	char *unified;				  /* container dir in cgroup2 (freeze/kill/procs) */
	char **created;				  /* directories minict made, in creation order */
	size_t ncreated;
};

const char *mc_cg_ctrl_name(enum mc_cg_ctrl c);
enum mc_cg_layout mc_cg_detect(void);
const char *mc_cg_layout_name(enum mc_cg_layout l);

/* Plan and create the container's cgroup directories for cgroups_path (NULL: minict/<id>
 * under minict's own cgroup). Nothing is written into existing cgroups except enabling
 * a needed controller in a v2 parent's cgroup.subtree_control. On error everything made
 * so far is removed. */
int mc_cg_create(struct mc_cgroup *cg, const char *cgroups_path, const char *id,
		 const struct mc_resources *res, mc_err *err);
int mc_cg_apply(struct mc_cgroup *cg, const struct mc_resources *res, mc_err *err);
int mc_cg_enter(struct mc_cgroup *cg, pid_t pid, mc_err *err);
int mc_cg_freeze(struct mc_cgroup *cg, bool frozen, mc_err *err);
bool mc_cg_is_frozen(struct mc_cgroup *cg);
/* Signal every process in the container cgroup (cgroup.kill for SIGKILL on v2). */
int mc_cg_kill_all(struct mc_cgroup *cg, int sig, mc_err *err);
/* PIDs in the container cgroup (malloc'd), count in *n. */
int mc_cg_pids(struct mc_cgroup *cg, pid_t **pids, size_t *n, mc_err *err);
json_object *mc_cg_stats(struct mc_cgroup *cg);
/* Remove the directories minict created (retrying while the last tasks exit). */
int mc_cg_destroy(struct mc_cgroup *cg, mc_err *err);
void mc_cg_free(struct mc_cgroup *cg);
/* rmdir the "minict" directory above each leaf when it is empty (default layout only). */
void mc_cg_remove_default_parents(const struct mc_cgroup *cg);
/* {"layout": "...", "memory": "v1:/sys/fs/cgroup/memory/...", ..., "created": [...]} */
json_object *mc_cg_to_json(const struct mc_cgroup *cg);
int mc_cg_from_json(json_object *o, struct mc_cgroup *cg, mc_err *err);

#endif
