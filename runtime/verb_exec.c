/* minict exec [--process FILE | [options] ID cmd args...]: a new process in a running
 * container: join its namespaces and cgroups, then the same security set-up as init. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "cli.h"
#include "config_internal.h"
#include "jsonh.h"
#include "process.h"
#include "security.h"
#include "state.h"
#include "terminal.h"
#include "util.h"

static int load_process(const char *file, struct ct_spec **out, mc_err *err)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	if (mc_read_file(file, 1 << 20, &buf, &len, err) < 0)
		return mc_wrap(err, "--process");
	json_object *p = json_tokener_parse(buf);
	if (!p)
		return mc_errorf(err, 0, "--process `%s`: invalid JSON", file);
	json_object *root = json_object_new_object();
	json_object_object_add(root, "ociVersion", json_object_new_string("1.0.2"));
	json_object *r = json_object_new_object();
	json_object_object_add(r, "path", json_object_new_string("/"));
	json_object_object_add(root, "root", r);
	json_object_object_add(root, "process", p);
	struct ct_spec *s = calloc(1, sizeof(*s));
	int ret = s ? ct_spec_from_json(root, s, err) : mc_errorf(err, ENOMEM, "exec");
	json_object_put(root);
	if (ret < 0) {
		ct_spec_free(s);
		return mc_wrap(err, "--process `%s`", file);
	}
	*out = s;
	return 0;
}

static int join(pid_t pid, mc_err *err)
{
	static const struct {
		const char *n;
		int t;
	} ns[] = {{"user", CLONE_NEWUSER}, {"ipc", CLONE_NEWIPC}, {"uts", CLONE_NEWUTS},
		  {"net", CLONE_NEWNET},   {"pid", CLONE_NEWPID}, {"cgroup", CLONE_NEWCGROUP},
		  {"mnt", CLONE_NEWNS}};
	int fds[7];
	for (size_t i = 0; i < 7; i++) {
		char p[64], q[64];
		snprintf(p, sizeof(p), "/proc/%d/ns/%s", pid, ns[i].n);
		snprintf(q, sizeof(q), "/proc/self/ns/%s", ns[i].n);
		struct stat a, b;
		fds[i] = -1;
		if (stat(p, &a) < 0 || (stat(q, &b) == 0 && a.st_ino == b.st_ino))
			continue;
		fds[i] = open(p, O_RDONLY | O_CLOEXEC);
		if (fds[i] < 0)
			return mc_errorf(err, errno, "open `%s`", p);
	}
	int ret = 0;
	for (size_t i = 0; i < 7; i++) {
		if (fds[i] < 0)
			continue;
		if (ret == 0 && setns(fds[i], ns[i].t) < 0)
			ret = mc_errorf(err, errno, "setns %s", ns[i].n);
		close(fds[i]);
	}
	return ret;
}

struct exec_opts {
	const char *process, *pid_file, *console, *cwd, *user;
	bool detach, tty;
	uint64_t preserve;
	char *envs[256];
	size_t nenv;
	const char *id;
	char **cmd; /* NULL-terminated, when no --process */
};

