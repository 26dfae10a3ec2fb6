#include "paths.h"

#include <stdarg.h>
#include <stdio.h>

int mb_pathf(char *buf, size_t size, mc_err *err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size)
		return mc_errorf(err, 0, "path too long: %.64s...", buf);
	return 0;
}
