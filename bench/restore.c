#include "restore.h"

#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "engine.h"
#include "experiment.h"
#include "paths.h"
#include "report.h"
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
	char record_id[64], record_title[96];
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

static int check_backend(const struct run *r, enum mb_backend b, mc_err *err)
{
	char path[PATH_MAX + 64];
	struct stat st;
	if (b != MB_VM && b != MB_QEMU)
		return mc_errorf(err, 0,
				 "backend %s: not for latency --from-snapshot (vm, qemu: the PVH "
				 "test guest restored from a saved state; minict's checkpoint and "
				 "restore is bench/ct-checkpoint.sh)",
				 mb_backend_name(b));
	if (stat("/dev/kvm", &st) < 0 || !S_ISCHR(st.st_mode))
		return mc_errorf(err, 0, "backend %s: this host has no /dev/kvm",
				 mb_backend_name(b));
	if (b == MB_QEMU && !mb_which("qemu-system-x86_64", path, sizeof(path)))
		return mc_errorf(err, 0, "backend qemu: QEMU is not installed (make deps)");
	/* both run minivm's image of the test guest's build; vm runs minivm itself */
	snprintf(path, sizeof(path), "%s/minivm", mb_self_dir());
	if (b == MB_VM && access(path, X_OK) < 0)
		return mc_errorf(err, 0, "backend vm: no %s (make all)", path);
	if (!mb_which("python3", path, sizeof(path)))
		return mc_errorf(err, 0, "backend %s: no python3 (bench/vm-restore.sh is Python)",
				 mb_backend_name(b));
	if (access(r->guest, R_OK) < 0)
		return mc_errorf(err, 0, "backend %s: no test guest %s (make all)",
				 mb_backend_name(b), r->guest);
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
	for (size_t bi = 0; bi < o->nbackends; bi++)
		if (check_backend(&r, o->backend[bi], err) < 0)
			return -1;
	return 0;
}

/* ---- one run ------------------------------------------------------------------------------ */

/* A number in a JSON line: present, finite, in [0, MAX_MS]; null gives NAN where allowed. */
static int num(json_object *o, const char *key, bool null_ok, double *v, mc_err *err)
{
	json_object *f;
	if (!json_object_object_get_ex(o, key, &f) ||
	    (null_ok && json_object_is_type(f, json_type_null))) {
		*v = NAN;
		return null_ok ? 0 : mc_errorf(err, 0, "no number `%s`", key);
	}
	if (!json_object_is_type(f, json_type_double) && !json_object_is_type(f, json_type_int))
		return mc_errorf(err, 0, "`%s` is not a number", key);
	*v = json_object_get_double(f);
	if (!isfinite(*v) || *v < 0 || *v > MAX_MS)
		return mc_errorf(err, 0, "`%s` is %g", key, *v);
	return 0;
}

