/* OCI hooks: run each with the container state JSON on stdin, with its timeout. */
#ifndef MINICT_HOOKS_H
#define MINICT_HOOKS_H

#include <stdbool.h>

#include "error.h"
#include "spec.h"

/* Run the hooks of kind in order. The first failure stops them and is returned, unless
 * keep_going (poststart, poststop: the spec wants a warning and the rest run): then each
 * failure is logged as a warning and 0 is returned. */
int ct_hooks_run(const struct ct_spec *spec, int kind, const char *state_json, bool keep_going,
		 mc_err *err);
const char *ct_hook_kind_name(int kind);
/* The state JSON a hook reads on stdin (malloc'd). */
char *ct_hook_state(const char *id, int pid, const char *bundle, const char *status,
		    struct json_object *annotations);

#endif
