#include "hooks.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>
#include "log.h"
#include "util.h"

const char *ct_hook_kind_name(int kind)
{
	static const char *n[CT_HOOK_KINDS] = {"prestart",	 "createRuntime", "createContainer",
					       "startContainer", "poststart",	  "poststop"};
	return n[kind];
}

/* Give the hook its state on stdin. A hook need not read it: the write must neither kill
 * us with SIGPIPE nor block on a full pipe, so SIGPIPE is held and the pipe is
 * non-blocking (the state is far smaller than a pipe's buffer anyway). */
static void feed_state(int fd, const char *state_json)
{
	sigset_t pipe_set, old;
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	sigprocmask(SIG_BLOCK, &pipe_set, &old);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	mc_write_all(fd, state_json, strlen(state_json));
	/* drop the SIGPIPE this write may have raised, unless one was pending before */
	if (!sigismember(&old, SIGPIPE)) {
		struct timespec zero = {0, 0};
		while (sigtimedwait(&pipe_set, NULL, &zero) == SIGPIPE)
			;
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
}

static int run_one(const struct ct_hook *h, const char *state_json, mc_err *err)
{
	int in[2];
	if (pipe2(in, O_CLOEXEC) < 0)
		return mc_errorf(err, errno, "pipe");
	pid_t pid = fork();
	if (pid < 0) {
		close(in[0]);
		close(in[1]);
		return mc_errorf(err, errno, "fork");
	}
	if (pid == 0) {
		dup2(in[0], 0);
		char *const empty[] = {NULL};
		char *const argv0[] = {h->path, NULL};
		execve(h->path, h->args ? h->args : argv0, h->env ? h->env : empty);
		_exit(127);
	}
	close(in[0]);
	feed_state(in[1], state_json);
	close(in[1]);
	int status = 0;
	if (h->timeout > 0) {
		int pfd = syscall(SYS_pidfd_open, pid, 0);
		struct pollfd p = {.fd = pfd, .events = POLLIN};
		int r = pfd >= 0 ? poll(&p, 1, h->timeout * 1000) : 1;
		if (pfd >= 0)
			close(pfd);
		if (r == 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			return mc_errorf(err, 0, "`%s` timed out after %d s", h->path, h->timeout);
		}
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status))
		return mc_errorf(err, 0, "`%s` exited with status %d", h->path,
				 WEXITSTATUS(status));
	return mc_errorf(err, 0, "`%s` killed by signal %d", h->path, WTERMSIG(status));
}

char *ct_hook_state(const char *id, pid_t pid, const char *bundle, const char *status,
		    json_object *annotations)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "ociVersion", json_object_new_string("1.0.2"));
	json_object_object_add(o, "id", json_object_new_string(id));
	json_object_object_add(o, "status", json_object_new_string(status));
	json_object_object_add(o, "pid", json_object_new_int(pid));
	json_object_object_add(o, "bundle", json_object_new_string(bundle ? bundle : ""));
	if (annotations)
		json_object_object_add(o, "annotations", json_object_get(annotations));
	char *s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return s;
}

int ct_hooks_run(const struct ct_spec *spec, int kind, const char *state_json, bool keep_going,
		 mc_err *err)
{
	for (size_t i = 0; i < spec->hooks.count[kind]; i++) {
		if (run_one(&spec->hooks.list[kind][i], state_json, err) == 0)
			continue;
		mc_wrap(err, "hooks.%s[%zu]", ct_hook_kind_name(kind), i);
		if (!keep_going)
			return -1;
		mc_log_warn("%s", mc_error_text(*err));
		mc_error_free(err);
	}
	return 0;
}