/* One JSON line of the script: its case's figures into the cells and results.jsonl. */
static int take_row(struct run *r, size_t bi, unsigned run, json_object *row, bool *seen,
		    mc_err *err)
{
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
	if (num(row, "to_running_ms", false, &ms, err) < 0 ||
	    num(row, "entry_ms", b != MB_VM, &entry, err) < 0 ||
	    num(row, "saved_mib", false, &saved, err) < 0)
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
static int one_run(struct run *r, size_t bi, unsigned run, mc_err *err)
{
	enum mb_backend b = r->one.backend[bi];
	const char *name = mb_backend_name(b);
	char jsonl[PATH_MAX + 64], log[PATH_MAX + 64], script[PATH_MAX + 32];
	char e_jsonl[PATH_MAX + 80], e_bin[PATH_MAX + 8], e_guest[PATH_MAX + 56],
	    e_snaps[PATH_MAX + 24], e_vmms[32], e_mem[32], e_full[32];
	if (mb_pathf(jsonl, sizeof(jsonl), err, "%s/restore-%s-%u.jsonl", r->x.work, name, run) <
		0 ||
	    mb_pathf(log, sizeof(log), err, "%s/restore-%s.log", r->x.work, name) < 0)
		return -1;
	unlink(jsonl);
	snprintf(script, sizeof(script), "%s/bench/vm-restore.sh", r->checkout);
	snprintf(e_jsonl, sizeof(e_jsonl), "JSONL=%s", jsonl);
	snprintf(e_bin, sizeof(e_bin), "BIN=%s", mb_self_dir());
	snprintf(e_guest, sizeof(e_guest), "GUEST=%s", r->guest);
	snprintf(e_snaps, sizeof(e_snaps), "SNAPS=%s", r->snaps);
	snprintf(e_vmms, sizeof(e_vmms), "VMMS=%s", b == MB_VM ? "minivm" : "qemu");
	snprintf(e_mem, sizeof(e_mem), "MEM=%u", MB_RESTORE_MEM_MIB);
	snprintf(e_full, sizeof(e_full), "FULL=%u", MB_RESTORE_FULL_MIB);
	char *argv[] = {"/usr/bin/env", "RUNS=1", "WARMUP=0", "RECORD=0", "CASES=idle full boot",
			e_jsonl,	e_bin,	  e_guest,    e_snaps,	  e_vmms,
			e_mem,		e_full,	  "bash",     script,	  NULL};
	mc_err e = NULL;
	if (mb_run_cmd(argv, log, &e) < 0) {
		char line[512];
		mc_error_free(&e);
		mb_last_line(log, line, sizeof(line));
		return mc_errorf(err, 0, "bench/vm-restore.sh failed: %s (log: %s)",
				 line[0] ? line : "no output", log);
	}
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	if (mc_read_file(jsonl, MAX_OUT_BYTES, &text, &len, err) < 0)
		return mc_wrap(err, "bench/vm-restore.sh wrote no JSON lines");
	bool seen[MC_ARRAY_SIZE(cases)] = {false};
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		json_object *row = json_tokener_parse(line);
		if (!row || !json_object_is_type(row, json_type_object)) {
			json_object_put(row);
			return mc_errorf(err, 0, "%s: not a JSON object: %.80s", jsonl, line);
		}
		int rc = take_row(r, bi, run, row, seen, err);
		json_object_put(row);
		if (rc < 0)
			return mc_wrap(err, "%s", jsonl);
	}
	for (size_t k = 0; k < MC_ARRAY_SIZE(cases); k++)
		if (!seen[k])
			return mc_errorf(err, 0, "%s: no line for case %s", jsonl, cases[k]);
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
	mb_record_section(r->record_id, sizeof(r->record_id), r->record_title,
			  sizeof(r->record_title), "latency", "restore", "restore from a snapshot");
	const struct mb_exp_summary s = {
	    .bases = ratio_bases,
	    .figs = figs,
	    .nfigs = NFIG,
	    .backend_width = 8,
	    .cols = cols,
	    .ncols = MC_ARRAY_SIZE(cols),
	    .ratio_indent = 1,
	    .ratio_width = 3,
	    .intro = intro,
	    .study = study_text,
	    .heading = "minibench latency --from-snapshot",
	    .vm_note = "The VMs (vm, qemu) are the tiny PVH test guest, no stock kernel: they ran "
		       "on this host's /dev/kvm (PVM or hardware KVM alike).",
	    .record_id = r->record_id,
	    .record_title = r->record_title,
	};
	return mb_exp_summarize(&r->x, &s, err);
}

/* ---- the experiment ----------------------------------------------------------------------- */

static int restore(struct run *r, const char *workdir, mc_err *err)
{
	struct mb_exp *x = &r->x;
	const struct mb_opts *o = &r->one;
	if (realpath(workdir, x->work) == NULL)
		return mc_errorf(err, errno, "work directory `%s`", workdir);
	if (mb_pathf(r->snaps, sizeof(r->snaps), err, "%s/snaps", x->work) < 0 ||
	    mc_mkdir_p(r->snaps, 0755, err) < 0)
		return -1;
	if (mb_exp_cells(x, NFIG, err) < 0)
		return -1;
	struct mb_progress *p = &x->progress;
	unsigned first = o->no_warmup ? 1 : 0;
	mb_progress_init(p, o->nbackends * (1 - first + (size_t)o->repeat), -1);
	/* run 0, untimed, per backend: the saved states made, the page cache, the tools' first
	 * start (--no-warmup: none, for tests; the states are then made in run 1, untimed) */
	for (unsigned run = first; run <= o->repeat; run++)
		for (size_t j = 0; j < o->nbackends; j++) {
			size_t bi = run ? (j + run - 1) % o->nbackends : j;
			const char *name = mb_backend_name(o->backend[bi]);
			mb_progress_show(p, x->what, name, 1, run, o->repeat);
			if (one_run(r, bi, run, err) < 0) {
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
	return summarize(r, err);
}

int mb_restore(const struct mb_opts *o, const char *workdir, struct mb_results *res, mc_err *err)
{
	struct run *r = calloc(1, sizeof(*r));
	if (!r)
		return mc_errorf(err, ENOMEM, "latency --from-snapshot");
	/* one guest: a restore is timed per guest, whatever --guests says */
	r->one = *o;
	r->one.nguests = 1;
	r->one.guests[0] = 1;
	r->x.o = &r->one;
	r->x.res = res;
	r->x.experiment = "latency";
	r->x.workload = "restore";
	r->x.what = "latency restore";
	r->x.ctx = r;
	int rc = find_paths(r, err);
	if (rc == 0)
		rc = restore(r, workdir, err);
	mb_exp_free(&r->x);
	free(r);
	return rc;
}
