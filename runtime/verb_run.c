/* minict run: OCI form `run [--bundle DIR] [--detach] [--pid-file F] [--console-socket S] ID`
 * and the short form `run --rootfs DIR [--cpus N] [--memory SIZE] [--net bridge=B,ip=CIDR]
 * [-t] [--id ID] -- cmd args...`, which builds the spec in memory from the default one. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "cli.h"
#include "container.h"
#include <json-c/json.h>
#include "network.h"
#include "security.h"
#include "sync.h"
#include "terminal.h"
#include "util.h"

int ct_parse_create_opts(int argc, char **argv, struct ct_create_opts *o, bool *detach,
			 const char **bundle, mc_err *err);

static volatile pid_t fwd_pid;
static void forward(int sig)
{
	if (fwd_pid > 0)
		kill(fwd_pid, sig);
}

/* create in the foreground, let it exec, wait, clean up; returns the exit code */
static int run_foreground(struct ct_spec *spec, struct ct_create_opts *o, bool tty, mc_err *err)
{
	int sp[2] = {-1, -1};
	if (tty) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
			return mc_errorf(err, errno, "socketpair");
		o->console_sock_fd = sp[1];
	}
	struct ct_state st;
	int sync_fd = -1;
	int r = ct_container_create(spec, o, &st, &sync_fd, err);
	if (sp[1] >= 0)
		close(sp[1]);
	if (r < 0) {
		if (sp[0] >= 0)
			close(sp[0]);
		return -1;
	}
	int master = -1;
	if (tty) {
		master = ct_recv_fd(sp[0], err);
		close(sp[0]);
		if (master < 0) {
			mc_error_free(err);
			mc_errorf(err, 0, "run: no terminal from the container");
			mc_err e2 = NULL;
			ct_container_destroy(o->root, &st, &e2);
			mc_error_free(&e2);
			ct_state_free(&st);
			close(sync_fd);
			return -1;
		}
	}
	fwd_pid = st.pid;
	struct sigaction sa = {.sa_handler = forward};
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	ct_sync_send(sync_fd, CT_SYNC_CONTINUE, 0, NULL);
	/* the socket closes at execve; a failure before it (a startContainer hook, execve
	 * itself) comes back as an error */
	struct ct_sync_msg m;
	mc_err e2 = NULL;
	bool late_error = false;
	if (ct_sync_recv(sync_fd, &m, &e2) == 0 && m.type == CT_SYNC_ERROR) {
		mc_errorf(err, 0, "%s", m.text);
		late_error = true;
	}
	mc_error_free(&e2);
	close(sync_fd);
	if (!late_error)
		ct_container_poststart(spec, &st);
	if (master >= 0) {
		int pidfd = syscall(SYS_pidfd_open, st.pid, 0);
		ct_terminal_proxy(master, pidfd);
		close(master);
		if (pidfd >= 0)
			close(pidfd);
	}
	int status = 0;
	while (waitpid(st.pid, &status, 0) < 0 && errno == EINTR)
		;
	fwd_pid = 0;
	st.pid = 0; /* reaped */
	if (ct_container_destroy(o->root, &st, late_error ? &e2 : err) < 0 && !late_error) {
		ct_state_free(&st);
		return -1;
	}
	mc_error_free(&e2);
	ct_state_free(&st);
	return late_error ? -1 : ct_exit_code(status);
}

static int set_path(json_object *root, const char *obj, const char *key, json_object *v)
{
	json_object *o;
	if (!json_object_object_get_ex(root, obj, &o)) {
		o = json_object_new_object();
		json_object_object_add(root, obj, o);
	}
	return json_object_object_add(o, key, v);
}

