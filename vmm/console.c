#include "console.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

int console_parse(const char *spec, struct console *c, mc_err *err)
{
	memset(c, 0, sizeof(*c));
	c->out_fd = c->in_fd = c->space_fd = -1;
	if (strcmp(spec, "none") == 0)
		c->kind = CONSOLE_NONE;
	else if (strcmp(spec, "stdio") == 0)
		c->kind = CONSOLE_STDIO;
	else if (strcmp(spec, "stderr") == 0)
		c->kind = CONSOLE_STDERR;
	else if (strncmp(spec, "file:", 5) == 0 && spec[5])
		c->kind = CONSOLE_FILE, c->path = spec + 5;
	else
		return mc_errorf(err, 0, "--console `%s`: use none, stdio, stderr or file:PATH",
				 spec);
	return 0;
}

int console_open(struct console *c, mc_err *err)
{
	if (c->kind == CONSOLE_FILE) {
		c->out_fd = open(c->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (c->out_fd < 0)
			return mc_errorf(err, errno, "console: open `%s`", c->path);
		c->owns_fd = true;
	} else if (c->kind == CONSOLE_STDERR) {
		c->out_fd = STDERR_FILENO;
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

static void watch_input(struct console *c, bool on)
{
	if (!c->in_pollable || c->in_eof || c->in_watched == on)
		return;
	if (loop_mod(c->loop, c->in_fd, on ? EPOLLIN : 0, NULL) == 0)
		c->in_watched = on;
}

static void stop_input(struct console *c)
{
	c->in_eof = true;
	if (c->in_pollable)
		loop_del(c->loop, c->in_fd);
	c->in_watched = false;
}

/* Move input into the UART until it is full (then wait for its room callback), stdin has
 * nothing more right now (then watch it), or stdin ended. */
static void pump(struct console *c)
{
	for (;;) {
		if (c->len) {
			size_t n = uart_push(c->uart, c->buf + c->off, c->len);
			c->off += n;
			c->len -= n;
			if (c->len) {
				watch_input(c, false);
				return;
			}
		}
		if (c->in_eof)
			return;
		if (c->in_pollable && !c->in_readable) {
			watch_input(c, true);
			return;
		}
		ssize_t r = read(c->in_fd, c->buf, sizeof(c->buf));
		c->in_readable = false;
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0) { /* EOF (or an error): the guest simply gets no more input */
			stop_input(c);
			return;
		}
		c->off = 0;
		c->len = (size_t)r;
	}
}

static void on_input(void *opaque, uint32_t events)
{
	struct console *c = opaque;
	(void)events;
	c->in_readable = true;
	pump(c);
}

static void on_space(void *opaque, uint32_t events)
{
	struct console *c = opaque;
	(void)events;
	uint64_t v;
	ssize_t r = read(c->space_fd, &v, sizeof(v));
	(void)r;
	pump(c);
}

/* The UART's room callback (a vCPU thread, under the UART's lock): only signal the loop. */
static void uart_has_space(void *opaque)
{
	struct console *c = opaque;
	uint64_t one = 1;
	ssize_t w = write(c->space_fd, &one, sizeof(one));
	(void)w;
}

int console_attach(struct console *c, struct loop *l, struct uart *u, mc_err *err)
{
	if (c->kind != CONSOLE_STDIO)
		return 0;
	c->loop = l;
	c->uart = u;
	c->in_fd = STDIN_FILENO;
	c->space_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->space_fd < 0)
		return mc_errorf(err, errno, "console: eventfd");
	if (loop_add(l, c->space_fd, EPOLLIN, on_space, c, err) < 0)
		return mc_wrap(err, "console");
	mc_err e = NULL;
	if (loop_add(l, c->in_fd, EPOLLIN, on_input, c, &e) == 0) {
		c->in_pollable = c->in_watched = true;
	} else if (e->errnum == EPERM) {
		c->in_pollable = false; /* a regular file or /dev/null: reads never block */
		mc_error_free(&e);
	} else {
		c->in_eof = true; /* no stdin (closed): no input */
		mc_error_free(&e);
	}
	uart_set_space_cb(u, uart_has_space, c);
	pump(c);
	return 0;
}

void console_close(struct console *c)
{
	if (c->uart)
		uart_set_space_cb(c->uart, NULL, NULL);
	c->uart = NULL;
	if (c->loop && c->in_pollable && !c->in_eof)
		loop_del(c->loop, c->in_fd);
	if (c->loop && c->space_fd >= 0)
		loop_del(c->loop, c->space_fd);
	c->in_eof = true;
	c->loop = NULL;
	if (c->space_fd >= 0)
		close(c->space_fd);
	c->space_fd = -1;
	if (c->tty_saved)
		tcsetattr(STDIN_FILENO, TCSANOW, &c->saved);
	c->tty_saved = false;
	if (c->owns_fd && c->out_fd >= 0)
		close(c->out_fd);
	c->out_fd = -1;
}
