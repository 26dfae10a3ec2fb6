/* The per-container state directory: <root>/<id>/state.json and exec.fifo. */
#ifndef MINICT_STATE_H
#define MINICT_STATE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cgroup.h"
#include "error.h"
#include <json-c/json.h>

struct ct_state {
	char *id;
	pid_t pid;
	uint64_t start_time; /* /proc/<pid>/stat field 22, guards against pid reuse */
	char *bundle;
	char *rootfs;
	char *created; /* RFC 3339 */
	json_object *annotations;
	struct ct_cgroup cg;
	bool has_cg;
	char *veth; /* host end, removed on delete */
	char *net_bridge;
	bool init_is_child_waited;
	/* set only in the early state.json of a create in progress (no init yet): the `create`
	 * process, so `delete` can tell an abandoned create (a killed `minict create`) from one
	 * that is still working */
	pid_t creator;
	uint64_t creator_start;
};

enum ct_status { CT_CREATING, CT_CREATED, CT_RUNNING, CT_PAUSED, CT_STOPPED };
const char *ct_status_name(enum ct_status s);

/* ids: [A-Za-z0-9_+.-], 1..1024 bytes, not "." or "..". */
int ct_check_id(const char *id, mc_err *err);
/* <root>/<id> (malloc'd) */
char *ct_state_dir(const char *root, const char *id);
/* Make the container directory; EEXIST -> "container "x" already exists". */
int ct_state_claim(const char *root, const char *id, mc_err *err);
int ct_state_save(const char *root, const struct ct_state *st, mc_err *err);
/* "container "x" does not exist" when missing. */
int ct_state_load(const char *root, const char *id, struct ct_state *st, mc_err *err);
void ct_state_free(struct ct_state *st);
/* Now as RFC 3339 with nanoseconds, UTC (state.json's "created"). */
void ct_now_rfc3339(char *buf, size_t n);
/* Remove the container directory and everything in it. */
void ct_state_remove(const char *root, const char *id);
enum ct_status ct_state_status(const char *root, struct ct_state *st);
uint64_t ct_proc_start_time(pid_t pid);
bool ct_state_alive(const struct ct_state *st);
/* The OCI state JSON (runc's fields plus "cgroups"). */
json_object *ct_state_oci_json(const char *root, struct ct_state *st);

#endif
