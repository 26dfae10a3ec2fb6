/* libFuzzer target: the lab agent's frame reader (lab/proto.c) on arbitrary bytes, as a
 * hostile client of the agent's port would send them. */
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lab/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = memfd_create("frames", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size || lseek(fd, 0, SEEK_SET) < 0) {
		close(fd);
		return 0;
	}
	for (;;) {
		mc_err err = NULL;
		struct lab_frame f;
		int r = lab_recv(fd, &f, &err);
		mc_error_free(&err);
		if (r <= 0)
			break;
		uint32_t v;
		if (lab_frame_u32(&f, &v, &err) < 0)
			mc_error_free(&err);
		lab_frame_free(&f);
	}
	close(fd);
	return 0;
}
