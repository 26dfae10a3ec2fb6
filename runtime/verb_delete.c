/* minict delete [--force] ID */
#include <getopt.h>
#include <string.h>

#include "cli.h"
#include "container.h"

int ct_verb_delete(struct ct_global *g, int argc, char **argv, mc_err *err)
{
	static const struct option opts[] = {{"force", no_argument, 0, 'f'}, {0, 0, 0, 0}};
	bool force = false;
	int c;
	while ((c = getopt_long(argc, argv, "f", opts, NULL)) != -1) {
		if (c != 'f')
			return mc_errorf(err, 0, "delete: bad option");
		force = true;
	}
	if (optind != argc - 1)
		return mc_errorf(err, 0, "delete: need exactly one container id");
	struct ct_state st;
	if (ct_state_load(g->root, argv[optind], &st, err) < 0) {
		/* like runc: --force on a missing container is not an error, and the directory of
		 * a create killed before it wrote any state goes */
		if (force && strstr(mc_error_text(*err), "does not exist")) {
			if (strstr(mc_error_text(*err), "no state yet"))
				ct_state_remove(g->root, argv[optind]);
			mc_error_free(err);
			return 0;
		}
		return -1;
	}
	enum ct_status s = ct_state_status(g->root, &st);
	int r;
	/* creating: the create may still be at work, unless its process is gone */
	bool creating =
	    s == CT_CREATING && st.creator && ct_proc_start_time(st.creator) == st.creator_start;
	if (creating && !force)
		r = mc_errorf(err, 0, "container \"%s\" is being created: use --force", st.id);
	else if ((s == CT_RUNNING || s == CT_PAUSED) && !force)
		r = mc_errorf(err, 0, "container \"%s\" is %s: stop it first or use --force", st.id,
			      ct_status_name(s));
	else
		r = ct_container_destroy(g->root, &st, err);
	ct_state_free(&st);
	return r;
}
