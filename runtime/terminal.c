#include "terminal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "cleanup.h"
#include "util.h"

int ct_console_connect(const char *path, mc_err *err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path))
		return mc_errorf(err, ENAMETOOLONG, "console socket `%s`", path);
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return mc_errorf(err, errno, "console socket");
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(fd);
		return mc_errorf(err, e, "connect console socket `%s`", path);
	}
	return fd;
}

int ct_send_fd(int sock, int fd, const char *name, mc_err *err)
{
	char buf[CMSG_SPACE(sizeof(int))] = {0};
	struct iovec iov = {.iov_base = (void *)name, .iov_len = strlen(name)};
	struct msghdr msg = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = buf, .msg_controllen = sizeof(buf)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	if (sendmsg(sock, &msg, MSG_NOSIGNAL) < 0)
		return mc_errorf(err, errno, "send pty master over the console socket");
	return 0;
}

int ct_recv_fd(int sock, mc_err *err)
{
	char buf[CMSG_SPACE(sizeof(int))] = {0}, name[256];
	struct iovec iov = {.iov_base = name, .iov_len = sizeof(name)};
	struct msghdr msg = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = buf, .msg_controllen = sizeof(buf)};
	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) <= 0)
		return mc_errorf(err, errno ? errno : EPIPE, "receive pty master");
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_type != SCM_RIGHTS)
		return mc_errorf(err, 0, "receive pty master: no descriptor");
	int fd;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

int ct_terminal_setup(int console_fd, unsigned rows, unsigned cols, mc_err *err)
{
	_cleanup_close_ int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0)
		return mc_errorf(err, errno, "terminal: open /dev/ptmx");
	if (unlockpt(master) < 0)
		return mc_errorf(err, errno, "terminal: unlockpt");
	int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY);
	if (slave < 0)
		return mc_errorf(err, errno, "terminal: open pty slave");
	if (rows && cols) {
		struct winsize ws = {.ws_row = rows, .ws_col = cols};
		ioctl(slave, TIOCSWINSZ, &ws);
	}
	if (ct_send_fd(console_fd, master, "/dev/ptmx", err) < 0) {
		close(slave);
		return mc_wrap(err, "terminal");
	}
	if (setsid() < 0 && errno != EPERM) {
		close(slave);
		return mc_errorf(err, errno, "terminal: setsid");
	}
	if (ioctl(slave, TIOCSCTTY, 0) < 0) {
		close(slave);
		return mc_errorf(err, errno, "terminal: TIOCSCTTY");
	}
	for (int i = 0; i < 3; i++)
		if (dup2(slave, i) < 0) {
			close(slave);
			return mc_errorf(err, errno, "terminal: dup2");
		}
	if (slave > 2)
		close(slave);
	return 0;
}

int ct_terminal_proxy(int master, int child_pidfd)
{
	struct termios saved, raw;
	bool tty = isatty(0) && tcgetattr(0, &saved) == 0;
	if (tty) {
		raw = saved;
		cfmakeraw(&raw);
		tcsetattr(0, TCSANOW, &raw);
		struct winsize ws;
		if (ioctl(0, TIOCGWINSZ, &ws) == 0)
			ioctl(master, TIOCSWINSZ, &ws);
	}
	char buf[8192];
	bool in_open = true;
	for (;;) {
		struct pollfd p[3] = {{.fd = in_open ? 0 : -1, .events = POLLIN},
				      {.fd = master, .events = POLLIN},
				      {.fd = child_pidfd, .events = POLLIN}};
		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents & POLLIN) {
			ssize_t n = read(master, buf, sizeof(buf));
			if (n > 0)
				mc_write_all(1, buf, n);
		}
		if (p[0].revents & (POLLIN | POLLHUP)) {
			ssize_t n = read(0, buf, sizeof(buf));
			if (n <= 0)
				in_open = false; /* EOF: stop reading; leave the pty open */
			else
				mc_write_all(master, buf, n);
		}
		if ((p[1].revents & (POLLHUP | POLLERR)) && !(p[1].revents & POLLIN))
			break;
		if (p[2].revents & POLLIN) {
			/* drain what's left */
			for (;;) {
				struct pollfd q = {.fd = master, .events = POLLIN};
				if (poll(&q, 1, 0) <= 0 || !(q.revents & POLLIN))
					break;
				ssize_t n = read(master, buf, sizeof(buf));
				if (n <= 0)
					break;
				mc_write_all(1, buf, n);
			}
			break;
		}
	}
	if (tty)
		tcsetattr(0, TCSANOW, &saved);
	return 0;
}
