/* Internal to the config parser (config.c, config_linux.c, config_seccomp.c). */
#ifndef MINICT_CONFIG_INTERNAL_H
#define MINICT_CONFIG_INTERNAL_H

#include <json-c/json.h>

#include "spec.h"

int mc_spec_from_json(json_object *root, struct mc_spec *s, mc_err *err);
int mc_spec_parse_linux(json_object *o, struct mc_spec *s, mc_err *err);
int mc_spec_parse_seccomp(json_object *o, struct mc_seccomp *sc, mc_err *err);

#endif
