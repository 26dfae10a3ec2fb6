#include "migrate.h"

#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
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
#include "util.h"

#define VM_EXTRA_MIB  64u    /* the test guest's RAM: its footprint + this (it fills from 32 MiB) */
#define MAX_ROUNDS    10000u /* a per-round series longer than this is refused */
#define MAX_ROW_BYTES (1 << 20) /* one JSON line of a script */

/* The figures, in slot order; the first one's median is the ratio's. */
enum { FIG_DOWN, FIG_TOTAL, FIG_OWN_DOWN, FIG_OWN_TOTAL, FIG_SENT, NFIG };

static const struct mb_exp_fig figs[NFIG] = {
    {"migrate-downtime", "downtime_ms", "ms", "Downtime, by the observer",
     "vm, qemu: the heartbeat gap, from the last `count` line the source VM printed to the "
     "first the destination printed, both consoles read by the script (the test guest prints "
     "one every 2^22 TSC cycles, ~2 ms here). ct, runc: the largest gap between two replies "
     "of the container's UDP echo, probed every 1 ms from a third network namespace "
     "(tests/tools/udp_observer): the echo's quiescing, the frozen window and its rebinding "
     "at the destination.",
     FIG_DOWN},
    {"migrate-total", "total_ms", "ms", "Total time, by the observer",
     "From the migrate command (ct, runc: the observer's start signal, just before the echo "
     "is quiesced) to the first heartbeat (ct, runc: the first reply) from the destination.",
     FIG_TOTAL},
    {"migrate-own-downtime", "own_downtime_ms", "ms", "Downtime, as the tool reports it",
     "minivm: pause to the destination's ack; QEMU: query-migrate's downtime; minict: "
     "frozen_ms, the freeze to the destination's `restored`; runc: `runc checkpoint`'s start "
     "to `runc restore -d`'s return.",
     FIG_OWN_DOWN},
    {"migrate-own-total", "own_total_ms", "ms", "Total time, as the tool reports it",
     "minivm: the migrate command to the destination's ack; QEMU: query-migrate's total-time; "
     "minict: migrate's total_ms (its set-up, CRIU's dump, the stream, the restore); runc: "
     "the echo's quiescing to `runc restore -d`'s return.",
     FIG_OWN_TOTAL},
    {"migrate-sent", "sent_mib", "MiB", "Bytes sent",
     "What the migration stream carried: minivm's bytes_sent, QEMU's ram transferred, "
     "minict's bytes_sent (CRIU's images, the rootfs' changes and the state), runc's image "
     "directory (copied locally).",
     FIG_SENT},
};

struct run {
	struct mb_exp x;
	struct mb_opts one; /* o with one guest count, 1 */
	unsigned rate, mib; /* the workload: MiB/s rewritten (0: idle), MiB held */
	char workload[32], what[48], ct_mode[32];
	char vm_case[64], ct_case[64];
	char checkout[PATH_MAX], tools[PATH_MAX + 32], guest[PATH_MAX + 48];
	FILE *rounds; /* --out: migrate-rounds.csv */
	/* the observer's downtimes of ct and runc, for their ratio */
	double down[MB_NBACKENDS][MB_MAX_REPEAT];
	size_t ndown[MB_NBACKENDS];
	/* the call that runs: its backend and run */
	size_t bi;
	unsigned run;
};

/* ct and runc: a container migrated by bench/ct-migrate.sh (runc: its mode runc) */
static bool is_ct(enum mb_backend b)
{
	return b == MB_CT || b == MB_RUNC;
}

/* ---- checks ------------------------------------------------------------------------------- */

static int parse_workload(const char *w, unsigned *rate, mc_err *err)
{
	uint64_t v;
	*rate = 0;
	if (!w || strcmp(w, "idle") == 0)
		return 0;
	if (strncmp(w, "dirty:", 6) == 0) {
		if (mc_parse_uint(w + 6, 1, MB_MIGRATE_MAX_RATE, &v, "--workload dirty:MIBPS",
				  err) < 0)
			return -1;
		*rate = (unsigned)v;
		return 0;
	}
	return mc_errorf(err, 0, "unknown workload `%s` for migrate (known: idle, dirty:MIBPS)", w);
}

