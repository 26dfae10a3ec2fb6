#include "jsonh.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *jtype(json_object *v)
{
	return json_type_to_name(json_object_get_type(v));
}

static int get(json_object *o, const char *key, json_object **v)
{
	if (!json_object_object_get_ex(o, key, v) || !*v)
		return 0; /* absent or null */
	return 1;
}

int ct_j_obj(json_object *o, const char *ctx, const char *key, json_object **out, mc_err *err)
{
	json_object *v;
	if (!get(o, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_object))
		return mc_errorf(err, 0, "%s%s%s: expected an object, got %s", ctx, *ctx ? "." : "",
				 key, jtype(v));
	*out = v;
	return 1;
}

int ct_j_arr(json_object *o, const char *ctx, const char *key, json_object **out, mc_err *err)
{
	json_object *v;
	if (!get(o, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_array))
		return mc_errorf(err, 0, "%s%s%s: expected an array, got %s", ctx, *ctx ? "." : "",
				 key, jtype(v));
	*out = v;
	return 1;
}

int ct_j_str(json_object *o, const char *ctx, const char *key, char **out, mc_err *err)
{
	json_object *v;
	if (!get(o, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return mc_errorf(err, 0, "%s%s%s: expected a string, got %s", ctx, *ctx ? "." : "",
				 key, jtype(v));
	const char *s = json_object_get_string(v);
	if (strlen(s) != (size_t)json_object_get_string_len(v))
		return mc_errorf(err, 0, "%s%s%s: string contains a NUL byte", ctx, *ctx ? "." : "",
				 key);
	free(*out);
	*out = strdup(s);
	if (!*out)
		return mc_errorf(err, ENOMEM, "%s.%s", ctx, key);
	return 1;
}

int ct_j_bool(json_object *o, const char *ctx, const char *key, bool *out, mc_err *err)
{
	json_object *v;
	if (!get(o, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_boolean))
		return mc_errorf(err, 0, "%s%s%s: expected a boolean, got %s", ctx, *ctx ? "." : "",
				 key, jtype(v));
	*out = json_object_get_boolean(v);
	return 1;
}

int ct_j_i64(json_object *o, const char *ctx, const char *key, int64_t min, int64_t max,
	     int64_t *out, mc_err *err)
{
	json_object *v;
	if (!get(o, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_int))
		return mc_errorf(err, 0, "%s%s%s: expected an integer, got %s", ctx,
				 *ctx ? "." : "", key, jtype(v));
	int64_t x;
	errno = 0;
	x = json_object_get_int64(v);
	if (errno == ERANGE || x < min || x > max) {
		/* json-c clamps big unsigned values; look at the uint64 too */
		uint64_t u = json_object_get_uint64(v);
		if (min >= 0 && max == INT64_MAX && u > (uint64_t)INT64_MAX)
			return mc_errorf(err, 0, "%s%s%s: %llu out of range", ctx, *ctx ? "." : "",
					 key, (unsigned long long)u);
		return mc_errorf(err, 0, "%s%s%s: %lld out of range [%lld, %lld]", ctx,
				 *ctx ? "." : "", key, (long long)x, (long long)min,
				 (long long)max);
	}
	*out = x;
	return 1;
}

void ct_strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

int ct_j_strv(json_object *o, const char *ctx, const char *key, char ***out, size_t *n, mc_err *err)
{
	json_object *a;
	int r = ct_j_arr(o, ctx, key, &a, err);
	if (r <= 0)
		return r;
	size_t len = json_object_array_length(a);
	char **v = calloc(len + 1, sizeof(char *));
	if (!v)
		return mc_errorf(err, ENOMEM, "%s.%s", ctx, key);
	for (size_t i = 0; i < len; i++) {
		json_object *e = json_object_array_get_idx(a, i);
		if (!e || !json_object_is_type(e, json_type_string)) {
			ct_strv_free(v);
			return mc_errorf(err, 0, "%s%s%s[%zu]: expected a string, got %s", ctx,
					 *ctx ? "." : "", key, i, e ? jtype(e) : "null");
		}
		v[i] = strdup(json_object_get_string(e));
		if (!v[i]) {
			ct_strv_free(v);
			return mc_errorf(err, ENOMEM, "%s.%s", ctx, key);
		}
	}
	ct_strv_free(*out);
	*out = v;
	if (n)
		*n = len;
	return 1;
}

int ct_j_refuse(json_object *o, const char *ctx, const char *const *keys, mc_err *err)
{
	for (const char *const *k = keys; *k; k++) {
		json_object *v;
		if (!json_object_object_get_ex(o, *k, &v) || !v)
			continue;
		if ((json_object_is_type(v, json_type_string) && !json_object_get_string_len(v)) ||
		    (json_object_is_type(v, json_type_array) && !json_object_array_length(v)) ||
		    (json_object_is_type(v, json_type_object) && !json_object_object_length(v)))
			continue;
		return mc_errorf(err, EOPNOTSUPP, "%s.%s: not supported by minict on this host",
				 ctx, *k);
	}
	return 0;
}
