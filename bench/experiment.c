#include "experiment.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report.h"
#include "stats.h"

/* ---- the run ------------------------------------------------------------------------------ */

int mb_exp_prepare(struct mb_exp *x, const char *workdir, mc_err *err)
{
	const struct mb_opts *o = x->o;
	if (!realpath(workdir, x->work))
		return mc_errorf(err, errno, "work directory `%s`", workdir);
	for (size_t bi = 0; bi < o->nbackends; bi++)
		if (mb_backend_prepare(o->backend[bi], x->work, &x->l[bi], err) < 0)
			return -1;
	return 0;
}

void mb_exp_one_guest(struct mb_exp *x, struct mb_opts *one, const struct mb_opts *o,
		      struct mb_results *res, void *ctx)
{
	*one = *o;
	one->nguests = 1;
	one->guests[0] = 1;
	x->o = one;
	x->res = res;
	x->ctx = ctx;
}

int mb_exp_check_backends(const struct mb_opts *o,
			  int (*check)(const void *ctx, enum mb_backend b, mc_err *err),
			  const void *ctx, mc_err *err)
{
	for (size_t bi = 0; bi < o->nbackends; bi++)
		if (check(ctx, o->backend[bi], err) < 0)
			return -1;
	return 0;
}

unsigned mb_exp_most_guests(const struct mb_opts *o)
{
	unsigned most = 0;
	for (size_t gi = 0; gi < o->nguests; gi++)
		if (o->guests[gi] > most)
			most = o->guests[gi];
	return most;
}

static struct mb_cell *cell(struct mb_exp *x, size_t gi, size_t bi, size_t slot)
{
	return &x->cells[(gi * x->o->nbackends + bi) * x->nslots + slot];
}

int mb_exp_cells(struct mb_exp *x, size_t nslots, mc_err *err)
{
	const struct mb_opts *o = x->o;
	x->nslots = nslots;
	x->cells = calloc(o->nguests * o->nbackends * nslots, sizeof(*x->cells));
	if (!x->cells)
		return mc_errorf(err, ENOMEM, "samples");
	for (size_t gi = 0; gi < o->nguests; gi++)
		for (size_t bi = 0; bi < o->nbackends; bi++)
			for (size_t s = 0; s < nslots; s++) {
				struct mb_cell *c = cell(x, gi, bi, s);
				c->size = (size_t)o->repeat * o->guests[gi];
				c->v = calloc(c->size, sizeof(double));
				if (!c->v)
					return mc_errorf(err, ENOMEM, "samples");
			}
	return 0;
}

void mb_exp_keep(struct mb_exp *x, size_t gi, size_t bi, size_t slot, double v)
{
	struct mb_cell *c = cell(x, gi, bi, slot);
	if (c->n < c->size)
		c->v[c->n++] = v;
}

int mb_exp_write(struct mb_exp *x, struct mb_record *rec, const char *metric, const char *unit,
		 int guest, double v, mc_err *err)
{
	rec->metric = metric;
	rec->unit = unit;
	rec->guest = guest;
	rec->value = v;
	return mb_results_add(x->res, rec, err);
}

int mb_exp_sample(struct mb_exp *x, size_t gi, size_t bi, size_t slot, struct mb_record *rec,
		  const char *metric, const char *unit, int guest, double v, mc_err *err)
{
	mb_exp_keep(x, gi, bi, slot, v);
	return mb_exp_write(x, rec, metric, unit, guest, v, err);
}

