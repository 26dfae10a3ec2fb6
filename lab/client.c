/* `minilab run`: send a command to the lab's agent and relay its stdio and exit status.
 * The main thread only reads the connection (so the agent's output never waits on us), a
 * second thread forwards stdin, and both send through one lock. */
#include "lab.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cleanup.h"
#include "proto.h"
#include "util.h"

extern char **environ;

int lab_connect(const struct lab_state *st, mc_err *err)
{
	if (strlen(st->token) != LAB_TOKEN_LEN)
		return mc_errorf(
		    err, 0, "the lab's token is missing or truncated: minilab stop, then start");
	_cleanup_close_ int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return mc_errorf(err, errno, "socket");
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(st->port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return mc_errorf(err, errno, "connect to the lab agent on 127.0.0.1:%u", st->port);
	if (lab_send(fd, LAB_TOKEN, st->token, LAB_TOKEN_LEN) < 0)
		return mc_errorf(err, errno, "send to the lab agent");
	return mc_steal_fd(&fd);
}

static int send_request(int fd, char **argv, mc_err *err)
{
	char cwd[4096];
	if (!getcwd(cwd, sizeof(cwd)))
		return mc_errorf(err, errno, "getcwd");
	if (lab_send_str(fd, LAB_CWD, cwd) < 0)
		return mc_errorf(err, errno, "send to the lab agent");
	for (char **a = argv; *a; a++)
		if (lab_send_str(fd, LAB_ARG, *a) < 0)
			return mc_errorf(err, errno, "send argument `%s` to the lab agent", *a);
	for (char **e = environ; *e; e++)
		if (lab_send_str(fd, LAB_ENV, *e) < 0)
			return mc_errorf(err, errno, "send the environment to the lab agent");
	if (lab_send(fd, LAB_GO, NULL, 0) < 0)
		return mc_errorf(err, errno, "send to the lab agent");
	return 0;
}

struct session {
	int sock;
	int stop_pipe[2]; /* closing [1] ends the stdin thread */
	pthread_mutex_t send_lock;
};

static int session_send(struct session *s, char type, const void *buf, uint32_t len)
{
	pthread_mutex_lock(&s->send_lock);
	int r = lab_send(s->sock, type, buf, len);
	pthread_mutex_unlock(&s->send_lock);
	return r;
}

static void *stdin_pump(void *arg)
{
	struct session *s = arg;
	char buf[65536];
	struct pollfd p[2] = {{0, POLLIN, 0}, {s->stop_pipe[0], POLLIN, 0}};
	for (;;) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		ssize_t n = read(0, buf, sizeof(buf));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			session_send(s, LAB_STDIN_EOF, NULL, 0);
			break;
		}
		if (session_send(s, LAB_STDIN, buf, (uint32_t)n) < 0)
			break;
	}
	return NULL;
}

static int sig_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
	unsigned char c = (unsigned char)sig;
	int saved = errno;
	if (write(sig_pipe[1], &c, 1) < 0) {
		/* the pipe is full of signals already */
	}
	errno = saved;
}

/* LAB_DEAD_MS, or MINILAB_DEAD_SECONDS (tests use a short one). */
static int dead_ms(void)
{
	const char *v = getenv("MINILAB_DEAD_SECONDS");
	uint64_t s;
	mc_err e = NULL;
	if (v && mc_parse_uint(v, 1, 3600, &s, "MINILAB_DEAD_SECONDS", &e) == 0)
		return (int)s * 1000;
	mc_error_free(&e);
	return LAB_DEAD_MS;
}

