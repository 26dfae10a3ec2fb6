/* The lab agent. As PID 1 of the lab it reaps orphans and powers the lab off on request; each
 * connection is served by a forked handler that authenticates the client, runs its command in
 * a new session with pipes for stdin/stdout/stderr, relays them as frames and reports the exit
 * status. The same code runs as an ordinary process on a host.
 *
 * The handler never blocks on the command: stdin from the client is queued and written only
 * when the pipe has room, and the command's exit is watched through a pidfd, so a command that
 * ignores its stdin, closes its outputs early or leaves background jobs holding them cannot
 * wedge the connection. */
#include "agent.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "lab.h"
#include "proto.h"
#include "util.h"

#define MAX_HANDLERS	    64
#define AUTH_SECONDS	    10
#define STDIN_QUEUE_MAX	    (16u << 20) /* stop reading the client beyond this much pending stdin */
#define DRAIN_AFTER_EXIT_MS 1000 /* output still open this long after exit: end the session */

struct request {
	char *cwd;
	char **argv;
	size_t argc;
	char **envp;
	size_t envc;
};

static void request_free(struct request *r)
{
	for (size_t i = 0; i < r->argc; i++)
		free(r->argv[i]);
	for (size_t i = 0; i < r->envc; i++)
		free(r->envp[i]);
	free(r->argv);
	free(r->envp);
	free(r->cwd);
}

/* Append s to a NULL-terminated vector. */
static int vec_push(char ***vec, size_t *n, char *s)
{
	if (*n >= LAB_MAX_ARGS)
		return -1;
	char **nv = realloc(*vec, (*n + 2) * sizeof(char *));
	if (!nv)
		return -1;
	nv[(*n)++] = s;
	nv[*n] = NULL;
	*vec = nv;
	return 0;
}

static int fail(int sock, const char *msg)
{
	lab_send_str(sock, LAB_FAIL, msg);
	return -1;
}

