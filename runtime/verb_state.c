/* minict state ID; minict list */
#include <dirent.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "state.h"

int ct_verb_state(struct ct_global *g, int argc, char **argv, mc_err *err)
{
	if (argc != 2)
		return mc_errorf(err, 0, "state: need exactly one container id");
	struct ct_state st;
	if (ct_state_load(g->root, argv[1], &st, err) < 0)
		return -1;
	json_object *o = ct_state_oci_json(g->root, &st);
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
							     JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	ct_state_free(&st);
	return 0;
}

int ct_verb_list(struct ct_global *g, int argc, char **argv, mc_err *err)
{
	(void)argc;
	(void)argv;
	(void)err;
	DIR *d = opendir(g->root);
	printf("%-24s %-8s %-10s %s\n", "ID", "PID", "STATUS", "BUNDLE");
	if (!d)
		return 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		struct ct_state st;
		mc_err e2 = NULL;
		if (ct_state_load(g->root, e->d_name, &st, &e2) < 0) {
			mc_error_free(&e2);
			continue;
		}
		enum ct_status s = ct_state_status(g->root, &st);
		printf("%-24s %-8d %-10s %s\n", st.id, s == CT_STOPPED ? 0 : st.pid,
		       ct_status_name(s), st.bundle ? st.bundle : "-");
		ct_state_free(&st);
	}
	closedir(d);
	return 0;
}
