#include "sysbench.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The block a key belongs to: "min:" is only a latency, "read:" only under "queries
 * performed:" (fileio's is "read, MiB/s:"). */
enum section { SEC_NONE, SEC_LATENCY, SEC_QUERIES, SEC_OTHER };

/* The number after "key:" in value (leading blanks skipped); NAN if there is none. */
static double number(const char *value, double *per_sec)
{
	char *end;
	double v = strtod(value, &end);
	if (end == value)
		return NAN;
	/* "3624   (721.97 per sec.)" */
	if (per_sec) {
		const char *p = strchr(end, '(');
		char *e2;
		double r = p ? strtod(p + 1, &e2) : NAN;
		*per_sec = p && e2 != p + 1 && strstr(e2, "per sec") ? r : NAN;
	}
	return v;
}

int mb_sysbench_parse(const char *text, struct mb_sysbench *out, mc_err *err)
{
	double *fields = &out->total_time_s;
	size_t nfields = sizeof(*out) / sizeof(double);
	for (size_t i = 0; i < nfields; i++)
		fields[i] = NAN;
	enum section sec = SEC_NONE;
	const char *line = text;
	while (line && *line) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		char buf[256];
		if (len >= sizeof(buf))
			len = sizeof(buf) - 1;
		memcpy(buf, line, len);
		buf[len] = 0;
		line = nl ? nl + 1 : NULL;
		char *key = buf + strspn(buf, " \t");
		size_t indent = (size_t)(key - buf);
		char *colon = strchr(key, ':');
		if (!colon)
			continue;
		*colon = 0;
		const char *value = colon + 1;
		value += strspn(value, " \t");
		/* a heading starts a block ("Latency (ms):"); an unindented line ends one */
		if (!*value) {
			if (strcmp(key, "Latency (ms)") == 0)
				sec = SEC_LATENCY;
			else if (strcmp(key, "queries performed") == 0)
				sec = SEC_QUERIES;
			else
				sec = SEC_OTHER;
			continue;
		}
		if (indent == 0)
			sec = SEC_NONE;
		double per = NAN;
		if (sec == SEC_LATENCY) {
			if (strcmp(key, "min") == 0)
				out->lat_min_ms = number(value, NULL);
			else if (strcmp(key, "avg") == 0)
				out->lat_avg_ms = number(value, NULL);
			else if (strcmp(key, "max") == 0)
				out->lat_max_ms = number(value, NULL);
			else if (strcmp(key, "95th percentile") == 0)
				out->lat_p95_ms = number(value, NULL);
			else if (strcmp(key, "sum") == 0)
				out->lat_sum_ms = number(value, NULL);
		} else if (sec == SEC_QUERIES && strcmp(key, "read") == 0) {
			out->queries_read = number(value, NULL);
		} else if (sec == SEC_QUERIES && strcmp(key, "write") == 0) {
			out->queries_write = number(value, NULL);
		} else if (sec == SEC_QUERIES && strcmp(key, "other") == 0) {
			out->queries_other = number(value, NULL);
		} else if (sec == SEC_QUERIES && strcmp(key, "total") == 0) {
			out->queries_total = number(value, NULL);
		} else if (strcmp(key, "total time") == 0) {
			out->total_time_s = number(value, NULL); /* "0.4965s" */
		} else if (strcmp(key, "total number of events") == 0) {
			out->events = number(value, NULL);
		} else if (strcmp(key, "events per second") == 0) {
			out->events_per_s = number(value, NULL);
		} else if (strcmp(key, "reads/s") == 0) {
			out->reads_per_s = number(value, NULL);
		} else if (strcmp(key, "writes/s") == 0) {
			out->writes_per_s = number(value, NULL);
		} else if (strcmp(key, "fsyncs/s") == 0) {
			out->fsyncs_per_s = number(value, NULL);
		} else if (strcmp(key, "read, MiB/s") == 0) {
			out->read_mib_per_s = number(value, NULL);
		} else if (strcmp(key, "written, MiB/s") == 0) {
			out->written_mib_per_s = number(value, NULL);
		} else if (strcmp(key, "transactions") == 0) {
			out->transactions = number(value, &per);
			out->transactions_per_s = per;
		} else if (strcmp(key, "queries") == 0) {
			out->queries = number(value, &per);
			out->queries_per_s = per;
		}
	}
	const char *missing =
	    !isfinite(out->total_time_s) ? "the total time"
	    : !isfinite(out->events)	 ? "the total number of events"
	    : !isfinite(out->lat_min_ms) || !isfinite(out->lat_avg_ms) || !isfinite(out->lat_max_ms)
		? "the latency block (min, avg, max)"
		: NULL;
	if (missing)
		return mc_errorf(err, 0, "sysbench output without %s", missing);
	if (!isfinite(out->events_per_s) && out->total_time_s > 0)
		out->events_per_s = out->events / out->total_time_s;
	return 0;
}
