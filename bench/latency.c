#include "latency.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "all.h"
#include "bundle.h"
#include "cleanup.h"
#include "density.h"
#include "engine.h"
#include "experiment.h"
#include "report.h"
#include "restore.h"
#include "spawn.h"
#include "util.h"
#include "vmguest.h"

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

struct run {
	struct mb_exp x;
	const struct workload *w;
	struct mb_engine docker, podman;
	char bundles[PATH_MAX + 16], rootfs[PATH_MAX + 32], mbdir[PATH_MAX + 48],
	    log[PATH_MAX + 16];
	/* vm, qemu (vmguest.h): the images, WORK/vm/gK's data disks, the guests' script */
	bool vms;
	struct mb_vm_spec vm;
	char vmdir[PATH_MAX + 16], vmscript[1024];
};

static bool is_vm(enum mb_backend b)
{
	return b == MB_VM || b == MB_QEMU;
}

/* Before each batch of a VM backend, outside the timed part: each guest's data disk (made
 * empty the first time, then kept) out of the host's page cache. */
static int before_batch(void *ctx, unsigned n, size_t bi, mc_err *err)
{
	struct run *r = ctx;
	if (!is_vm(r->x.o->backend[bi]))
		return 0;
	for (unsigned k = 0; k < n; k++)
		if (mb_vm_disks(&r->vm, k, NULL, r->log, err) < 0)
			return mc_wrap(err, "latency");
	return 0;
}

/* The vm backend's breakdown of a boot: minivm's own milestones (--timings json, vmguest.h),
 * ms since minivm's start, as vmm_<milestone> lines; a milestone it did not reach (null) is
 * left out. The file is minivm's output, checked all the same: a number in [0, 1e7). */
static int record_vmm(struct run *r, struct mb_record *rec, unsigned k, mc_err *err)
{
	static const char *const names[] = {"setup", "entry", "init", "ready", "exit", "gone"};
	char path[PATH_MAX + 64], line[1024];
	snprintf(path, sizeof(path), "%s/g%u/timings.json", r->vmdir, k);
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	if (!f || !fgets(line, sizeof(line), f))
		return mc_errorf(err, f ? 0 : errno, "vm guest %u: no timings from minivm in %s",
				 k + 1, path);
	for (size_t i = 0; i < MC_ARRAY_SIZE(names); i++) {
		char key[32], metric[32];
		snprintf(key, sizeof(key), "\"%s\":", names[i]);
		const char *p = strstr(line, key);
		if (!p || strncmp(p + strlen(key), "null", 4) == 0)
			continue;
		char *end;
		errno = 0;
		double v = strtod(p + strlen(key), &end);
		if (errno || end == p + strlen(key) || !(v >= 0 && v < 1e7))
			return mc_errorf(err, 0, "vm guest %u: minivm's timings: bad `%s` in %s",
					 k + 1, names[i], path);
		snprintf(metric, sizeof(metric), "vmm_%s", names[i]);
		if (mb_exp_write(&r->x, rec, metric, "ms", (int)k, v, err) < 0)
			return -1;
	}
	return 0;
}

/* A timed batch's records: per guest the intervals (kept for the figures) and the timeline,
 * ms since the batch's first fork (t_start, t_init, ...); the batch's wall time. */
static int record(void *ctx, size_t gi, size_t bi, const struct mb_batch *b, struct mb_record *rec,
		  mc_err *err)
{
	struct mb_exp *x = &((struct run *)ctx)->x;
	for (unsigned k = 0; k < rec->guests; k++) {
		for (int f = 0; f < NFIG; f++) {
			const struct figdef *d = &figdefs[f];
			if (d->from >= 0 &&
			    mb_exp_sample(x, gi, bi, (size_t)f, rec, d->metric, "ms", (int)k,
					  b->t[k][d->to] - b->t[k][d->from], err) < 0)
				return -1;
		}
		for (int m = 0; m < MB_NT; m++) {
			char metric[32];
			snprintf(metric, sizeof(metric), "t_%s", mb_milestone_name(m));
			if (mb_exp_write(x, rec, metric, "ms", (int)k, b->t[k][m], err) < 0)
				return -1;
		}
		if (x->o->backend[bi] == MB_VM && record_vmm(ctx, rec, k, err) < 0)
			return -1;
	}
	return mb_exp_sample(x, gi, bi, FIG_BATCH, rec, "batch_wall", "ms", -1, b->wall_ms, err);
}

/* The seed study's chapter 5, seconds by guest count (containers up to 16, VMs up to 12). */
static const unsigned study_guests[] = {1, 2, 4, 8, 16};
static const double study_ct_boot[] = {0.44, 0.45, 0.43, 0.44, 0.45};
static const double study_ct_shutdown[] = {0.44, 0.44, 0.46, 0.46, 0.45};
static const double study_vm_boot[] = {6.12, 6.30, 7.86, 9.00, NAN};
static const double study_vm_shutdown[] = {3.24, 3.40, 3.53, 4.03, NAN};