/* One batch; run 0 is the warm-up (not recorded), timed runs are 1..repeat. */
static int batch(struct mb_exp *x, size_t gi, size_t bi, unsigned run, mc_err *err)
{
	const struct mb_opts *o = x->o;
	unsigned n = o->guests[gi];
	const char *bname = mb_backend_name(o->backend[bi]);
	char prefix[96];
	snprintf(prefix, sizeof(prefix), "mb%d-%s-r%u-g%u", (int)getpid(), bname, run, n);
	x->spec.id_prefix = prefix;
	mb_progress_show(&x->progress, x->what, bname, n, run, o->repeat);
	struct mb_batch b;
	mc_err cerr = NULL;
	int rc = x->before ? x->before(x->ctx, n, bi, err) : 0;
	if (rc == 0)
		rc = mb_spawn_batch(&x->l[bi], &x->spec, n, &b, err);
	if (x->after)
		x->after(x->ctx, n, rc == 0 ? &cerr : NULL);
	if (rc == 0 && cerr) {
		*err = cerr;
		cerr = NULL;
		rc = -1;
	}
	mc_error_free(&cerr);
	if (rc < 0) {
		mb_progress_clear(&x->progress);
		return mc_wrap(err, "%s, %u guest%s, %s", x->what, n, n == 1 ? "" : "s",
			       run ? "timed run" : "warm-up");
	}
	mb_progress_step(&x->progress);
	if (mb_stop_signal)
		return mc_errorf(err, 0, "interrupted by signal %d", (int)mb_stop_signal);
	if (run == 0)
		return 0;
	struct mb_record rec = {
	    .experiment = x->experiment,
	    .backend = bname,
	    .workload = x->workload,
	    .guests = n,
	    .run = run - 1,
	};
	return x->record(x->ctx, gi, bi, &b, &rec, err);
}

int mb_exp_run(struct mb_exp *x, mc_err *err)
{
	const struct mb_opts *o = x->o;
	size_t warm = o->no_warmup ? 0 : 1;
	mb_progress_init(&x->progress, o->nbackends * (warm + (size_t)o->repeat * o->nguests), -1);
	/* warm-up: one untimed batch per backend at the first guest count (page cache, the
	 * runtimes' binaries, the engines' first container, the experiment's first set-up);
	 * --no-warmup (tests, where the figures are checked, not compared) goes without */
	for (size_t bi = 0; warm && bi < o->nbackends; bi++)
		if (batch(x, 0, bi, 0, err) < 0)
			return -1;
	for (unsigned run = 1; run <= o->repeat; run++)
		for (size_t gi = 0; gi < o->nguests; gi++)
			for (size_t j = 0; j < o->nbackends; j++)
				if (batch(x, gi, (j + run - 1) % o->nbackends, run, err) < 0)
					return -1;
	mb_progress_clear(&x->progress);
	return 0;
}

int mb_exp_run_calls(struct mb_exp *x, size_t nslots,
		     int (*one)(void *ctx, size_t bi, unsigned run, mc_err *err), mc_err *err)
{
	const struct mb_opts *o = x->o;
	struct mb_progress *p = &x->progress;
	if (mb_exp_cells(x, nslots, err) < 0)
		return -1;
	unsigned first = o->no_warmup ? 1 : 0;
	mb_progress_init(p, o->nbackends * (1 - first + (size_t)o->repeat), -1);
	for (unsigned run = first; run <= o->repeat; run++)
		for (size_t j = 0; j < o->nbackends; j++) {
			size_t bi = run ? (j + run - 1) % o->nbackends : j;
			const char *name = mb_backend_name(o->backend[bi]);
			mb_progress_show(p, x->what, name, 1, run, o->repeat);
			if (one(x->ctx, bi, run, err) < 0) {
				mb_progress_clear(p);
				return mc_wrap(err, "%s, %s, %s %u", x->what, name,
					       run ? "timed run" : "warm-up", run);
			}
			mb_progress_step(p);
			if (mb_stop_signal) {
				mb_progress_clear(p);
				return mc_errorf(err, 0, "interrupted by signal %d",
						 (int)mb_stop_signal);
			}
		}
	mb_progress_clear(p);
	return 0;
}

