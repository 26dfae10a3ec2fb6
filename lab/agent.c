/* The lab agent. As PID 1 of the lab it reaps orphans and powers the lab off on request; each
 * connection is served by a forked handler that authenticates the client, runs its command in
 * a new session with pipes for stdin/stdout/stderr, relays them as frames and reports the exit
 * status. The same code runs as an ordinary process on a host, which is how its tests run. */
#include "agent.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "proto.h"
#include "util.h"

/* Handlers exit with this code to ask PID 1 to power the lab off. */
#define EXIT_POWEROFF 42

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

/* Read the token, then the request up to GO. Returns 1 for a command, 0 when the request was
 * fully served (PING), 2 for POWEROFF, -1 on error (already reported to the client). */
static int read_request(int sock, const char *token, struct request *req)
{
	mc_err err = NULL;
	struct lab_frame f;
	int r = lab_recv(sock, &f, &err);
	if (r <= 0 || f.type != LAB_TOKEN || f.len != LAB_TOKEN_LEN ||
	    !token_equal(f.data, token, LAB_TOKEN_LEN)) {
		if (r > 0)
			lab_frame_free(&f);
		mc_error_free(&err);
		return fail(sock, "bad or missing lab token");
	}
	lab_frame_free(&f);
	for (;;) {
		r = lab_recv(sock, &f, &err);
		if (r <= 0) {
			mc_error_free(&err);
			return -1;
		}
		switch (f.type) {
		case LAB_PING:
			lab_frame_free(&f);
			lab_send(sock, LAB_PONG, NULL, 0);
			return 0;
		case LAB_POWEROFF:
			lab_frame_free(&f);
			lab_send(sock, LAB_PONG, NULL, 0);
			return 2;
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
			return 1;
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
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (req->cwd && chdir(req->cwd) < 0) {
		dprintf(2, "minilab: chdir `%s`: %s\n", req->cwd, strerror(errno));
		_exit(125);
	}
	clearenv();
	for (size_t i = 0; i < req->envc; i++)
		putenv(req->envp[i]);
	execvp(req->argv[0], req->argv);
	dprintf(2, "minilab: exec `%s`: %s\n", req->argv[0], strerror(errno));
	_exit(errno == ENOENT ? 127 : 126);
}

/* Relay until the command's stdout and stderr close, then report its status. */
static int relay(int sock, pid_t child, int in_w, int out_r, int err_r)
{
	struct pollfd p[3] = {{sock, POLLIN, 0}, {out_r, POLLIN, 0}, {err_r, POLLIN, 0}};
	char buf[65536];
	int open_outputs = 2;
	while (open_outputs > 0) {
		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[0].revents) {
			mc_err err = NULL;
			struct lab_frame f;
			int r = lab_recv(sock, &f, &err);
			if (r <= 0) {
				/* client gone: end the command's whole session */
				mc_error_free(&err);
				kill(-child, SIGKILL);
				waitpid(child, NULL, 0);
				return -1;
			}
			uint32_t sig;
			if (f.type == LAB_STDIN && in_w >= 0) {
				if (mc_write_all(in_w, f.data, f.len) < 0) {
					close(in_w);
					in_w = -1;
				}
			} else if (f.type == LAB_STDIN_EOF && in_w >= 0) {
				close(in_w);
				in_w = -1;
			} else if (f.type == LAB_SIGNAL && lab_frame_u32(&f, &sig, &err) == 0 &&
				   sig > 0 && sig < 65) {
				kill(-child, (int)sig);
			}
			mc_error_free(&err);
			lab_frame_free(&f);
		}
		for (int i = 1; i < 3; i++) {
			if (p[i].fd < 0 || !p[i].revents)
				continue;
			ssize_t n = read(p[i].fd, buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				close(p[i].fd);
				p[i].fd = -1;
				open_outputs--;
				continue;
			}
			if (lab_send(sock, i == 1 ? LAB_STDOUT : LAB_STDERR, buf, (uint32_t)n) <
			    0) {
				kill(-child, SIGKILL);
				waitpid(child, NULL, 0);
				return -1;
			}
		}
	}
	if (in_w >= 0)
		close(in_w);
	int status = 0;
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	uint32_t code =
	    WIFEXITED(status) ? (uint32_t)WEXITSTATUS(status) : 128u + (uint32_t)WTERMSIG(status);
	return lab_send_u32(sock, LAB_EXIT, code);
}

/* One connection, in its own process. Returns the handler's exit code. */
static int handle(int sock, const char *token)
{
	struct request req = {0};
	struct timeval tv = {10, 0};
	setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	int r = read_request(sock, token, &req);
	if (r != 1) {
		request_free(&req);
		return r == 2 ? EXIT_POWEROFF : (r == 0 ? 0 : 1);
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
		return mc_error(err, 0, "lab token `%s` has %zu characters, expected %d", path, len,
				LAB_TOKEN_LEN);
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

int lab_agent_serve(uint16_t port, const char *token_file, mc_err *err)
{
	char token[LAB_TOKEN_LEN + 1] = {0};
	if (read_token(token_file, token, err) < 0)
		return -1;
	_cleanup_close_ int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		return mc_error(err, errno, "socket");
	int one = 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	sa.sin_addr.s_addr = htonl(getpid() == 1 ? INADDR_ANY : INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return mc_error(err, errno, "bind port %u", port);
	if (listen(lfd, 64) < 0)
		return mc_error(err, errno, "listen on port %u", port);

	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	_cleanup_close_ int sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sfd < 0)
		return mc_error(err, errno, "signalfd");
	fprintf(stderr, "minilab agent: listening on port %u\n", port);

	for (;;) {
		struct pollfd p[2] = {{lfd, POLLIN, 0}, {sfd, POLLIN, 0}};
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return mc_error(err, errno, "poll");
		}
		if (p[1].revents) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof(si)) < 0 && errno != EAGAIN)
				return mc_error(err, errno, "read signalfd");
			int status;
			while (waitpid(-1, &status, WNOHANG) > 0) {
				if (WIFEXITED(status) && WEXITSTATUS(status) == EXIT_POWEROFF) {
					if (getpid() == 1)
						power_off();
					return 0;
				}
			}
		}
		if (p[0].revents) {
			int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
			if (c < 0)
				continue;
			pid_t pid = fork();
			if (pid == 0) {
				close(lfd);
				close(sfd);
				sigprocmask(SIG_UNBLOCK, &mask, NULL);
				_exit(handle(c, token));
			}
			close(c);
		}
	}
}
