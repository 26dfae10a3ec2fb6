/* The results writer. Under --out DIR:
 *   DIR/results.jsonl  one JSON object per measurement (schema in docs/bench.md):
 *                      {"experiment","backend","workload","guests","run","guest","metric",
 *                       "value","unit"}; "guest" only for per-guest metrics, "round"
 *                      only for a migration's per-round series
 *   DIR/<figure>.csv   one row per backend and guest count: the statistics and the ratio
 *   DIR/env.json       the machine and the tools: kernel, CPU model, cores, memory, /dev/kvm
 *                      kind, cgroup layout, tool versions it can query, git commit
 * Without --out every call succeeds and writes nothing.
 */
#ifndef MB_RESULTS_H
#define MB_RESULTS_H

#include <stdbool.h>
#include <stdio.h>

#include "error.h"
#include "stats.h"

struct mb_results {
	char dir[4096];
	FILE *jsonl;
	bool on;
};

struct mb_record {
	const char *experiment, *backend, *workload;
	unsigned guests; /* guests in the batch */
	unsigned run;	 /* 0-based timed run */
	int guest;	 /* 0-based guest in the batch, -1 for a whole-batch metric */
	int round;	 /* migrate's per-round series: the 1-based round; 0: none */
	const char *metric;
	double value;
	const char *unit;
};

/* One row of a figure: the statistics of one backend at one guest count. */
struct mb_summary_row {
	const char *backend;
	unsigned guests;
	struct mb_stats st;
	double ratio; /* median / the baseline's median at the same guest count; NAN: none */
};

struct mb_figure {
	const char *name; /* the CSV's file name without .csv */
	const char *experiment, *workload, *metric, *unit;
	const char *baseline; /* the backend the ratio is to */
};

/* dir NULL: off. Creates dir, truncates results.jsonl, writes env.json. */
int mb_results_open(struct mb_results *r, const char *dir, int argc, char **argv, mc_err *err);
int mb_results_add(struct mb_results *r, const struct mb_record *rec, mc_err *err);
int mb_results_figure(struct mb_results *r, const struct mb_figure *f,
		      const struct mb_summary_row *rows, size_t n, mc_err *err);
int mb_results_close(struct mb_results *r, mc_err *err);
/* env.json's content, for the writer and for tests. The caller puts the object. */
struct json_object *mb_env_describe(int argc, char **argv);

#endif
