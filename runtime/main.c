/* minict: an OCI container runtime. `minict [global options] VERB [options] ...` */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "log.h"

static const struct {
	const char *name;
	ct_verb_fn fn;
	const char *help;
} verbs[] = {
    {"create", ct_verb_create, "create a container from a bundle (waits for start)"},
    {"start", ct_verb_start, "run the user process of a created container"},
    {"run", ct_verb_run, "create + start; or the short form --rootfs DIR -- cmd"},
    {"state", ct_verb_state, "print the OCI state of a container"},
    {"list", ct_verb_list, "list containers"},
    {"kill", ct_verb_kill, "send a signal to the container init (or --all)"},
    {"delete", ct_verb_delete, "remove a stopped container (--force: any)"},
    {"exec", ct_verb_exec, "run a process inside a running container"},
    {"ps", ct_verb_ps, "list the processes of a container"},
    {"pause", ct_verb_pause, "freeze every process of a container"},
    {"resume", ct_verb_resume, "thaw a paused container"},
    {"events", ct_verb_events, "print container statistics (--stats)"},
    {"features", ct_verb_features, "print the runtime's features JSON"},
    {"spec", ct_verb_spec, "write a default config.json"},
    {"checkpoint", ct_verb_checkpoint, "checkpoint a running container with CRIU"},
    {"restore", ct_verb_restore, "restore a container from a checkpoint"},
    {"migrate", ct_verb_migrate, "move a running container to a minict receive (tcp:HOST:PORT)"},
    {"receive", ct_verb_receive, "take one migrated container (--listen HOST:PORT)"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: minict [--root DIR] [--log FILE] [--log-format text|json] [--debug] "
		   "VERB [options]\n\nverbs:\n");
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		fprintf(f, "  %-10s %s\n", verbs[i].name, verbs[i].help);
	fprintf(f, "\nshort form: minict run --rootfs DIR [--cpus N] [--memory SIZE] "
		   "[--net bridge=NAME,ip=CIDR] [-t] -- cmd args...\n");
}

int main(int argc, char **argv)
{
	struct ct_global g = {.root = "/run/minict"};
	const char *log_path = NULL;
	enum mc_log_format fmt = MC_LOG_TEXT;
	static const struct option opts[] = {{"root", required_argument, 0, 'r'},
					     {"log", required_argument, 0, 'l'},
					     {"log-format", required_argument, 0, 'f'},
					     {"debug", no_argument, 0, 'd'},
					     {"systemd-cgroup", no_argument, 0, 's'},
					     {"version", no_argument, 0, 'v'},
					     {"help", no_argument, 0, 'h'},
					     {"rootless", required_argument, 0, 'R'},
					     {"criu", required_argument, 0, 'c'},
					     {0, 0, 0, 0}};
	int c;
	while ((c = getopt_long(argc, argv, "+vh", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			g.root = optarg;
			break;
		case 'l':
			log_path = optarg;
			break;
		case 'f':
			if (!strcmp(optarg, "json"))
				fmt = MC_LOG_JSON;
			else if (strcmp(optarg, "text") != 0) {
				fprintf(stderr,
					"minict: --log-format: \"%s\" is not text or json\n",
					optarg);
				return 2;
			}
			break;
		case 'd':
			g.debug = true;
			break;
		case 'c':
			g.criu = optarg;
			break;
		case 's':
		case 'R':
			break; /* accepted for runc compatibility; cgroupfs is always used */
		case 'v':
			printf("minict version 0.1.0\nspec: 1.0.2\n");
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	if (mc_log_open("minict", log_path, fmt) < 0) {
		fprintf(stderr, "minict: --log `%s`: cannot open\n", log_path);
		return 1;
	}
	if (g.debug)
		mc_log_set_level(MC_LOG_DEBUG);
	if (g.root[0] != '/') {
		fprintf(stderr, "minict: --root must be an absolute path\n");
		return 2;
	}
	const char *verb = argv[optind];
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (strcmp(verb, verbs[i].name) != 0)
			continue;
		mc_err err = NULL;
		int vi = optind;
		optind = 0; /* each verb parses its own options with getopt_long */
		int r = verbs[i].fn(&g, argc - vi, argv + vi, &err);
		if (r < 0) {
			if (log_path)
				mc_log(MC_LOG_ERROR, "%s", mc_error_text(err));
			mc_error_print(err, "minict", stderr);
			mc_error_free(&err);
			return 1;
		}
		return r;
	}
	fprintf(stderr, "minict: unknown verb \"%s\"\n", verb);
	usage(stderr);
	return 2;
}
