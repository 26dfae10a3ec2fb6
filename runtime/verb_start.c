/* minict start ID */
#include "cli.h"
#include "container.h"

int ct_verb_start(struct ct_global *g, int argc, char **argv, mc_err *err)
{
	if (argc != 2)
		return mc_errorf(err, 0, "start: need exactly one container id");
	struct ct_state st;
	if (ct_state_load(g->root, argv[1], &st, err) < 0)
		return -1;
	int r = ct_container_start(g->root, &st, err);
	ct_state_free(&st);
	return r;
}
