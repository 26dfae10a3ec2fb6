/* `minilab run`: send a command to the lab's agent and relay its stdio and exit status. */
#include "lab.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
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
	_cleanup_close_ int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return mc_error(err, errno, "socket");
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(st->port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return mc_error(err, errno, "connect to the lab agent on 127.0.0.1:%u", st->port);
	if (lab_send(fd, LAB_TOKEN, st->token, LAB_TOKEN_LEN) < 0)
		return mc_error(err, errno, "send to the lab agent");
	return mc_steal_fd(&fd);
}

static int sig_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
	unsigned char s = (unsigned char)sig;
	int saved = errno;
	if (write(sig_pipe[1], &s, 1) < 0) {
		/* nothing to do: the pipe is full of signals already */
	}
	errno = saved;
}

static int send_request(int fd, char **argv, mc_err *err)
{
	char cwd[4096];
	if (!getcwd(cwd, sizeof(cwd)))
		return mc_error(err, errno, "getcwd");
	if (lab_send_str(fd, LAB_CWD, cwd) < 0)
		return mc_error(err, errno, "send to the lab agent");
	for (char **a = argv; *a; a++)
		if (lab_send_str(fd, LAB_ARG, *a) < 0)
			return mc_error(err, errno, "send argument `%s` to the lab agent", *a);
	for (char **e = environ; *e; e++)
		if (lab_send_str(fd, LAB_ENV, *e) < 0)
			return mc_error(err, errno, "send the environment to the lab agent");
	if (lab_send(fd, LAB_GO, NULL, 0) < 0)
		return mc_error(err, errno, "send to the lab agent");
	return 0;
}

int lab_run(const struct lab_state *st, char **argv, int *status, mc_err *err)
{
	_cleanup_close_ int fd = lab_connect(st, err);
	if (fd < 0)
		return -1;
	if (send_request(fd, argv, err) < 0)
		return -1;
	if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		return mc_error(err, errno, "pipe");
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct pollfd p[3] = {{fd, POLLIN, 0}, {0, POLLIN, 0}, {sig_pipe[0], POLLIN, 0}};
	char buf[65536];
	for (;;) {
		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			return mc_error(err, errno, "poll");
		}
		if (p[2].revents) {
			unsigned char s;
			while (read(sig_pipe[0], &s, 1) == 1)
				lab_send_u32(fd, LAB_SIGNAL, s);
		}
		if (p[1].revents) {
			ssize_t n = read(0, buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n > 0) {
				lab_send(fd, LAB_STDIN, buf, (uint32_t)n);
			} else {
				lab_send(fd, LAB_STDIN_EOF, NULL, 0);
				p[1].fd = -1;
			}
		}
		if (!p[0].revents)
			continue;
		struct lab_frame f;
		int r = lab_recv(fd, &f, err);
		if (r < 0)
			return mc_wrap(err, "lab connection lost");
		if (r == 0)
			return mc_error(err, 0,
					"lab connection lost before the command's exit status");
		uint32_t code;
		switch (f.type) {
		case LAB_STDOUT:
		case LAB_STDERR:
			mc_write_all(f.type == LAB_STDOUT ? 1 : 2, f.data, f.len);
			break;
		case LAB_EXIT:
			r = lab_frame_u32(&f, &code, err);
			lab_frame_free(&f);
			if (r < 0)
				return -1;
			*status = (int)(code > 255 ? 255 : code);
			return 0;
		case LAB_FAIL:
			mc_error(err, 0, "lab agent refused the request: %s", f.data);
			lab_frame_free(&f);
			return -1;
		default:
			break;
		}
		lab_frame_free(&f);
	}
}
