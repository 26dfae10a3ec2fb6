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

int ct_verb_exec(struct ct_global *g, int argc, char **argv, mc_err *err)
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
	const char *process = NULL, *pid_file = NULL, *console = NULL, *cwd = NULL, *user = NULL;
	bool detach = false, tty = false;
	uint64_t preserve = 0;
	char *envs[256];
	size_t nenv = 0;
	int c;
	while ((c = getopt_long(argc, argv, "+p:dte:w:u:", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			process = optarg;
			break;
		case 'd':
			detach = true;
			break;
		case 'P':
			pid_file = optarg;
			break;
		case 'c':
			console = optarg;
			break;
		case 't':
			tty = true;
			break;
		case 'e':
			if (nenv >= 255)
				return mc_errorf(err, 0, "exec: too many --env");
			envs[nenv++] = optarg;
			break;
		case 'w':
			cwd = optarg;
			break;
		case 'u':
			user = optarg;
			break;
		case 'F':
			if (mc_parse_uint(optarg, 0, 1000, &preserve, "--preserve-fds", err) < 0)
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
	const char *id = argv[optind++];
	struct ct_state st;
	if (ct_state_load(g->root, id, &st, err) < 0)
		return -1;
	int ret = -1;
	struct ct_spec *cspec = NULL, *pspec = NULL;
	enum ct_status s = ct_state_status(g->root, &st);
	if (s != CT_RUNNING) {
		mc_errorf(err, 0, "container \"%s\" is %s: cannot exec", id, ct_status_name(s));
		goto out;
	}
	/* the container's own config gives the defaults (caps, seccomp, env) */
	if (st.bundle && ct_spec_load(st.bundle, &cspec, err) < 0)
		goto out;
	if (process) {
		if (load_process(process, &pspec, err) < 0)
			goto out;
	} else {
		if (optind >= argc) {
			mc_errorf(err, 0, "exec: no command given");
			goto out;
		}
		json_object *root = cspec ? NULL : ct_spec_default_json();
		pspec = calloc(1, sizeof(*pspec));
		if (root) {
			if (ct_spec_from_json(root, pspec, err) < 0) {
				json_object_put(root);
				goto out;
			}
			json_object_put(root);
		} else {
			/* copy the container's process by re-loading its config */
			ct_spec_free(pspec);
			pspec = NULL;
			if (ct_spec_load(st.bundle, &pspec, err) < 0)
				goto out;
		}
		ct_strv_free(pspec->process.args);
		pspec->process.args = calloc(argc - optind + 1, sizeof(char *));
		for (int i = optind; i < argc; i++)
			pspec->process.args[i - optind] = strdup(argv[i]);
		pspec->process.terminal = tty;
		if (nenv) {
			size_t n = 0;
			for (char **e = pspec->process.env; e && *e; e++)
				n++;
			char **ne = realloc(pspec->process.env, (n + nenv + 1) * sizeof(char *));
			for (size_t i = 0; ne && i < nenv; i++)
				ne[n + i] = strdup(envs[i]);
			if (ne)
				ne[n + nenv] = NULL;
			pspec->process.env = ne;
		}
		if (cwd) {
			free(pspec->process.cwd);
			pspec->process.cwd = strdup(cwd);
		}
		if (user) {
			unsigned u, gg = 0;
			int k = sscanf(user, "%u:%u", &u, &gg);
			if (k < 1) {
				mc_errorf(err, 0, "exec: --user \"%s\": want UID[:GID]", user);
				goto out;
			}
			pspec->process.uid = u;
			pspec->process.gid = gg;
		}
	}
	/* the container's seccomp applies to every process in it */
	if (cspec && cspec->has_seccomp) {
		pspec->seccomp = cspec->seccomp;
		pspec->has_seccomp = true;
		memset(&cspec->seccomp, 0, sizeof(cspec->seccomp));
		cspec->has_seccomp = false;
	}
	int console_fd = -1;
	if (pspec->process.terminal) {
		if (!console) {
			mc_errorf(err, 0, "exec: a terminal needs --console-socket");
			goto out;
		}
		console_fd = ct_console_connect(console, err);
		if (console_fd < 0)
			goto out;
	}
	/* minict itself never joins the container's namespaces: a helper child does and forks
	 * the process, which minict adopts as a subreaper. The pid file and cgroup.procs stay
	 * reachable in the host's mount namespace, and no long-lived process of ours ends up
	 * half inside the container's pid namespace. */
	int procs[CT_CG_NCTRL + 1];
	size_t nprocs = 0;
	for (int k = -1; st.has_cg && k < CT_CG_NCTRL; k++) {
		const char *dir = k < 0 ? st.cg.unified : st.cg.path[k];
		if (!dir)
			continue;
		char p[4200];
		snprintf(p, sizeof(p), "%s/cgroup.procs", dir);
		int fd = open(p, O_WRONLY | O_CLOEXEC);
		if (fd >= 0)
			procs[nprocs++] = fd;
	}
	int pidfile_fd = -1;
	if (pid_file) {
		pidfile_fd = open(pid_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (pidfile_fd < 0) {
			mc_errorf(err, errno, "pid file `%s`", pid_file);
			goto out;
		}
	}
	int errpipe[2], gopipe[2], pidpipe[2];
	if (pipe2(errpipe, O_CLOEXEC) < 0 || pipe2(gopipe, O_CLOEXEC) < 0 ||
	    pipe2(pidpipe, O_CLOEXEC) < 0) {
		mc_errorf(err, errno, "pipe");
		goto out;
	}
	if (!detach && prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) {
		mc_errorf(err, errno, "exec: become subreaper");
		goto out;
	}
	pid_t helper = fork();
	if (helper < 0) {
		mc_errorf(err, errno, "fork");
		goto out;
	}
	if (helper == 0) {
		mc_err e = NULL;
		close(errpipe[0]);
		close(gopipe[1]);
		close(pidpipe[0]);
		if (join(st.pid, &e) < 0) {
			mc_write_all(errpipe[1], mc_error_text(e), strlen(mc_error_text(e)));
			_exit(1);
		}
		pid_t pid = fork();
		if (pid < 0) {
			mc_errorf(&e, errno, "fork");
			mc_write_all(errpipe[1], mc_error_text(e), strlen(mc_error_text(e)));
			_exit(1);
		}
		if (pid > 0) {
			mc_write_all(pidpipe[1], &pid, sizeof(pid));
			_exit(0);
		}
		const struct ct_process *p = &pspec->process;
		close(pidpipe[1]);
		char go;
		if (read(gopipe[0], &go, 1) != 1)
			_exit(127);
		close(gopipe[0]);
		if (!detach)
			prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (console_fd >= 0 &&
		    ct_terminal_setup(console_fd, p->console_h, p->console_w, &e) < 0)
			goto child_fail;
		if (chdir(p->cwd) < 0) {
			mc_errorf(&e, errno, "chdir `%s`", p->cwd);
			goto child_fail;
		}
		if (ct_rlimits_apply(p, &e) < 0 || ct_caps_bounding(p, &e) < 0)
			goto child_fail;
		if (p->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
			mc_errorf(&e, errno, "no_new_privileges");
			goto child_fail;
		}
		if (!p->no_new_privileges && ct_seccomp_load(pspec, &e) < 0)
			goto child_fail;
		if (ct_set_user(p, &e) < 0 || ct_caps_apply(p, &e) < 0)
			goto child_fail;
		if (p->no_new_privileges && ct_seccomp_load(pspec, &e) < 0)
			goto child_fail;
		syscall(SYS_close_range, 3 + preserve, ~0U, 4);
		execvpe(p->args[0], p->args, p->env ? p->env : (char *[]){NULL});
		mc_errorf(&e, errno, "exec `%s`", p->args[0]);
	child_fail:
		mc_write_all(errpipe[1], mc_error_text(e), strlen(mc_error_text(e)));
		_exit(127);
	}
	close(errpipe[1]);
	close(gopipe[0]);
	close(pidpipe[1]);
	if (console_fd >= 0)
		close(console_fd);
	while (waitpid(helper, NULL, 0) < 0 && errno == EINTR)
		;
	pid_t pid = -1;
	char ebuf[4096];
	if (mc_read_all(pidpipe[0], &pid, sizeof(pid)) != sizeof(pid) || pid <= 0) {
		close(pidpipe[0]);
		close(gopipe[1]);
		ssize_t n = mc_read_all(errpipe[0], ebuf, sizeof(ebuf) - 1);
		close(errpipe[0]);
		ebuf[n > 0 ? n : 0] = 0;
		mc_errorf(err, 0, "exec: %s", n > 0 ? ebuf : "helper failed");
		goto out;
	}
	close(pidpipe[0]);
	/* join the container's cgroups before the process runs anything */
	char pb[24];
	int pl = snprintf(pb, sizeof(pb), "%d", pid);
	for (size_t i = 0; i < nprocs; i++) {
		if (write(procs[i], pb, pl) != pl && !*err)
			mc_errorf(err, errno, "exec: join cgroup");
		close(procs[i]);
	}
	nprocs = 0;
	if (*err) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		close(errpipe[0]);
		close(gopipe[1]);
		goto out;
	}
	if (write(gopipe[1], "g", 1) != 1) {
		mc_errorf(err, errno, "exec: release process");
		close(gopipe[1]);
		close(errpipe[0]);
		goto out;
	}
	close(gopipe[1]);
	ssize_t n = mc_read_all(errpipe[0], ebuf, sizeof(ebuf) - 1);
	close(errpipe[0]);
	if (n > 0) {
		ebuf[n] = 0;
		waitpid(pid, NULL, 0);
		mc_errorf(err, 0, "exec: %s", ebuf);
		goto out;
	}
	if (pidfile_fd >= 0) {
		char b[24];
		int l = snprintf(b, sizeof(b), "%d", pid);
		if (mc_write_all(pidfile_fd, b, l) < 0) {
			mc_errorf(err, errno, "pid file `%s`", pid_file);
			close(pidfile_fd);
			goto out;
		}
		close(pidfile_fd);
	}
	if (detach) {
		ret = 0;
		goto out;
	}
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	ret = ct_exit_code(status);
out:
	ct_spec_free(cspec);
	ct_spec_free(pspec);
	ct_state_free(&st);
	return ret;
}
