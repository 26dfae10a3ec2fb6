/* minict start ID */
#include "cli.h"
#include "container.h"

int mc_verb_start(struct mc_global *g, int argc, char **argv, mc_err *err)
{
	if (argc != 2)
		return mc_errorf(err, 0, "start: need exactly one container id");
	struct mc_state st;
	if (mc_state_load(g->root, argv[1], &st, err) < 0)
		return -1;
	int r = mc_container_start(g->root, &st, err);
	mc_state_free(&st);
	return r;
}