int mb_exp_engines_start(struct mb_exp *x, struct mb_engine *docker, struct mb_engine *podman,
			 const struct mb_engine_opts *eo, mc_err *err)
{
	const struct mb_opts *o = x->o;
	int want[2] = {0, 0};
	struct mb_engine_opts dopts = *eo;
	dopts.minict = NULL;
	for (size_t bi = 0; bi < o->nbackends; bi++) {
		int e = mb_backend_engine(o->backend[bi]);
		if (e >= 0)
			want[e] = 1;
		if (o->backend[bi] == MB_DOCKER_MINICT)
			dopts.minict = x->l[bi].tool;
	}
	if (want[MB_ENGINE_DOCKER] && mb_engine_start(docker, MB_ENGINE_DOCKER, &dopts, err) < 0)
		return -1;
	dopts.minict = NULL;
	if (want[MB_ENGINE_PODMAN] && mb_engine_start(podman, MB_ENGINE_PODMAN, &dopts, err) < 0)
		return -1;
	for (size_t bi = 0; bi < o->nbackends; bi++) {
		int e = mb_backend_engine(o->backend[bi]);
		if (e >= 0)
			x->l[bi].engine = e == MB_ENGINE_DOCKER ? docker : podman;
	}
	return 0;
}

int mb_exp_engines_stop(struct mb_engine *docker, struct mb_engine *podman, int rc, mc_err *err)
{
	mc_err errs[2] = {NULL, NULL};
	mb_engine_stop(docker, &errs[0]);
	mb_engine_stop(podman, &errs[1]);
	for (int i = 0; i < 2; i++) {
		if (!errs[i])
			continue;
		if (rc == 0) {
			*err = errs[i];
			errs[i] = NULL;
			rc = -1;
			continue;
		}
		fprintf(stderr, "minibench: %s\n", mc_error_text(errs[i]));
		mc_error_free(&errs[i]);
	}
	return rc;
}

void mb_exp_free(struct mb_exp *x)
{
	if (x->cells) {
		for (size_t i = 0; i < x->o->nguests * x->o->nbackends * x->nslots; i++)
			free(x->cells[i].v);
		free(x->cells);
	}
	x->cells = NULL;
}

/* ---- the summary -------------------------------------------------------------------------- */

/* The figure's rows, [guest count][backend], each with its ratio to backend base (-1: none). */
static int figure_rows(struct mb_exp *x, const struct mb_exp_fig *f, int base,
		       struct mb_summary_row *rows, mc_err *err)
{
	const struct mb_opts *o = x->o;
	for (size_t gi = 0; gi < o->nguests; gi++) {
		struct mb_summary_row *g = &rows[gi * o->nbackends];
		for (size_t bi = 0; bi < o->nbackends; bi++) {
			const struct mb_cell *c = cell(x, gi, bi, f->slot);
			g[bi].backend = mb_backend_name(o->backend[bi]);
			g[bi].guests = o->guests[gi];
			if (c->n == 0) { /* e.g. no memory samples: the run was too short */
				g[bi].st = (struct mb_stats){0, NAN, NAN, NAN, NAN, NAN, NAN};
				continue;
			}
			if (mb_stats_compute(c->v, c->n, &g[bi].st, err) < 0)
				return mc_wrap(err, "summary of %s", f->metric);
		}
		for (size_t bi = 0; bi < o->nbackends; bi++)
			g[bi].ratio = base < 0 ? NAN : g[bi].st.median / g[base].st.median;
	}
	return 0;
}

static double stat_of(const struct mb_stats *s, enum mb_stat k)
{
	switch (k) {
	case MB_STAT_MIN:
		return s->min;
	case MB_STAT_MAX:
		return s->max;
	case MB_STAT_P95:
		return s->p95;
	default:
		return s->median;
	}
}

/* What the study says beside figure fi, malloc'd, or NULL. */
static char *study_text(struct mb_exp *x, const struct mb_exp_summary *s, size_t fi,
			const struct mb_summary_row *rows)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = s->study ? open_memstream(&text, &len) : NULL;
	if (!f)
		return NULL;
	bool any = s->study(x->ctx, fi, rows, f);
	fclose(f);
	if (!any) {
		free(text);
		return NULL;
	}
	return text;
}

