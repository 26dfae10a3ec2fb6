/* minivm: a small VMM on /dev/kvm. `minivm run ...` boots a kernel; `minivm doctor` tells what
 * this host's KVM can do. */
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "cmds.h"
#include "log.h"
#include "timings.h"

int main(int argc, char **argv)
{
	timings_start();
	mc_log_open("minivm", NULL, MC_LOG_TEXT);
	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		fprintf(argc < 2 ? stderr : stdout,
			"usage: minivm run --kernel PATH [options] [-- CMD ARGS]\n"
			"       minivm run --restore DIR [options]\n"
			"       minivm status|pause|resume|stop --api PATH\n"
			"       minivm snapshot --api PATH [--stop] DIR\n"
			"       minivm migrate --api PATH [options] tcp:HOST:PORT\n"
			"       minivm migrate-status|migrate-cancel --api PATH\n"
			"       minivm doctor\n"
			"Run `minivm run --help` for the options.\n");
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "run") == 0)
		return cmd_run(argc - 1, argv + 1);
	if (strcmp(argv[1], "doctor") == 0)
		return cmd_doctor(argc - 1, argv + 1);
	static const char *const api_verbs[] = {"status",	  "pause",	   "resume",
						"snapshot",	  "stop",	   "migrate",
						"migrate-status", "migrate-cancel"};
	for (size_t i = 0; i < sizeof(api_verbs) / sizeof(api_verbs[0]); i++)
		if (strcmp(argv[1], api_verbs[i]) == 0)
			return cmd_api_client(argc - 1, argv + 1);
	fprintf(stderr,
		"minivm: unknown command `%s` (run, doctor, status, pause, resume, snapshot, stop, "
		"migrate, migrate-status, migrate-cancel)\n",
		argv[1]);
	return 2;
}
