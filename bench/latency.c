#include "latency.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bundle.h"
#include "cleanup.h"
#include "progress.h"
#include "spawn.h"
#include "stats.h"
#include "util.h"

struct workload {
	const char *name;
	char *const *argv;
};

static char *const true_argv[] = {"/bin/true", NULL};
static const struct workload workloads[] = {
    {"true", true_argv},
};

static const struct workload *find_workload(const char *name, mc_err *err)
{
	if (!name)
		return &workloads[0];
	for (size_t i = 0; i < MC_ARRAY_SIZE(workloads); i++)
		if (strcmp(name, workloads[i].name) == 0)
			return &workloads[i];
	mc_errorf(err, 0, "unknown workload `%s` for latency (known: true)", name);
	return NULL;
}

/* The samples of one backend at one guest count. */
struct cell {
	double *lat;  /* repeat * guests per-guest latencies */
	double *wall; /* repeat batch times */
	size_t nlat, nwall;
};

struct run {
	const struct mb_opts *o;
	const struct workload *w;
	struct mb_launcher l[MB_NBACKENDS];
	struct mb_guest_spec spec;
	struct cell *cells; /* [guest count][backend] */
	struct mb_progress progress;
	struct mb_results *res;
	char bundle[4096], rootfs[4200], log[4200];
};

static struct cell *cell(struct run *r, size_t gi, size_t bi)
{
	return &r->cells[gi * r->o->nbackends + bi];
}

/* One batch; run 0 is the warm-up (not recorded), timed runs are 1..repeat. */
static int batch(struct run *r, size_t gi, size_t bi, unsigned run, mc_err *err)
{
	const struct mb_opts *o = r->o;
	unsigned n = o->guests[gi];
	const char *bname = mb_backend_name(o->backend[bi]);
	char prefix[96];
	snprintf(prefix, sizeof(prefix), "mb%d-%s-r%u-g%u", (int)getpid(), bname, run, n);
	r->spec.id_prefix = prefix;
	mb_progress_show(&r->progress, "latency", bname, n, run, o->repeat);
	struct mb_batch b;
	if (mb_spawn_batch(&r->l[bi], &r->spec, n, &b, err) < 0) {
		mb_progress_clear(&r->progress);
		return mc_wrap(err, "latency, %u guest%s, %s", n, n == 1 ? "" : "s",
			       run ? "timed run" : "warm-up");
	}
	mb_progress_step(&r->progress);
	if (run == 0)
		return 0;
	struct cell *c = cell(r, gi, bi);
	struct mb_record rec = {
	    .experiment = "latency",
	    .backend = bname,
	    .workload = r->w->name,
	    .guests = n,
	    .run = run - 1,
	    .unit = "ms",
	};
	for (unsigned k = 0; k < n; k++) {
		c->lat[c->nlat++] = b.lat_ms[k];
		rec.guest = (int)k;
		rec.metric = "start_exit";
		rec.value = b.lat_ms[k];
		if (mb_results_add(r->res, &rec, err) < 0)
			return -1;
	}
	c->wall[c->nwall++] = b.wall_ms;
	rec.guest = -1;
	rec.metric = "batch_wall";
	rec.value = b.wall_ms;
	return mb_results_add(r->res, &rec, err);
}

static int summarize(struct run *r, mc_err *err)
{
	const struct mb_opts *o = r->o;
	size_t nrows = o->nguests * o->nbackends;
	_cleanup_free_ struct mb_summary_row *lat = calloc(nrows, sizeof(*lat));
	_cleanup_free_ struct mb_summary_row *wall = calloc(nrows, sizeof(*wall));
	if (!lat || !wall)
		return mc_errorf(err, ENOMEM, "summary");
	int base = -1;
	for (size_t bi = 0; bi < o->nbackends; bi++)
		if (o->backend[bi] == MB_CRUN)
			base = (int)bi;
	for (size_t gi = 0; gi < o->nguests; gi++) {
		for (size_t bi = 0; bi < o->nbackends; bi++) {
			size_t i = gi * o->nbackends + bi;
			struct cell *c = cell(r, gi, bi);
			lat[i].backend = wall[i].backend = mb_backend_name(o->backend[bi]);
			lat[i].guests = wall[i].guests = o->guests[gi];
			if (mb_stats_compute(c->lat, c->nlat, &lat[i].st, err) < 0 ||
			    mb_stats_compute(c->wall, c->nwall, &wall[i].st, err) < 0)
				return mc_wrap(err, "summary");
		}
		for (size_t bi = 0; bi < o->nbackends; bi++) {
			size_t i = gi * o->nbackends + bi;
			lat[i].ratio = wall[i].ratio = NAN;
			if (base >= 0) {
				size_t j = gi * o->nbackends + (size_t)base;
				lat[i].ratio = lat[i].st.median / lat[j].st.median;
				wall[i].ratio = wall[i].st.median / wall[j].st.median;
			}
		}
	}
	printf("latency: start to exit of %s in a guest (busybox rootfs), %u timed run%s per "
	       "backend and guest count, backends interleaved\n",
	       r->w->argv[0], o->repeat, o->repeat == 1 ? "" : "s");
	printf("ms per guest; a batch starts all its guests at once, then waits for all "
	       "(batch = first start to last exit)\n");
	printf("%-8s %6s %5s %9s %9s %9s %9s %11s", "backend", "guests", "n", "min", "median",
	       "max", "p95", "batch med");
	printf(base >= 0 ? " %8s\n" : "\n", "vs crun");
	for (size_t i = 0; i < nrows; i++) {
		const struct mb_stats *s = &lat[i].st;
		printf("%-8s %6u %5zu %9.2f %9.2f %9.2f %9.2f %11.2f", lat[i].backend,
		       lat[i].guests, s->n, s->min, s->median, s->max, s->p95, wall[i].st.median);
		if (isfinite(lat[i].ratio))
			printf(" %8.2f", lat[i].ratio);
		putchar('\n');
	}
	fflush(stdout);
	struct mb_figure fig = {"latency", "latency", r->w->name, "start_exit", "ms", "crun"};
	if (mb_results_figure(r->res, &fig, lat, nrows, err) < 0)
		return -1;
	fig.name = "latency-batch";
	fig.metric = "batch_wall";
	return mb_results_figure(r->res, &fig, wall, nrows, err);
}

