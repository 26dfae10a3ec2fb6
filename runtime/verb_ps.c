/* minict ps [--format table|json] ID */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "state.h"

int ct_verb_ps(struct ct_global *g, int argc, char **argv, mc_err *err)
{
	static const struct option opts[] = {{"format", required_argument, 0, 'f'}, {0, 0, 0, 0}};
	bool json = false;
	int c;
	while ((c = getopt_long(argc, argv, "f:", opts, NULL)) != -1) {
		if (c != 'f')
			return mc_errorf(err, 0, "ps: bad option");
		if (!strcmp(optarg, "json"))
			json = true;
		else if (strcmp(optarg, "table") != 0)
			return mc_errorf(err, 0, "ps: --format must be table or json");
	}
	if (optind != argc - 1)
		return mc_errorf(err, 0, "ps: need exactly one container id");
	struct ct_state st;
	if (ct_state_load(g->root, argv[optind], &st, err) < 0)
		return -1;
	pid_t *pids = NULL;
	size_t n = 0;
	int r = st.has_cg ? ct_cg_pids(&st.cg, &pids, &n, err) : 0;
	if (r == 0 && json) {
		printf("[");
		for (size_t i = 0; i < n; i++)
			printf("%s%d", i ? "," : "", pids[i]);
		printf("]\n");
	} else if (r == 0) {
		printf("%-8s %s\n", "PID", "CMD");
		for (size_t i = 0; i < n; i++) {
			char path[64], cmd[256] = "";
			snprintf(path, sizeof(path), "/proc/%d/cmdline", pids[i]);
			int fd = open(path, O_RDONLY | O_CLOEXEC);
			ssize_t l = fd >= 0 ? read(fd, cmd, sizeof(cmd) - 1) : 0;
			if (fd >= 0)
				close(fd);
			for (ssize_t k = 0; k < l - 1; k++)
				if (!cmd[k])
					cmd[k] = ' ';
			cmd[l > 0 ? l : 0] = 0;
			printf("%-8d %s\n", pids[i], cmd);
		}
	}
	free(pids);
	ct_state_free(&st);
	return r;
}