/* Read frames until EXIT or FAIL. Returns 0 with *status, or -1. */
static int relay(struct session *s, int *status, mc_err *err)
{
	struct pollfd p[2] = {{s->sock, POLLIN, 0}, {sig_pipe[0], POLLIN, 0}};
	/* armed by the agent's first ALIVE, sent as the command starts: an agent from before
	 * heartbeats (a lab started by an older build) never sends one and is never timed out */
	bool heartbeats = false;
	const int dead_after_ms = dead_ms();
	for (;;) {
		int n = poll(p, 2, heartbeats ? dead_after_ms : -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return mc_errorf(err, errno, "poll");
		}
		if (n == 0) {
			mc_errorf(err, 0,
				  "the lab stopped answering: nothing from it for %d s while the "
				  "command ran (its kernel or QEMU is stuck)",
				  dead_after_ms / 1000);
			return LAB_RUN_DEAD;
		}
		if (p[1].revents) {
			unsigned char c;
			while (read(sig_pipe[0], &c, 1) == 1)
				session_send(s, LAB_SIGNAL, (unsigned char[4]){c, 0, 0, 0}, 4);
		}
		if (!p[0].revents)
			continue;
		struct lab_frame f;
		int r = lab_recv(s->sock, &f, err);
		if (r < 0)
			return mc_wrap(err, "lab connection lost");
		if (r == 0)
			return mc_errorf(err, 0,
					 "lab connection lost before the command's exit status");
		uint32_t code;
		switch (f.type) {
		case LAB_STDOUT:
		case LAB_STDERR:
			if (mc_write_all(f.type == LAB_STDOUT ? 1 : 2, f.data, f.len) < 0 &&
			    errno == EPIPE) {
				/* our reader is gone: like a process killed by SIGPIPE (closing the
				 * connection ends the command in the lab) */
				lab_frame_free(&f);
				*status = 128 + SIGPIPE;
				return 0;
			}
			break;
		case LAB_EXIT:
			r = lab_frame_u32(&f, &code, err);
			lab_frame_free(&f);
			if (r < 0)
				return -1;
			*status = (int)(code > 255 ? 255 : code);
			return 0;
		case LAB_ALIVE:
			heartbeats = true;
			break;
		case LAB_FAIL:
			mc_errorf(err, 0, "lab agent refused the request: %s", f.data);
			lab_frame_free(&f);
			return -1;
		default:
			break;
		}
		lab_frame_free(&f);
	}
}

int lab_run(const struct lab_state *st, char **argv, int *status, mc_err *err)
{
	struct session s = {.sock = -1, .stop_pipe = {-1, -1}};
	pthread_mutex_init(&s.send_lock, NULL);
	s.sock = lab_connect(st, err);
	if (s.sock < 0)
		return -1;
	int r = -1;
	pthread_t pump;
	int pumping = 0;
	struct sigaction sa = {.sa_handler = on_signal}, old[3];
	const int sigs[3] = {SIGINT, SIGTERM, SIGHUP};
	if (send_request(s.sock, argv, err) < 0)
		goto out;
	if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) < 0 || pipe2(s.stop_pipe, O_CLOEXEC) < 0) {
		mc_errorf(err, errno, "pipe");
		goto out;
	}
	for (int i = 0; i < 3; i++)
		sigaction(sigs[i], &sa, &old[i]);
	signal(SIGPIPE, SIG_IGN);
	pumping = pthread_create(&pump, NULL, stdin_pump, &s) == 0;
	if (!pumping) {
		mc_errorf(err, 0, "start the stdin thread");
		goto restore;
	}
	r = relay(&s, status, err);
	close(s.stop_pipe[1]);
	s.stop_pipe[1] = -1;
	pthread_join(pump, NULL);
restore:
	for (int i = 0; i < 3; i++)
		sigaction(sigs[i], &old[i], NULL);
out:
	for (int i = 0; i < 2; i++) {
		if (sig_pipe[i] >= 0)
			close(sig_pipe[i]);
		if (s.stop_pipe[i] >= 0)
			close(s.stop_pipe[i]);
		sig_pipe[i] = -1;
	}
	close(s.sock);
	pthread_mutex_destroy(&s.send_lock);
	return r;
}
