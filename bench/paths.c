#include "paths.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "util.h"

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

void mb_last_line(const char *path, char *buf, size_t size)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	mc_err e = NULL;
	buf[0] = 0;
	if (mc_read_file(path, 1 << 20, &text, &len, &e) < 0) {
		mc_error_free(&e);
		return;
	}
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == ' ' || text[len - 1] == '\r'))
		text[--len] = 0;
	char *nl = strrchr(text, '\n');
	snprintf(buf, size, "%s", nl ? nl + 1 : text);
}

int mb_write_text(const char *path, const char *text, unsigned mode, mc_err *err)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return mc_errorf(err, errno, "create `%s`", path);
	size_t len = strlen(text);
	if (mc_write_all(fd, text, len) != (ssize_t)len)
		return mc_errorf(err, errno, "write `%s`", path);
	if (fchmod(fd, mode) < 0)
		return mc_errorf(err, errno, "chmod `%s`", path);
	return 0;
}

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (type == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

void mb_rm_tree(const char *path)
{
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}