/* The checkout (its bench/ scripts), the test tools and the test guest of this build. */
static int find_paths(struct run *r, mc_err *err)
{
	const char *co = mb_checkout_dir();
	if (!co)
		return mc_errorf(err, 0,
				 "migrate: no checkout above %s (the scripts bench/vm-migrate.sh "
				 "and bench/ct-migrate.sh are its measuring engines)",
				 mb_self_dir());
	snprintf(r->checkout, sizeof(r->checkout), "%s", co);
	snprintf(r->tools, sizeof(r->tools), "%s/../tests/tools", mb_self_dir());
	snprintf(r->guest, sizeof(r->guest), "%s/../tests/guests/pvh-guest.elf", mb_self_dir());
	return 0;
}

static int need_file(const char *path, int mode, const char *what, mc_err *err)
{
	if (access(path, mode) < 0)
		return mc_errorf(err, 0, "%s: no %s (%s)", what, path,
				 mode == X_OK ? "make, make test-bins" : "make all");
	return 0;
}

/* Where CRIU is not there or fails `criu check`: its one line. */
static int check_criu(const struct run *r, enum mb_backend b, mc_err *err)
{
	char log[] = "/tmp/minibench-criu.XXXXXX", cmd[PATH_MAX + 32], line[256];
	int fd = mkstemp(log);
	if (fd < 0)
		return mc_errorf(err, errno, "the CRIU probe's log: mkstemp %s", log);
	close(fd);
	snprintf(cmd, sizeof(cmd), "%s/scripts/criu.sh", r->checkout);
	char *argv[] = {cmd, "path", NULL};
	mc_err e = NULL;
	int rc = mb_run_cmd(argv, log, &e);
	mb_last_line(log, line, sizeof(line));
	unlink(log);
	mc_error_free(&e);
	if (rc < 0)
		return mc_errorf(err, 0,
				 "backend %s: no CRIU that works here (%s; make deps builds "
				 "CRIU 4.1.1, docs/checkpoint.md)",
				 mb_backend_name(b),
				 line[0] ? line : "scripts/criu.sh path failed");
	return 0;
}

static int check_backend(const void *ctx, enum mb_backend b, mc_err *err)
{
	const struct run *r = ctx;
	char path[PATH_MAX + 64];
	switch (b) {
	case MB_VM:
	case MB_QEMU:
		return mb_script_vm_check(b, "vm-migrate.sh", r->guest, err);
	case MB_CT:
	case MB_RUNC: {
		/* runc: bench/ct-migrate.sh's mode runc, its hosts, observer and bundle are
		 * minict's (minict spec makes the bundle) */
		char what[32];
		snprintf(what, sizeof(what), "backend %s", mb_backend_name(b));
		if (geteuid() != 0)
			return mc_errorf(err, 0,
					 "%s: migrate needs root (network namespaces, CRIU)", what);
		if (b == MB_RUNC && !mb_which("runc", path, sizeof(path)))
			return mc_errorf(err, 0,
					 "backend runc: runc is not installed (apt-get "
					 "install runc)");
		snprintf(path, sizeof(path), "%s/minict", mb_self_dir());
		if (need_file(path, X_OK, what, err) < 0)
			return -1;
		for (const char *const *t =
			 (const char *const[]){"udp_echo", "udp_observer", "ct_memhold", NULL};
		     *t; t++) {
			snprintf(path, sizeof(path), "%s/%s", r->tools, *t);
			if (need_file(path, X_OK, what, err) < 0)
				return -1;
		}
		return check_criu(r, b, err);
	}
	default:
		return mc_errorf(
		    err, 0,
		    "backend %s: not for migrate (vm, qemu, ct: minict migrate through "
		    "CRIU; runc: its checkpoint, a copy, its restore, with the same CRIU; "
		    "crun has no checkpoint here, docker and podman no live migration)",
		    mb_backend_name(b));
	}
}

