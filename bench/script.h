/* A bench/ script as an experiment's measuring engine (migrate.c, restore.c): one call of it
 * with one run's settings, its output into a log, the JSON lines it wrote read back, each a
 * JSON object handed to the experiment, and the numbers in them checked.
 *
 * The call: `env RUNS=1 RECORD=0 JSONL=<work>/<tag>-<run>.jsonl BIN=<this build's bin> ENV...
 * bash <checkout>/bench/<script> ARGS...`, its stdout and stderr into <work>/<tag>.log.
 */
#ifndef MB_SCRIPT_H
#define MB_SCRIPT_H

#include <json-c/json.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "backend.h"
#include "error.h"

#define MB_SCRIPT_MAX_ARGS 16 /* ENV and ARGS, each */

struct mb_script_call {
	const char *checkout, *script; /* <checkout>/bench/<script> */
	const char *work, *tag;	       /* the JSON lines' file and the log under work */
	unsigned run;
	const char *const *env, *const *args; /* NULL-ended (NULL: none) */
	size_t max_bytes;		      /* the JSON lines' file at most */
	bool first_only;		      /* its first line alone (else every line) */
	/* one line's object; an error is wrapped with the file's name */
	int (*take)(void *ctx, json_object *row, mc_err *err);
	void *ctx;
	/* set by mb_script_call: the JSON lines' file and the log */
	char jsonl[PATH_MAX + 64], log[PATH_MAX + 64];
};

/* One call (above). Fails with the log's last line where the script fails, where it wrote no
 * file, a line that is not a JSON object, or take fails. */
int mb_script_call(struct mb_script_call *c, mc_err *err);

/* What a VM backend's script needs (vm, qemu; backend b): /dev/kvm, QEMU for qemu, this
 * build's minivm for vm, python3 (bench/<script> is Python), the test guest at guest. */
int mb_script_vm_check(enum mb_backend b, const char *script, const char *guest, mc_err *err);

/* The number `key` of a JSON line's object o into *v: present, a number, finite, in [0, max];
 * null_ok: missing or null gives NAN. */
int mb_script_num(json_object *o, const char *key, bool null_ok, double max, double *v,
		  mc_err *err);

#endif
