/* Unit tests for what the experiments share (bench/experiment.c): the cells and the summary
 * (the rows' statistics and ratios, the table, report.md with the study's text), on samples
 * set by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "bench/experiment.h"
#include "cleanup.h"
#include "util.h"

static void intro(void *ctx, FILE *t)
{
	fprintf(t, "intro %s\n", (const char *)ctx);
}

static bool study(void *ctx, size_t fig, const struct mb_summary_row *rows, FILE *f)
{
	(void)ctx;
	if (fig != 0)
		return false;
	fprintf(f, "S0 %.2f", rows[0].st.median);
	return true;
}

static const char *const bases[] = {"runc", "crun", NULL};

/* An experiment over o writing nothing but report.md and the SVGs into o->out. */
static struct mb_exp *new_exp(const struct mb_opts *o, size_t nslots, const char *ctx)
{
	static struct mb_results off;
	struct mb_exp *x = calloc(1, sizeof(*x));
	assert_non_null(x);
	x->o = o;
	x->res = &off;
	x->experiment = "t";
	x->workload = "w";
	x->ctx = (void *)ctx;
	mc_err err = NULL;
	assert_int_equal(mb_exp_cells(x, nslots, &err), 0);
	return x;
}

/* Summarize, return report.md and remove what it wrote. */
static char *summarize(struct mb_exp *x, const struct mb_exp_summary *s)
{
	mc_err err = NULL;
	char path[128], *report = NULL;
	size_t len = 0;
	assert_int_equal(mb_exp_summarize(x, s, &err), 0);
	snprintf(path, sizeof(path), "%s/report.md", x->o->out);
	assert_int_equal(mc_read_file(path, 1 << 20, &report, &len, &err), 0);
	unlink(path);
	for (size_t i = 0; i < s->nfigs; i++) {
		snprintf(path, sizeof(path), "%s/%s.svg", x->o->out, s->figs[i].name);
		assert_int_equal(access(path, F_OK), 0);
		unlink(path);
	}
	rmdir(x->o->out);
	mb_exp_free(x);
	free(x);
	return report;
}

static void summary(void **state)
{
	(void)state;
	char dir[] = "/tmp/bench_experiment.XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct mb_opts o = {.backend = {MB_CRUN, MB_CT},
			    .nbackends = 2,
			    .guests = {1, 2},
			    .nguests = 2,
			    .repeat = 2,
			    .out = dir};
	struct mb_exp *x = new_exp(&o, 2, "here");
	/* slot 0: crun 10,20 | ct 5,10 at 1 guest; crun 2,4,6,8 | ct 1,2,3,4 at 2 (one too many) */
	double c1[] = {10, 20}, t1[] = {5, 10}, c2[] = {2, 4, 6, 8}, t2[] = {1, 2, 3, 4, 99};
	for (size_t i = 0; i < 2; i++) {
		mb_exp_keep(x, 0, 0, 0, c1[i]);
		mb_exp_keep(x, 0, 1, 0, t1[i]);
	}
	for (size_t i = 0; i < 5; i++) {
		if (i < 4)
			mb_exp_keep(x, 1, 0, 0, c2[i]);
		mb_exp_keep(x, 1, 1, 0, t2[i]);
	}
	/* slot 1: medians 2, 2, 1 and ct at 2 guests without samples */
	mb_exp_keep(x, 0, 0, 1, 1);
	mb_exp_keep(x, 0, 0, 1, 3);
	mb_exp_keep(x, 0, 1, 1, 2);
	mb_exp_keep(x, 1, 0, 1, 1);
	const struct mb_exp_fig figs[] = {{"t-a", "a", "ms", "A", "what a", 0},
					  {"t-b", "b", "s", "B", "what b", 1}};
	const struct mb_exp_col cols[] = {{"min", 10, 0, MB_STAT_MIN},
					  {"med", 10, 1, MB_STAT_MEDIAN}};
	const struct mb_exp_summary s = {.bases = bases,
					 .figs = figs,
					 .nfigs = 2,
					 .backend_width = 8,
					 .cols = cols,
					 .ncols = 2,
					 .ratio_indent = 2,
					 .ratio_width = 5,
					 .intro = intro,
					 .study = study,
					 .heading = "heading"};
	_cleanup_free_ char *report = summarize(x, &s);
	const char *want = "# heading\n\n```\nintro here\n"
			   "backend  guests    n        min        med  vs crun\n"
			   "crun          1    2      10.00       2.00      1.00\n"
			   "ct            1    2       5.00       2.00      0.50\n"
			   "crun          2    4       2.00       1.00      1.00\n"
			   "ct            2    4       1.00        nan      0.50\n"
			   "```\n";
	if (strncmp(report, want, strlen(want)) != 0) {
		print_error("report.md starts:\n%.600s\nwant:\n%s", report, want);
		fail();
	}
	assert_non_null(strstr(report, "## A\n\nwhat a\n\n![A](t-a.svg)"));
	assert_non_null(strstr(report, "| ct | 2 | 4 | 1.00 | 2.50 | 3.85 | 4.00 | 0.50 |"));
	assert_non_null(strstr(report, "**Beside the seed study.** S0 15.00\n"));
	assert_non_null(strstr(report, "## B\n"));
	assert_non_null(strstr(report, "The study has no counterpart of this figure."));
}