static int latency(struct run *r, const char *workdir, mc_err *err)
{
	const struct mb_opts *o = r->o;
	for (size_t bi = 0; bi < o->nbackends; bi++)
		if (mb_backend_prepare(o->backend[bi], workdir, &r->l[bi], err) < 0)
			return -1;
	snprintf(r->bundle, sizeof(r->bundle), "%s/bundle", workdir);
	snprintf(r->rootfs, sizeof(r->rootfs), "%s/rootfs", r->bundle);
	snprintf(r->log, sizeof(r->log), "%s/guests.log", workdir);
	if (mb_bundle_make(r->bundle, r->w->argv, err) < 0)
		return -1;
	r->spec.bundle = r->bundle;
	r->spec.rootfs = r->rootfs;
	r->spec.argv = r->w->argv;
	r->spec.log = r->log;
	size_t ncells = o->nguests * o->nbackends;
	r->cells = calloc(ncells, sizeof(*r->cells));
	if (!r->cells)
		return mc_errorf(err, ENOMEM, "samples");
	for (size_t gi = 0; gi < o->nguests; gi++) {
		for (size_t bi = 0; bi < o->nbackends; bi++) {
			struct cell *c = cell(r, gi, bi);
			c->lat = calloc((size_t)o->repeat * o->guests[gi], sizeof(double));
			c->wall = calloc(o->repeat, sizeof(double));
			if (!c->lat || !c->wall)
				return mc_errorf(err, ENOMEM, "samples");
		}
	}
	mb_progress_init(&r->progress, o->nbackends * (1 + (size_t)o->repeat * o->nguests), -1);
	/* warm-up: one untimed batch per backend at the first guest count (page cache,
	 * the runtimes' binaries) */
	for (size_t bi = 0; bi < o->nbackends; bi++)
		if (batch(r, 0, bi, 0, err) < 0)
			return -1;
	/* timed runs: every guest count and backend once per run; the backend order rotates
	 * from run to run so that none always follows the same one */
	for (unsigned run = 1; run <= o->repeat; run++)
		for (size_t gi = 0; gi < o->nguests; gi++)
			for (size_t j = 0; j < o->nbackends; j++)
				if (batch(r, gi, (j + run - 1) % o->nbackends, run, err) < 0)
					return -1;
	mb_progress_clear(&r->progress);
	return summarize(r, err);
}

int mb_latency_check(const struct mb_opts *o, mc_err *err)
{
	if (!find_workload(o->workload, err))
		return -1;
	for (size_t bi = 0; bi < o->nbackends; bi++) {
		struct mb_launcher l;
		if (mb_backend_prepare(o->backend[bi], NULL, &l, err) < 0)
			return -1;
	}
	return 0;
}

int mb_latency(const struct mb_opts *o, const char *workdir, struct mb_results *res, mc_err *err)
{
	struct run r;
	memset(&r, 0, sizeof(r));
	r.o = o;
	r.res = res;
	r.w = find_workload(o->workload, err);
	if (!r.w)
		return -1;
	int rc = latency(&r, workdir, err);
	if (r.cells) {
		for (size_t i = 0; i < o->nguests * o->nbackends; i++) {
			free(r.cells[i].lat);
			free(r.cells[i].wall);
		}
		free(r.cells);
	}
	return rc;
}
