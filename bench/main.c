/* minibench: the experiments of the seed study on minivm, minict and the baseline tools.
 * docs/bench.md describes the method, the result files and how to add an experiment. */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "all.h"
#include "cli.h"
#include "density.h"
#include "error.h"
#include "latency.h"
#include "migrate.h"
#include "results.h"
#include "spawn.h"
#include "util.h"

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return (type == FTW_DP ? rmdir(path) : unlink(path)) < 0 ? -1 : 0;
}

static int check(const struct mb_opts *o, mc_err *err)
{
	switch (o->experiment) {
	case MB_EXP_DENSITY:
		return mb_density_check(o, err);
	case MB_EXP_MIGRATE:
		return mb_migrate_check(o, err);
	default:
		return mb_latency_check(o, err);
	}
}

static int run(const struct mb_opts *o, const char *workdir, struct mb_results *res, mc_err *err)
{
	switch (o->experiment) {
	case MB_EXP_DENSITY:
		return mb_density(o, workdir, res, err);
	case MB_EXP_MIGRATE:
		return mb_migrate(o, workdir, res, err);
	default:
		return mb_latency(o, workdir, res, err);
	}
}

/* One experiment, as `minibench EXPERIMENT` runs it (and `all` runs each of its own). */
static int run_one(const struct mb_opts *o, mc_err *err)
{
	int argc = o->argc;
	char **argv = o->argv;
	if (check(o, err) < 0)
		return -1;
	char workdir[4096];
	int tmp = !o->out;
	if (tmp) {
		snprintf(workdir, sizeof(workdir), "/tmp/minibench.XXXXXX");
		if (!mkdtemp(workdir))
			return mc_errorf(err, errno, "mkdtemp `%s`", workdir);
	} else {
		snprintf(workdir, sizeof(workdir), "%s/work", o->out);
		if (mc_mkdir_p(workdir, 0755, err) < 0)
			return mc_wrap(err, "--out");
	}
	struct mb_results res;
	int rc = mb_results_open(&res, o->out, argc, argv, err);
	if (rc == 0)
		rc = run(o, workdir, &res, err);
	mc_err cerr = NULL;
	if (mb_results_close(&res, &cerr) < 0 && rc == 0) {
		*err = cerr;
		rc = -1;
	}
	mc_error_free(&cerr);
	if (tmp) /* never into a mount (density's guests are unmounted by now) */
		nftw(workdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
	if (rc == 0 && o->out)
		fprintf(stderr, "minibench: results in %s\n", o->out);
	return rc;
}

static void on_signal(int sig)
{
	mb_stop_signal = sig;
}

int main(int argc, char **argv)
{
	/* ^C, TERM or HUP: the batch that runs ends (its runner and guests get ^C too), then the
	 * engines are stopped and their directories and cgroups removed, then minibench exits */
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	struct mb_opts o;
	mc_err err = NULL;
	if (mb_parse_args(argc, argv, &o, &err) < 0) {
		mc_error_print(err, "minibench", stderr);
		mc_error_free(&err);
		return 2;
	}
	if (o.help) {
		fputs(mb_usage(), stdout);
		return 0;
	}
	if ((o.experiment == MB_EXP_ALL ? mb_all(&o, run_one, &err) : run_one(&o, &err)) < 0) {
		mc_error_print(err, "minibench", stderr);
		mc_error_free(&err);
		return 1;
	}
	return 0;
}
