#include "all.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "density.h"
#include "latency.h"
#include "migrate.h"
#include "paths.h"
#include "report.h"
#include "spawn.h"
#include "util.h"

/* The experiments, in the order they run. */
static const struct step {
	const char *name; /* its --out subdirectory */
	enum mb_experiment e;
	const char *workload;
} steps[] = {
    {"latency", MB_EXP_LATENCY, NULL},
    {"density-cpu", MB_EXP_DENSITY, "cpu"},
    {"density-fileio", MB_EXP_DENSITY, "fileio"},
    {"density-oltp", MB_EXP_DENSITY, "oltp"},
    {"migrate-idle", MB_EXP_MIGRATE, "idle"},
    {"migrate-dirty", MB_EXP_MIGRATE, "dirty:64"},
};
#define NSTEPS MC_ARRAY_SIZE(steps)

/* Every backend, in the tables' order, when --backend is not given. */
static const enum mb_backend every[] = {
    MB_CT, MB_CRUN, MB_RUNC, MB_NATIVE, MB_DOCKER, MB_DOCKER_MINICT, MB_PODMAN, MB_VM, MB_QEMU};

struct skip {
	size_t step;
	enum mb_backend b;
	char why[512];
};

struct outcome {
	bool ran, failed;
	char backends[256];
	char error[1024];
};

bool mb_stock_kernel_kvm(char *why, size_t size)
{
	struct stat st;
	if (stat("/dev/kvm", &st) < 0 || !S_ISCHR(st.st_mode)) {
		snprintf(why, size, "this host has no /dev/kvm");
		return false;
	}
	if (access("/sys/module/kvm_pvm", F_OK) == 0) {
		snprintf(why, size,
			 "this host's /dev/kvm is PVM, which can't run stock kernels (they boot in "
			 "the lab or on a VT-x/AMD-V host; docs/lab.md)");
		return false;
	}
	_cleanup_fclose_ FILE *f = fopen("/proc/cpuinfo", "re");
	char line[4096];
	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, "flags", 5) == 0 &&
		    (strstr(line, " vmx") || strstr(line, " svm")))
			return true;
	snprintf(why, size, "this host's CPU shows neither vmx nor svm");
	return false;
}

/* Whether experiment s can run backend b here; if not, why. */
static bool can_run(const struct mb_opts *o, size_t s, enum mb_backend b, bool kvm,
		    const char *kvm_why, char *why, size_t size)
{
	/* migrate's VMs are the PVH test guest, which PVM runs too: its own check */
	if ((b == MB_VM || b == MB_QEMU) && !kvm && steps[s].e != MB_EXP_MIGRATE) {
		snprintf(why, size, "%s", kvm_why);
		return false;
	}
	struct mb_opts one = *o;
	one.experiment = steps[s].e;
	one.workload = steps[s].workload;
	one.backend[0] = b;
	one.nbackends = 1;
	mc_err err = NULL;
	int rc = steps[s].e == MB_EXP_LATENCY	? mb_latency_check(&one, &err)
		 : steps[s].e == MB_EXP_MIGRATE ? mb_migrate_check(&one, &err)
						: mb_density_check(&one, &err);
	if (rc < 0)
		snprintf(why, size, "%s", mc_error_text(err));
	mc_error_free(&err);
	return rc == 0;
}

/* The table of a report.md (its first ``` block), malloc'd, or NULL. */
static char *report_table(const char *out, const char *name)
{
	char path[PATH_MAX];
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	mc_err err = NULL;
	if (mb_pathf(path, sizeof(path), &err, "%s/%s/report.md", out, name) < 0 ||
	    mc_read_file(path, 1 << 22, &text, &len, &err) < 0) {
		mc_error_free(&err);
		return NULL;
	}
	char *start = strstr(text, "```\n");
	char *end = start ? strstr(start + 4, "```") : NULL;
	return end ? strndup(start + 4, (size_t)(end - start - 4)) : NULL;
}

static void md_cell(FILE *f, const char *text)
{
	for (const char *c = text; *c; c++)
		fputs(*c == '|' ? "\\|" : *c == '\n' ? " " : (char[2]){*c, 0}, f);
}

