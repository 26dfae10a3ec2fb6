#include "latency.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bundle.h"
#include "cleanup.h"
#include "engine.h"
#include "progress.h"
#include "report.h"
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

/* The figures: an interval between two milestones per guest, or the batch's wall time. */
struct figdef {
	const char *name, *metric, *title, *what;
	int from, to; /* milestones; -1: the batch */
};

enum { FIG_TOTAL, FIG_INIT, FIG_READY, FIG_EXIT, FIG_GONE, FIG_BATCH, NFIG };

static const struct figdef figdefs[NFIG] = {
    {"latency", "start_gone", "Start to gone: a guest's whole life",
     "From the fork that starts a guest (the runtime's `run`, the engine client's `run --rm`, "
     "or fork + chroot for native) to its reaping, when the runtime has deleted the container "
     "or the engine has removed it. It includes the wait at the barrier for the batch's "
     "slowest guest, so it grows with the guest count even where each guest is quick.",
     MB_T_START, MB_T_GONE},
    {"latency-init", "start_init", "Start to init: until the guest runs its first command",
     "From the fork to the moment the guest's first command (busybox sh, `echo a K` into the "
     "barrier FIFO) has run inside the container: namespaces, cgroups, mounts, pivot_root and "
     "exec, plus the engine's image and container set-up for docker and podman. The guest's "
     "own boot, not counting any other guest.",
     MB_T_START, MB_T_INIT},
    {"latency-ready", "start_ready", "Start to ready: until the barrier releases the batch",
     "From the fork to the release: minibench writes one line per guest into the FIFO "
     "`/mb/go` once every guest of the batch has said it is up, so every guest's ready is "
     "the same instant, the slowest guest's init plus minibench's reaction.",
     MB_T_START, MB_T_READY},
    {"latency-exit", "ready_exit", "Ready to exit: the workload in released guests",
     "From the release to the guest saying it is done (`/bin/true` run by the guest's shell, "
     "then `echo e K`): how quickly N guests released at one moment all run their workload.",
     MB_T_READY, MB_T_EXIT},
    {"latency-gone", "exit_gone", "Exit to gone: tearing a guest down",
     "From the workload's exit to the launcher's reaping: the container's init exits, the "
     "runtime deletes the container (cgroups, mounts), or the engine notices the exit and "
     "removes the container (`--rm`) before its client returns.",
     MB_T_EXIT, MB_T_GONE},
    {"latency-batch", "batch_wall", "Batch: first start to last gone",
     "One value per batch: from the first guest's fork to the last guest's reaping.", -1, -1},
};

/* The samples of one backend at one guest count. */
struct cell {
	double *v[NFIG];
	size_t n[NFIG];
};

struct run {
	const struct mb_opts *o;
	const struct workload *w;
	struct mb_launcher l[MB_NBACKENDS];
	struct mb_engine docker, podman;
	struct mb_guest_spec spec;
	struct cell *cells; /* [guest count][backend] */
	struct mb_progress progress;
	struct mb_results *res;
	char work[PATH_MAX], bundles[PATH_MAX + 16], rootfs[PATH_MAX + 32], mbdir[PATH_MAX + 48],
	    log[PATH_MAX + 16];
};

static struct cell *cell(struct run *r, size_t gi, size_t bi)
{
	return &r->cells[gi * r->o->nbackends + bi];
}

static int add(struct run *r, struct mb_record *rec, const char *metric, int guest, double v,
	       mc_err *err)
{
	rec->metric = metric;
	rec->guest = guest;
	rec->value = v;
	return mb_results_add(r->res, rec, err);
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
	if (mb_stop_signal)
		return mc_errorf(err, 0, "interrupted by signal %d", (int)mb_stop_signal);
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
		for (int f = 0; f < NFIG; f++) {
			const struct figdef *d = &figdefs[f];
			if (d->from < 0)
				continue;
			double v = b.t[k][d->to] - b.t[k][d->from];
			c->v[f][c->n[f]++] = v;
			if (add(r, &rec, d->metric, (int)k, v, err) < 0)
				return -1;
		}
		/* the timeline, ms since the batch's first fork (t_start, t_init, ...) */
		for (int m = 0; m < MB_NT; m++) {
			char metric[32];
			snprintf(metric, sizeof(metric), "t_%s", mb_milestone_name(m));
			if (add(r, &rec, metric, (int)k, b.t[k][m], err) < 0)
				return -1;
		}
	}
	c->v[FIG_BATCH][c->n[FIG_BATCH]++] = b.wall_ms;
	return add(r, &rec, "batch_wall", -1, b.wall_ms, err);
}

