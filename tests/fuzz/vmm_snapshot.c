/* libFuzzer target for minivm's snapshot state parser (vmm/snapshot.c snap_parse): whatever a
 * state file holds, the parser reads only inside it and every section it accepts lies inside
 * the buffer with the length its type needs. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/error.h"
#include "lib/migstream.h"
#include "vmm/snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct snap s;
	/* A copy of exactly size bytes: ASan catches a read past the end. */
	uint8_t *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	mc_err err = NULL;
	if (snap_parse(buf, size, &s, &err) == 0) {
		uint32_t sum = 0;
		for (unsigned t = 0; t < SNAP_TYPE_MAX; t++)
			for (unsigned i = 0; i < SNAP_MAX_CPUS; i++)
				if (s.sec[t][i].p) {
					if (s.sec[t][i].p < buf ||
					    s.sec[t][i].p + s.sec[t][i].len > buf + size)
						abort();
					sum = mc_crc32(sum, s.sec[t][i].p, s.sec[t][i].len);
				}
		if (s.ncpus < 1 || s.ncpus > SNAP_MAX_CPUS)
			abort();
		(void)sum;
	}
	mc_error_free(&err);
	free(buf);
	return 0;
}
