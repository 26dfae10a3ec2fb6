/* minibench's command line: `minibench EXPERIMENT [options]`. */
#ifndef MB_CLI_H
#define MB_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "backend.h"
#include "error.h"

enum mb_experiment { MB_EXP_LATENCY, MB_EXP_DENSITY, MB_EXP_MIGRATE, MB_EXP_ALL };

#define MB_MAX_GUESTS	    64 /* the largest --guests value */
#define MB_MAX_GUEST_COUNTS 16 /* how many values --guests may list */
#define MB_MAX_REPEAT	    10000

struct mb_opts {
	enum mb_experiment experiment;
	enum mb_backend backend[MB_NBACKENDS]; /* in the order given, no duplicates */
	size_t nbackends;
	bool backends_given; /* --backend was given (all: else every backend that can run) */
	unsigned guests[MB_MAX_GUEST_COUNTS];
	size_t nguests;
	unsigned repeat;
	bool repeat_given; /* --repeat was given (all --quick: else its own counts) */
	bool quick;
	bool no_warmup;	      /* no untimed warm-up batch (migrate: run) before the timed runs */
	bool from_snapshot;   /* latency: the VMs' restore from a saved state (restore.h) */
	const char *workload; /* NULL: the experiment's default */
	const char *out;      /* NULL: print only, write no files */
	bool record;	      /* write the summary into docs/results.md (bench/record.py) */
	bool help;
	int argc; /* the command line, for env.json, the report and the record */
	char **argv;
};

const char *mb_experiment_name(enum mb_experiment e);
/* Parse argv (argv[0] is the program). Defaults: --backend ct,crun,runc,native (migrate:
 * vm,qemu,ct), --guests 1,2,4, --repeat 10; --quick makes them --guests 1,2 --repeat 3 unless
 * given. Errors are one line. */
int mb_parse_args(int argc, char **argv, struct mb_opts *o, mc_err *err);
/* The usage text. */
const char *mb_usage(void);

#endif
