/* Helpers shared by the verbs. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "cli.h"

int ct_signal_parse(const char *s, int *sig, mc_err *err)
{
	static const struct {
		const char *n;
		int s;
	} t[] = {{"HUP", SIGHUP},	{"INT", SIGINT},   {"QUIT", SIGQUIT},	{"ILL", SIGILL},
		 {"TRAP", SIGTRAP},	{"ABRT", SIGABRT}, {"BUS", SIGBUS},	{"FPE", SIGFPE},
		 {"KILL", SIGKILL},	{"USR1", SIGUSR1}, {"SEGV", SIGSEGV},	{"USR2", SIGUSR2},
		 {"PIPE", SIGPIPE},	{"ALRM", SIGALRM}, {"TERM", SIGTERM},	{"CHLD", SIGCHLD},
		 {"CONT", SIGCONT},	{"STOP", SIGSTOP}, {"TSTP", SIGTSTP},	{"TTIN", SIGTTIN},
		 {"TTOU", SIGTTOU},	{"URG", SIGURG},   {"XCPU", SIGXCPU},	{"XFSZ", SIGXFSZ},
		 {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"IO", SIGIO},
		 {"PWR", SIGPWR},	{"SYS", SIGSYS}};
	char *end;
	long v = strtol(s, &end, 10);
	if (*s && !*end) {
		if (v < 1 || v > SIGRTMAX)
			return mc_errorf(err, 0, "invalid signal \"%s\"", s);
		*sig = v;
		return 0;
	}
	const char *n = strncmp(s, "SIG", 3) ? s : s + 3;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (!strcasecmp(n, t[i].n)) {
			*sig = t[i].s;
			return 0;
		}
	return mc_errorf(err, 0, "invalid signal \"%s\"", s);
}

int ct_exit_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 255;
}