/* The seed study's chapter 5, seconds by guest count (containers up to 16, VMs up to 12). */
static const unsigned study_guests[] = {1, 2, 4, 8, 16};
static const double study_ct_boot[] = {0.44, 0.45, 0.43, 0.44, 0.45};
static const double study_ct_shutdown[] = {0.44, 0.44, 0.46, 0.46, 0.45};
static const double study_vm_boot[] = {6.12, 6.30, 7.86, 9.00, NAN};
static const double study_vm_shutdown[] = {3.24, 3.40, 3.53, 4.03, NAN};

/* A table: per guest count the study shares, the study's container and VM figures and this
 * run's medians with their ratio to the study's container figure. */
static void study_table(FILE *f, const struct run *r, const struct mb_summary_row *rows,
			const double *ct, const double *vm, const char *what)
{
	const struct mb_opts *o = r->o;
	int any = 0;
	for (size_t gi = 0; gi < o->nguests; gi++)
		for (size_t s = 0; s < MC_ARRAY_SIZE(study_guests); s++)
			any |= o->guests[gi] == study_guests[s];
	if (!any) {
		fprintf(f, "None of this run's guest counts is one the study measured (1, 2, 4, 8, "
			   "16 containers).");
		return;
	}
	fprintf(f, "\n\n| guests | study: container %s | study: VM %s |", what, what);
	for (size_t bi = 0; bi < o->nbackends; bi++)
		fprintf(f, " %s (x study container) |", mb_backend_name(o->backend[bi]));
	fprintf(f, "\n|--:|--:|--:|");
	for (size_t bi = 0; bi < o->nbackends; bi++)
		fprintf(f, "--:|");
	for (size_t gi = 0; gi < o->nguests; gi++) {
		size_t s;
		for (s = 0; s < MC_ARRAY_SIZE(study_guests); s++)
			if (study_guests[s] == o->guests[gi])
				break;
		if (s == MC_ARRAY_SIZE(study_guests))
			continue;
		fprintf(f, "\n| %u | %.0f ms | ", o->guests[gi], ct[s] * 1000);
		if (isfinite(vm[s]))
			fprintf(f, "%.0f ms |", vm[s] * 1000);
		else
			fprintf(f, "(12 VMs: %s) |", vm == study_vm_boot ? "30770 ms" : "11350 ms");
		for (size_t bi = 0; bi < o->nbackends; bi++) {
			double med = rows[gi * o->nbackends + bi].st.median;
			fprintf(f, " %.1f ms (%.3f) |", med, med / (ct[s] * 1000));
		}
	}
}

static char *study_text(const struct run *r, int fig, const struct mb_summary_row *rows)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		return NULL;
	switch (fig) {
	case FIG_INIT:
		fprintf(
		    f,
		    "The study's container *boot* ends when `docker run` returns (Docker 1.12); "
		    "its VM boot when the desktop is reached. The nearest point here is init, "
		    "the guest's first command running (our `docker run --rm` only returns when "
		    "the container is gone). Another machine (i7-4770, kernel 4.4, 2016), another "
		    "Docker and a full Ubuntu userland against busybox: compare orders of "
		    "magnitude and trends with the guest count, not the digits. The VM column "
		    "has no counterpart in this run: the vm and qemu backends are not there yet "
		    "(issues 9/12).");
		study_table(f, r, rows, study_ct_boot, study_vm_boot, "boot");
		break;
	case FIG_GONE:
		fprintf(f, "The study's container *shutdown* ends when the manager reports the "
			   "container inactive (`exit` returns); here exit to gone ends when the "
			   "runtime has deleted the container or the engine has removed it. Same "
			   "caveats as for init; the VM column has no counterpart in this run.");
		study_table(f, r, rows, study_ct_shutdown, study_vm_shutdown, "shutdown");
		break;
	case FIG_TOTAL:
		fprintf(f,
			"The study has no start-to-gone figure: it timed boot and shutdown "
			"separately (see init and exit to gone below). For orientation only, its "
			"container boot + shutdown at 1 guest sum to 880 ms.");
		break;
	default:
		fclose(f);
		free(text);
		return NULL;
	}
	fclose(f);
	return text;
}

static const char *const ratio_bases[] = {"crun", "runc", "docker"};