static int token_equal(const char *a, const char *b, size_t n)
{
	unsigned char d = 0;
	for (size_t i = 0; i < n; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

enum request_kind { REQ_ERROR = -1, REQ_DONE = 0, REQ_COMMAND = 1, REQ_POWEROFF = 2 };

/* Read the token (bounded before anything is allocated, within AUTH_SECONDS), then the
 * request up to GO. */
static enum request_kind read_request(int sock, const char *token, struct request *req)
{
	mc_err err = NULL;
	struct lab_frame f;
	alarm(AUTH_SECONDS); /* an overall deadline: SIGALRM ends this handler */
	int r = lab_recv_max(sock, &f, LAB_TOKEN_LEN, &err);
	int ok = r > 0 && f.type == LAB_TOKEN && f.len == LAB_TOKEN_LEN &&
		 token_equal(f.data, token, LAB_TOKEN_LEN);
	if (r > 0)
		lab_frame_free(&f);
	mc_error_free(&err);
	if (!ok)
		return fail(sock, "bad or missing lab token");
	alarm(0);
	for (;;) {
		r = lab_recv(sock, &f, &err);
		if (r <= 0) {
			mc_error_free(&err);
			return REQ_ERROR;
		}
		switch (f.type) {
		case LAB_PING:
			lab_frame_free(&f);
			lab_send(sock, LAB_PONG, NULL, 0);
			return REQ_DONE;
		case LAB_POWEROFF:
			lab_frame_free(&f);
			lab_send(sock, LAB_PONG, NULL, 0);
			return REQ_POWEROFF;
		case LAB_CWD:
			free(req->cwd);
			req->cwd = mc_steal_ptr(&f.data);
			break;
		case LAB_ARG:
			if (vec_push(&req->argv, &req->argc, f.data) < 0) {
				lab_frame_free(&f);
				return fail(sock, "too many arguments");
			}
			f.data = NULL;
			break;
		case LAB_ENV:
			if (!strchr(f.data, '=') || vec_push(&req->envp, &req->envc, f.data) < 0) {
				lab_frame_free(&f);
				return fail(sock, "bad environment entry");
			}
			f.data = NULL;
			break;
		case LAB_GO:
			lab_frame_free(&f);
			if (req->argc == 0)
				return fail(sock, "no command given");
			return REQ_COMMAND;
		default:
			lab_frame_free(&f);
			return fail(sock, "unexpected frame before GO");
		}
	}
}

static void exec_command(const struct request *req, int in, int out, int errfd)
{
	setsid();
	dup2(in, 0);
	dup2(out, 1);
	dup2(errfd, 2);
	for (int fd = 3; fd < 1024; fd++)
		close(fd);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGALRM, SIG_DFL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (req->cwd && chdir(req->cwd) < 0) {
		dprintf(2,
			"minilab: chdir `%s` in the lab: %s (the lab shares the checkout and the "
			"host's /, but its /tmp and /run are its own)\n",
			req->cwd, strerror(errno));
		_exit(125);
	}
	clearenv();
	for (size_t i = 0; i < req->envc; i++)
		putenv(req->envp[i]);
	execvp(req->argv[0], req->argv);
	dprintf(2, "minilab: exec `%s`: %s\n", req->argv[0], strerror(errno));
	_exit(errno == ENOENT ? 127 : 126);
}

/* Signal the command's whole session; before its setsid() it is only itself. */
static void signal_session(pid_t child, int sig)
{
	if (kill(-child, sig) < 0)
		kill(child, sig);
}

struct stdin_queue {
	char *buf;
	size_t len, off;
};

static int queue_push(struct stdin_queue *q, const char *data, size_t n)
{
	if (q->off == q->len)
		q->off = q->len = 0;
	char *nb = realloc(q->buf, q->len + n);
	if (!nb)
		return -1;
	memcpy(nb + q->len, data, n);
	q->buf = nb;
	q->len += n;
	return 0;
}

/* One frame from the client while the command runs. Returns -1 when the client is gone. */
static int client_frame(int sock, pid_t child, struct stdin_queue *q, int *in_w, int *stdin_eof)
{
	mc_err err = NULL;
	struct lab_frame f;
	int r = lab_recv(sock, &f, &err);
	mc_error_free(&err);
	if (r <= 0)
		return -1;
	uint32_t sig;
	if (f.type == LAB_STDIN && *in_w >= 0) {
		if (queue_push(q, f.data, f.len) < 0) {
			close(*in_w);
			*in_w = -1;
		}
	} else if (f.type == LAB_STDIN_EOF) {
		*stdin_eof = 1;
	} else if (f.type == LAB_SIGNAL && lab_frame_u32(&f, &sig, &err) == 0 && sig > 0 &&
		   sig < 65) {
		signal_session(child, (int)sig);
	}
	mc_error_free(&err);
	lab_frame_free(&f);
	return 0;
}

/* The client is gone (or cannot be written to): end the command's whole session. */
static int abandon(pid_t child, struct stdin_queue *q, int in_w, const int fds[2])
{
	signal_session(child, SIGKILL);
	waitpid(child, NULL, 0);
	free(q->buf);
	if (in_w >= 0)
		close(in_w);
	for (int i = 0; i < 2; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return -1;
}

/* Relay until the command has exited and its outputs are drained, then report its status. */
static int relay(int sock, pid_t child, int in_w, int out_r, int err_r)
{
	_cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, child, 0);
	if (pidfd < 0) {
		signal_session(child, SIGKILL);
		waitpid(child, NULL, 0);
		return fail(sock, "pidfd_open failed");
	}
	fcntl(in_w, F_SETFL, O_NONBLOCK);
	struct stdin_queue q = {0};
	int stdin_eof = 0, exited = 0, status = 0, outputs = 2;
	uint64_t exit_ns = 0, sent_ns = 0; /* 0: the first ALIVE goes out at once */
	int fds[2] = {out_r, err_r};
	char buf[65536];
	for (;;) {
		if (exited &&
		    (outputs == 0 || (mc_now_ns() - exit_ns) / 1000000 >= DRAIN_AFTER_EXIT_MS))
			break;
		size_t pending = q.len - q.off;
		if (in_w >= 0 && stdin_eof && pending == 0) {
			close(in_w);
			in_w = -1;
		}
		struct pollfd p[5] = {
		    {pending < STDIN_QUEUE_MAX ? sock : -1, POLLIN, 0},
		    {fds[0], POLLIN, 0},
		    {fds[1], POLLIN, 0},
		    {in_w >= 0 && pending > 0 ? in_w : -1, POLLOUT, 0},
		    {exited ? -1 : pidfd, POLLIN, 0},
		};
		if (poll(p, 5, exited ? 50 : LAB_ALIVE_MS) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if ((mc_now_ns() - sent_ns) / 1000000 >= LAB_ALIVE_MS) {
			if (lab_send(sock, LAB_ALIVE, NULL, 0) < 0)
				return abandon(child, &q, in_w, fds);
			sent_ns = mc_now_ns();
		}
		if (p[0].revents && client_frame(sock, child, &q, &in_w, &stdin_eof) < 0)
			return abandon(child, &q, in_w, fds);
		if (p[3].revents) {
			ssize_t w = write(in_w, q.buf + q.off, q.len - q.off);
			if (w > 0) {
				q.off += (size_t)w;
			} else if (w < 0 && errno != EAGAIN && errno != EINTR) {
				close(in_w); /* the command closed its stdin */
				in_w = -1;
			}
		}
		for (int i = 0; i < 2; i++) {
			if (fds[i] < 0 || !p[1 + i].revents)
				continue;
			ssize_t n = read(fds[i], buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				close(fds[i]);
				fds[i] = -1;
				outputs--;
				continue;
			}
			sent_ns = mc_now_ns();
			if (lab_send(sock, i == 0 ? LAB_STDOUT : LAB_STDERR, buf, (uint32_t)n) < 0)
				return abandon(child, &q, in_w, fds);
		}
		if (p[4].revents && waitpid(child, &status, WNOHANG) == child) {
			exited = 1;
			exit_ns = mc_now_ns();
		}
	}
	/* whatever the command left in its session (background jobs holding the outputs) ends */
	signal_session(child, SIGKILL);
	if (!exited)
		waitpid(child, &status, 0);
	for (int i = 0; i < 2; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (in_w >= 0)
		close(in_w);
	free(q.buf);
	uint32_t code =
	    WIFEXITED(status) ? (uint32_t)WEXITSTATUS(status) : 128u + (uint32_t)WTERMSIG(status);
	return lab_send_u32(sock, LAB_EXIT, code);
}

/* One connection, in its own process. power_fd: where to ask PID 1 for a poweroff. */
static int handle(int sock, const char *token, int power_fd)
{
	struct request req = {0};
	struct timeval tv = {AUTH_SECONDS, 0};
	setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	enum request_kind kind = read_request(sock, token, &req);
	if (kind != REQ_COMMAND) {
		request_free(&req);
		if (kind == REQ_POWEROFF && write(power_fd, "Q", 1) != 1)
			return 1;
		return kind == REQ_ERROR ? 1 : 0;
	}
	struct timeval none = {0, 0};
	setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof(none));
	int in[2], out[2], er[2];
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(er, O_CLOEXEC) < 0) {
		request_free(&req);
		return fail(sock, "pipe failed"), 1;
	}
	pid_t child = fork();
	if (child < 0) {
		request_free(&req);
		return fail(sock, "fork failed"), 1;
	}
	if (child == 0)
		exec_command(&req, in[0], out[1], er[1]);
	close(in[0]);
	close(out[1]);
	close(er[1]);
	request_free(&req);
	return relay(sock, child, in[1], out[0], er[0]) < 0 ? 1 : 0;
}

static int read_token(const char *path, char *token, mc_err *err)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	if (mc_read_file(path, 4096, &buf, &len, err) < 0)
		return mc_wrap(err, "read the lab token");
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
		buf[--len] = '\0';
	if (len != LAB_TOKEN_LEN)
		return mc_errorf(err, 0, "lab token `%s` has %zu characters, expected %d", path,
				 len, LAB_TOKEN_LEN);
	memcpy(token, buf, LAB_TOKEN_LEN + 1);
	return 0;
}

static void power_off(void)
{
	/* Give everything a moment to end, then flush the shares and power off. */
	kill(-1, SIGTERM);
	usleep(200 * 1000);
	kill(-1, SIGKILL);
	sync();
	reboot(RB_POWER_OFF);
}

/* Keep one idle VM (an in-kernel irqchip and a vCPU that never runs) for the lab's lifetime.
 * Creating the first VM and destroying the last flips kernel static keys (KVM's
 * preempt_notifier_key, and apic_sw_disabled with each new vCPU), and every flip rewrites code
 * in __schedule while the other CPU may be running it. Under QEMU's multi-threaded TCG that
 * cross-modifying code has livelocked both lab CPUs on that very instruction (CPU dumps:
 * __schedule+0x2ab, the preempt-notifier branch, on both). With this VM the keys stay set and
 * VMs come and go without patching anything. The fds stay open on purpose. */
static void pin_kvm_static_keys(void)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	int vm = kvm >= 0 ? ioctl(kvm, KVM_CREATE_VM, 0) : -1;
	if (vm < 0 || ioctl(vm, KVM_CREATE_IRQCHIP, 0) < 0 || ioctl(vm, KVM_CREATE_VCPU, 0) < 0)
		fprintf(stderr, "minilab agent: no idle VM to pin KVM's static keys: %s\n",
			strerror(errno));
}

