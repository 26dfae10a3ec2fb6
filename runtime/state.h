/* The per-container state directory: <root>/<id>/state.json and exec.fifo. */
#ifndef MINICT_STATE_H
#define MINICT_STATE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cgroup.h"
#include "error.h"
#include <json-c/json.h>

struct mc_state {
	char *id;
	pid_t pid;
	uint64_t start_time; /* /proc/<pid>/stat field 22, guards against pid reuse */
	char *bundle;
	char *rootfs;
	char *created; /* RFC 3339 */
	json_object *annotations;
	struct mc_cgroup cg;
	bool has_cg;
	char *veth; /* host end, removed on delete */
	char *net_bridge;
	bool init_is_child_waited;
};

enum mc_status { MC_CREATING, MC_CREATED, MC_RUNNING, MC_PAUSED, MC_STOPPED };
const char *mc_status_name(enum mc_status s);

/* ids: [A-Za-z0-9_+.-], 1..1024 bytes, not "." or "..". */
int mc_check_id(const char *id, mc_err *err);
/* <root>/<id> (malloc'd) */
char *mc_state_dir(const char *root, const char *id);
/* Make the container directory; EEXIST -> "container "x" already exists". */
int mc_state_claim(const char *root, const char *id, mc_err *err);
int mc_state_save(const char *root, const struct mc_state *st, mc_err *err);
/* "container "x" does not exist" when missing. */
int mc_state_load(const char *root, const char *id, struct mc_state *st, mc_err *err);
void mc_state_free(struct mc_state *st);
/* Remove the container directory and everything in it. */
void mc_state_remove(const char *root, const char *id);
enum mc_status mc_state_status(const char *root, struct mc_state *st);
uint64_t mc_proc_start_time(pid_t pid);
bool mc_state_alive(const struct mc_state *st);
/* The OCI state JSON (runc's fields plus "cgroups"). */
json_object *mc_state_oci_json(const char *root, struct mc_state *st);

#endif
