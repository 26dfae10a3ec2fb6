/* The lab VM's life: QEMU TCG with an emulated AMD CPU (SVM+NPT), two virtio-fs daemons, and
 * the state files that let start/stop/status/run find them again. See docs/lab.md. */
#include "lab.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "proto.h"
#include "util.h"

#define AGENT_PORT	7000
#define BOOT_TIMEOUT_MS 180000

struct lab_image {
	char kernel[4096], initrd[4096], kver[256], moddir[4096];
};

static int read_kv_file(const char *path, const char *key, char *out, size_t n)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	char line[8192];
	size_t klen = strlen(key);
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, klen) != 0 || line[klen] != '=')
			continue;
		line[strcspn(line, "\n")] = '\0';
		if (strlen(line + klen + 1) >= n)
			return -1;
		strcpy(out, line + klen + 1);
		return 0;
	}
	return -1;
}

static int check_magic(const char *path, off_t off, const char *magic, const char *what,
		       mc_err *err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return mc_errorf(err, errno, "lab image is broken: open %s `%s`", what, path);
	char buf[8] = {0};
	size_t n = strlen(magic);
	if (pread(fd, buf, n, off) != (ssize_t)n || memcmp(buf, magic, n) != 0)
		return mc_errorf(
		    err, 0,
		    "lab image is broken: %s `%s` has no %s magic (rebuild it with make lab)", what,
		    path, what);
	return 0;
}

static int load_image(const struct lab_paths *p, struct lab_image *img, mc_err *err)
{
	char env[4300];
	const char *override = getenv("MINILAB_ENV");
	if (override && *override)
		snprintf(env, sizeof(env), "%s", override);
	else
		snprintf(env, sizeof(env), "%s/build/lab.env", p->checkout);
	if (access(env, R_OK) < 0)
		return mc_errorf(err, 0, "lab image not built (%s is missing): run make lab", env);
	if (read_kv_file(env, "LAB_KERNEL", img->kernel, sizeof(img->kernel)) < 0 ||
	    read_kv_file(env, "LAB_INITRD", img->initrd, sizeof(img->initrd)) < 0 ||
	    read_kv_file(env, "LAB_KVER", img->kver, sizeof(img->kver)) < 0 ||
	    read_kv_file(env, "LAB_MODDIR", img->moddir, sizeof(img->moddir)) < 0)
		return mc_errorf(err, 0, "lab image description `%s` is incomplete: run make lab",
				 env);
	if (check_magic(img->kernel, 0x202, "HdrS", "kernel", err) < 0 ||
	    check_magic(img->initrd, 0, "070701", "initramfs", err) < 0)
		return -1;
	return 0;
}

/* An executable from an environment override, else the first candidate that exists. */
static int find_tool(const char *envvar, const char *const *candidates, char *out, size_t n,
		     const char *hint, mc_err *err)
{
	const char *v = getenv(envvar);
	if (v && *v) {
		if (access(v, X_OK) < 0)
			return mc_errorf(err, errno, "%s=`%s` is not executable", envvar, v);
		snprintf(out, n, "%s", v);
		return 0;
	}
	for (const char *const *c = candidates; *c; c++) {
		if (access(*c, X_OK) == 0) {
			snprintf(out, n, "%s", *c);
			return 0;
		}
	}
	return mc_errorf(err, 0, "%s not found (%s)", candidates[0], hint);
}

/* Is pid alive and is its command line mentioning marker (guards against PID reuse)? */
static int pid_is_ours(pid_t pid, const char *marker)
{
	if (pid <= 0 || kill(pid, 0) < 0)
		return 0;
	char buf[8192];
	ssize_t n = mc_read_proc(pid, "cmdline", buf, sizeof(buf));
	if (n <= 0)
		return 0;
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	/* a zombie has an empty cmdline and fails above */
	return strstr(buf, marker) != NULL;
}

static void state_file(const struct lab_paths *p, char *out, size_t n)
{
	snprintf(out, n, "%s/state", p->state);
}

