/* process.terminal: the init opens a pty in the container's devpts, makes the slave its
 * controlling terminal and stdio, and sends the master over the console socket (runc's
 * protocol: one SCM_RIGHTS message). */
#ifndef MINICT_TERMINAL_H
#define MINICT_TERMINAL_H

#include "error.h"

int ct_console_connect(const char *path, mc_err *err);
int ct_send_fd(int sock, int fd, const char *name, mc_err *err);
/* Returns the received fd or -1. */
int ct_recv_fd(int sock, mc_err *err);
/* In the container (after pivot_root): pty, ctty, stdio; master sent over console_fd. */
int ct_terminal_setup(int console_fd, unsigned rows, unsigned cols, mc_err *err);
/* Short form -t: copy between our terminal (raw mode) and master until the child exits. */
int ct_terminal_proxy(int master, int child_pidfd);

#endif
