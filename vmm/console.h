/* Where the guest's serial console goes: --console none | stdio | stderr | file:PATH (stderr:
 * output only, what a guest command's run uses with --verbose). With stdio, the
 * event loop feeds stdin to the UART (a terminal is put in non-canonical, no-echo mode; Ctrl-C
 * still stops minivm) and output goes to stdout. Input never blocks anyone: what the UART's
 * FIFO cannot take waits here, stdin is not watched meanwhile, and the UART says when it has
 * room again (an eventfd the loop watches). stdin that epoll cannot watch (a regular file,
 * /dev/null) is read whenever there is room, since reading it never blocks. */
#ifndef MINIVM_CONSOLE_H
#define MINIVM_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <termios.h>

#include "error.h"
#include "hw/uart.h"
#include "loop.h"

enum console_kind { CONSOLE_NONE, CONSOLE_STDIO, CONSOLE_FILE, CONSOLE_STDERR };

struct console {
	enum console_kind kind;
	const char *path;
	int out_fd; /* -1 for none */
	bool owns_fd, tty_saved;
	struct termios saved;
	/* input (stdio only) */
	struct loop *loop;
	struct uart *uart;
	int in_fd, space_fd; /* -1 when unused */
	bool in_watched, in_pollable, in_readable, in_eof;
	uint8_t buf[512];
	size_t off, len; /* bytes read, not yet taken by the UART */
};

int console_parse(const char *spec, struct console *c, mc_err *err);
int console_open(struct console *c, mc_err *err);
/* Feed stdin to u from loop l (stdio only). */
int console_attach(struct console *c, struct loop *l, struct uart *u, mc_err *err);
/* Stop input, restore the terminal, close the file. Safe to call more than once; call it after
 * the vCPUs are gone (the UART calls back into the console). */
void console_close(struct console *c);

#endif