int lab_running(const struct lab_paths *p, struct lab_state *st, mc_err *err)
{
	char path[4400], v[64];
	memset(st, 0, sizeof(*st));
	state_file(p, path, sizeof(path));
	if (access(path, F_OK) < 0)
		return 0;
	if (read_kv_file(path, "qemu", v, sizeof(v)) == 0)
		st->qemu = atoi(v);
	if (read_kv_file(path, "vfs_root", v, sizeof(v)) == 0)
		st->vfs_root = atoi(v);
	if (read_kv_file(path, "vfs_checkout", v, sizeof(v)) == 0)
		st->vfs_checkout = atoi(v);
	if (read_kv_file(path, "port", v, sizeof(v)) == 0)
		st->port = (uint16_t)atoi(v);
	if (!pid_is_ours(st->qemu, p->sockdir))
		return 0;
	/* without a readable token the lab can still be stopped, not used (lab_connect says so) */
	char tok[4400];
	snprintf(tok, sizeof(tok), "%s/token", p->state);
	_cleanup_free_ char *t = NULL;
	size_t len = 0;
	mc_err terr = NULL;
	if (mc_read_file(tok, 256, &t, &len, &terr) == 0 && len >= LAB_TOKEN_LEN) {
		memcpy(st->token, t, LAB_TOKEN_LEN);
		st->token[LAB_TOKEN_LEN] = '\0';
	}
	mc_error_free(&terr);
	(void)err;
	return 1;
}

/* Start argv in its own session with its output in log. tied: it dies with this process (a
 * one-shot lab must not outlive the `minilab run` that started it). */
static pid_t spawn(char *const argv[], const char *log, int tied, mc_err *err)
{
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0)
		return mc_errorf(err, errno, "fork for %s", argv[0]);
	if (pid == 0) {
		setsid();
		if (tied && (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent))
			_exit(127);
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		if (nul >= 0)
			dup2(nul, 0);
		execv(argv[0], argv);
		dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	return pid;
}

static int free_port(uint16_t *port, mc_err *err)
{
	_cleanup_close_ int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(s, (struct sockaddr *)&sa, &sl) < 0)
		return mc_errorf(err, errno, "find a free port on 127.0.0.1");
	*port = ntohs(sa.sin_port);
	return 0;
}

static int make_token(const struct lab_paths *p, char *token, mc_err *err)
{
	unsigned char raw[LAB_TOKEN_LEN / 2];
	_cleanup_close_ int r = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (r < 0 || mc_read_all(r, raw, sizeof(raw)) != (ssize_t)sizeof(raw))
		return mc_errorf(err, errno, "read /dev/urandom");
	for (size_t i = 0; i < sizeof(raw); i++)
		sprintf(token + 2 * i, "%02x", raw[i]);
	char path[4400];
	snprintf(path, sizeof(path), "%s/token", p->state);
	unlink(path);
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || mc_write_all(fd, token, LAB_TOKEN_LEN) < 0)
		return mc_errorf(err, errno, "write `%s`", path);
	return 0;
}

static int wait_for_file(const char *path, pid_t *owner, int ms)
{
	for (int i = 0; i < ms / 10; i++) {
		if (access(path, F_OK) == 0)
			return 0;
		if (waitpid(*owner, NULL, WNOHANG) == *owner) {
			*owner = 0; /* reaped: its PID is no longer ours to signal */
			return -1;
		}
		usleep(10 * 1000);
	}
	return -1;
}

/* The most telling line of the console log: our init's failure, a panic, else the last line. */
static void console_hint(const char *log, char *out, size_t n)
{
	_cleanup_fclose_ FILE *f = fopen(log, "re");
	char line[1024], last[1024] = "";
	out[0] = '\0';
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = '\0';
		char *m = strstr(line, "MINILAB-INIT-FAILED: ");
		if (m) {
			snprintf(out, n, "%s", m + strlen("MINILAB-INIT-FAILED: "));
			return;
		}
		if (strstr(line, "Kernel panic") && !out[0])
			snprintf(out, n, "%s", line);
		if (line[0])
			snprintf(last, sizeof(last), "%s", line);
	}
	if (!out[0])
		snprintf(out, n, "%s", last[0] ? last : "no console output");
}

static void kill_and_reap(pid_t *pid)
{
	if (*pid <= 0)
		return;
	kill(*pid, SIGKILL);
	waitpid(*pid, NULL, 0);
	*pid = 0;
}

