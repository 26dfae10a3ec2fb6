#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"

int mc_parse_size(const char *s, uint64_t *out, mc_err *err)
{
	if (!s || !*s)
		return mc_errorf(err, 0, "empty size");
	char *end = NULL;
	errno = 0;
	if (*s == '-')
		return mc_errorf(err, 0, "size `%s` is negative", s);
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s)
		return mc_errorf(err, 0, "size `%s` is not a number", s);
	unsigned shift = 0;
	switch (*end) {
	case '\0':
		break;
	case 'k':
	case 'K':
		shift = 10;
		break;
	case 'm':
	case 'M':
		shift = 20;
		break;
	case 'g':
	case 'G':
		shift = 30;
		break;
	case 't':
	case 'T':
		shift = 40;
		break;
	default:
		return mc_errorf(err, 0, "size `%s` has an unknown unit (use K, M, G or T)", s);
	}
	if (*end) {
		end++;
		if (*end == 'i')
			end++;
		if (*end == 'B' || *end == 'b')
			end++;
		if (*end)
			return mc_errorf(err, 0, "size `%s` has trailing characters", s);
	}
	if (shift && v > (UINT64_MAX >> shift))
		return mc_errorf(err, 0, "size `%s` is too large", s);
	*out = (uint64_t)v << shift;
	return 0;
}

int mc_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out, const char *what,
		  mc_err *err)
{
	char *end = NULL;
	if (!s || !*s || *s == '-' || *s == '+')
		return mc_errorf(err, 0, "%s `%s` is not a whole number", what, s ? s : "");
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end)
		return mc_errorf(err, 0, "%s `%s` is not a whole number", what, s);
	if (v < min || v > max)
		return mc_errorf(err, 0, "%s %llu is out of range (%llu to %llu)", what, v,
				 (unsigned long long)min, (unsigned long long)max);
	*out = v;
	return 0;
}

int mc_read_file(const char *path, size_t max, char **buf, size_t *len, mc_err *err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return mc_errorf(err, errno, "open `%s`", path);
	/* a regular file's size sizes the buffer once (a kernel image is tens of MB: growing by
	 * doubling copied it over and over); /proc and pipes report 0 and grow as needed */
	struct stat st;
	size_t cap = 4096, n = 0;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
		cap = (uint64_t)st.st_size < max ? (size_t)st.st_size + 1 : max;
	if (cap > max)
		cap = max;
	_cleanup_free_ char *b = malloc(cap + 1);
	if (!b)
		return mc_errorf(err, ENOMEM, "read `%s`", path);
	for (;;) {
		if (n == cap) {
			char probe;
			if (cap >= max) {
				if (read(fd, &probe, 1) == 0)
					break;
				return mc_errorf(err, 0, "read `%s`: larger than %zu bytes", path,
						 max);
			}
			cap = cap * 2 > max ? max : cap * 2;
			char *nb = realloc(b, cap + 1);
			if (!nb)
				return mc_errorf(err, ENOMEM, "read `%s`", path);
			b = nb;
		}
		ssize_t r = read(fd, b + n, cap - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return mc_errorf(err, errno, "read `%s`", path);
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	b[n] = '\0';
	*buf = mc_steal_ptr(&b);
	if (len)
		*len = n;
	return 0;
}

int mc_write_file(const char *path, const void *buf, size_t len, mc_err *err)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return mc_errorf(err, errno, "open `%s`", path);
	if (mc_write_all(fd, buf, len) < 0)
		return mc_errorf(err, errno, "write `%s`", path);
	return 0;
}

ssize_t mc_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	size_t done = 0;
	while (done < len) {
		ssize_t w = write(fd, p + done, len - done);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		done += (size_t)w;
	}
	return (ssize_t)done;
}

ssize_t mc_read_all(int fd, void *buf, size_t len)
{
	char *p = buf;
	size_t done = 0;
	while (done < len) {
		ssize_t r = read(fd, p + done, len - done);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			break;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

ssize_t mc_read_proc(pid_t pid, const char *name, char *buf, size_t size)
{
	char path[64];
	if (size == 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = mc_read_all(fd, buf, size - 1);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return n;
}

uint64_t mc_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct timespec mc_realtime_after(uint64_t ns)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)(ns / 1000000000ull);
	ts.tv_nsec += (long)(ns % 1000000000ull);
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

int mc_mkdir_p(const char *path, unsigned mode, mc_err *err)
{
	char tmp[PATH_MAX];
	if (strlen(path) >= sizeof(tmp))
		return mc_errorf(err, ENAMETOOLONG, "mkdir `%s`", path);
	strcpy(tmp, path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) < 0 && errno != EEXIST)
			return mc_errorf(err, errno, "mkdir `%s`", tmp);
		*p = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		return mc_errorf(err, errno, "mkdir `%s`", tmp);
	return 0;
}
