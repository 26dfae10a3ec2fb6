/* Internal to the config parser (config.c, config_linux.c, config_seccomp.c). */
#ifndef MINICT_CONFIG_INTERNAL_H
#define MINICT_CONFIG_INTERNAL_H

#include <json-c/json.h>

#include "spec.h"

int ct_spec_from_json(json_object *root, struct ct_spec *s, mc_err *err);
int ct_spec_parse_linux(json_object *o, struct ct_spec *s, mc_err *err);
int ct_spec_parse_seccomp(json_object *o, struct ct_seccomp *sc, mc_err *err);

#endif
