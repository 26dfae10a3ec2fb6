/* minict pause ID; minict resume ID (cgroup.freeze, or the v1 freezer) */
#include "cli.h"
#include "state.h"

static int freeze(struct ct_global *g, int argc, char **argv, bool on, mc_err *err)
{
	if (argc != 2)
		return mc_errorf(err, 0, "%s: need exactly one container id", argv[0]);
	struct ct_state st;
	if (ct_state_load(g->root, argv[1], &st, err) < 0)
		return -1;
	enum ct_status s = ct_state_status(g->root, &st);
	int r;
	if (on && s != CT_RUNNING && s != CT_CREATED)
		r = mc_errorf(err, 0, "container \"%s\" is %s: cannot pause", st.id,
			      ct_status_name(s));
	else if (!on && s != CT_PAUSED)
		r = mc_errorf(err, 0, "container \"%s\" is %s, not paused", st.id,
			      ct_status_name(s));
	else
		r = ct_cg_freeze(&st.cg, on, err);
	ct_state_free(&st);
	return r;
}

int ct_verb_pause(struct ct_global *g, int argc, char **argv, mc_err *err)
{
	return freeze(g, argc, argv, true, err);
}

int ct_verb_resume(struct ct_global *g, int argc, char **argv, mc_err *err)
{
	return freeze(g, argc, argv, false, err);
}