static void remove_state_files(const struct lab_paths *p)
{
	static const char *const names[] = {"state", "token"};
	char path[4400];
	for (size_t i = 0; i < MC_ARRAY_SIZE(names); i++) {
		snprintf(path, sizeof(path), "%s/%s", p->state, names[i]);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/root.sock", p->sockdir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/checkout.sock", p->sockdir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/monitor.sock", p->sockdir);
	unlink(path);
	rmdir(p->sockdir);
}

/* A start that failed: end what it started (our children) and its files. */
static int start_failed(const struct lab_paths *p, struct lab_state *st)
{
	kill_and_reap(&st->qemu);
	kill_and_reap(&st->vfs_root);
	kill_and_reap(&st->vfs_checkout);
	remove_state_files(p);
	return -1;
}

/* SIGINT/SIGTERM/SIGHUP arrived while they were blocked for the start? (consumes it) */
static int interrupted(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	struct timespec zero = {0, 0};
	return sigtimedwait(&set, NULL, &zero) > 0;
}

static int ping(const struct lab_state *st)
{
	mc_err err = NULL;
	int fd = lab_connect(st, &err);
	if (fd < 0) {
		mc_error_free(&err);
		return -1;
	}
	struct timeval tv = {2, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	struct lab_frame f;
	int ok = lab_send(fd, LAB_PING, NULL, 0) == 0 && lab_recv(fd, &f, &err) == 1 &&
		 f.type == LAB_PONG;
	if (ok)
		lab_frame_free(&f);
	mc_error_free(&err);
	close(fd);
	return ok ? 0 : -1;
}

static void stop_pid(pid_t pid, const char *marker);

static int start_locked(const struct lab_paths *p, unsigned flags, mc_err *err)
{
	uint64_t t0 = mc_now_ns();
	int quiet = flags & LAB_START_QUIET, tied = (flags & LAB_START_TIED) != 0;
	struct lab_state st;
	int r = lab_running(p, &st, err);
	if (r < 0)
		return -1;
	if (r == 1) {
		if (!quiet)
			fprintf(stderr, "minilab: already running (pid %d, port %u)\n", st.qemu,
				st.port);
		return 0;
	}

	/* A lab that died (its kernel panicked, QEMU exited) leaves its virtiofsd processes
	 * behind for a moment, holding their pid files: a start right after it failed with
	 * "Cannot lock pid file". Stop them first (only if they are still the lab's). */
	stop_pid(st.vfs_root, p->sockdir);
	stop_pid(st.vfs_checkout, p->sockdir);

	struct lab_image img;
	if (load_image(p, &img, err) < 0)
		return -1;
	static const char *const qemus[] = {"/usr/bin/qemu-system-x86_64", NULL};
	static const char *const vfsds[] = {"/usr/lib/qemu/virtiofsd", "/usr/libexec/virtiofsd",
					    NULL};
	char qemu[4096], vfsd[4096];
	if (find_tool("MINILAB_QEMU", qemus, qemu, sizeof(qemu),
		      "apt-get install qemu-system-x86, or make deps", err) < 0 ||
	    find_tool("MINILAB_VIRTIOFSD", vfsds, vfsd, sizeof(vfsd),
		      "it ships in Debian 12's qemu-system-common", err) < 0)
		return -1;

	memset(&st, 0, sizeof(st));
	if (make_token(p, st.token, err) < 0 || free_port(&st.port, err) < 0)
		return -1;
	const char *mem = getenv("MINILAB_MEM") ? getenv("MINILAB_MEM") : "4096";
	const char *cpus = getenv("MINILAB_CPUS") ? getenv("MINILAB_CPUS") : "2";
	uint64_t memv, cpuv;
	if (mc_parse_uint(mem, 512, 1 << 20, &memv, "MINILAB_MEM (MiB)", err) < 0 ||
	    mc_parse_uint(cpus, 1, 64, &cpuv, "MINILAB_CPUS", err) < 0)
		return -1;

	char sock_root[300], sock_co[300], log_root[4400], log_co[4400], log_qemu[4400],
	    console[4400];
	snprintf(sock_root, sizeof(sock_root), "%s/root.sock", p->sockdir);
	snprintf(sock_co, sizeof(sock_co), "%s/checkout.sock", p->sockdir);
	snprintf(log_root, sizeof(log_root), "%s/virtiofsd-root.log", p->state);
	snprintf(log_co, sizeof(log_co), "%s/virtiofsd-checkout.log", p->state);
	snprintf(log_qemu, sizeof(log_qemu), "%s/qemu.log", p->state);
	snprintf(console, sizeof(console), "%s/console.log", p->state);
	unlink(sock_root);
	unlink(sock_co);
	unlink(console);

	char a_sock_root[320], a_sock_co[320], a_src_co[4200];
	snprintf(a_sock_root, sizeof(a_sock_root), "--socket-path=%s", sock_root);
	snprintf(a_sock_co, sizeof(a_sock_co), "--socket-path=%s", sock_co);
	snprintf(a_src_co, sizeof(a_src_co), "source=%s", p->checkout);
	/* sandbox=chroot: the namespace sandbox can't pivot_root away from / itself */
	char *vfs_root_argv[] = {
	    vfsd,	  a_sock_root,	       "-o", "source=/", "-o", "sandbox=chroot", "-o",
	    "cache=auto", "--rlimit-nofile=0", NULL};
	char *vfs_co_argv[] = {
	    vfsd,	  a_sock_co,	       "-o", a_src_co, "-o", "sandbox=chroot", "-o",
	    "cache=auto", "--rlimit-nofile=0", NULL};
	st.vfs_root = spawn(vfs_root_argv, log_root, tied, err);
	if (st.vfs_root < 0)
		return start_failed(p, &st);
	st.vfs_checkout = spawn(vfs_co_argv, log_co, tied, err);
	if (st.vfs_checkout < 0)
		return start_failed(p, &st);
	if (wait_for_file(sock_root, &st.vfs_root, 5000) < 0 ||
	    wait_for_file(sock_co, &st.vfs_checkout, 5000) < 0) {
		mc_errorf(err, 0, "virtiofsd did not start (see %s and %s)", log_root, log_co);
		return start_failed(p, &st);
	}

	char a_smp[32], a_mem[32], a_memobj[96], a_fs0[320], a_fs1[320], a_net[128], a_serial[4500],
	    a_append[2048];
	snprintf(a_smp, sizeof(a_smp), "%llu", (unsigned long long)cpuv);
	snprintf(a_mem, sizeof(a_mem), "%lluM", (unsigned long long)memv);
	snprintf(a_memobj, sizeof(a_memobj), "memory-backend-memfd,id=mem,size=%lluM,share=on",
		 (unsigned long long)memv);
	snprintf(a_fs0, sizeof(a_fs0), "socket,id=fs0,path=%s", sock_root);
	snprintf(a_fs1, sizeof(a_fs1), "socket,id=fs1,path=%s", sock_co);
	snprintf(a_net, sizeof(a_net), "user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:%u-:%d",
		 st.port, AGENT_PORT);
	snprintf(a_serial, sizeof(a_serial), "file:%s", console);
	/* QEMU's human monitor, for looking inside a lab that stopped answering (lab_dump_cpus) */
	char a_monitor[320];
	snprintf(a_monitor, sizeof(a_monitor), "unix:%s/monitor.sock,server=on,wait=off",
		 p->sockdir);
	int alen =
	    snprintf(a_append, sizeof(a_append),
		     "console=ttyS0 loglevel=5 panic=-1 softlockup_panic=1 watchdog_thresh=30 "
		     "nokaslr "
		     "minilab.checkout=%s minilab.kver=%s "
		     "minilab.moddir=%s minilab.port=%d minilab.token=%s/token",
		     p->checkout, img.kver, img.moddir, AGENT_PORT, p->state);
	if (alen < 0 || (size_t)alen >= sizeof(a_append)) {
		mc_errorf(err, 0, "the lab's kernel command line is too long (checkout `%s`)",
			  p->checkout);
		return start_failed(p, &st);
	}
	char *qemu_argv[] = {qemu,
			     "-name",
			     "minilab",
			     "-nodefaults",
			     "-no-user-config",
			     "-accel",
			     "tcg,thread=multi",
			     "-cpu",
			     "EPYC,+svm,+npt",
			     "-M",
			     "q35",
			     "-smp",
			     a_smp,
			     "-m",
			     a_mem,
			     "-object",
			     a_memobj,
			     "-numa",
			     "node,memdev=mem",
			     "-chardev",
			     a_fs0,
			     "-device",
			     "vhost-user-fs-pci,chardev=fs0,tag=hostroot",
			     "-chardev",
			     a_fs1,
			     "-device",
			     "vhost-user-fs-pci,chardev=fs1,tag=checkout",
			     "-monitor",
			     a_monitor,
			     "-netdev",
			     a_net,
			     "-device",
			     "virtio-net-pci,netdev=n0,romfile=",
			     "-kernel",
			     img.kernel,
			     "-initrd",
			     img.initrd,
			     "-append",
			     a_append,
			     "-serial",
			     a_serial,
			     "-display",
			     "none",
			     "-no-reboot",
			     NULL};
	st.qemu = spawn(qemu_argv, log_qemu, tied, err);
	if (st.qemu < 0)
		return start_failed(p, &st);

	char sf[4400];
	state_file(p, sf, sizeof(sf));
	FILE *f = fopen(sf, "we");
	if (!f) {
		mc_errorf(err, errno, "write `%s`", sf);
		return start_failed(p, &st);
	}
	fprintf(f, "qemu=%d\nvfs_root=%d\nvfs_checkout=%d\nport=%u\n", st.qemu, st.vfs_root,
		st.vfs_checkout, st.port);
	fclose(f);

	/* Wait for the agent to answer, or QEMU to give up. */
	for (uint64_t waited = 0;; waited = (mc_now_ns() - t0) / 1000000) {
		int status;
		if (waitpid(st.qemu, &status, WNOHANG) == st.qemu) {
			st.qemu = 0;
			char hint[1024];
			console_hint(console, hint, sizeof(hint));
			mc_errorf(err, 0, "lab failed to start: %s (console: %s, qemu: %s)", hint,
				  console, log_qemu);
			return start_failed(p, &st);
		}
		if (interrupted()) {
			mc_errorf(err, 0, "interrupted while the lab was starting");
			return start_failed(p, &st);
		}
		if (ping(&st) == 0)
			break;
		if (waited > BOOT_TIMEOUT_MS) {
			char hint[1024];
			console_hint(console, hint, sizeof(hint));
			mc_errorf(err, 0, "lab did not answer within %d s: %s (console: %s)",
				  BOOT_TIMEOUT_MS / 1000, hint, console);
			return start_failed(p, &st);
		}
		usleep(100 * 1000);
	}
	if (!quiet)
		fprintf(stderr, "minilab: lab ready in %.1f s (pid %d, port %u)\n",
			(double)(mc_now_ns() - t0) / 1e9, st.qemu, st.port);
	return 0;
}

int lab_start(const struct lab_paths *p, unsigned flags, mc_err *err)
{
	if (mc_mkdir_p(p->state, 0755, err) < 0 || mc_mkdir_p(p->sockdir, 0700, err) < 0)
		return mc_wrap(err, "lab state");
	char lockpath[4400];
	snprintf(lockpath, sizeof(lockpath), "%s/lock", p->state);
	_cleanup_close_ int lock = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lock < 0 || flock(lock, LOCK_EX) < 0)
		return mc_errorf(err, errno, "lock `%s`", lockpath);
	/* Ctrl-C during the boot cancels it cleanly instead of orphaning QEMU */
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigprocmask(SIG_BLOCK, &block, &old);
	int r = start_locked(p, flags, err);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return r;
}

static int wait_gone(pid_t pid, const char *marker, int ms)
{
	for (int i = 0; i < ms / 20; i++) {
		/* reap it if it is our child (a lab started by this very process) */
		waitpid(pid, NULL, WNOHANG);
		if (!pid_is_ours(pid, marker))
			return 0;
		usleep(20 * 1000);
	}
	return -1;
}

static void stop_pid(pid_t pid, const char *marker)
{
	if (!pid_is_ours(pid, marker))
		return;
	kill(pid, SIGTERM);
	if (wait_gone(pid, marker, 3000) < 0) {
		kill(pid, SIGKILL);
		wait_gone(pid, marker, 3000);
	}
}

int lab_stop(const struct lab_paths *p, mc_err *err)
{
	return lab_stop_how(p, false, err);
}

int lab_stop_how(const struct lab_paths *p, bool force, mc_err *err)
{
	struct lab_state st;
	char lockpath[4400];
	snprintf(lockpath, sizeof(lockpath), "%s/lock", p->state);
	_cleanup_close_ int lock = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lock < 0 || flock(lock, LOCK_EX) < 0)
		return mc_errorf(err, errno, "lock `%s`", lockpath);
	int r = lab_running(p, &st, err);
	if (r < 0)
		return -1;
	if (r == 1 && force) {
		stop_pid(st.qemu, p->sockdir);
	} else if (r == 1) {
		/* ask the agent to power off (it syncs the shares), then make sure */
		int fd = st.token[0] ? lab_connect(&st, err) : -1;
		if (fd >= 0) {
			struct timeval tv = {5, 0};
			setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
			struct lab_frame f;
			if (lab_send(fd, LAB_POWEROFF, NULL, 0) == 0 && lab_recv(fd, &f, err) == 1)
				lab_frame_free(&f);
			close(fd);
		}
		mc_error_free(err);
		if (wait_gone(st.qemu, p->sockdir, 20000) < 0)
			stop_pid(st.qemu, p->sockdir);
	}
	/* virtiofsd ends when QEMU disconnects; make sure of it */
	stop_pid(st.vfs_root, p->sockdir);
	stop_pid(st.vfs_checkout, p->sockdir);
	remove_state_files(p);
	return 0;
}

