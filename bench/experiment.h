/* What every experiment (latency, density) shares: the run and its summary.
 *
 * The run: one untimed warm-up batch per backend at the first guest count, then the timed
 * runs, each every guest count and backend once, the backend order rotating from run to run
 * so that none always follows the same one. Around each batch: the containers' id prefix, the
 * progress line, the experiment's set-up and clean-up, the one-line error ("density cpu, 2
 * guests, timed run: ..."), the stop signal; a timed batch goes to the experiment's record
 * hook with its results.jsonl record filled in but for the metric.
 *
 * The cells: every sample an experiment keeps, per guest count x backend x slot (a slot is one
 * of the experiment's metrics), kept as it is written to results.jsonl.
 *
 * The summary: per figure (one slot) a row per guest count x backend, in that order, with the
 * statistics of its samples (none: NAN) and its median's ratio to the baseline's at the same
 * guest count, the baseline being the first backend of the experiment's list that ran; the
 * table (the experiment's lines of method, then backend, guests, n of the first figure, the
 * columns the experiment picks, and the ratio of the first figure's median), printed on
 * stdout and recorded into docs/results.md (--record); per figure a CSV, an SVG and a section
 * of report.md with the experiment's prose beside the seed study (--out).
 */
#ifndef MB_EXPERIMENT_H
#define MB_EXPERIMENT_H

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>

#include "backend.h"
#include "cleanup.h"
#include "cli.h"
#include "error.h"
#include "progress.h"
#include "results.h"
#include "spawn.h"

struct mb_cell {
	double *v;
	size_t n, size;
};

struct mb_exp {
	/* set by the experiment */
	const struct mb_opts *o;
	struct mb_results *res;
	const char *experiment, *workload; /* results.jsonl's */
	const char *what;		   /* the progress line's and errors' name: "density cpu" */
	struct mb_launcher l[MB_NBACKENDS];
	struct mb_guest_spec spec;
	void *ctx; /* the experiment's run, handed to the hooks */
	/* before every batch's spawn (NULL: nothing); a failure fails the batch */
	int (*before)(void *ctx, unsigned n, size_t bi, mc_err *err);
	/* after the spawn, whether it worked or not (NULL: nothing); err NULL after a failure */
	void (*after)(void *ctx, unsigned n, mc_err *err);
	/* a timed batch's measurements: rec is filled in but for metric, unit, guest, value */
	int (*record)(void *ctx, size_t gi, size_t bi, const struct mb_batch *b,
		      struct mb_record *rec, mc_err *err);
	/* mb_exp_prepare's */
	char work[PATH_MAX]; /* the work directory, absolute */
	/* the run's */
	struct mb_progress progress;
	struct mb_cell *cells; /* [guest count][backend][slot] */
	size_t nslots;
};

/* The work directory's absolute path into x->work (bundles name their rootfs by it) and every
 * backend's launcher with its state under it. */
int mb_exp_prepare(struct mb_exp *x, const char *workdir, mc_err *err);
/* An experiment of one guest (migrate, latency --from-snapshot): *one = *o with one guest
 * count, 1, whatever --guests says; x's options (one), results and ctx set. */
void mb_exp_one_guest(struct mb_exp *x, struct mb_opts *one, const struct mb_opts *o,
		      struct mb_results *res, void *ctx);
/* check(ctx, b, err) for every backend b of o, up to the first that fails. */
int mb_exp_check_backends(const struct mb_opts *o,
			  int (*check)(const void *ctx, enum mb_backend b, mc_err *err),
			  const void *ctx, mc_err *err);
/* The largest of the guest counts. */
unsigned mb_exp_most_guests(const struct mb_opts *o);
/* Room for repeat x guests samples in every slot of every cell. */
int mb_exp_cells(struct mb_exp *x, size_t nslots, mc_err *err);
/* Keep v in a cell (and drop it when the cell is full, which a run can't make it). */
void mb_exp_keep(struct mb_exp *x, size_t gi, size_t bi, size_t slot, double v);
/* Write one measurement to results.jsonl: rec with its metric, unit, guest (-1: the batch's)
 * and value. */
int mb_exp_write(struct mb_exp *x, struct mb_record *rec, const char *metric, const char *unit,
		 int guest, double v, mc_err *err);
