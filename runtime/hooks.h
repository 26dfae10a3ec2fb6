/* OCI hooks: run each with the container state JSON on stdin, with its timeout. */
#ifndef MINICT_HOOKS_H
#define MINICT_HOOKS_H

#include "error.h"
#include "spec.h"

int mc_hooks_run(const struct mc_spec *spec, int kind, const char *state_json, mc_err *err);
const char *mc_hook_kind_name(int kind);
/* The state JSON a hook reads on stdin (malloc'd). */
char *mc_hook_state(const char *id, int pid, const char *bundle, const char *status,
		    struct json_object *annotations);

#endif
