/* The last steps before a container process runs its program, written once for the
 * container's init and for `exec`. Everything that can fail happens here, before the caller
 * says it is ready: `create` (and `exec`) fail with the step named, and `start` only releases
 * the exec. The order is runc's: without no_new_privileges, loading a seccomp filter needs
 * CAP_SYS_ADMIN, so it happens before the capabilities are dropped; with it, as late as
 * possible, so the profile has to allow as few of our own syscalls as possible. */
#include "process.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "security.h"
#include "util.h"

static const char *getenv_from(char **env, const char *name)
{
	size_t n = strlen(name);
	for (char **e = env; e && *e; e++)
		if (!strncmp(*e, name, n) && (*e)[n] == '=')
			return *e + n + 1;
	return NULL;
}

/* Resolve process.args[0] against the container's PATH, as execvp would, so a missing
 * binary fails `create` (or `exec`) rather than the detached `start`. */
static int resolve_exec(const struct ct_process *p, char **out, mc_err *err)
{
	const char *arg0 = p->args[0];
	struct stat st;
	if (strchr(arg0, '/')) {
		/* ENOENT and EACCES in Go's words, as runc says them: docker's client and daemon
		 * find "no such file or directory" / "permission denied" in the text (case
		 * matters to the client) to make `docker run`'s status 127 / 126, not 125 */
		if (stat(arg0, &st) < 0)
			return errno == ENOENT
				   ? mc_errorf(err, 0, "exec `%s`: no such file or directory", arg0)
				   : mc_errorf(err, errno, "exec `%s`", arg0);
		if (!S_ISREG(st.st_mode) || access(arg0, X_OK) < 0)
			return mc_errorf(err, 0, "exec `%s`: permission denied", arg0);
		*out = strdup(arg0);
		return *out ? 0 : mc_errorf(err, ENOMEM, "exec");
	}
	const char *path = getenv_from(p->env, "PATH");
	if (!path)
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	_cleanup_free_ char *copy = strdup(path);
	for (char *save = NULL, *d = copy ? strtok_r(copy, ":", &save) : NULL; d;
	     d = strtok_r(NULL, ":", &save)) {
		_cleanup_free_ char *full = NULL;
		if (asprintf(&full, "%s/%s", d, arg0) < 0)
			return mc_errorf(err, ENOMEM, "exec");
		if (stat(full, &st) == 0 && S_ISREG(st.st_mode) && access(full, X_OK) == 0) {
			*out = mc_steal_ptr(&full);
			return 0;
		}
	}
	return mc_errorf(err, ENOENT, "exec: \"%s\": executable file not found in $PATH", arg0);
}

static int apply_oom_score_adj(const struct ct_process *p, mc_err *err)
{
	if (!p->has_oom_score_adj)
		return 0;
	char b[16];
	int n = snprintf(b, sizeof(b), "%d", p->oom_score_adj);
	if (mc_write_file("/proc/self/oom_score_adj", b, n, err) < 0)
		return mc_wrap(err, "process.oomScoreAdj");
	return 0;
}

/* AppArmor switches profile at the next execve: write "exec PROFILE" to the attr file. */
static int apply_apparmor(const struct ct_process *p, mc_err *err)
{
	if (!p->apparmor_profile)
		return 0;
	_cleanup_free_ char *on = NULL;
	size_t len;
	mc_err e2 = NULL;
	if (mc_read_file("/sys/module/apparmor/parameters/enabled", 16, &on, &len, &e2) < 0 ||
	    on[0] != 'Y') {
		mc_error_free(&e2);
		return mc_errorf(
		    err, EOPNOTSUPP,
		    "process.apparmorProfile \"%s\": AppArmor is not enabled on this host",
		    p->apparmor_profile);
	}
	_cleanup_free_ char *cmd = NULL;
	if (asprintf(&cmd, "exec %s", p->apparmor_profile) < 0)
		return mc_errorf(err, ENOMEM, "apparmor");
	const char *f = access("/proc/self/attr/apparmor/exec", F_OK) == 0
			    ? "/proc/self/attr/apparmor/exec"
			    : "/proc/self/attr/exec";
	if (mc_write_file(f, cmd, strlen(cmd), err) < 0)
		return mc_wrap(err, "process.apparmorProfile \"%s\"", p->apparmor_profile);
	return 0;
}

int ct_process_prepare(const struct ct_process *p, const struct ct_seccomp *sc, int keep_fds,
		       ct_warn_fn warn, void *warn_arg, char **exe, mc_err *err)
{
	*exe = NULL;
	if (chdir(p->cwd) < 0)
		return mc_errorf(err, errno, "chdir to process.cwd `%s`", p->cwd);
	if (ct_rlimits_apply(p, err) < 0 || apply_oom_score_adj(p, err) < 0 ||
	    apply_apparmor(p, err) < 0)
		return -1;
	if (p->has_umask)
		umask(p->umask);
	if (ct_caps_bounding(p, err) < 0)
		return -1;
	if (p->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return mc_errorf(err, errno, "process.noNewPrivileges");
	if (sc && !p->no_new_privileges && ct_seccomp_load(sc, err) < 0)
		return -1;
	if (ct_set_user(p, err) < 0 || ct_caps_apply(p, warn, warn_arg, err) < 0)
		return -1;
	if (resolve_exec(p, exe, err) < 0)
		return -1;
	/* descriptors beyond the preserved ones close at execve; ours are O_CLOEXEC already */
	syscall(SYS_close_range, 3 + keep_fds, ~0U, 4 /* CLOSE_RANGE_CLOEXEC */);
	if (sc && p->no_new_privileges && ct_seccomp_load(sc, err) < 0) {
		free(*exe);
		*exe = NULL;
		return -1;
	}
	return 0;
}

int ct_process_exec(const char *exe, const struct ct_process *p, mc_err *err)
{
	execve(exe, p->args, p->env ? p->env : (char *[]){NULL});
	return mc_errorf(err, errno, "exec `%s`", exe);
}