/* Both: keep v in the cell of slot and write it. */
int mb_exp_sample(struct mb_exp *x, size_t gi, size_t bi, size_t slot, struct mb_record *rec,
		  const char *metric, const char *unit, int guest, double v, mc_err *err);
/* The warm-ups and the timed runs, interleaved (above). */
int mb_exp_run(struct mb_exp *x, mc_err *err);
/* The runs of an experiment of one guest whose batch is one call (a script's, script.h), its
 * cells (nslots) made first: run 0 untimed per backend (--no-warmup: none), then runs
 * 1..repeat, the backend order rotating; the progress line, the one-line error ("WHAT,
 * BACKEND, timed run N: ..."), the stop signal around each call one(x->ctx, bi, run, err). */
int mb_exp_run_calls(struct mb_exp *x, size_t nslots,
		     int (*one)(void *ctx, size_t bi, unsigned run, mc_err *err), mc_err *err);
void mb_exp_free(struct mb_exp *x);

/* The engines the backends run through, started before the run (outside the timed part): one
 * dockerd for docker and docker-minict (minict registered when docker-minict runs), podman's
 * store; eo's rootfs, tag and storage (eo->minict is set here). Every engine backend's launcher
 * then points at its engine. */
int mb_exp_engines_start(struct mb_exp *x, struct mb_engine *docker, struct mb_engine *podman,
			 const struct mb_engine_opts *eo, mc_err *err);
/* Stop both engines (a no-op for one not on), whatever happened before: returns rc, or -1 with
 * the first clean-up error in err when rc was 0; other clean-up errors are printed
 * ("minibench: ..."), since err already holds the run's. */
int mb_exp_engines_stop(struct mb_engine *docker, struct mb_engine *podman, int rc, mc_err *err);

/* One figure: a slot's samples, shown as a CSV, an SVG and a section of report.md. */
struct mb_exp_fig {
	const char *name;	   /* DIR/<name>.csv and .svg */
	const char *metric, *unit; /* the CSV's */
	const char *title, *what;  /* report.md's heading and paragraph */
	size_t slot;
};

enum mb_stat { MB_STAT_MEDIAN, MB_STAT_MIN, MB_STAT_MAX, MB_STAT_P95 };

/* A column of the table: a statistic of a figure, " %*.2f" under " %*s". */
struct mb_exp_col {
	const char *head;
	int width;
	size_t fig;
	enum mb_stat stat;
};

struct mb_exp_summary {
	const char *const *bases; /* the ratio's baselines, the first that ran wins; NULL ends */
	const struct mb_exp_fig *figs; /* MB_EXP_FIGS_COLS where both are arrays */
	size_t nfigs;
	int backend_width; /* 0: 8, or the longest backend name that ran */
	const struct mb_exp_col *cols;
	size_t ncols;
	/* the ratio's column: its header is ratio_indent spaces, "vs NAME"; its values are the
	 * baseline name's length + ratio_width wide (0 and 0: 1 and 3) */
	int ratio_indent, ratio_width;
	/* the table's first lines, the method (each ending in a newline) */
	void (*intro)(void *ctx, FILE *t);
	/* Markdown beside the seed study's figure for figure fig (its rows as above) into f;
	 * false: the study has none (NULL: none has) */
	bool (*study)(void *ctx, size_t fig, const struct mb_summary_row *rows, FILE *f);
	const char *heading; /* report.md's */
	const char *vm_note; /* report.md: where its VMs ran, on this host (NULL: the default) */
	/* --record's section: mb_record_section's part and what (NULL: none) of x->experiment */
	const char *record_part, *record_what;
};

/* A summary's figures and columns from two arrays, with their counts. */
#define MB_EXP_FIGS_COLS(f, c)                                                                     \
	.figs = (f), .nfigs = MC_ARRAY_SIZE(f), .cols = (c), .ncols = MC_ARRAY_SIZE(c)

/* The summary (above): the table on stdout, the CSVs (--out), report.md and the SVGs (--out),
 * the section of docs/results.md (--record). */
int mb_exp_summarize(struct mb_exp *x, const struct mb_exp_summary *s, mc_err *err);

#endif
