/* A newc ("070701") cpio archive built in memory: what minivm appends to the initramfs to hand
 * the guest command's argv and environment to guestinit (docs/boot.md, "The command and its
 * environment"). The kernel unpacks concatenated archives in turn, so this one only adds files. */
#ifndef MINIVM_CPIO_H
#define MINIVM_CPIO_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define CPIO_HDR_LEN 110 /* "070701" and 13 fields of 8 hex digits */

/* Where guestinit finds them: each entry followed by one NUL byte (so an empty argument is a
 * lone NUL, and no entry can hold a NUL). */
#define BOOT_ARGS_DIR  "minivm"
#define BOOT_ARGV_FILE "minivm/argv"
#define BOOT_ENV_FILE  "minivm/env"

struct cpio {
	uint8_t *data;
	size_t len, cap;
	uint32_t ino;
};

/* One entry: header, name (NUL included) padded so the data starts 4-byte aligned, data padded
 * to 4 bytes. mode is the full st_mode (S_IFREG | 0444, S_IFDIR | 0755). */
int cpio_add(struct cpio *c, const char *name, uint32_t mode, const void *data, size_t len,
	     mc_err *err);
/* The end marker, "TRAILER!!!". */
int cpio_finish(struct cpio *c, mc_err *err);
void cpio_free(struct cpio *c);

/* The whole archive for a guest command: directory minivm/, minivm/argv (args, NUL-terminated
 * each), minivm/env (K=V, NUL-terminated each), the trailer. Arguments or variables that hold a
 * NUL cannot exist (they are C strings); env entries must hold '='. */
int boot_args_archive(char *const *args, size_t nargs, char *const *env, size_t nenv,
		      struct cpio *out, mc_err *err);

#endif