/* No baseline among the backends: no ratio column. */
static void no_baseline(void **state)
{
	(void)state;
	char dir[] = "/tmp/bench_experiment.XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct mb_opts o = {.backend = {MB_CT},
			    .nbackends = 1,
			    .guests = {1},
			    .nguests = 1,
			    .repeat = 1,
			    .out = dir};
	struct mb_exp *x = new_exp(&o, 1, "x");
	mb_exp_keep(x, 0, 0, 0, 3);
	const struct mb_exp_fig fig = {"f", "m", "ms", "F", "what", 0};
	const struct mb_exp_col col = {"med", 5, 0, MB_STAT_MEDIAN};
	const struct mb_exp_summary s = {.bases = bases,
					 .figs = &fig,
					 .nfigs = 1,
					 .backend_width = 4,
					 .cols = &col,
					 .ncols = 1,
					 .ratio_indent = 1,
					 .ratio_width = 3,
					 .intro = intro,
					 .heading = "h"};
	_cleanup_free_ char *report = summarize(x, &s);
	assert_non_null(
	    strstr(report, "intro x\nbackend guests    n   med\nct        1    1  3.00\n```"));
}

/* The table's defaults: backend_width 0 is 8 or the longest backend name that ran, ratio_indent
 * and ratio_width 0 are 1 and 3; MB_EXP_FIGS_COLS counts both arrays. */
static void defaults(void **state)
{
	(void)state;
	const struct mb_exp_fig figs[] = {{"f", "m", "ms", "F", "what", 0}};
	const struct mb_exp_col cols[] = {{"med", 5, 0, MB_STAT_MEDIAN}};
	const struct mb_exp_summary s = {
	    .bases = bases, MB_EXP_FIGS_COLS(figs, cols), .intro = intro, .heading = "h"};
	assert_int_equal(s.nfigs, 1);
	assert_int_equal(s.ncols, 1);
	/* crun and docker-minict: 13 wide; crun alone: 8 */
	static const char *const want[] = {"intro d\n"
					   "backend  guests    n   med vs crun\n"
					   "crun          1    1 10.00    1.00\n```",
					   "intro d\n"
					   "backend       guests    n   med vs crun\n"
					   "crun               1    1 10.00    1.00\n"
					   "docker-minict      1    1  5.00    0.50\n```"};
	struct mb_opts o = {.backend = {MB_CRUN, MB_DOCKER_MINICT}, .guests = {1}, .nguests = 1};
	o.repeat = 1;
	for (size_t n = 1; n <= 2; n++) {
		char dir[] = "/tmp/bench_experiment.XXXXXX";
		assert_non_null(mkdtemp(dir));
		o.nbackends = n;
		o.out = dir;
		struct mb_exp *x = new_exp(&o, 1, "d");
		mb_exp_keep(x, 0, 0, 0, 10);
		if (n == 2)
			mb_exp_keep(x, 0, 1, 0, 5);
		_cleanup_free_ char *report = summarize(x, &s);
		if (!strstr(report, want[n - 1])) {
			print_error("report.md:\n%.600s\nwant:\n%s", report, want[n - 1]);
			fail();
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(summary),
	    cmocka_unit_test(no_baseline),
	    cmocka_unit_test(defaults),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
