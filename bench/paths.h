/* Paths built with a format, refused (not truncated) when they don't fit. */
#ifndef MB_PATHS_H
#define MB_PATHS_H

#include <stddef.h>

#include "error.h"

int mb_pathf(char *buf, size_t size, mc_err *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
