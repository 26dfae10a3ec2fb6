/* minict kill [--all] ID [SIGNAL] */
#include <errno.h>
#include <getopt.h>
#include <signal.h>

#include "cli.h"
#include "state.h"

int ct_verb_kill(struct ct_global *g, int argc, char **argv, mc_err *err)
{
	static const struct option opts[] = {{"all", no_argument, 0, 'a'}, {0, 0, 0, 0}};
	bool all = false;
	int c;
	while ((c = getopt_long(argc, argv, "a", opts, NULL)) != -1) {
		if (c != 'a')
			return mc_errorf(err, 0, "kill: bad option");
		all = true;
	}
	if (optind >= argc || argc - optind > 2)
		return mc_errorf(err, 0, "kill: usage: kill [--all] ID [SIGNAL]");
	int sig = SIGTERM;
	if (argc - optind == 2 && ct_signal_parse(argv[optind + 1], &sig, err) < 0)
		return -1;
	struct ct_state st;
	if (ct_state_load(g->root, argv[optind], &st, err) < 0)
		return -1;
	int r = 0;
	enum ct_status s = ct_state_status(g->root, &st);
	if (s == CT_STOPPED || s == CT_CREATING)
		r = mc_errorf(err, 0, "container \"%s\" is not running", st.id);
	else if (all && st.has_cg)
		r = ct_cg_kill_all(&st.cg, sig, err);
	else if (kill(st.pid, sig) < 0)
		r = mc_errorf(err, errno, "kill %d", st.pid);
	ct_state_free(&st);
	return r;
}
