#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *log_prog = "mini";
static FILE *log_stream;
static enum mc_log_format log_format = MC_LOG_TEXT;
static enum mc_log_level log_level = MC_LOG_WARN;

static const char *level_name[] = {"error", "warning", "info", "debug"};

int mc_log_open(const char *prog, const char *path, enum mc_log_format format)
{
	log_prog = prog;
	log_format = format;
	if (path) {
		FILE *f = fopen(path, "ae");
		if (!f)
			return -1;
		setvbuf(f, NULL, _IOLBF, 0);
		log_stream = f;
	}
	const char *env = getenv("MINI_DEBUG");
	if (env && *env)
		log_level = MC_LOG_DEBUG;
	return 0;
}

void mc_log_set_level(enum mc_log_level level)
{
	log_level = level;
}

/* JSON-escape s into out (always NUL-terminated). */
static void json_escape(const char *s, char *out, size_t n)
{
	size_t o = 0;
	for (; *s && o + 7 < n; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20) {
			o += (size_t)snprintf(out + o, n - o, "\\u%04x", c);
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
}

void mc_log(enum mc_log_level level, const char *fmt, ...)
{
	if (level > log_level)
		return;
	FILE *f = log_stream ? log_stream : stderr;
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (log_format == MC_LOG_JSON) {
		char esc[sizeof(msg) * 2];
		char ts[64];
		struct timespec now;
		struct tm tm;
		clock_gettime(CLOCK_REALTIME, &now);
		gmtime_r(&now.tv_sec, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
		json_escape(msg, esc, sizeof(esc));
		fprintf(f, "{\"level\":\"%s\",\"msg\":\"%s\",\"time\":\"%s.%09ldZ\"}\n",
			level_name[level], esc, ts, now.tv_nsec);
	} else {
		fprintf(f, "%s: %s%s%s\n", log_prog, level == MC_LOG_ERROR ? "" : level_name[level],
			level == MC_LOG_ERROR ? "" : ": ", msg);
	}
}