int mb_migrate_check(const struct mb_opts *o, mc_err *err)
{
	unsigned rate;
	if (parse_workload(o->workload, &rate, err) < 0)
		return -1;
	struct run r;
	memset(&r, 0, sizeof(r));
	if (find_paths(&r, err) < 0)
		return -1;
	return mb_exp_check_backends(o, check_backend, &r, err);
}

/* ---- one run ------------------------------------------------------------------------------ */

/* A number in a script's JSON line: present, finite and >= 0. */
static int num(json_object *o, const char *key, double *v, mc_err *err)
{
	return mb_script_num(o, key, false, INFINITY, v, err);
}

/* A VM's per-round series: round_pages[k] and round_dirty_mibps[k], k + 1 the round. */
static int rounds(struct run *r, json_object *row, struct mb_record *rec, mc_err *err)
{
	json_object *pages, *dirty;
	if (!json_object_object_get_ex(row, "round_pages", &pages) ||
	    !json_object_is_type(pages, json_type_array))
		return mc_errorf(err, 0, "no array `round_pages` in its JSON line");
	if (!json_object_object_get_ex(row, "round_dirty_mibps", &dirty) ||
	    !json_object_is_type(dirty, json_type_array))
		dirty = NULL;
	size_t n = json_object_array_length(pages);
	if (n > MAX_ROUNDS)
		return mc_errorf(err, 0, "%zu rounds (at most %u)", n, MAX_ROUNDS);
	for (size_t k = 0; k < n; k++) {
		json_object *p = json_object_array_get_idx(pages, k);
		json_object *d = dirty && k < json_object_array_length(dirty)
				     ? json_object_array_get_idx(dirty, k)
				     : NULL;
		double pv = json_object_get_double(p);
		double dv = d ? json_object_get_double(d) : NAN;
		if (!isfinite(pv) || pv < 0)
			return mc_errorf(err, 0, "round_pages[%zu] is %g", k, pv);
		rec->round = (int)k + 1;
		if (mb_exp_write(&r->x, rec, "round_pages", "pages", -1, pv, err) < 0)
			return -1;
		if (isfinite(dv) &&
		    mb_exp_write(&r->x, rec, "round_dirty_mibps", "MiB/s", -1, dv, err) < 0)
			return -1;
		if (r->rounds) {
			fprintf(r->rounds, "%s,%u,%zu,%.0f,", rec->backend, rec->run, k + 1, pv);
			if (isfinite(dv))
				fprintf(r->rounds, "%.1f", dv);
			fputc('\n', r->rounds);
		}
	}
	rec->round = 0;
	return 0;
}

