/* Paths built with a format, refused (not truncated) when they don't fit; a log's last line;
 * small files written whole. */
#ifndef MB_PATHS_H
#define MB_PATHS_H

#include <stddef.h>

#include "error.h"

int mb_pathf(char *buf, size_t size, mc_err *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The last non-empty line of the file at path into buf ("" if none), for error messages. */
void mb_last_line(const char *path, char *buf, size_t size);
/* Create or truncate path with mode (set even on an existing file) and write text into it. */
int mb_write_text(const char *path, const char *text, unsigned mode, mc_err *err);
/* Remove path and everything under it, as far as it can, without crossing a mount. */
void mb_rm_tree(const char *path);

#endif