/* The lab kernel's code symbols (lab_kallsyms_path), saved once per kernel, in the background
 * and at low priority, after the lab is up. */
static void save_kernel_symbols(void)
{
	struct lab_paths paths;
	struct utsname u;
	char path[4400], tmp[4500];
	mc_err e = NULL;
	if (lab_paths_init(&paths, &e) < 0 || uname(&u) < 0 ||
	    lab_kallsyms_path(&paths, u.release, path, sizeof(path)) < 0 ||
	    access(path, F_OK) == 0) {
		mc_error_free(&e);
		return;
	}
	if (fork() != 0)
		return;
	if (nice(19) < 0)
		_exit(1);
	/* a temporary name of its own (labs of one checkout run side by side), renamed into
	 * place only when complete; a lab powered off meanwhile leaves the temporary behind, so
	 * those older than an hour go */
	snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path);
	char *slash = strrchr(path, '/');
	*slash = 0;
	DIR *d = opendir(path);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		struct stat sb;
		if (!strncmp(de->d_name, "lab-kallsyms-", 13) && strchr(de->d_name + 13, '.') &&
		    fstatat(dirfd(d), de->d_name, &sb, 0) == 0 && time(NULL) - sb.st_mtime > 3600)
			unlinkat(dirfd(d), de->d_name, 0);
	}
	if (d)
		closedir(d);
	*slash = '/';
	int fd = mkstemp(tmp);
	FILE *in = fopen("/proc/kallsyms", "re"), *out = fd >= 0 ? fdopen(fd, "w") : NULL;
	char line[512];
	unsigned long long a;
	char type;
	while (in && out && fgets(line, sizeof(line), in))
		if (sscanf(line, "%llx %c", &a, &type) == 2 && a && strchr("tTwW", type))
			fputs(line, out);
	bool ok = in && out && !ferror(in) && fchmod(fd, 0644) == 0 && fclose(out) == 0;
	if (ok && rename(tmp, path) == 0)
		_exit(0);
	if (fd >= 0)
		unlink(tmp);
	_exit(1);
}