/* The run's one JSON line into the cells and results.jsonl. */
static int take_row(void *ctx, json_object *row, mc_err *err)
{
	struct run *r = ctx;
	size_t bi = r->bi;
	unsigned run = r->run;
	enum mb_backend b = r->one.backend[bi];
	json_object *status = NULL, *report = row, *mode;
	if (is_ct(b)) {
		if (!json_object_object_get_ex(row, "report", &report) ||
		    !json_object_is_type(report, json_type_object))
			return mc_errorf(err, 0, "no object `report` in its JSON line");
		if (b == MB_CT && json_object_object_get_ex(row, "mode", &mode))
			snprintf(r->ct_mode, sizeof(r->ct_mode), "%s",
				 json_object_get_string(mode));
	}
	if (!json_object_object_get_ex(report, "status", &status) ||
	    strcmp(json_object_get_string(status), "ok") != 0)
		return mc_errorf(err, 0, "status `%s`",
				 status ? json_object_get_string(status) : "none");
	double v[NFIG];
	if (num(row, "observed_downtime_ms", &v[FIG_DOWN], err) < 0 ||
	    num(row, "observed_total_ms", &v[FIG_TOTAL], err) < 0 ||
	    num(report, is_ct(b) ? "frozen_ms" : "downtime_ms", &v[FIG_OWN_DOWN], err) < 0 ||
	    num(report, "total_ms", &v[FIG_OWN_TOTAL], err) < 0 ||
	    num(report, "bytes_sent", &v[FIG_SENT], err) < 0)
		return -1;
	v[FIG_SENT] /= 1 << 20;
	if (run == 0)
		return 0;
	struct mb_record rec = {
	    .experiment = "migrate",
	    .backend = mb_backend_name(b),
	    .workload = r->workload,
	    .guests = 1,
	    .run = run - 1,
	};
	for (int f = 0; f < NFIG; f++)
		if (mb_exp_sample(&r->x, 0, bi, (size_t)f, &rec, figs[f].metric, figs[f].unit, -1,
				  v[f], err) < 0)
			return -1;
	if (is_ct(b) && r->ndown[bi] < MB_MAX_REPEAT)
		r->down[bi][r->ndown[bi]++] = v[FIG_DOWN];
	return is_ct(b) ? 0 : rounds(r, row, &rec, err);
}

/* One migration of backend bi by its script (one run per call), read back. */
static int one_run(void *ctx, size_t bi, unsigned run, mc_err *err)
{
	struct run *r = ctx;
	enum mb_backend b = r->one.backend[bi];
	char e_case[96], e_x[PATH_MAX + 56], e_y[64];
	snprintf(e_case, sizeof(e_case), "CASES=%s", is_ct(b) ? r->ct_case : r->vm_case);
	if (is_ct(b)) {
		snprintf(e_x, sizeof(e_x), "TOOLS=%s", r->tools);
		/* ct: pre-copy where the kernel tracks dirty pages, else stop-and-copy */
		snprintf(e_y, sizeof(e_y), "MODES=%s", b == MB_CT ? "live" : "runc");
	} else {
		snprintf(e_x, sizeof(e_x), "GUEST=%s", r->guest);
		snprintf(e_y, sizeof(e_y), "VMMS=%s", b == MB_VM ? "minivm" : "qemu");
	}
	const char *env[] = {e_case, e_x, e_y, NULL};
	/* ct-migrate.sh takes its run count as its first argument, vm-migrate.sh from RUNS */
	const char *args[] = {is_ct(b) ? "1" : NULL, NULL};
	r->bi = bi;
	r->run = run;
	struct mb_script_call c = {
	    .checkout = r->checkout,
	    .script = is_ct(b) ? "ct-migrate.sh" : "vm-migrate.sh",
	    .work = r->x.work,
	    .tag = mb_backend_name(b),
	    .run = run,
	    .env = env,
	    .args = args,
	    .max_bytes = MAX_ROW_BYTES,
	    .first_only = true,
	    .take = take_row,
	    .ctx = r,
	};
	return mb_script_call(&c, err);
}

/* ---- the summary -------------------------------------------------------------------------- */