/* A table: per guest count the study shares, the study's container and VM figures and this
 * run's medians with their ratio to the study's figure of the same kind (vm and qemu: its VM
 * figure; 12 VMs stand for 16, which it did not run; the others: its container figure). */
static void study_table(FILE *f, const struct run *r, const struct mb_summary_row *rows,
			const double *ct, const double *vm, const char *what)
{
	const struct mb_opts *o = r->x.o;
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
		fprintf(f, " %s (x study %s) |", mb_backend_name(o->backend[bi]),
			is_vm(o->backend[bi]) ? "VM" : "container");
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
		double vm_ms = isfinite(vm[s]) ? vm[s] * 1000 : vm == study_vm_boot ? 30770 : 11350;
		fprintf(f, "\n| %u | %.0f ms | ", o->guests[gi], ct[s] * 1000);
		if (isfinite(vm[s]))
			fprintf(f, "%.0f ms |", vm_ms);
		else
			fprintf(f, "(12 VMs: %.0f ms) |", vm_ms);
		for (size_t bi = 0; bi < o->nbackends; bi++) {
			double med = rows[gi * o->nbackends + bi].st.median;
			double base = is_vm(o->backend[bi]) ? vm_ms : ct[s] * 1000;
			fprintf(f, " %.1f ms (%.3f) |", med, med / base);
		}
	}
}

/* What the study says beside a figure, into f; false: nothing. */
static bool study_text(void *ctx, size_t fig, const struct mb_summary_row *rows, FILE *f)
{
	const struct run *r = ctx;
	switch (fig) {
	case FIG_INIT:
		fprintf(
		    f,
		    "The study's container *boot* ends when `docker run` returns (Docker 1.12); "
		    "its VM boot when the desktop is reached. The nearest point here is init, "
		    "the guest's first command running (our `docker run --rm` only returns when "
		    "the container is gone). Another machine (i7-4770, kernel 4.4, 2016), another "
		    "Docker and a full Ubuntu userland against busybox: compare orders of "
		    "magnitude and trends with the guest count, not the digits. The VM column is "
		    "the study's KVM guest (a desktop Ubuntu, boot to the desktop): our vm and "
		    "qemu guests boot a stock kernel to the benchmark rootfs' shell (init: the "
		    "guest's script has mounted its chroot and says it is up), and are compared "
		    "to it.");
		study_table(f, r, rows, study_ct_boot, study_vm_boot, "boot");
		break;
	case FIG_GONE:
		fprintf(f, "The study's container *shutdown* ends when the manager reports the "
			   "container inactive (`exit` returns); here exit to gone ends when the "
			   "runtime has deleted the container or the engine has removed it; for vm "
			   "and qemu when the VMM has exited after the guest's ACPI power-off. "
			   "Same caveats as for init.");
		study_table(f, r, rows, study_ct_shutdown, study_vm_shutdown, "shutdown");
		break;
	case FIG_TOTAL:
		fprintf(f,
			"The study has no start-to-gone figure: it timed boot and shutdown "
			"separately (see init and exit to gone below). For orientation only, its "
			"container boot + shutdown at 1 guest sum to 880 ms.");
		break;
	default:
		return false;
	}
	return true;
}

/* The table's first lines: the method. */
static void intro(void *ctx, FILE *t)
{
	const struct run *r = ctx;
	fprintf(t,
		"latency: %s in N guests started at once, held at a barrier until all are up, "
		"released together; busybox rootfs (vm, qemu: a stock kernel on the benchmark "
		"rootfs image, 1 vCPU, %u MiB); %u timed run%s per backend and guest count, "
		"backends interleaved\n",
		r->w->argv[0], MB_GUEST_MEM_MIB, r->x.o->repeat, r->x.o->repeat == 1 ? "" : "s");
	fprintf(t, "ms per guest, medians: init = start to its first command, ready = start to "
		   "the release (the slowest guest's init),\nrun = release to the workload's exit, "
		   "gone = exit to reaped (container deleted, VMM exited); total = start to gone; "
		   "batch = first start to last gone\n");
}

static const char *const ratio_bases[] = {"crun", "runc", "docker", NULL};

/* Every figure's medians; the whole life's min, median, max and p95 (its ratio last). */
static const struct mb_exp_col cols[] = {
    {"init", 8, FIG_INIT, MB_STAT_MEDIAN},    {"ready", 8, FIG_READY, MB_STAT_MEDIAN},
    {"run", 7, FIG_EXIT, MB_STAT_MEDIAN},     {"gone", 8, FIG_GONE, MB_STAT_MEDIAN},
    {"total min", 9, FIG_TOTAL, MB_STAT_MIN}, {"median", 9, FIG_TOTAL, MB_STAT_MEDIAN},
    {"max", 9, FIG_TOTAL, MB_STAT_MAX},	      {"p95", 9, FIG_TOTAL, MB_STAT_P95},
    {"batch", 9, FIG_BATCH, MB_STAT_MEDIAN},
};

