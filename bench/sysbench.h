/* The results of one sysbench 1.0 run, parsed from its standard output (the "General
 * statistics" and "Latency (ms)" blocks every test prints, plus "CPU speed" for cpu, "File
 * operations" and "Throughput" for fileio, "SQL statistics" for the OLTP scripts).
 *
 * A field the output does not have is NAN (for example the 95th percentile under
 * --percentile=0, or reads/s outside fileio). sysbench 1.0 counts fileio's fsyncs as events
 * (0.4.12 did not), so compare fileio by reads/s + writes/s, not by events.
 */
#ifndef MB_SYSBENCH_H
#define MB_SYSBENCH_H

#include "error.h"

struct mb_sysbench {
	/* General statistics */
	double total_time_s; /* "total time: 0.4965s" */
	double events;	     /* "total number of events" */
	double events_per_s; /* cpu: "events per second"; else events / total time */
	/* Latency (ms) */
	double lat_min_ms, lat_avg_ms, lat_max_ms, lat_p95_ms, lat_sum_ms;
	/* fileio: File operations, Throughput */
	double reads_per_s, writes_per_s, fsyncs_per_s;
	double read_mib_per_s, written_mib_per_s;
	/* OLTP: SQL statistics */
	double queries_read, queries_write, queries_other, queries_total;
	double transactions, transactions_per_s, queries, queries_per_s;
};

/* Parse text (NUL-terminated). Fails, saying what is missing, unless the output has the
 * total time, the event count and the latency block's min, avg and max. */
int mb_sysbench_parse(const char *text, struct mb_sysbench *out, mc_err *err);

#endif