static int write_report(const struct mb_opts *o, const struct outcome *out,
			const struct skip *skips, size_t nskips, mc_err *err)
{
	char path[PATH_MAX], date[64];
	if (mb_pathf(path, sizeof(path), err, "%s/report.md", o->out) < 0)
		return -1;
	_cleanup_fclose_ FILE *f = fopen(path, "we");
	if (!f)
		return mc_errorf(err, errno, "open `%s`", path);
	time_t now = time(NULL);
	strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", gmtime(&now));
	fprintf(f, "# minibench all\n\n`");
	for (int i = 0; i < o->argc; i++)
		fprintf(f, "%s%s", i ? " " : "", o->argv[i]);
	fprintf(f,
		"` %s, %s: every experiment that can run here, one after the other; each has its "
		"own report (environment, figures, the seed study beside them) linked below.\n\n",
		mb_where(), date);
	fprintf(f, "| experiment | backends | result |\n|---|---|---|\n");
	for (size_t s = 0; s < NSTEPS; s++) {
		fprintf(f, "| %s | %s | ", steps[s].name,
			out[s].backends[0] ? out[s].backends : "-");
		if (out[s].failed) {
			fprintf(f, "failed: ");
			md_cell(f, out[s].error);
		} else if (out[s].ran) {
			fprintf(f, "[report](%s/report.md)", steps[s].name);
		} else {
			fprintf(f, "not run: %s",
				out[s].error[0] ? out[s].error : "no backend here");
		}
		fprintf(f, " |\n");
	}
	if (nskips) {
		/* one row per backend and reason, with the experiments it holds for */
		fprintf(f, "\n## Skipped\n\n| backend | experiments | why |\n|---|---|---|\n");
		for (size_t i = 0; i < nskips; i++) {
			bool seen = false;
			for (size_t j = 0; j < i && !seen; j++)
				seen =
				    skips[j].b == skips[i].b && !strcmp(skips[j].why, skips[i].why);
			if (seen)
				continue;
			fprintf(f, "| %s | ", mb_backend_name(skips[i].b));
			for (size_t j = i, n = 0; j < nskips; j++)
				if (skips[j].b == skips[i].b && !strcmp(skips[j].why, skips[i].why))
					fprintf(f, "%s%s", n++ ? ", " : "",
						steps[skips[j].step].name);
			fprintf(f, " | ");
			md_cell(f, skips[i].why);
			fprintf(f, " |\n");
		}
	}
	for (size_t s = 0; s < NSTEPS; s++) {
		if (!out[s].ran)
			continue;
		_cleanup_free_ char *table = report_table(o->out, steps[s].name);
		fprintf(f, "\n## %s\n\n", steps[s].name);
		if (table)
			fprintf(f, "```\n%s```\n\n", table);
		fprintf(f, "Figures, method and the seed study: [%s/report.md](%s/report.md).\n",
			steps[s].name, steps[s].name);
	}
	if (fflush(f) != 0 || ferror(f))
		return mc_errorf(err, errno, "write `%s`", path);
	return 0;
}

int mb_all(const struct mb_opts *o, mb_run_fn run, mc_err *err)
{
	char kvm_why[256] = "";
	bool kvm = mb_stock_kernel_kvm(kvm_why, sizeof(kvm_why));
	const enum mb_backend *cands = o->backends_given ? o->backend : every;
	size_t ncands = o->backends_given ? o->nbackends : MC_ARRAY_SIZE(every);
	struct outcome out[NSTEPS];
	struct skip *skips = calloc(NSTEPS * MB_NBACKENDS, sizeof(*skips));
	if (!skips)
		return mc_errorf(err, ENOMEM, "all");
	memset(out, 0, sizeof(out));
	size_t nskips = 0, nfailed = 0;
	char failed[256] = "";
	if (o->out && mc_mkdir_p(o->out, 0755, err) < 0) {
		free(skips);
		return mc_wrap(err, "--out");
	}
	for (size_t s = 0; s < NSTEPS && !mb_stop_signal; s++) {
		struct mb_opts one = *o;
		one.experiment = steps[s].e;
		one.workload = steps[s].workload;
		one.nbackends = 0;
		/* --quick without --repeat: CI-sized, so that make demo (all of it) fits in 15 min
		 * on a loaded 2-core host: 2 timed runs, OLTP (MariaDB starts in every guest of
		 * every batch) 1 */
		if (o->quick && !o->repeat_given)
			one.repeat =
			    steps[s].workload && !strcmp(steps[s].workload, "oltp") ? 1 : 2;
		for (size_t i = 0; i < ncands; i++) {
			struct skip *k = &skips[nskips];
			if (!can_run(o, s, cands[i], kvm, kvm_why, k->why, sizeof(k->why))) {
				k->step = s;
				k->b = cands[i];
				fprintf(stderr, "minibench: all: %s: skipping %s: %s\n",
					steps[s].name, mb_backend_name(cands[i]), k->why);
				nskips++;
				continue;
			}
			one.backend[one.nbackends++] = cands[i];
			size_t len = strlen(out[s].backends);
			snprintf(out[s].backends + len, sizeof(out[s].backends) - len, "%s%s",
				 len ? ", " : "", mb_backend_name(cands[i]));
		}
		if (one.nbackends == 0) {
			fprintf(stderr, "minibench: all: %s: no backend can run it here\n",
				steps[s].name);
			continue;
		}
		char sub[PATH_MAX];
		if (o->out) {
			if (mb_pathf(sub, sizeof(sub), err, "%s/%s", o->out, steps[s].name) < 0) {
				free(skips);
				return mc_wrap(err, "--out");
			}
			one.out = sub;
		}
		fprintf(stderr, "minibench: all: %s (%s)\n", steps[s].name, out[s].backends);
		mc_err rerr = NULL;
		if (run(&one, &rerr) < 0) {
			out[s].failed = true;
			snprintf(out[s].error, sizeof(out[s].error), "%s", mc_error_text(rerr));
			fprintf(stderr, "minibench: all: %s failed: %s\n", steps[s].name,
				mc_error_text(rerr));
			mc_error_free(&rerr);
			size_t len = strlen(failed);
			snprintf(failed + len, sizeof(failed) - len, "%s%s", nfailed ? ", " : "",
				 steps[s].name);
			nfailed++;
			continue;
		}
		out[s].ran = true;
	}
	int rc = 0;
	if (o->out)
		rc = write_report(o, out, skips, nskips, err);
	free(skips);
	if (rc < 0)
		return -1;
	if (mb_stop_signal)
		return mc_errorf(err, 0, "all: interrupted by signal %d", (int)mb_stop_signal);
	if (nfailed)
		return mc_errorf(err, 0, "all: %zu of %zu experiments failed: %s (above)", nfailed,
				 (size_t)NSTEPS, failed);
	if (o->out)
		fprintf(stderr, "minibench: all: the report is %s/report.md\n", o->out);
	return 0;
}