static void intro(void *ctx, FILE *t)
{
	const struct run *r = ctx;
	const struct mb_opts *o = r->x.o;
	fprintf(t,
		"migrate %s: one guest holding %u MiB (%s), migrated live, a fresh guest every "
		"run; %u timed run%s per backend, backends interleaved\n",
		r->workload, r->mib,
		r->rate ? "rewritten at the given MiB/s, one word per page" : "written once",
		o->repeat, o->repeat == 1 ? "" : "s");
	bool vms = false, ct = false, runc = false;
	for (size_t bi = 0; bi < o->nbackends; bi++)
		*(o->backend[bi] == MB_CT ? &ct : o->backend[bi] == MB_RUNC ? &runc : &vms) = true;
	if (vms)
		fprintf(t,
			"vm, qemu: the PVH test guest, 1 vCPU, %u MiB RAM, over loopback, downtime "
			"target 50 ms (bench/vm-migrate.sh)\n",
			r->mib + VM_EXTRA_MIB);
	if (ct)
		fprintf(t,
			"ct: minict migrate through CRIU, mode %s, between two network namespaces "
			"(bench/ct-migrate.sh)\n",
			r->ct_mode[0] ? r->ct_mode : "?");
	if (runc)
		fprintf(t, "runc: the same container, hosts and CRIU: runc checkpoint, the images "
			   "copied (locally), runc restore -d (bench/ct-migrate.sh mode runc)\n");
	fprintf(t, "ms; down = the observer's downtime (vm, qemu: heartbeat gap; ct, runc: UDP "
		   "echo probed every 1 ms), total = the observer's total,\nown = the tool's own "
		   "figures, sent = MiB the stream carried\n");
}

/* The study's chapter 6 (seconds): VM idle and container. */
static bool study_text(void *ctx, size_t fig, const struct mb_summary_row *rows, FILE *f)
{
	const struct run *r = ctx;
	if (fig != FIG_DOWN && fig != FIG_TOTAL)
		return false;
	bool down = fig == FIG_DOWN;
	double vm = down ? 2.67 : 244.2, ct = down ? 5.70 : 11.79;
	fprintf(f,
		"The study's %s (chapter 6): VMs %.2f s (idle, libvirt pre-copy over 1 Gbit/s "
		"between two hosts, a 1 s ping), containers %.2f s (Docker 1.9 with CRIU between "
		"two VirtualBox VMs). Here over loopback or a veth on one host, with a guest a "
		"fraction of the study's size: compare orders of magnitude.\n\n"
		"| backend | median | study (VM for vm/qemu, container for ct) | x study |\n"
		"|---|--:|--:|--:|\n",
		down ? "service downtime" : "total migration time", vm, ct);
	for (size_t bi = 0; bi < r->one.nbackends; bi++) {
		double s = is_ct(r->one.backend[bi]) ? ct : vm;
		fprintf(f, "| %s | %.1f ms | %.0f ms | %.4f |\n", rows[bi].backend,
			rows[bi].st.median, s * 1000, rows[bi].st.median / (s * 1000));
	}
	return true;
}

/* ct and runc alone: the ratio to runc (ct_vs_runc gives it whatever ran) */
static const char *const ratio_bases[] = {"qemu", "vm", "runc", NULL};

static const struct mb_exp_col cols[] = {
    {"down min", 9, FIG_DOWN, MB_STAT_MIN},
    {"median", 9, FIG_DOWN, MB_STAT_MEDIAN},
    {"max", 9, FIG_DOWN, MB_STAT_MAX},
    {"total", 9, FIG_TOTAL, MB_STAT_MEDIAN},
    {"own down", 9, FIG_OWN_DOWN, MB_STAT_MEDIAN},
    {"own total", 9, FIG_OWN_TOTAL, MB_STAT_MEDIAN},
    {"sent MiB", 9, FIG_SENT, MB_STAT_MEDIAN},
};

/* Where both ran: minict's downtime against runc's (the same container, hosts and CRIU), a line
 * under the table, whatever the table's baseline. */
static int ct_vs_runc(const struct run *r, mc_err *err)
{
	struct mb_stats st[2];
	int have = 0;
	for (size_t bi = 0; bi < r->one.nbackends; bi++) {
		enum mb_backend b = r->one.backend[bi];
		if (!is_ct(b) || r->ndown[bi] == 0)
			continue;
		if (mb_stats_compute(r->down[bi], r->ndown[bi], &st[b == MB_RUNC], err) < 0)
			return mc_wrap(err, "ct vs runc");
		have |= 1 << (b == MB_RUNC);
	}
	if (have == 3)
		printf("ct vs runc, the observer's downtime min/median/max: %.1f/%.1f/%.1f vs "
		       "%.1f/%.1f/%.1f ms, medians %.2fx\n",
		       st[0].min, st[0].median, st[0].max, st[1].min, st[1].median, st[1].max,
		       st[0].median / st[1].median);
	return 0;
}