static int parse_opts(int argc, char **argv, struct exec_opts *o, mc_err *err)
{
	static const struct option opts[] = {{"process", required_argument, 0, 'p'},
					     {"detach", no_argument, 0, 'd'},
					     {"pid-file", required_argument, 0, 'P'},
					     {"console-socket", required_argument, 0, 'c'},
					     {"tty", no_argument, 0, 't'},
					     {"env", required_argument, 0, 'e'},
					     {"cwd", required_argument, 0, 'w'},
					     {"user", required_argument, 0, 'u'},
					     {"preserve-fds", required_argument, 0, 'F'},
					     {"no-new-privs", no_argument, 0, 'n'},
					     {"cap", required_argument, 0, 'C'},
					     {"process-label", required_argument, 0, 'L'},
					     {"apparmor", required_argument, 0, 'A'},
					     {"cgroup", required_argument, 0, 'G'},
					     {0, 0, 0, 0}};
	int c;
	while ((c = getopt_long(argc, argv, "+p:dte:w:u:", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			o->process = optarg;
			break;
		case 'd':
			o->detach = true;
			break;
		case 'P':
			o->pid_file = optarg;
			break;
		case 'c':
			o->console = optarg;
			break;
		case 't':
			o->tty = true;
			break;
		case 'e':
			if (o->nenv >= 255)
				return mc_errorf(err, 0, "exec: too many --env");
			o->envs[o->nenv++] = optarg;
			break;
		case 'w':
			o->cwd = optarg;
			break;
		case 'u':
			o->user = optarg;
			break;
		case 'F':
			if (mc_parse_uint(optarg, 0, 1000, &o->preserve, "--preserve-fds", err) < 0)
				return -1;
			break;
		case 'n':
		case 'C':
		case 'L':
		case 'A':
		case 'G':
			break;
		default:
			return mc_errorf(err, 0, "exec: bad option");
		}
	}
	if (optind >= argc)
		return mc_errorf(err, 0, "exec: need a container id");
	o->id = argv[optind++];
	o->cmd = argv + optind;
	if (!o->process && optind >= argc)
		return mc_errorf(err, 0, "exec: no command given");
	return 0;
}

/* The command-line form: the container's own process (or the default one) with args,
 * terminal, env, cwd and user from the options. */
static int process_from_opts(const struct exec_opts *o, const char *bundle, struct ct_spec **out,
			     mc_err *err)
{
	struct ct_spec *ps = NULL;
	if (bundle) {
		if (ct_spec_load(bundle, &ps, err) < 0)
			return -1;
	} else {
		json_object *root = ct_spec_default_json();
		ps = calloc(1, sizeof(*ps));
		int r =
		    root && ps ? ct_spec_from_json(root, ps, err) : mc_errorf(err, ENOMEM, "exec");
		json_object_put(root);
		if (r < 0) {
			ct_spec_free(ps);
			return -1;
		}
	}
	if (!ps)
		return mc_errorf(err, ENOMEM, "exec");
	*out = ps;
	struct ct_process *p = &ps->process;
	size_t nargs = 0, nenv = 0;
	while (o->cmd && o->cmd[nargs])
		nargs++;
	for (char **e = p->env; e && *e; e++)
		nenv++;
	ct_strv_free(p->args);
	p->args = calloc(nargs + 1, sizeof(char *));
	char **env = realloc(p->env, (nenv + o->nenv + 1) * sizeof(char *));
	if (env)
		p->env = env;
	if (!p->args || !env)
		return mc_errorf(err, ENOMEM, "exec");
	for (size_t i = 0; i < nargs; i++)
		p->args[i] = strdup(o->cmd[i]);
	for (size_t i = 0; i < o->nenv; i++)
		env[nenv + i] = strdup(o->envs[i]);
	env[nenv + o->nenv] = NULL;
	p->terminal = o->tty;
	if (o->cwd) {
		free(p->cwd);
		p->cwd = strdup(o->cwd);
	}
	if (o->user) {
		unsigned u, g = 0;
		if (sscanf(o->user, "%u:%u", &u, &g) < 1)
			return mc_errorf(err, 0, "exec: --user \"%s\": want UID[:GID]", o->user);
		p->uid = u;
		p->gid = g;
	}
	return 0;
}

/* The container's seccomp filter applies to every process in it; a short-form container
 * (no bundle) has minict's default profile. */
static int container_seccomp(const char *bundle, struct ct_spec *ps, mc_err *err)
{
	if (!ps || ps->has_seccomp)
		return 0; /* ps is the container's own config already */
	if (!bundle) {
		if (ct_seccomp_default(&ps->process, &ps->seccomp, err) < 0)
			return mc_wrap(err, "exec: default seccomp profile");
		ps->has_seccomp = true;
		return 0;
	}
	struct ct_spec *cs = NULL;
	if (ct_spec_load(bundle, &cs, err) < 0)
		return -1;
	if (cs->has_seccomp) {
		ps->seccomp = cs->seccomp;
		ps->has_seccomp = true;
		memset(&cs->seccomp, 0, sizeof(cs->seccomp));
	}
	ct_spec_free(cs);
	return 0;
}

/* The descriptors exec needs, so every path out closes them. */
struct exec_fds {
	int procs[CT_CG_NCTRL + 1 + 16];
	size_t nprocs;
	int console, pidfile;
	int errp[2], gop[2], pidp[2];
};

static void close_fds(struct exec_fds *f)
{
	for (size_t i = 0; i < f->nprocs; i++)
		close(f->procs[i]);
	f->nprocs = 0;
	int *all[] = {&f->console, &f->pidfile, &f->errp[0], &f->errp[1],
		      &f->gop[0],  &f->gop[1],	&f->pidp[0], &f->pidp[1]};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (*all[i] >= 0) {
			close(*all[i]);
			*all[i] = -1;
		}
}

/* Opened in the host's mount namespace before anything joins the container's. */
static int open_host_side(const struct exec_opts *o, const struct ct_state *st,
			  const struct ct_spec *ps, struct exec_fds *f, mc_err *err)
{
	if (!ps)
		return mc_errorf(err, EINVAL, "exec: no process");
	const struct ct_cgroup *cg = &st->cg;
	for (int k = -1; st->has_cg && k < CT_CG_NCTRL + (int)cg->nextra; k++) {
		const char *dir = k < 0		    ? cg->unified
				  : k < CT_CG_NCTRL ? cg->path[k]
						    : cg->extra[k - CT_CG_NCTRL].path;
		if (!dir)
			continue;
		_cleanup_free_ char *p = NULL;
		if (asprintf(&p, "%s/cgroup.procs", dir) < 0)
			return mc_errorf(err, ENOMEM, "exec");
		int fd = open(p, O_WRONLY | O_CLOEXEC);
		if (fd >= 0)
			f->procs[f->nprocs++] = fd;
	}
	if (ps->process.terminal) {
		if (!o->console)
			return mc_errorf(err, 0, "exec: a terminal needs --console-socket");
		f->console = ct_console_connect(o->console, err);
		if (f->console < 0)
			return -1;
	}
	if (o->pid_file) {
		f->pidfile = open(o->pid_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (f->pidfile < 0)
			return mc_errorf(err, errno, "pid file `%s`", o->pid_file);
	}
	if (pipe2(f->errp, O_CLOEXEC) < 0 || pipe2(f->gop, O_CLOEXEC) < 0 ||
	    pipe2(f->pidp, O_CLOEXEC) < 0)
		return mc_errorf(err, errno, "pipe");
	return 0;
}

static void warn_stderr(void *arg, const char *msg)
{
	(void)arg;
	fprintf(stderr, "minict: exec: warning: %s\n", msg);
}

__attribute__((noreturn)) static void child_fail(int fd, mc_err *e, int code)
{
	mc_write_all(fd, mc_error_text(*e), strlen(mc_error_text(*e)));
	_exit(code);
}

/* The new process: waits until minict has put it into the cgroups, then runs the same
 * sequence as the container's init (process.c). */
__attribute__((noreturn)) static void exec_child(const struct exec_opts *o, struct ct_spec *ps,
						 struct exec_fds *f)
{
	mc_err e = NULL;
	const struct ct_process *p = &ps->process;
	char go;
	if (read(f->gop[0], &go, 1) != 1)
		_exit(127);
	if (!o->detach)
		prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (f->console >= 0 && ct_terminal_setup(f->console, p->console_h, p->console_w, &e) < 0)
		child_fail(f->errp[1], &e, 127);
	if (f->console >= 0)
		close(f->console);
	_cleanup_free_ char *exe = NULL;
	if (ct_process_prepare(p, ps->has_seccomp ? &ps->seccomp : NULL, (int)o->preserve,
			       warn_stderr, NULL, &exe, &e) < 0)
		child_fail(f->errp[1], &e, 127);
	ct_process_exec(exe, p, &e);
	child_fail(f->errp[1], &e, 127);
}

/* minict itself never joins the container's namespaces: a helper child does and forks the
 * process, which minict adopts as a subreaper. The pid file and cgroup.procs stay reachable
 * in the host's mount namespace, and no long-lived process of ours ends up half inside the
 * container's pid namespace. Returns the new process's pid. */
static pid_t spawn_in_container(const struct exec_opts *o, const struct ct_state *st,
				struct ct_spec *ps, struct exec_fds *f, mc_err *err)
{
	if (!o->detach && prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
		return mc_errorf(err, errno, "exec: become subreaper");
	pid_t helper = fork();
	if (helper < 0)
		return mc_errorf(err, errno, "fork");
	if (helper == 0) {
		mc_err e = NULL;
		if (join(st->pid, &e) < 0)
			child_fail(f->errp[1], &e, 1);
		pid_t pid = fork();
		if (pid < 0) {
			mc_errorf(&e, errno, "fork");
			child_fail(f->errp[1], &e, 1);
		}
		if (pid > 0) {
			mc_write_all(f->pidp[1], &pid, sizeof(pid));
			_exit(0);
		}
		exec_child(o, ps, f);
	}
	close(f->errp[1]);
	close(f->gop[0]);
	close(f->pidp[1]);
	f->errp[1] = f->gop[0] = f->pidp[1] = -1;
	if (f->console >= 0) {
		close(f->console);
		f->console = -1;
	}
	while (waitpid(helper, NULL, 0) < 0 && errno == EINTR)
		;
	pid_t pid = -1;
	if (mc_read_all(f->pidp[0], &pid, sizeof(pid)) != sizeof(pid) || pid <= 0) {
		char ebuf[4096];
		ssize_t n = mc_read_all(f->errp[0], ebuf, sizeof(ebuf) - 1);
		ebuf[n > 0 ? n : 0] = 0;
		return mc_errorf(err, 0, "exec: %s", n > 0 ? ebuf : "helper failed");
	}
	return pid;
}

/* Into the container's cgroups before it runs anything, then let it go and read its
 * answer: end of file at execve, or the failing step. */
static int release(pid_t pid, struct exec_fds *f, mc_err *err)
{
	char pb[24];
	int pl = snprintf(pb, sizeof(pb), "%d", pid);
	for (size_t i = 0; i < f->nprocs; i++)
		if (write(f->procs[i], pb, pl) != pl)
			return mc_errorf(err, errno, "exec: join cgroup");
	if (write(f->gop[1], "g", 1) != 1)
		return mc_errorf(err, errno, "exec: release process");
	char ebuf[4096];
	ssize_t n = mc_read_all(f->errp[0], ebuf, sizeof(ebuf) - 1);
	if (n > 0) {
		ebuf[n] = 0;
		waitpid(pid, NULL, 0);
		return mc_errorf(err, 0, "exec: %s", ebuf);
	}
	return 0;
}

int ct_verb_exec(struct ct_global *g, int argc, char **argv, mc_err *err)
{
	struct exec_opts o = {0};
	if (parse_opts(argc, argv, &o, err) < 0)
		return -1;
	struct ct_state st;
	if (ct_state_load(g->root, o.id, &st, err) < 0)
		return -1;
	int ret = -1;
	struct ct_spec *ps = NULL;
	struct exec_fds f = {
	    .console = -1, .pidfile = -1, .errp = {-1, -1}, .gop = {-1, -1}, .pidp = {-1, -1}};
	pid_t pid = -1;
	enum ct_status s = ct_state_status(g->root, &st);
	if (s != CT_RUNNING) {
		mc_errorf(err, 0, "container \"%s\" is %s: cannot exec", o.id, ct_status_name(s));
		goto out;
	}
	if ((o.process ? load_process(o.process, &ps, err)
		       : process_from_opts(&o, st.bundle, &ps, err)) < 0 ||
	    container_seccomp(st.bundle, ps, err) < 0 || open_host_side(&o, &st, ps, &f, err) < 0)
		goto out;
	pid = spawn_in_container(&o, &st, ps, &f, err);
	if (pid < 0)
		goto out;
	if (release(pid, &f, err) < 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		goto out;
	}
	if (f.pidfile >= 0) {
		char b[24];
		int l = snprintf(b, sizeof(b), "%d", pid);
		if (mc_write_all(f.pidfile, b, l) < 0) {
			mc_errorf(err, errno, "pid file `%s`", o.pid_file);
			goto out;
		}
	}
	close_fds(&f);
	if (o.detach) {
		ret = 0;
		goto out;
	}
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	ret = ct_exit_code(status);
out:
	close_fds(&f);
	ct_spec_free(ps);
	ct_state_free(&st);
	return ret;
}
