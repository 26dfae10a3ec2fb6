/* Typed getters over json-c that name the offending field in errors ("process.args[2]"). */
#ifndef MINICT_JSONH_H
#define MINICT_JSONH_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"

/* Each getter: returns 0 when the key is absent (leaving *out, *present=false), 1 when present
 * and valid, -1 with a field-naming error when the type or range is wrong. */
int ct_j_obj(json_object *o, const char *ctx, const char *key, json_object **out, mc_err *err);
int ct_j_arr(json_object *o, const char *ctx, const char *key, json_object **out, mc_err *err);
int ct_j_str(json_object *o, const char *ctx, const char *key, char **out, mc_err *err);
int ct_j_bool(json_object *o, const char *ctx, const char *key, bool *out, mc_err *err);
int ct_j_i64(json_object *o, const char *ctx, const char *key, int64_t min, int64_t max,
	     int64_t *out, mc_err *err);
/* NULL-terminated malloc'd array of strings. */
int ct_j_strv(json_object *o, const char *ctx, const char *key, char ***out, size_t *n,
	      mc_err *err);
void ct_strv_free(char **v);
/* Error naming ctx.KEY when any of keys (NULL-terminated) is set to a non-empty value in o:
 * for fields minict knows but cannot honour (an empty string, array or object is unset). */
int ct_j_refuse(json_object *o, const char *ctx, const char *const *keys, mc_err *err);

#endif