static int summarize(struct run *r, mc_err *err)
{
	struct mb_exp_fig figs[NFIG];
	for (int f = 0; f < NFIG; f++)
		figs[f] = (struct mb_exp_fig){figdefs[f].name,	figdefs[f].metric, "ms",
					      figdefs[f].title, figdefs[f].what,   (size_t)f};
	const struct mb_exp_summary s = {
	    .bases = ratio_bases,
	    MB_EXP_FIGS_COLS(figs, cols),
	    .backend_width = 13,
	    .intro = intro,
	    .study = study_text,
	    .heading = "minibench latency",
	};
	return mb_exp_summarize(&r->x, &s, err);
}

static int latency(struct run *r, const char *workdir, mc_err *err)
{
	struct mb_exp *x = &r->x;
	const struct mb_opts *o = x->o;
	if (mb_exp_prepare(x, workdir, err) < 0)
		return -1;
	snprintf(r->bundles, sizeof(r->bundles), "%s/bundle", x->work);
	snprintf(r->rootfs, sizeof(r->rootfs), "%s/rootfs", r->bundles);
	snprintf(r->mbdir, sizeof(r->mbdir), "%s/mb", r->rootfs);
	snprintf(r->log, sizeof(r->log), "%s/guests.log", x->work);
	if (mb_rootfs_make(r->rootfs, err) < 0 || mb_barrier_make(r->rootfs, err) < 0)
		return -1;
	unsigned most = mb_exp_most_guests(o);
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
	for (size_t bi = 0; bi < o->nbackends; bi++)
		r->vms |= is_vm(o->backend[bi]);
	if (r->vms) {
		/* the workload in a VM: the relay and its line protocol (vmguest.h) */
		char cmd[256];
		size_t len = 0;
		cmd[0] = 0;
		for (size_t i = 0; r->w->argv[i]; i++) {
			int n = snprintf(cmd + len, sizeof(cmd) - len, "%s%s", i ? " " : "",
					 r->w->argv[i]);
			if (n < 0 || (size_t)n >= sizeof(cmd) - len)
				return mc_errorf(err, 0,
						 "latency: the workload's command is too long");
			len += (size_t)n;
		}
		snprintf(r->vmdir, sizeof(r->vmdir), "%s/vm", x->work);
		if (mb_vm_prepare(&r->vm, r->vmscript, sizeof(r->vmscript), "", cmd, "", r->vmdir,
				  "out.log", r->mbdir, err) < 0)
			return mc_wrap(err, "latency");
		r->vm.timings = true;
		x->spec.vm = &r->vm;
	}
	x->spec.bundles = r->bundles;
	x->spec.rootfs = r->rootfs;
	x->spec.mbdir = r->mbdir;
	x->spec.argv = r->w->argv;
	x->spec.log = r->log;
	if (mb_exp_cells(x, NFIG, err) < 0 ||
	    mb_exp_engines_start(x, &r->docker, &r->podman,
				 &(struct mb_engine_opts){.rootfs = r->rootfs}, err) < 0 ||
	    mb_exp_run(x, err) < 0)
		return -1;
	/* the engines go before the report: their clean-up can fail the run */
	if (mb_engine_stop(&r->docker, err) < 0 || mb_engine_stop(&r->podman, err) < 0)
		return -1;
	return summarize(r, err);
}

int mb_latency_check(const struct mb_opts *o, mc_err *err)
{
	if (o->from_snapshot)
		return mb_restore_check(o, err);
	if (!find_workload(o->workload, err))
		return -1;
	for (size_t bi = 0; bi < o->nbackends; bi++) {
		enum mb_backend b = o->backend[bi];
		struct mb_launcher l;
		if (is_vm(b)) {
			char why[256];
			if (!mb_stock_kernel_kvm(why, sizeof(why)))
				return mc_errorf(err, 0,
						 "backend %s: latency boots a stock kernel, which "
						 "needs hardware virtualization: %s",
						 mb_backend_name(b), why);
			if (mb_vm_images_check(err) < 0)
				return mc_wrap(err, "backend %s", mb_backend_name(b));
		}
		if (mb_backend_prepare(b, NULL, &l, err) < 0)
			return -1;
	}
	return 0;
}

int mb_latency(const struct mb_opts *o, const char *workdir, struct mb_results *res, mc_err *err)
{
	if (o->from_snapshot)
		return mb_restore(o, workdir, res, err);
	struct run *r = calloc(1, sizeof(*r));
	if (!r)
		return mc_errorf(err, ENOMEM, "latency");
	r->x.o = o;
	r->x.res = res;
	r->x.experiment = r->x.what = "latency";
	r->x.ctx = r;
	r->x.record = record;
	r->x.before = before_batch;
	r->w = find_workload(o->workload, err);
	r->x.workload = r->w ? r->w->name : NULL;
	int rc = r->w ? latency(r, workdir, err) : -1;
	/* on failure too: the engines leave nothing behind */
	rc = mb_exp_engines_stop(&r->docker, &r->podman, rc, err);
	mb_exp_free(&r->x);
	free(r);
	return rc;
}