int lab_agent_serve(uint16_t port, const char *token_file, mc_err *err)
{
	char token[LAB_TOKEN_LEN + 1] = {0};
	if (read_token(token_file, token, err) < 0)
		return -1;
	_cleanup_close_ int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		return mc_errorf(err, errno, "socket");
	int one = 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	sa.sin_addr.s_addr = htonl(getpid() == 1 ? INADDR_ANY : INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return mc_errorf(err, errno, "bind port %u", port);
	if (listen(lfd, 64) < 0)
		return mc_errorf(err, errno, "listen on port %u", port);
	/* handlers ask for a poweroff here; a command's own exit code can't */
	int power[2];
	if (pipe2(power, O_CLOEXEC | O_NONBLOCK) < 0)
		return mc_errorf(err, errno, "pipe");
	_cleanup_close_ int power_r = power[0];
	_cleanup_close_ int power_w = power[1];

	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	_cleanup_close_ int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0)
		return mc_errorf(err, errno, "signalfd");
	fprintf(stderr, "minilab agent: listening on port %u\n", port);
	if (getpid() == 1) {
		pin_kvm_static_keys();
		save_kernel_symbols();
	}

	pid_t handlers[MAX_HANDLERS] = {0};
	for (;;) {
		struct pollfd p[3] = {{lfd, POLLIN, 0}, {sfd, POLLIN, 0}, {power_r, POLLIN, 0}};
		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			return mc_errorf(err, errno, "poll");
		}
		if (p[2].revents) {
			if (getpid() == 1)
				power_off();
			return 0;
		}
		if (p[1].revents) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof(si)) > 0)
				;
			pid_t pid;
			while ((pid = waitpid(-1, NULL, WNOHANG)) > 0)
				for (int i = 0; i < MAX_HANDLERS; i++)
					if (handlers[i] == pid)
						handlers[i] = 0;
		}
		if (p[0].revents) {
			int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
			if (c < 0)
				continue;
			int slot = -1;
			for (int i = 0; i < MAX_HANDLERS && slot < 0; i++)
				if (!handlers[i])
					slot = i;
			if (slot < 0) {
				lab_send_str(c, LAB_FAIL, "too many connections");
				close(c);
				continue;
			}
			pid_t pid = fork();
			if (pid == 0) {
				close(lfd);
				close(sfd);
				close(power_r);
				sigprocmask(SIG_UNBLOCK, &mask, NULL);
				_exit(handle(c, token, power_w));
			}
			if (pid > 0)
				handlers[slot] = pid;
			close(c);
		}
	}
}