/* The table (above) into a malloc'd string, or NULL. */
static char *table_text(struct mb_exp *x, const struct mb_exp_summary *s,
			struct mb_summary_row *const *rows, size_t nrows, const char *basename)
{
	char *table = NULL;
	size_t len = 0;
	int width = s->backend_width ? s->backend_width : 8;
	int indent = s->ratio_indent, rwidth = s->ratio_width;
	for (size_t bi = 0; !s->backend_width && bi < x->o->nbackends; bi++)
		if ((int)strlen(mb_backend_name(x->o->backend[bi])) > width)
			width = (int)strlen(mb_backend_name(x->o->backend[bi]));
	if (!indent && !rwidth) {
		indent = 1;
		rwidth = 3;
	}
	FILE *t = open_memstream(&table, &len);
	if (!t)
		return NULL;
	s->intro(x->ctx, t);
	fprintf(t, "%-*s %6s %4s", width, "backend", "guests", "n");
	for (size_t c = 0; c < s->ncols; c++)
		fprintf(t, " %*s", s->cols[c].width, s->cols[c].head);
	if (basename)
		fprintf(t, "%*svs %s", indent, "", basename);
	fputc('\n', t);
	for (size_t i = 0; i < nrows; i++) {
		const struct mb_summary_row *r = &rows[0][i];
		fprintf(t, "%-*s %6u %4zu", width, r->backend, r->guests, r->st.n);
		for (size_t c = 0; c < s->ncols; c++)
			fprintf(t, " %*.2f", s->cols[c].width,
				stat_of(&rows[s->cols[c].fig][i].st, s->cols[c].stat));
		if (basename && isfinite(r->ratio))
			fprintf(t, " %*.2f", (int)strlen(basename) + rwidth, r->ratio);
		fputc('\n', t);
	}
	if (fclose(t) != 0) {
		free(table);
		return NULL;
	}
	return table;
}

int mb_exp_summarize(struct mb_exp *x, const struct mb_exp_summary *s, mc_err *err)
{
	const struct mb_opts *o = x->o;
	size_t nrows = o->nguests * o->nbackends, nf = s->nfigs;
	int rc = -1, base = -1;
	const char *basename = NULL;
	for (size_t b = 0; s->bases[b] && base < 0; b++)
		for (size_t bi = 0; bi < o->nbackends; bi++)
			if (strcmp(mb_backend_name(o->backend[bi]), s->bases[b]) == 0) {
				base = (int)bi;
				basename = s->bases[b];
			}
	struct mb_summary_row *all = calloc(nf * nrows, sizeof(*all));
	struct mb_summary_row **rows = calloc(nf, sizeof(*rows));
	struct mb_report_fig *figs = calloc(nf, sizeof(*figs));
	char **study = calloc(nf, sizeof(*study)), *table = NULL;
	if (!all || !rows || !figs || !study) {
		mc_errorf(err, ENOMEM, "summary");
		goto out;
	}
	for (size_t fi = 0; fi < nf; fi++) {
		rows[fi] = &all[fi * nrows];
		if (figure_rows(x, &s->figs[fi], base, rows[fi], err) < 0)
			goto out;
	}
	table = table_text(x, s, rows, nrows, basename);
	if (!table) {
		mc_errorf(err, errno, "summary");
		goto out;
	}
	fputs(table, stdout);
	fflush(stdout);
	for (size_t fi = 0; fi < nf; fi++) {
		const struct mb_exp_fig *f = &s->figs[fi];
		struct mb_figure fig = {f->name,   x->experiment, x->workload,
					f->metric, f->unit,	  basename ? basename : "crun"};
		if (mb_results_figure(x->res, &fig, rows[fi], nrows, err) < 0)
			goto out;
		study[fi] = study_text(x, s, fi, rows[fi]);
		figs[fi] = (struct mb_report_fig){f->name,  f->title, f->what,	f->unit,
						  rows[fi], nrows,    study[fi]};
	}
	if (o->out && mb_report_write(o->out, s->heading, table, figs, nf, s->vm_note, err) < 0)
		goto out;
	if (o->record) {
		char id[64], title[96];
		mb_record_section(id, sizeof(id), title, sizeof(title), x->experiment,
				  s->record_part, s->record_what);
		if (mb_record(id, title, o->argc, o->argv, table, err) < 0)
			goto out;
	}
	rc = 0;
out:
	for (size_t fi = 0; study && fi < nf; fi++)
		free(study[fi]);
	free(study);
	free(figs);
	free(rows);
	free(all);
	free(table);
	return rc;
}
