#include "cli.h"

#include <getopt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "util.h"

static const char *const exp_names[] = {"latency", "density", "migrate", "all"};

const char *mb_experiment_name(enum mb_experiment e)
{
	return (size_t)e < MC_ARRAY_SIZE(exp_names) ? exp_names[e] : "?";
}

const char *mb_usage(void)
{
	return "usage: minibench latency|density|migrate|all [options]\n"
	       "  --backend B[,B...]  vm, ct, native, qemu, crun, runc, docker, docker-minict,\n"
	       "                      podman (repeatable; default ct,crun,runc,native;\n"
	       "                      migrate: vm,qemu,ct)\n"
	       "  --guests N[,N...]   concurrent guests per batch (default 1,2,4; max 64)\n"
	       "  --repeat N          timed runs per backend and guest count (default 10)\n"
	       "  --quick             --guests 1,2 --repeat 3 unless given\n"
	       "  --no-warmup         no untimed warm-up batch/run (for tests)\n"
	       "  --from-snapshot     latency: restore to running of a VM from a saved state,\n"
	       "                      beside its cold boot (backends vm, qemu: the PVH test\n"
	       "                      guest, 256 MiB, small and 200 MiB footprints; default\n"
	       "                      vm,qemu)\n"
	       "  --workload W        latency: true (default: /bin/true in the guest);\n"
	       "                      density: cpu (default), fileio, oltp;\n"
	       "                      migrate: idle (default), dirty:MIBPS (backends vm,\n"
	       "                      qemu, ct; one guest, --guests is not used)\n"
	       "  --out DIR           write DIR/results.jsonl, DIR/<figure>.csv and .svg,\n"
	       "                      DIR/env.json, DIR/report.md\n"
	       "  --record            write the summary into docs/results.md (bench/record.py)\n";
}

static int add_backends(struct mb_opts *o, const char *list, mc_err *err)
{
	_cleanup_free_ char *copy = strdup(list);
	if (!copy)
		return mc_errorf(err, 0, "out of memory");
	char *save = NULL;
	int any = 0;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		int b = mb_backend_by_name(tok);
		if (b < 0)
			return mc_errorf(err, 0, "unknown backend `%s` (known: %s)", tok,
					 mb_backend_names());
		any = 1;
		size_t i;
		for (i = 0; i < o->nbackends; i++)
			if (o->backend[i] == (enum mb_backend)b)
				break;
		if (i == o->nbackends)
			o->backend[o->nbackends++] = (enum mb_backend)b;
	}
	if (!any)
		return mc_errorf(err, 0, "--backend `%s` names no backend", list);
	return 0;
}

static int parse_guests(struct mb_opts *o, const char *list, mc_err *err)
{
	_cleanup_free_ char *copy = strdup(list);
	if (!copy)
		return mc_errorf(err, 0, "out of memory");
	char *save = NULL;
	o->nguests = 0;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		uint64_t v;
		if (o->nguests == MB_MAX_GUEST_COUNTS)
			return mc_errorf(err, 0, "--guests lists more than %d counts",
					 MB_MAX_GUEST_COUNTS);
		if (mc_parse_uint(tok, 1, MB_MAX_GUESTS, &v, "--guests", err) < 0)
			return -1;
		o->guests[o->nguests++] = (unsigned)v;
	}
	if (o->nguests == 0)
		return mc_errorf(err, 0, "--guests `%s` names no count", list);
	return 0;
}

int mb_parse_args(int argc, char **argv, struct mb_opts *o, mc_err *err)
{
	enum {
		OPT_BACKEND = 256,
		OPT_GUESTS,
		OPT_REPEAT,
		OPT_QUICK,
		OPT_OUT,
		OPT_WORKLOAD,
		OPT_RECORD,
		OPT_NO_WARMUP,
		OPT_FROM_SNAPSHOT
	};
	static const struct option longopts[] = {
	    {"backend", required_argument, NULL, OPT_BACKEND},
	    {"guests", required_argument, NULL, OPT_GUESTS},
	    {"repeat", required_argument, NULL, OPT_REPEAT},
	    {"quick", no_argument, NULL, OPT_QUICK},
	    {"out", required_argument, NULL, OPT_OUT},
	    {"workload", required_argument, NULL, OPT_WORKLOAD},
	    {"record", no_argument, NULL, OPT_RECORD},
	    {"no-warmup", no_argument, NULL, OPT_NO_WARMUP},
	    {"from-snapshot", no_argument, NULL, OPT_FROM_SNAPSHOT},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	memset(o, 0, sizeof(*o));
	o->argc = argc;
	o->argv = argv;
	bool have_exp = false, have_guests = false, have_repeat = false;
	uint64_t v;
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1 ||
	       (optind < argc && !have_exp)) {
		if (c == -1) {
			/* the experiment; options may follow it */
			const char *name = argv[optind++];
			size_t i;
			for (i = 0; i < MC_ARRAY_SIZE(exp_names); i++)
				if (strcmp(name, exp_names[i]) == 0)
					break;
			if (i == MC_ARRAY_SIZE(exp_names))
				return mc_errorf(
				    err, 0,
				    "unknown experiment `%s` (known: latency, density, "
				    "migrate, all)",
				    name);
			o->experiment = (enum mb_experiment)i;
			have_exp = true;
			continue;
		}
		switch (c) {
		case OPT_BACKEND:
			if (add_backends(o, optarg, err) < 0)
				return -1;
			o->backends_given = true;
			break;
		case OPT_GUESTS:
			if (parse_guests(o, optarg, err) < 0)
				return -1;
			have_guests = true;
			break;
		case OPT_REPEAT:
			if (mc_parse_uint(optarg, 1, MB_MAX_REPEAT, &v, "--repeat", err) < 0)
				return -1;
			o->repeat = (unsigned)v;
			have_repeat = o->repeat_given = true;
			break;
		case OPT_QUICK:
			o->quick = true;
			break;
		case OPT_OUT:
			o->out = optarg;
			break;
		case OPT_WORKLOAD:
			o->workload = optarg;
			break;
		case OPT_RECORD:
			o->record = true;
			break;
		case OPT_NO_WARMUP:
			o->no_warmup = true;
			break;
		case OPT_FROM_SNAPSHOT:
			o->from_snapshot = true;
			break;
		case 'h':
			o->help = true;
			return 0;
		case ':':
			return mc_errorf(err, 0, "%s needs a value", argv[optind - 1]);
		default:
			return mc_errorf(err, 0, "unknown option `%s` (minibench --help)",
					 argv[optind - 1]);
		}
	}
	if (optind < argc)
		return mc_errorf(err, 0, "unexpected argument `%s` (one experiment per run)",
				 argv[optind]);
	if (o->help)
		return 0;
	if (!have_exp)
		return mc_errorf(err, 0, "no experiment given (latency, density, migrate, all)");
	if (o->from_snapshot && o->experiment != MB_EXP_LATENCY)
		return mc_errorf(err, 0,
				 "--from-snapshot is latency's (minibench latency "
				 "--from-snapshot)");
	if (o->nbackends == 0 && add_backends(o,
					      o->experiment == MB_EXP_MIGRATE ? "vm,qemu,ct"
					      : o->from_snapshot	      ? "vm,qemu"
								 : "ct,crun,runc,native",
					      err) < 0)
		return -1;
	if (!have_guests) {
		o->nguests = 0;
		o->guests[o->nguests++] = 1;
		o->guests[o->nguests++] = 2;
		if (!o->quick)
			o->guests[o->nguests++] = 4;
	}
	if (!have_repeat)
		o->repeat = o->quick ? 3 : 10;
	return 0;
}