static int summarize(struct run *r, mc_err *err)
{
	const struct mb_exp_summary s = {
	    .bases = ratio_bases,
	    MB_EXP_FIGS_COLS(figs, cols),
	    .intro = intro,
	    .study = study_text,
	    .heading = "minibench migrate",
	    .vm_note =
		"The VMs (vm, qemu) are the tiny PVH test guest, no stock kernel: they ran "
		"on this host's /dev/kvm (PVM or hardware KVM alike), in the same run as the "
		"containers.",
	    /* docs/results.md: a section per workload and place, as density's */
	    .record_part = r->rate ? "dirty" : "idle",
	    .record_what = r->workload,
	};
	if (mb_exp_summarize(&r->x, &s, err) < 0)
		return -1;
	return ct_vs_runc(r, err);
}

/* ---- the experiment ----------------------------------------------------------------------- */

static int migrate(struct run *r, const char *workdir, mc_err *err)
{
	struct mb_exp *x = &r->x;
	const struct mb_opts *o = &r->one;
	if (realpath(workdir, x->work) == NULL)
		return mc_errorf(err, errno, "work directory `%s`", workdir);
	if (o->out) {
		char path[PATH_MAX];
		if (mb_pathf(path, sizeof(path), err, "%s/migrate-rounds.csv", o->out) < 0)
			return -1;
		r->rounds = fopen(path, "we");
		if (!r->rounds)
			return mc_errorf(err, errno, "create `%s`", path);
		fprintf(r->rounds, "backend,run,round,pages,dirty_mibps\n");
	}
	/* run 0, untimed, per backend: the page cache, the tools' first start (--no-warmup:
	 * none, for tests) */
	if (mb_exp_run_calls(x, NFIG, one_run, err) < 0)
		return -1;
	if (r->rounds && (fflush(r->rounds) != 0 || ferror(r->rounds)))
		return mc_errorf(err, errno, "write %s/migrate-rounds.csv", o->out);
	return summarize(r, err);
}

int mb_migrate(const struct mb_opts *o, const char *workdir, struct mb_results *res, mc_err *err)
{
	struct run *r = calloc(1, sizeof(*r));
	if (!r)
		return mc_errorf(err, ENOMEM, "migrate");
	/* one guest: migration is per guest, whatever --guests says */
	mb_exp_one_guest(&r->x, &r->one, o, res, r);
	r->x.experiment = "migrate";
	int rc = parse_workload(o->workload, &r->rate, err);
	if (rc == 0)
		rc = find_paths(r, err);
	if (rc == 0) {
		r->mib = o->quick ? MB_MIGRATE_QUICK_MIB : MB_MIGRATE_FULL_MIB;
		if (r->rate) {
			snprintf(r->workload, sizeof(r->workload), "dirty:%u", r->rate);
			snprintf(r->vm_case, sizeof(r->vm_case), "dirty-%u-%u", r->mib, r->rate);
			snprintf(r->ct_case, sizeof(r->ct_case), "dirty%u-%u", r->mib, r->rate);
		} else {
			snprintf(r->workload, sizeof(r->workload), "idle");
			snprintf(r->vm_case, sizeof(r->vm_case), "hold-%u", r->mib);
			snprintf(r->ct_case, sizeof(r->ct_case), "mem%u", r->mib);
		}
		snprintf(r->what, sizeof(r->what), "migrate %s", r->workload);
		r->x.workload = r->workload;
		r->x.what = r->what;
		rc = migrate(r, workdir, err);
	}
	if (r->rounds)
		fclose(r->rounds);
	mb_exp_free(&r->x);
	free(r);
	return rc;
}
