#include "console.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

int console_parse(const char *spec, struct console *c, mc_err *err)
{
	memset(c, 0, sizeof(*c));
	c->out_fd = -1;
	c->stop_fd = -1;
	if (strcmp(spec, "none") == 0)
		c->kind = CONSOLE_NONE;
	else if (strcmp(spec, "stdio") == 0)
		c->kind = CONSOLE_STDIO;
	else if (strncmp(spec, "file:", 5) == 0 && spec[5])
		c->kind = CONSOLE_FILE, c->path = spec + 5;
	else
		return mc_errorf(err, 0, "--console `%s`: use none, stdio or file:PATH", spec);
	return 0;
}

int console_open(struct console *c, mc_err *err)
{
	if (c->kind == CONSOLE_FILE) {
		c->out_fd = open(c->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (c->out_fd < 0)
			return mc_errorf(err, errno, "console: open `%s`", c->path);
		c->owns_fd = true;
	} else if (c->kind == CONSOLE_STDIO) {
		c->out_fd = STDOUT_FILENO;
		if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &c->saved) == 0) {
			struct termios raw = c->saved;
			raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO | ECHONL | IEXTEN);
			raw.c_iflag &= ~(tcflag_t)(ICRNL | IXON);
			raw.c_cc[VMIN] = 1;
			raw.c_cc[VTIME] = 0;
			if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0)
				c->tty_saved = true;
		}
	}
	return 0;
}

static void *input_thread(void *arg)
{
	struct console *c = arg;
	struct pollfd p[2] = {{.fd = STDIN_FILENO, .events = POLLIN},
			      {.fd = c->stop_fd, .events = POLLIN}};
	uint8_t buf[512];
	for (;;) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return NULL;
		}
		if (p[1].revents)
			return NULL;
		ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return NULL; /* EOF: the guest simply gets no more input */
		if (uart_receive(c->uart, buf, (size_t)n) < (size_t)n)
			return NULL;
	}
}

int console_start_input(struct console *c, struct uart *u, mc_err *err)
{
	if (c->kind != CONSOLE_STDIO)
		return 0;
	c->uart = u;
	c->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (c->stop_fd < 0)
		return mc_errorf(err, errno, "console: eventfd");
	/* Signals are for the vCPU threads (vm_run): this one takes none. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int e = pthread_create(&c->input, NULL, input_thread, c);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e)
		return mc_errorf(err, e, "console: input thread");
	c->input_started = true;
	return 0;
}

void console_close(struct console *c)
{
	if (c->input_started) {
		uint64_t one = 1;
		ssize_t w = write(c->stop_fd, &one, sizeof(one));
		(void)w;
		uart_close(c->uart);
		pthread_join(c->input, NULL);
		c->input_started = false;
	}
	if (c->stop_fd >= 0)
		close(c->stop_fd);
	c->stop_fd = -1;
	if (c->tty_saved)
		tcsetattr(STDIN_FILENO, TCSANOW, &c->saved);
	c->tty_saved = false;
	if (c->owns_fd && c->out_fd >= 0)
		close(c->out_fd);
	c->out_fd = -1;
}
