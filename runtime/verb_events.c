/* minict events [--stats] [--interval SECS] ID: statistics from the container's cgroups. */
#include <getopt.h>
#include <stdio.h>
#include <unistd.h>

#include "cli.h"
#include "state.h"
#include "util.h"

static void print_stats(struct ct_state *st)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "type", json_object_new_string("stats"));
	json_object_object_add(o, "id", json_object_new_string(st->id));
	json_object_object_add(o, "data",
			       st->has_cg ? ct_cg_stats(&st->cg) : json_object_new_object());
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							     JSON_C_TO_STRING_NOSLASHESCAPE));
	fflush(stdout);
	json_object_put(o);
}

int ct_verb_events(struct ct_global *g, int argc, char **argv, mc_err *err)
{
	static const struct option opts[] = {
	    {"stats", no_argument, 0, 's'}, {"interval", required_argument, 0, 'i'}, {0, 0, 0, 0}};
	bool once = false;
	uint64_t interval = 5;
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 's')
			once = true;
		else if (c == 'i') {
			if (mc_parse_uint(optarg, 1, 3600, &interval, "--interval", err) < 0)
				return -1;
		} else
			return mc_errorf(err, 0, "events: bad option");
	}
	if (optind != argc - 1)
		return mc_errorf(err, 0, "events: need exactly one container id");
	struct ct_state st;
	if (ct_state_load(g->root, argv[optind], &st, err) < 0)
		return -1;
	for (;;) {
		if (ct_state_status(g->root, &st) == CT_STOPPED) {
			ct_state_free(&st);
			return once ? mc_errorf(err, 0, "container \"%s\" is stopped", argv[optind])
				    : 0;
		}
		print_stats(&st);
		if (once)
			break;
		sleep(interval);
	}
	ct_state_free(&st);
	return 0;
}
