/* libFuzzer target: minict's config.json parser (json-c into typed structs), the mount
 * option parser and the OCI `--process` path share this code.
 *
 * clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Ilib -Iruntime \
 *   tests/fuzz/runtime_config.c runtime/config.c runtime/config_linux.c \
 *   runtime/config_seccomp.c runtime/jsonh.c runtime/spec_default.c lib/error.c lib/util.c \
 *   -ljson-c -lseccomp -lcap -o build/fuzz-runtime-config
 * build/fuzz-runtime-config -max_total_time=60 */
#include <stddef.h>
#include <stdint.h>

#include "spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ct_spec *spec = NULL;
	mc_err err = NULL;
	if (ct_spec_parse((const char *)data, size, &spec, &err) == 0)
		ct_spec_free(spec);
	mc_error_free(&err);
	return 0;
}
