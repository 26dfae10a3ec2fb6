/* minict pause ID; minict resume ID (cgroup.freeze, or the v1 freezer) */
#include "cli.h"
#include "state.h"

static int freeze(struct mc_global *g, int argc, char **argv, bool on, mc_err *err)
{
	if (argc != 2)
		return mc_errorf(err, 0, "%s: need exactly one container id", argv[0]);
	struct mc_state st;
	if (mc_state_load(g->root, argv[1], &st, err) < 0)
		return -1;
	enum mc_status s = mc_state_status(g->root, &st);
	int r;
	if (on && s != MC_RUNNING && s != MC_CREATED)
		r = mc_errorf(err, 0, "container \"%s\" is %s: cannot pause", st.id,
			      mc_status_name(s));
	else if (!on && s != MC_PAUSED)
		r = mc_errorf(err, 0, "container \"%s\" is %s, not paused", st.id,
			      mc_status_name(s));
	else
		r = mc_cg_freeze(&st.cg, on, err);
	mc_state_free(&st);
	return r;
}

int mc_verb_pause(struct mc_global *g, int argc, char **argv, mc_err *err)
{
	return freeze(g, argc, argv, true, err);
}

int mc_verb_resume(struct mc_global *g, int argc, char **argv, mc_err *err)
{
	return freeze(g, argc, argv, false, err);
}
