#include "restore.h"

#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "engine.h"
#include "experiment.h"
#include "paths.h"
#include "report.h"
#include "script.h"
#include "stats.h"
#include "util.h"

#define MAX_OUT_BYTES (1 << 16) /* one call's JSON lines */
#define MAX_MS	      600000.0	/* a figure above this is refused: not a restore */

/* The figures, in slot order; the first one's median is the ratio's. */
enum { FIG_RESTORE, FIG_FULL, FIG_BOOT, FIG_ENTRY, NFIG };

/* bench/vm-restore.sh's cases, in slot order (the entry figure is the idle case's too) */
static const char *const cases[] = {"idle", "full", "boot"};

static const struct mb_exp_fig figs[NFIG] = {
    {"latency-restore", "restore_to_running", "ms", "Restore to running, small footprint",
     "From the VMM's spawn (`minivm run --restore DIR`; QEMU: `-incoming exec:cat FILE` of a "
     "state saved with `migrate exec:cat > FILE`) to the first heartbeat line the restored "
     "guest prints on its console. The guest (the PVH test guest, `count`) touched a few "
     "pages. It prints a line every 2^22 TSC cycles (~2 ms here): 0-2 ms of the figure are "
     "its own wait, where the saved TSC left it.",
     FIG_RESTORE},
    {"latency-restore-full", "restore_full_to_running", "ms",
     "Restore to running, 200 MiB of non-zero memory",
     "The same guest with 200 MiB of random bytes in its RAM (minivm: written into the "
     "snapshot's memory file; QEMU: a memory-backend-file holding the same bytes when it "
     "saved), restored into plain RAM. minivm maps the memory file copy-on-write and reads "
     "a page when the guest touches it; QEMU reads the whole state before it runs.",
     FIG_FULL},
    {"latency-restore-boot", "boot_to_running", "ms", "Cold boot to running, the same guest",
     "The baseline of the restore figures: `minivm run --kernel` (QEMU: `-kernel`) of the "
     "same guest and memory size, from the spawn to its first heartbeat line.",
     FIG_BOOT},
    {"latency-restore-entry", "vmm_restore_entry", "ms", "minivm's own: main() to KVM_RUN",
     "minivm's `entry` milestone of the small-footprint restore (--timings json): from its "
     "main() to the vCPU's first KVM_RUN, the state applied (vm only).",
     FIG_ENTRY},
};

struct run {
	struct mb_exp x;
	struct mb_opts one; /* o with one guest count, 1 */
	char checkout[PATH_MAX], guest[PATH_MAX + 48], snaps[PATH_MAX + 16];
	/* the call that runs: its backend, run, the cases seen in its JSON lines */
	size_t bi;
	unsigned run;
	bool seen[MC_ARRAY_SIZE(cases)];
};

/* ---- checks ------------------------------------------------------------------------------- */

static int find_paths(struct run *r, mc_err *err)
{
	const char *co = mb_checkout_dir();
	if (!co)
		return mc_errorf(
		    err, 0,
		    "latency --from-snapshot: no checkout above %s (bench/vm-restore.sh "
		    "is its measuring engine)",
		    mb_self_dir());
	snprintf(r->checkout, sizeof(r->checkout), "%s", co);
	snprintf(r->guest, sizeof(r->guest), "%s/../tests/guests/pvh-guest.elf", mb_self_dir());
	return 0;
}