static int run_short(struct ct_global *g, int argc, char **argv, mc_err *err)
{
	static const struct option opts[] = {{"rootfs", required_argument, 0, 'r'},
					     {"cpus", required_argument, 0, 'c'},
					     {"memory", required_argument, 0, 'm'},
					     {"net", required_argument, 0, 'n'},
					     {"tty", no_argument, 0, 't'},
					     {"id", required_argument, 0, 'i'},
					     {"hostname", required_argument, 0, 'H'},
					     {"pids", required_argument, 0, 'p'},
					     {0, 0, 0, 0}};
	const char *rootfs = NULL, *net = NULL, *id_arg = NULL, *hostname = NULL;
	double cpus = 0;
	uint64_t mem = 0, pids = 0;
	bool tty = false;
	int c;
	optind = 0;
	while ((c = getopt_long(argc, argv, "+t", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			rootfs = optarg;
			break;
		case 'c': {
			char *end;
			cpus = strtod(optarg, &end);
			if (*end || !(cpus >= 0.01 && cpus <= 1024))
				return mc_errorf(
				    err, 0, "--cpus: \"%s\" is not a number in 0.01..1024", optarg);
			break;
		}
		case 'm':
			if (mc_parse_size(optarg, &mem, err) < 0)
				return mc_wrap(err, "--memory");
			if (mem < (1 << 20))
				return mc_errorf(err, 0, "--memory: at least 1M");
			break;
		case 'p':
			if (mc_parse_uint(optarg, 1, 1 << 22, &pids, "--pids", err) < 0)
				return -1;
			break;
		case 'n':
			net = optarg;
			break;
		case 't':
			tty = true;
			break;
		case 'i':
			id_arg = optarg;
			break;
		case 'H':
			hostname = optarg;
			break;
		default:
			return mc_errorf(err, 0, "run: bad option (see minict --help)");
		}
	}
	if (optind >= argc)
		return mc_errorf(err, 0, "run: no command given (minict run --rootfs DIR -- cmd)");
	_cleanup_free_ char *abs = realpath(rootfs, NULL);
	if (!abs)
		return mc_errorf(err, errno, "--rootfs `%s`", rootfs);
	char idbuf[64];
	snprintf(idbuf, sizeof(idbuf), "run-%d", getpid());
	const char *id = id_arg ? id_arg : idbuf;
	if (ct_check_id(id, err) < 0)
		return -1;
	_cleanup_free_ char *bridge = NULL, *cidr = NULL;
	if (net && ct_net_parse(net, &bridge, &cidr, err) < 0)
		return -1;

	json_object *root = ct_spec_default_json();
	if (!root)
		return mc_errorf(err, 0, "run: default spec");
	set_path(root, "root", "path", json_object_new_string(abs));
	json_object *args = json_object_new_array();
	for (int i = optind; i < argc; i++)
		json_object_array_add(args, json_object_new_string(argv[i]));
	set_path(root, "process", "args", args);
	set_path(root, "process", "terminal", json_object_new_boolean(tty));
	if (hostname)
		json_object_object_add(root, "hostname", json_object_new_string(hostname));
	json_object *linux_o, *res;
	json_object_object_get_ex(root, "linux", &linux_o);
	json_object_object_get_ex(linux_o, "resources", &res);
	if (mem) {
		json_object *m = json_object_new_object();
		json_object_object_add(m, "limit", json_object_new_int64(mem));
		json_object_object_add(res, "memory", m);
	}
	if (cpus > 0) {
		json_object *cp = json_object_new_object();
		json_object_object_add(cp, "quota",
				       json_object_new_int64((int64_t)(cpus * 100000)));
		json_object_object_add(cp, "period", json_object_new_int64(100000));
		json_object_object_add(res, "cpu", cp);
	}
	if (pids) {
		json_object *p = json_object_new_object();
		json_object_object_add(p, "limit", json_object_new_int64(pids));
		json_object_object_add(res, "pids", p);
	}
	/* unprivileged ICMP echo sockets, as podman sets: ping works without CAP_NET_RAW */
	json_object *sysctl = json_object_new_object();
	json_object_object_add(sysctl, "net.ipv4.ping_group_range",
			       json_object_new_string("0 2147483647"));
	json_object_object_add(linux_o, "sysctl", sysctl);
	if (bridge) {
		set_path(root, "minict", "netBridge", json_object_new_string(bridge));
		set_path(root, "minict", "netAddress", json_object_new_string(cidr));
	}
	const char *txt = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN);
	struct ct_spec *spec = NULL;
	int r = ct_spec_parse(txt, strlen(txt), &spec, err);
	json_object_put(root);
	if (r < 0)
		return mc_wrap(err, "run");
	if (ct_spec_resolve_root(spec, NULL, err) < 0) {
		ct_spec_free(spec);
		return -1;
	}
	/* the short form is minict's convenience mode: it gets the built-in seccomp profile
	 * (an OCI bundle gets only what its config asks for) */
	if (ct_seccomp_default(&spec->process, &spec->seccomp, err) < 0) {
		ct_spec_free(spec);
		return mc_wrap(err, "run: default seccomp profile");
	}
	spec->has_seccomp = true;
	struct ct_create_opts o = {
	    .root = g->root, .id = id, .foreground = true, .console_sock_fd = -1};
	r = run_foreground(spec, &o, tty, err);
	ct_spec_free(spec);
	return r;
}

int ct_verb_run(struct ct_global *g, int argc, char **argv, mc_err *err)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "--rootfs") || !strncmp(argv[i], "--rootfs=", 9))
			return run_short(g, argc, argv, err);
	struct ct_create_opts o = {.root = g->root, .console_sock_fd = -1};
	const char *bundle = ".";
	bool detach = false;
	if (ct_parse_create_opts(argc, argv, &o, &detach, &bundle, err) < 0)
		return -1;
	_cleanup_free_ char *abs = realpath(bundle, NULL);
	if (!abs)
		return mc_errorf(err, errno, "bundle `%s`", bundle);
	o.bundle = abs;
	struct ct_spec *spec = NULL;
	if (ct_spec_load(abs, &spec, err) < 0)
		return -1;
	int r;
	if (detach) {
		struct ct_state st;
		r = ct_container_create(spec, &o, &st, NULL, err);
		if (r == 0) {
			r = ct_container_start(g->root, &st, err);
			ct_state_free(&st);
		}
	} else {
		o.foreground = true;
		r = run_foreground(spec, &o, false, err);
	}
	ct_spec_free(spec);
	return r;
}
