/* The device manifest: which devices a VM has, in a form the side that rebuilds it checks
 * before it loads their state (a snapshot's restore, a migration's destination), so a device
 * set that differs is refused up front with the device's name rather than deep in its state.
 *
 * Text, one line per device in registration order: the device's name, then for some devices
 * what must match: `virtio-blk0 sectors=N ro=0|1`, `virtio-net0 mac=52:54:...`,
 * `virtio-console tty=0|1` (the command's console: one terminal port or stdin/stdout/stderr).
 * Written by snapshots (section "manifest") and migration (the set-up frame's data).
 */
#ifndef MINIVM_MANIFEST_H
#define MINIVM_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "device.h"
#include "error.h"

#define MANIFEST_MAX	  4096u
#define MANIFEST_LINE_MAX 128u

struct manifest {
	unsigned n;
	char line[DEVICES_MAX][MANIFEST_LINE_MAX];
	bool console, tty; /* a virtio-console, and whether it is a terminal */
};

struct vm;
/* vm's manifest into buf (NUL-terminated); returns its length, -1 when it does not fit. */
int manifest_write(struct vm *vm, char *buf, size_t max, mc_err *err);
/* Parse and check what another minivm sent or saved: printable lines, names and sizes within
 * bounds, no duplicate names. */
int manifest_parse(const uint8_t *buf, size_t len, struct manifest *m, mc_err *err);
/* The devices vm was built with against want: every device of one in the other, the same
 * line. what names the other side ("the snapshot", "the source"). */
int manifest_check(const struct manifest *want, struct vm *vm, const char *what, mc_err *err);

#endif
