/* Errors as values with context, shared by minivm, minict, minilab and minibench.
 *
 * A failing function returns a negative value and fills *err at the failure site with the
 * errno (if any) and the object it failed on ("open `/x`"). Callers add their step with
 * mc_error_wrap() ("load kernel: open `/x`: No such file"). Only the top level prints, once.
 */
#ifndef MINI_ERROR_H
#define MINI_ERROR_H

#include <stdarg.h>
#include <stdio.h>

struct mc_error {
	int errnum; /* errno of the root cause, 0 when none */
	char *msg;  /* full message including context, without the errno text */
};
typedef struct mc_error *mc_err;

/* Set *err (if err is not NULL and *err is NULL) and return -1. errnum 0 means no errno text. */
int mc_errorf(mc_err *err, int errnum, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Same with a va_list. */
int mc_verror(mc_err *err, int errnum, const char *fmt, va_list ap);
/* Prefix the message in *err with "<context>: "; returns -1 so callers can `return mc_wrap()`. */
int mc_wrap(mc_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The message with the errno text appended, in a static-lifetime-per-error buffer. */
const char *mc_error_text(mc_err err);
/* Print "prog: message" on one line to stream. */
void mc_error_print(mc_err err, const char *prog, FILE *stream);
void mc_error_free(mc_err *err);

#endif