/* The lab kernel's functions holding the addresses in rips[], from the symbols the agent saved
 * (lab_kallsyms_path; the lab boots with nokaslr, so they match). One line per address to f. */
static void name_addresses(const struct lab_paths *p, const uint64_t *rips, int n, FILE *f)
{
	struct lab_image img;
	mc_err e = NULL;
	if (load_image(p, &img, &e) < 0) {
		mc_error_free(&e);
		return;
	}
	char map_path[4400];
	if (lab_kallsyms_path(p, img.kver, map_path, sizeof(map_path)) < 0)
		return;
	_cleanup_fclose_ FILE *map = fopen(map_path, "re");
	if (!map) {
		fprintf(f, "\n(no kernel symbols to name the addresses: %s is missing)\n",
			map_path);
		return;
	}
	uint64_t best[16] = {0};
	char names[16][128] = {{0}};
	char line[512];
	while (fgets(line, sizeof(line), map)) {
		unsigned long long a;
		char type, name[128];
		if (sscanf(line, "%llx %c %127s", &a, &type, name) != 3)
			continue;
		for (int i = 0; i < n; i++)
			if (a <= rips[i] && a >= best[i]) {
				best[i] = a;
				snprintf(names[i], sizeof(names[i]), "%s", name);
			}
	}
	fprintf(f, "\nthe addresses in the lab kernel (%s):\n", map_path);
	for (int i = 0; i < n; i++)
		if (names[i][0] && rips[i] - best[i] < 0x100000)
			fprintf(f, "CPU#%d RIP %016llx = %s+0x%llx\n", i,
				(unsigned long long)rips[i], names[i],
				(unsigned long long)(rips[i] - best[i]));
}

