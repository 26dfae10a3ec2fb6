/* minict create [--bundle DIR] [--pid-file F] [--console-socket S] [--preserve-fds N] ID */
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "cli.h"
#include "container.h"
#include "util.h"

/* shared with verb_run.c */
int ct_parse_create_opts(int argc, char **argv, struct ct_create_opts *o, bool *detach,
			 const char **bundle, mc_err *err);

int ct_parse_create_opts(int argc, char **argv, struct ct_create_opts *o, bool *detach,
			 const char **bundle, mc_err *err)
{
	static const struct option opts[] = {{"bundle", required_argument, 0, 'b'},
					     {"pid-file", required_argument, 0, 'p'},
					     {"console-socket", required_argument, 0, 'c'},
					     {"preserve-fds", required_argument, 0, 'P'},
					     {"no-pivot", no_argument, 0, 'N'},
					     {"no-new-keyring", no_argument, 0, 'K'},
					     {"detach", no_argument, 0, 'd'},
					     {"keep", no_argument, 0, 'k'},
					     {"no-subreaper", no_argument, 0, 'S'},
					     {0, 0, 0, 0}};
	int c;
	uint64_t v;
	while ((c = getopt_long(argc, argv, "b:d", opts, NULL)) != -1) {
		switch (c) {
		case 'b':
			*bundle = optarg;
			break;
		case 'p':
			o->pid_file = optarg;
			break;
		case 'c':
			o->console_socket = optarg;
			break;
		case 'P':
			if (mc_parse_uint(optarg, 0, 1000, &v, "--preserve-fds", err) < 0)
				return -1;
			o->preserve_fds = v;
			break;
		case 'N':
			o->no_pivot = true;
			break;
		case 'd':
			if (!detach)
				return mc_errorf(err, 0, "create: unknown option --detach");
			*detach = true;
			break;
		case 'K':
		case 'k':
		case 'S':
			break;
		default:
			return mc_errorf(err, 0, "%s: bad option (see minict --help)", argv[0]);
		}
	}
	if (optind != argc - 1)
		return mc_errorf(err, 0, "%s: need exactly one container id", argv[0]);
	o->id = argv[optind];
	return ct_check_id(o->id, err);
}

int ct_verb_create(struct ct_global *g, int argc, char **argv, mc_err *err)
{
	struct ct_create_opts o = {.root = g->root, .console_sock_fd = -1};
	const char *bundle = ".";
	if (ct_parse_create_opts(argc, argv, &o, NULL, &bundle, err) < 0)
		return -1;
	_cleanup_free_ char *abs = realpath(bundle, NULL);
	if (!abs)
		return mc_errorf(err, errno, "bundle `%s`", bundle);
	o.bundle = abs;
	struct ct_spec *spec = NULL;
	if (ct_spec_load(abs, &spec, err) < 0)
		return -1;
	struct ct_state st;
	int r = ct_container_create(spec, &o, &st, NULL, err);
	ct_spec_free(spec);
	if (r < 0)
		return -1;
	ct_state_free(&st);
	return 0;
}
