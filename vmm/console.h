/* Where the guest's serial console goes: --console none | stdio | file:PATH. With stdio, a
 * thread feeds stdin to the UART (a terminal is put in non-canonical, no-echo mode; Ctrl-C
 * still stops minivm) and output goes to stdout. */
#ifndef MINIVM_CONSOLE_H
#define MINIVM_CONSOLE_H

#include <pthread.h>
#include <stdbool.h>
#include <termios.h>

#include "error.h"
#include "hw/uart.h"

enum console_kind { CONSOLE_NONE, CONSOLE_STDIO, CONSOLE_FILE };

struct console {
	enum console_kind kind;
	const char *path;
	int out_fd; /* -1 for none */
	bool owns_fd, tty_saved, input_started;
	struct termios saved;
	int stop_fd;
	pthread_t input;
	struct uart *uart;
};

int console_parse(const char *spec, struct console *c, mc_err *err);
int console_open(struct console *c, mc_err *err);
/* Start the stdin -> UART thread (stdio only). */
int console_start_input(struct console *c, struct uart *u, mc_err *err);
/* Stop input, restore the terminal, close the file. Safe to call more than once. */
void console_close(struct console *c);

#endif