int lab_dump_cpus(const struct lab_paths *p, const char *out_path)
{
	char sock_path[320];
	snprintf(sock_path, sizeof(sock_path), "%s/monitor.sock", p->sockdir);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(sock_path) >= sizeof(sa.sun_path))
		return -1;
	strcpy(sa.sun_path, sock_path);
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -1;
	static const char cmds[] = "info cpus\ninfo registers -a\n";
	if (mc_write_all(fd, cmds, sizeof(cmds) - 1) < 0)
		return -1;
	/* the monitor keeps the connection open: read until it has been quiet for 3 s */
	struct timeval tv = {3, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	char buf[65536];
	ssize_t r;
	while ((r = read(fd, buf, sizeof(buf))) > 0 && len < (1u << 22)) {
		char *grown = realloc(text, len + (size_t)r + 1);
		if (!grown)
			return -1;
		text = grown;
		memcpy(text + len, buf, (size_t)r);
		len += (size_t)r;
		text[len] = 0;
	}
	_cleanup_fclose_ FILE *out = fopen(out_path, "we");
	if (!out)
		return -1;
	/* the registers as they come, without the monitor's prompt and echo (terminal escapes) */
	uint64_t rips[16];
	int nrips = 0;
	for (char *save = NULL, *l = text ? strtok_r(text, "\n", &save) : NULL; l;
	     l = strtok_r(NULL, "\n", &save)) {
		l[strcspn(l, "\r")] = 0; /* the monitor ends its lines with \r\n */
		if (strstr(l, "(qemu)"))
			continue;
		fprintf(out, "%s\n", l);
		unsigned long long rip;
		if (!strncmp(l, "RIP=", 4) && nrips < 16 && sscanf(l + 4, "%llx", &rip) == 1)
			rips[nrips++] = rip;
	}
	if (nrips > 0)
		name_addresses(p, rips, nrips, out);
	return 0;
}