static int check_backend(const void *ctx, enum mb_backend b, mc_err *err)
{
	const struct run *r = ctx;
	char path[PATH_MAX + 64];
	if (b != MB_VM && b != MB_QEMU)
		return mc_errorf(err, 0,
				 "backend %s: not for latency --from-snapshot (vm, qemu: the PVH "
				 "test guest restored from a saved state; minict's checkpoint and "
				 "restore is bench/ct-checkpoint.sh)",
				 mb_backend_name(b));
	if (mb_script_vm_check(b, "vm-restore.sh", r->guest, err) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/bench/vm-restore.sh", r->checkout);
	if (access(path, R_OK) < 0)
		return mc_errorf(err, errno, "backend %s: %s", mb_backend_name(b), path);
	return 0;
}

int mb_restore_check(const struct mb_opts *o, mc_err *err)
{
	if (o->workload)
		return mc_errorf(err, 0,
				 "latency --from-snapshot takes no --workload (the test guest's "
				 "`count`, saved while it runs)");
	struct run r;
	memset(&r, 0, sizeof(r));
	if (find_paths(&r, err) < 0)
		return -1;
	return mb_exp_check_backends(o, check_backend, &r, err);
}

/* ---- one run ------------------------------------------------------------------------------ */

/* One JSON line of the script: its case's figures into the cells and results.jsonl. */
static int take_row(void *ctx, json_object *row, mc_err *err)
{
	struct run *r = ctx;
	size_t bi = r->bi;
	unsigned run = r->run;
	bool *seen = r->seen;
	enum mb_backend b = r->one.backend[bi];
	json_object *f;
	const char *status = json_object_object_get_ex(row, "status", &f)
				 ? json_object_get_string(f)
				 : NULL,
		   *c = json_object_object_get_ex(row, "case", &f) ? json_object_get_string(f)
								   : NULL,
		   *be = json_object_object_get_ex(row, "backend", &f) ? json_object_get_string(f)
								       : NULL;
	if (!status || strcmp(status, "ok") != 0)
		return mc_errorf(err, 0, "status `%s`", status ? status : "none");
	if (!be || strcmp(be, mb_backend_name(b)) != 0)
		return mc_errorf(err, 0, "backend `%s`, not %s", be ? be : "none",
				 mb_backend_name(b));
	size_t k;
	for (k = 0; c && k < MC_ARRAY_SIZE(cases); k++)
		if (strcmp(c, cases[k]) == 0)
			break;
	if (!c || k == MC_ARRAY_SIZE(cases))
		return mc_errorf(err, 0, "unknown case `%s`", c ? c : "none");
	if (seen[k])
		return mc_errorf(err, 0, "case `%s` twice", c);
	seen[k] = true;
	double ms, entry, saved;
	if (mb_script_num(row, "to_running_ms", false, MAX_MS, &ms, err) < 0 ||
	    mb_script_num(row, "entry_ms", b != MB_VM, MAX_MS, &entry, err) < 0 ||
	    mb_script_num(row, "saved_mib", false, MAX_MS, &saved, err) < 0)
		return mc_wrap(err, "case %s", c);
	if (!(ms > 0))
		return mc_errorf(err, 0, "case %s: to_running_ms is 0", c);
	if (b == MB_VM && entry > ms)
		return mc_errorf(err, 0, "case %s: minivm's entry %.3f ms after the heartbeat %.3f",
				 c, entry, ms);
	if (run == 0)
		return 0; /* the warm-up */
	struct mb_record rec = {
	    .experiment = "latency",
	    .backend = mb_backend_name(b),
	    .workload = "restore",
	    .guests = 1,
	    .run = run - 1,
	    .guest = 0,
	};
	const struct mb_exp_fig *fig = &figs[k];
	if (mb_exp_sample(&r->x, 0, bi, fig->slot, &rec, fig->metric, "ms", 0, ms, err) < 0)
		return -1;
	if (k == 0 && b == MB_VM &&
	    mb_exp_sample(&r->x, 0, bi, FIG_ENTRY, &rec, figs[FIG_ENTRY].metric, "ms", 0, entry,
			  err) < 0)
		return -1;
	if (k != 2) {
		char metric[48];
		snprintf(metric, sizeof(metric), "%s_saved_mib", k ? "restore_full" : "restore");
		if (mb_exp_write(&r->x, &rec, metric, "MiB", 0, saved, err) < 0)
			return -1;
	}
	return 0;
}

/* One run of backend bi by the script (RUNS=1, no warm-up of its own), read back. */
static int one_run(void *ctx, size_t bi, unsigned run, mc_err *err)
{
	struct run *r = ctx;
	enum mb_backend b = r->one.backend[bi];
	const char *name = mb_backend_name(b);
	char tag[48], e_guest[PATH_MAX + 56], e_snaps[PATH_MAX + 24], e_vmms[32], e_mem[32],
	    e_full[32];
	snprintf(tag, sizeof(tag), "restore-%s", name);
	snprintf(e_guest, sizeof(e_guest), "GUEST=%s", r->guest);
	snprintf(e_snaps, sizeof(e_snaps), "SNAPS=%s", r->snaps);
	snprintf(e_vmms, sizeof(e_vmms), "VMMS=%s", b == MB_VM ? "minivm" : "qemu");
	snprintf(e_mem, sizeof(e_mem), "MEM=%u", MB_RESTORE_MEM_MIB);
	snprintf(e_full, sizeof(e_full), "FULL=%u", MB_RESTORE_FULL_MIB);
	const char *env[] = {
	    "WARMUP=0", "CASES=idle full boot", e_guest, e_snaps, e_vmms, e_mem, e_full, NULL};
	r->bi = bi;
	r->run = run;
	memset(r->seen, 0, sizeof(r->seen));
	struct mb_script_call c = {
	    .checkout = r->checkout,
	    .script = "vm-restore.sh",
	    .work = r->x.work,
	    .tag = tag,
	    .run = run,
	    .env = env,
	    .max_bytes = MAX_OUT_BYTES,
	    .take = take_row,
	    .ctx = r,
	};
	if (mb_script_call(&c, err) < 0)
		return -1;
	for (size_t k = 0; k < MC_ARRAY_SIZE(cases); k++)
		if (!r->seen[k])
			return mc_errorf(err, 0, "%s: no line for case %s", c.jsonl, cases[k]);
	return 0;
}

/* ---- the summary -------------------------------------------------------------------------- */

static void intro(void *ctx, FILE *t)
{
	const struct run *r = ctx;
	fprintf(t,
		"latency --from-snapshot: the PVH test guest (`count`), 1 vCPU, %u MiB, restored "
		"from a state saved while it ran, to its first heartbeat; small footprint (a few "
		"pages) and %u MiB of non-zero pages; a cold boot of the same guest beside them; "
		"%u timed run%s per backend, backends interleaved (bench/vm-restore.sh)\n",
		MB_RESTORE_MEM_MIB, MB_RESTORE_FULL_MIB, r->one.repeat,
		r->one.repeat == 1 ? "" : "s");
	fprintf(t,
		"ms from the VMM's spawn to the first heartbeat line (0-2 ms of it the guest's "
		"own wait); full = %u MiB non-zero, boot = cold boot, entry = minivm's main() "
		"to KVM_RUN\n",
		MB_RESTORE_FULL_MIB);
}

/* The seed study's chapter 5: a VM restored from a checkpoint ~3x faster than it booted. */
static bool study_text(void *ctx, size_t fig, const struct mb_summary_row *rows, FILE *f)
{
	const struct run *r = ctx;
	if (fig != FIG_RESTORE && fig != FIG_FULL)
		return false;
	fprintf(f,
		"The study's VMs (QEMU/libvirt, a desktop Ubuntu) restored from a checkpoint about "
		"3x faster than they booted (a restore/boot ratio of ~0.33). Here, a tiny guest "
		"on this host: the ratio of this figure's median to the same backend's cold boot "
		"(the figure below).\n\n| backend | median | cold boot median | restore / boot |\n"
		"|---|--:|--:|--:|\n");
	for (size_t bi = 0; bi < r->one.nbackends; bi++) {
		/* the same backend's cold boot (one guest count: the cell of backend bi) */
		const struct mb_cell *c = &r->x.cells[bi * r->x.nslots + FIG_BOOT];
		struct mb_stats s;
		mc_err e = NULL;
		double boot = c->n && mb_stats_compute(c->v, c->n, &s, &e) == 0 ? s.median : NAN;
		mc_error_free(&e);
		fprintf(f, "| %s | %.2f ms | %.2f ms | %.3f |\n", rows[bi].backend,
			rows[bi].st.median, boot, rows[bi].st.median / boot);
	}
	return true;
}

static const char *const ratio_bases[] = {"qemu", "vm", NULL};

static const struct mb_exp_col cols[] = {
    {"restore min", 11, FIG_RESTORE, MB_STAT_MIN},
    {"median", 9, FIG_RESTORE, MB_STAT_MEDIAN},
    {"max", 9, FIG_RESTORE, MB_STAT_MAX},
    {"full median", 11, FIG_FULL, MB_STAT_MEDIAN},
    {"max", 9, FIG_FULL, MB_STAT_MAX},
    {"boot median", 11, FIG_BOOT, MB_STAT_MEDIAN},
    {"entry", 8, FIG_ENTRY, MB_STAT_MEDIAN},
};

static int summarize(struct run *r, mc_err *err)
{
	const struct mb_exp_summary s = {
	    .bases = ratio_bases,
	    MB_EXP_FIGS_COLS(figs, cols),
	    .intro = intro,
	    .study = study_text,
	    .heading = "minibench latency --from-snapshot",
	    .vm_note = "The VMs (vm, qemu) are the tiny PVH test guest, no stock kernel: they ran "
		       "on this host's /dev/kvm (PVM or hardware KVM alike).",
	    .record_part = "restore",
	    .record_what = "restore from a snapshot",
	};
	return mb_exp_summarize(&r->x, &s, err);
}

/* ---- the experiment ----------------------------------------------------------------------- */

static int restore(struct run *r, const char *workdir, mc_err *err)
{
	struct mb_exp *x = &r->x;
	if (realpath(workdir, x->work) == NULL)
		return mc_errorf(err, errno, "work directory `%s`", workdir);
	if (mb_pathf(r->snaps, sizeof(r->snaps), err, "%s/snaps", x->work) < 0 ||
	    mc_mkdir_p(r->snaps, 0755, err) < 0)
		return -1;
	/* run 0, untimed, per backend: the saved states made, the page cache, the tools' first
	 * start (--no-warmup: none, for tests; the states are then made in run 1, untimed) */
	if (mb_exp_run_calls(x, NFIG, one_run, err) < 0)
		return -1;
	return summarize(r, err);
}

int mb_restore(const struct mb_opts *o, const char *workdir, struct mb_results *res, mc_err *err)
{
	struct run *r = calloc(1, sizeof(*r));
	if (!r)
		return mc_errorf(err, ENOMEM, "latency --from-snapshot");
	/* one guest: a restore is timed per guest, whatever --guests says */
	mb_exp_one_guest(&r->x, &r->one, o, res, r);
	r->x.experiment = "latency";
	r->x.workload = "restore";
	r->x.what = "latency restore";
	int rc = find_paths(r, err);
	if (rc == 0)
		rc = restore(r, workdir, err);
	mb_exp_free(&r->x);
	free(r);
	return rc;
}
