/* minilab: the nested-KVM lab where stock kernels boot (docs/lab.md).
 *   minilab start | stop | status      keep one lab running across many runs
 *   minilab run [--] CMD [ARGS...]     run CMD in the lab (a running one, else a fresh one
 *                                      that is stopped afterwards); its exit status is ours
 *   minilab agent --port N --token-file F   (inside the lab: its PID 1)
 * minilab's own failures exit with 125. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "cleanup.h"
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
			return mc_errorf(err, 0, "agent: unknown argument `%s`", argv[i]);
	}
	if (!port || !token)
		return mc_errorf(err, 0, "agent needs --port and --token-file");
	uint64_t p;
	if (mc_parse_uint(port, 1, 65535, &p, "--port", err) < 0)
		return -1;
	return lab_agent_serve((uint16_t)p, token, err);
}

/* When a run fails because the lab's kernel died (a panic, or a soft lockup, which the lab
 * turns into a panic so a stuck lab ends instead of hanging its callers), say so: quote the
 * last such line of the lab's console. When the lab died, or stopped answering (dead), and
 * keep_dir is given (one-shot labs, whose state folder goes away), the console is moved there
 * first, so the path in the message still exists afterwards. */
static void explain_lab_death(const struct lab_paths *p, const char *keep_dir, bool dead,
			      mc_err *err)
{
	char path[sizeof(p->state) + 64];
	snprintf(path, sizeof(path), "%s/console.log", p->state);
	char line[512], last[512] = "";
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	if (!f || !*err)
		return;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "Kernel panic") || strstr(line, "BUG:"))
			snprintf(last, sizeof(last), "%.*s", (int)strcspn(line, "\r\n"), line);
	if (!last[0] && !dead)
		return;
	if (keep_dir) {
		char kept[sizeof(path)];
		snprintf(kept, sizeof(kept), "%s/lab-console-%ld.log", keep_dir, (long)getpid());
		if (rename(path, kept) == 0)
			strcpy(path, kept);
	}
	mc_err why = NULL;
	if (last[0])
		mc_errorf(&why, 0, "%s (the lab's kernel: \"%s\"; console: %s)",
			  mc_error_text(*err), last, path);
	else
		mc_errorf(&why, 0, "%s (the lab's console: %s)", mc_error_text(*err), path);
	mc_error_free(err);
	*err = why;
}

/* A lab that stopped answering: keep what its CPUs were doing for whoever investigates (in
 * dump_dir, which outlives one-shot labs), stop it, and say so. */
static void handle_dead_lab(const struct lab_paths *p, const char *dump_dir, const char *keep_dir,
			    mc_err *err)
{
	char path[4400];
	snprintf(path, sizeof(path), "%s/hung-cpus-%ld.txt", dump_dir, (long)getpid());
	bool dumped = lab_dump_cpus(p, path) == 0;
	struct stat sb;
	if (dumped && stat(path, &sb) == 0 && sb.st_size == 0) { /* QEMU itself is stuck */
		unlink(path);
		dumped = false;
	}
	mc_err stop_err = NULL;
	lab_stop_how(p, true, &stop_err);
	mc_error_free(&stop_err);
	explain_lab_death(p, keep_dir, true, err);
	mc_err why = NULL;
	mc_errorf(&why, 0, "%s; the lab was stopped%s%s", mc_error_text(*err),
		  dumped ? ", its CPU state is in " : "", dumped ? path : "");
	mc_error_free(err);
	*err = why;
}

/* A one-shot lab for a single run: its own state folder next to the shared one (so it never
 * meets another run's lab), tied to this process, stopped and removed afterwards. */
static int run_oneshot(const struct lab_paths *shared, char **argv, mc_err *err)
{
	struct lab_paths own = *shared;
	char tmpl[sizeof(own.state)];
	if (snprintf(tmpl, sizeof(tmpl), "%s.run-XXXXXX", shared->state) >= (int)sizeof(tmpl))
		return mc_errorf(err, ENAMETOOLONG, "one-shot lab state");
	if (mc_mkdir_p(shared->state, 0755, err) < 0 || !mkdtemp(tmpl))
		return mc_errorf(err, errno, "create the one-shot lab's state `%s`", tmpl);
	strcpy(own.state, tmpl);
	lab_paths_set_sockdir(&own);
	struct lab_state st;
	int status = -1;
	if (lab_start(&own, LAB_START_QUIET | LAB_START_TIED, err) == 0 &&
	    lab_running(&own, &st, err) == 1) {
		int r = lab_run(&st, argv, &status, err);
		if (r == LAB_RUN_DEAD)
			handle_dead_lab(&own, shared->state, shared->state, err);
		else if (r < 0)
			explain_lab_death(&own, shared->state, false, err);
		if (r < 0)
			status = -1;
	}
	mc_err stop_err = NULL;
	if (lab_stop(&own, &stop_err) < 0 && status >= 0) {
		*err = stop_err;
		status = -1;
	}
	if (stop_err != *err)
		mc_error_free(&stop_err);
	/* the console and logs go with it: the error already quotes what matters */
	static const char *const logs[] = {"console.log", "qemu.log", "virtiofsd-root.log",
					   "virtiofsd-checkout.log", "lock"};
	char path[sizeof(own.state) + 64];
	for (size_t i = 0; i < MC_ARRAY_SIZE(logs); i++) {
		snprintf(path, sizeof(path), "%s/%s", own.state, logs[i]);
		unlink(path);
	}
	rmdir(own.state);
	if (status < 0 && !*err)
		mc_errorf(err, 0, "the one-shot lab did not run the command");
	return status;
}

static int cmd_run(const struct lab_paths *paths, int argc, char **argv, mc_err *err)
{
	if (argc > 0 && !strcmp(argv[0], "--")) {
		argc--;
		argv++;
	}
	if (argc == 0)
		return mc_errorf(err, 0, "run: no command given (minilab run -- CMD ARGS)");
	struct lab_state st;
	int running = lab_running(paths, &st, err);
	if (running < 0)
		return -1;
	if (!running)
		return run_oneshot(paths, argv, err);
	int status = LAB_EXIT_FAILURE;
	int r = lab_run(&st, argv, &status, err);
	if (r == LAB_RUN_DEAD)
		handle_dead_lab(paths, paths->state, NULL, err);
	else if (r < 0)
		explain_lab_death(paths, NULL, false, err);
	if (r < 0)
		return -1;
	return status;
}

/* With fd 0, 1 or 2 closed, a socket could land there and be taken for stdio. */
static void ensure_stdio(void)
{
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY) < 0)
			_exit(LAB_EXIT_FAILURE);
}

int main(int argc, char **argv)
{
	mc_err err = NULL;
	ensure_stdio();
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
				mc_errorf(&err, 0, "run failed");
			return die(&err);
		}
		return r;
	}
	fprintf(stderr, "minilab: unknown command `%s`\n", cmd);
	usage(stderr);
	return 2;
}
