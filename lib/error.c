#include "error.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static char oom_msg[] = "out of memory while reporting an error";
static struct mc_error oom_error = {ENOMEM, oom_msg};

int mc_verror(mc_err *err, int errnum, const char *fmt, va_list ap)
{
	if (!err || *err)
		return -1; /* keep the first (root-cause) error */
	struct mc_error *e = calloc(1, sizeof(*e));
	char *text = NULL;
	if (!e || vasprintf(&text, fmt, ap) < 0) {
		free(e);
		*err = &oom_error;
		return -1;
	}
	if (errnum) {
		char *full = NULL;
		if (asprintf(&full, "%s: %s", text, strerror(errnum)) >= 0) {
			free(text);
			text = full;
		}
	}
	e->errnum = errnum;
	e->msg = text;
	*err = e;
	return -1;
}

int mc_errorf(mc_err *err, int errnum, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	mc_verror(err, errnum, fmt, ap);
	va_end(ap);
	return -1;
}

int mc_wrap(mc_err *err, const char *fmt, ...)
{
	if (!err || !*err || *err == &oom_error)
		return -1;
	char *ctx = NULL, *full = NULL;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&ctx, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if (asprintf(&full, "%s: %s", ctx, (*err)->msg) >= 0) {
		free((*err)->msg);
		(*err)->msg = full;
	}
	free(ctx);
	return -1;
}

const char *mc_error_text(mc_err err)
{
	return err ? err->msg : "unknown error";
}

void mc_error_print(mc_err err, const char *prog, FILE *stream)
{
	fprintf(stream, "%s: %s\n", prog, mc_error_text(err));
}

void mc_error_free(mc_err *err)
{
	if (!err || !*err)
		return;
	if (*err != &oom_error) {
		free((*err)->msg);
		free(*err);
	}
	*err = NULL;
}
