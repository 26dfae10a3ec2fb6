/* Which kernel a bzImage is and which kernel an initramfs's modules are for, so that
 * `minivm run` can warn before a guest boots with modules its kernel refuses (docs/images.md).
 *
 * - The bzImage: the setup header's kernel_version (0x20e, protocol 2.00+) is the offset, minus
 *   0x200, of a NUL-terminated string whose first word is `uname -r` ("6.1.0-57-cloud-amd64
 *   (debian-kernel@...) #1 SMP ...").
 * - The initramfs: scripts/images.sh writes the version, one line, into the entry
 *   lib/modules/kver of its newc archive. Only the headers are walked (bounded, every size
 *   checked against the buffer); a compressed or foreign initrd simply has no answer. */
#ifndef MINIVM_KVER_H
#define MINIVM_KVER_H

#include <stddef.h>
#include <stdint.h>

#define KVER_MAX	  128
#define KVER_INITRD_ENTRY "lib/modules/kver"

/* The release in a bzImage's header into out (NUL-terminated, at most max - 1 bytes); returns
 * its length, 0 when the image names none. */
size_t kver_bzimage(const uint8_t *img, size_t len, char *out, size_t max);

/* The release in the lib/modules/kver entry of a newc initramfs; 0 when there is none. */
size_t kver_initrd(const uint8_t *data, size_t len, char *out, size_t max);

#endif