static int summarize(struct run *r, mc_err *err)
{
	const struct mb_opts *o = r->o;
	size_t nrows = o->nguests * o->nbackends;
	struct mb_summary_row *rows[NFIG] = {0};
	int rc = -1;
	char *table = NULL, *study[NFIG] = {0};
	size_t tlen = 0;
	const char *basename = NULL;
	int base = -1;
	for (size_t b = 0; b < MC_ARRAY_SIZE(ratio_bases) && base < 0; b++)
		for (size_t bi = 0; bi < o->nbackends; bi++)
			if (strcmp(mb_backend_name(o->backend[bi]), ratio_bases[b]) == 0) {
				base = (int)bi;
				basename = ratio_bases[b];
			}
	for (int f = 0; f < NFIG; f++) {
		rows[f] = calloc(nrows, sizeof(*rows[f]));
		if (!rows[f]) {
			mc_errorf(err, ENOMEM, "summary");
			goto out;
		}
		for (size_t gi = 0; gi < o->nguests; gi++) {
			for (size_t bi = 0; bi < o->nbackends; bi++) {
				struct mb_summary_row *row = &rows[f][gi * o->nbackends + bi];
				struct cell *c = cell(r, gi, bi);
				row->backend = mb_backend_name(o->backend[bi]);
				row->guests = o->guests[gi];
				if (mb_stats_compute(c->v[f], c->n[f], &row->st, err) < 0) {
					mc_wrap(err, "summary");
					goto out;
				}
			}
			for (size_t bi = 0; bi < o->nbackends; bi++) {
				struct mb_summary_row *row = &rows[f][gi * o->nbackends + bi];
				row->ratio =
				    base < 0
					? NAN
					: row->st.median /
					      rows[f][gi * o->nbackends + (size_t)base].st.median;
			}
		}
	}
	FILE *t = open_memstream(&table, &tlen);
	if (!t) {
		mc_errorf(err, errno, "summary");
		goto out;
	}
	fprintf(t,
		"latency: %s in N guests started at once, held at a barrier until all are up, "
		"released together; busybox rootfs; %u timed run%s per backend and guest count, "
		"backends interleaved\n",
		r->w->argv[0], o->repeat, o->repeat == 1 ? "" : "s");
	fprintf(t, "ms per guest, medians: init = start to its first command, ready = start to "
		   "the release (the slowest guest's init),\nrun = release to the workload's exit, "
		   "gone = exit to reaped (container deleted); total = start to gone; batch = "
		   "first start to last gone\n");
	fprintf(t, "%-13s %6s %4s %8s %8s %7s %8s %9s %9s %9s %9s %9s", "backend", "guests", "n",
		"init", "ready", "run", "gone", "total min", "median", "max", "p95", "batch");
	if (base >= 0)
		fprintf(t, " vs %s", basename);
	fputc('\n', t);
	for (size_t i = 0; i < nrows; i++) {
		const struct mb_stats *s = &rows[FIG_TOTAL][i].st;
		fprintf(t, "%-13s %6u %4zu %8.2f %8.2f %7.2f %8.2f %9.2f %9.2f %9.2f %9.2f %9.2f",
			rows[FIG_TOTAL][i].backend, rows[FIG_TOTAL][i].guests, s->n,
			rows[FIG_INIT][i].st.median, rows[FIG_READY][i].st.median,
			rows[FIG_EXIT][i].st.median, rows[FIG_GONE][i].st.median, s->min, s->median,
			s->max, s->p95, rows[FIG_BATCH][i].st.median);
		if (isfinite(rows[FIG_TOTAL][i].ratio))
			fprintf(t, " %*.2f", (int)strlen(basename) + 3, rows[FIG_TOTAL][i].ratio);
		fputc('\n', t);
	}
	if (fclose(t) != 0 || !table) {
		mc_errorf(err, errno, "summary");
		goto out;
	}
	fputs(table, stdout);
	fflush(stdout);
	struct mb_report_fig figs[NFIG];
	for (int f = 0; f < NFIG; f++) {
		struct mb_figure fig = {figdefs[f].name,   "latency", r->w->name,
					figdefs[f].metric, "ms",      basename ? basename : "crun"};
		if (mb_results_figure(r->res, &fig, rows[f], nrows, err) < 0)
			goto out;
		study[f] = study_text(r, f, rows[f]);
		figs[f] = (struct mb_report_fig){
		    figdefs[f].name, figdefs[f].title, figdefs[f].what, "ms", rows[f],
		    nrows,	     study[f]};
	}
	if (o->out && mb_report_write(o->out, "minibench latency", table, figs, NFIG, err) < 0)
		goto out;
	if (o->record && mb_record("minibench-latency", "minibench latency (issue 11)", o->argc,
				   o->argv, table, err) < 0)
		goto out;
	rc = 0;
out:
	for (int f = 0; f < NFIG; f++) {
		free(rows[f]);
		free(study[f]);
	}
	free(table);
	return rc;
}

static int start_engines(struct run *r, mc_err *err)
{
	const struct mb_opts *o = r->o;
	int want[2] = {0, 0};
	const char *minict = NULL;
	for (size_t bi = 0; bi < o->nbackends; bi++) {
		int e = mb_backend_engine(o->backend[bi]);
		if (e >= 0)
			want[e] = 1;
		if (o->backend[bi] == MB_DOCKER_MINICT)
			minict = r->l[bi].tool;
	}
	if (want[MB_ENGINE_DOCKER] &&
	    mb_engine_start(&r->docker, MB_ENGINE_DOCKER, r->rootfs, minict, err) < 0)
		return -1;
	if (want[MB_ENGINE_PODMAN] &&
	    mb_engine_start(&r->podman, MB_ENGINE_PODMAN, r->rootfs, NULL, err) < 0)
		return -1;
	for (size_t bi = 0; bi < o->nbackends; bi++) {
		int e = mb_backend_engine(o->backend[bi]);
		if (e >= 0)
			r->l[bi].engine = e == MB_ENGINE_DOCKER ? &r->docker : &r->podman;
	}
	return 0;
}

