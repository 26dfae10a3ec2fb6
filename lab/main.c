/* minilab: the nested-KVM lab where stock kernels boot (docs/lab.md).
 *   minilab start | stop | status      keep one lab running across many runs
 *   minilab run [--] CMD [ARGS...]     run CMD in the lab (a running one, else a fresh one
 *                                      that is stopped afterwards); its exit status is ours
 *   minilab agent --port N --token-file F   (inside the lab: its PID 1)
 * minilab's own failures exit with 125. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/reboot.h>
#include <unistd.h>

#include "agent.h"
#include "lab.h"
#include "util.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: minilab start|stop|status\n"
		   "       minilab run [--] CMD [ARGS...]\n"
		   "       minilab agent --port N --token-file FILE\n");
}

static int die(mc_err *err)
{
	mc_error_print(*err, "minilab", stderr);
	mc_error_free(err);
	return LAB_EXIT_FAILURE;
}

static int cmd_agent(int argc, char **argv, mc_err *err)
{
	const char *port = NULL, *token = NULL;
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--port") && i + 1 < argc)
			port = argv[++i];
		else if (!strcmp(argv[i], "--token-file") && i + 1 < argc)
			token = argv[++i];
		else
			return mc_error(err, 0, "agent: unknown argument `%s`", argv[i]);
	}
	if (!port || !token)
		return mc_error(err, 0, "agent needs --port and --token-file");
	uint64_t p;
	if (mc_parse_uint(port, 1, 65535, &p, "--port", err) < 0)
		return -1;
	return lab_agent_serve((uint16_t)p, token, err);
}

static int cmd_run(const struct lab_paths *paths, int argc, char **argv, mc_err *err)
{
	if (argc > 0 && !strcmp(argv[0], "--")) {
		argc--;
		argv++;
	}
	if (argc == 0)
		return mc_error(err, 0, "run: no command given (minilab run -- CMD ARGS)");
	struct lab_state st;
	int running = lab_running(paths, &st, err);
	if (running < 0)
		return -1;
	if (!running) {
		if (lab_start(paths, 1, err) < 0 || lab_running(paths, &st, err) != 1) {
			mc_err stop_err = NULL;
			lab_stop(paths, &stop_err);
			mc_error_free(&stop_err);
			return mc_error(err, 0, "lab is not running"), mc_wrap(err, "run");
		}
	}
	int status = LAB_EXIT_FAILURE;
	int r = lab_run(&st, argv, &status, err);
	if (!running) {
		mc_err stop_err = NULL;
		if (lab_stop(paths, &stop_err) < 0 && r == 0) {
			*err = stop_err;
			return -1;
		}
		mc_error_free(&stop_err);
	}
	return r < 0 ? -1 : status;
}

int main(int argc, char **argv)
{
	mc_err err = NULL;
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(cmd, "agent")) {
		if (cmd_agent(argc - 2, argv + 2, &err) == 0)
			return 0;
		if (getpid() == 1) {
			/* the lab's PID 1: say why on the console (minilab start shows it), power
			 * off */
			fprintf(stderr, "MINILAB-INIT-FAILED: agent: %s\n", mc_error_text(err));
			sync();
			reboot(RB_POWER_OFF);
		}
		return die(&err);
	}

	struct lab_paths paths;
	if (lab_paths_init(&paths, &err) < 0)
		return die(&err);
	if (!strcmp(cmd, "start"))
		return lab_start(&paths, 0, &err) < 0 ? die(&err) : 0;
	if (!strcmp(cmd, "stop"))
		return lab_stop(&paths, &err) < 0 ? die(&err) : 0;
	if (!strcmp(cmd, "status")) {
		struct lab_state st;
		int r = lab_running(&paths, &st, &err);
		if (r < 0)
			return die(&err);
		if (r == 0) {
			printf("not running\n");
			return 3;
		}
		printf("running: qemu pid %d, agent on 127.0.0.1:%u, checkout %s\n", st.qemu,
		       st.port, paths.checkout);
		return 0;
	}
	if (!strcmp(cmd, "run")) {
		int r = cmd_run(&paths, argc - 2, argv + 2, &err);
		if (r < 0) {
			if (!err)
				mc_error(&err, 0, "run failed");
			return die(&err);
		}
		return r;
	}
	fprintf(stderr, "minilab: unknown command `%s`\n", cmd);
	usage(stderr);
	return 2;
}
