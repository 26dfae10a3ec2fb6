/* Small helpers shared by the tools: sizes, whole-file I/O, monotonic time. */
#ifndef MINI_UTIL_H
#define MINI_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "error.h"

/* Parse "256M", "1G", "4096", "512k" (binary units) into bytes; rejects junk and overflow. */
int mc_parse_size(const char *s, uint64_t *out, mc_err *err);
/* Parse a whole decimal number within [min, max]; what names the value in the error. */
int mc_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out, const char *what,
		  mc_err *err);
/* Read a whole file (at most max bytes) into a malloc'd, NUL-terminated buffer. */
int mc_read_file(const char *path, size_t max, char **buf, size_t *len, mc_err *err);
/* Write buf to path (O_TRUNC or O_APPEND not set: plain write, e.g. for sysfs/cgroupfs). */
int mc_write_file(const char *path, const void *buf, size_t len, mc_err *err);
/* write() all of buf, retrying on EINTR and short writes. */
ssize_t mc_write_all(int fd, const void *buf, size_t len);
/* read() exactly len bytes unless EOF; returns bytes read or -1. */
ssize_t mc_read_all(int fd, void *buf, size_t len);
/* Read /proc/<pid>/<name> into buf (NUL-terminated); returns its length, or -1. */
ssize_t mc_read_proc(pid_t pid, const char *name, char *buf, size_t size);
/* Monotonic clock in nanoseconds. */
uint64_t mc_now_ns(void);
/* The CLOCK_REALTIME instant ns from now, as pthread_cond_timedwait() wants its deadline. */
struct timespec mc_realtime_after(uint64_t ns);
/* mkdir -p with mode. */
int mc_mkdir_p(const char *path, unsigned mode, mc_err *err);

#endif