static int latency(struct run *r, const char *workdir, mc_err *err)
{
	const struct mb_opts *o = r->o;
	if (!realpath(workdir, r->work)) /* bundles name their rootfs by absolute path */
		return mc_errorf(err, errno, "work directory `%s`", workdir);
	for (size_t bi = 0; bi < o->nbackends; bi++)
		if (mb_backend_prepare(o->backend[bi], r->work, &r->l[bi], err) < 0)
			return -1;
	snprintf(r->bundles, sizeof(r->bundles), "%s/bundle", r->work);
	snprintf(r->rootfs, sizeof(r->rootfs), "%s/rootfs", r->bundles);
	snprintf(r->mbdir, sizeof(r->mbdir), "%s/mb", r->rootfs);
	snprintf(r->log, sizeof(r->log), "%s/guests.log", r->work);
	if (mb_rootfs_make(r->rootfs, err) < 0 || mb_barrier_make(r->rootfs, err) < 0)
		return -1;
	unsigned most = 0;
	for (size_t gi = 0; gi < o->nguests; gi++)
		if (o->guests[gi] > most)
			most = o->guests[gi];
	for (unsigned k = 0; k < most; k++) {
		/* one bundle per guest, sharing the rootfs: the guest's index is its $0 */
		char dir[PATH_MAX + 64], idx[16];
		char *args[32] = {"/bin/sh", "-c", MB_GUEST_SCRIPT, idx};
		size_t na = 4;
		snprintf(idx, sizeof(idx), "%u", k);
		snprintf(dir, sizeof(dir), "%s/g%u", r->bundles, k);
		for (size_t i = 0; r->w->argv[i] && na < MC_ARRAY_SIZE(args) - 1; i++)
			args[na++] = r->w->argv[i];
		args[na] = NULL;
		if (mb_bundle_config(dir, r->rootfs, args, err) < 0)
			return -1;
	}
	r->spec.bundles = r->bundles;
	r->spec.rootfs = r->rootfs;
	r->spec.mbdir = r->mbdir;
	r->spec.argv = r->w->argv;
	r->spec.log = r->log;
	size_t ncells = o->nguests * o->nbackends;
	r->cells = calloc(ncells, sizeof(*r->cells));
	if (!r->cells)
		return mc_errorf(err, ENOMEM, "samples");
	for (size_t gi = 0; gi < o->nguests; gi++) {
		for (size_t bi = 0; bi < o->nbackends; bi++) {
			struct cell *c = cell(r, gi, bi);
			for (int f = 0; f < NFIG; f++) {
				size_t per = figdefs[f].from < 0 ? 1 : o->guests[gi];
				c->v[f] = calloc((size_t)o->repeat * per, sizeof(double));
				if (!c->v[f])
					return mc_errorf(err, ENOMEM, "samples");
			}
		}
	}
	if (start_engines(r, err) < 0)
		return -1;
	mb_progress_init(&r->progress, o->nbackends * (1 + (size_t)o->repeat * o->nguests), -1);
	/* warm-up: one untimed batch per backend at the first guest count (page cache,
	 * the runtimes' binaries, the engines' first container) */
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
	/* the engines go before the report: their clean-up can fail the run */
	if (mb_engine_stop(&r->docker, err) < 0 || mb_engine_stop(&r->podman, err) < 0)
		return -1;
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
	struct run *r = calloc(1, sizeof(*r));
	if (!r)
		return mc_errorf(err, ENOMEM, "latency");
	r->o = o;
	r->res = res;
	r->w = find_workload(o->workload, err);
	int rc = r->w ? latency(r, workdir, err) : -1;
	/* on failure too: the engines leave nothing behind */
	mc_err serr = NULL;
	if ((mb_engine_stop(&r->docker, &serr) < 0 || mb_engine_stop(&r->podman, &serr) < 0) &&
	    rc == 0) {
		*err = serr;
		serr = NULL;
		rc = -1;
	}
	if (serr) {
		fprintf(stderr, "minibench: %s\n", mc_error_text(serr));
		mc_error_free(&serr);
	}
	if (r->cells) {
		for (size_t i = 0; i < o->nguests * o->nbackends; i++)
			for (int f = 0; f < NFIG; f++)
				free(r->cells[i].v[f]);
		free(r->cells);
	}
	free(r);
	return rc;
}
