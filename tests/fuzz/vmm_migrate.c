/* libFuzzer target for minivm's incoming migration stream parser (vmm/migrate.c
 * mig_recv_setup, mig_recv_body, then snap_parse on the state, as `minivm run --incoming` runs
 * them): whatever the stream holds, nothing is written outside guest RAM (a mapping with
 * inaccessible guard pages on both sides: a stray write faults) and nothing is read past the
 * input. Guests over 64 MiB are refused here (the parser checks sizes the same way). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/error.h"
#include "lib/migstream.h"
#include "vmm/migrate.h"
#include "vmm/snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct mc_ms rx;
	static struct snap s;
	static int fd = -1;
	if (fd < 0)
		fd = memfd_create("stream", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size ||
	    lseek(fd, 0, SEEK_SET) != 0)
		abort();
	mc_ms_init(&rx, fd);
	mc_err err = NULL;
	struct mig_setup su;
	if (mig_recv_setup(&rx, &su, &err) < 0 || su.mem_size > (64u << 20)) {
		mc_error_free(&err);
		return 0;
	}
	size_t guard = 4096, len = su.mem_size + 2 * guard;
	uint8_t *map =
	    mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (map == MAP_FAILED)
		abort();
	uint8_t *ram = map + guard;
	if (mprotect(ram, su.mem_size, PROT_READ | PROT_WRITE) < 0)
		abort();
	struct mig_rx_stats st;
	uint8_t *state = NULL;
	size_t slen = 0;
	if (mig_recv_body(&rx, ram, su.mem_size, &st, &state, &slen, &err) == 0) {
		if (!state || slen < SNAP_HEADER_LEN || slen > SNAP_STATE_MAX)
			abort();
		if (snap_parse(state, slen, &s, &err) == 0 && s.ncpus > SNAP_MAX_CPUS)
			abort();
	}
	free(state);
	mc_error_free(&err);
	munmap(map, len);
	return 0;
}
