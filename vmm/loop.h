/* The main thread's event loop: one epoll set, one callback per file descriptor (signalfd,
 * console input, the VM's end eventfd, device eventfds, later the control socket). Callbacks
 * run on the loop's thread, one at a time; a callback may add or remove sources, its own too.
 */
#ifndef MINIVM_LOOP_H
#define MINIVM_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"

#define LOOP_MAX_SOURCES 64

typedef void (*loop_fn)(void *opaque, uint32_t events);

struct loop_source {
	int fd; /* -1: free */
	uint32_t gen;
	loop_fn fn;
	void *opaque;
};

struct loop {
	int epfd;
	bool stop;
	struct loop_source src[LOOP_MAX_SOURCES];
};

int loop_init(struct loop *l, mc_err *err);
void loop_destroy(struct loop *l);
/* Watch fd for events (EPOLLIN...). EPERM from epoll (a regular file, /dev/null) is returned
 * as -1 with errno EPERM in *err: such an fd is always ready, the caller reads it directly. */
int loop_add(struct loop *l, int fd, uint32_t events, loop_fn fn, void *opaque, mc_err *err);
/* Change what fd is watched for (0: nothing, until changed again). */
int loop_mod(struct loop *l, int fd, uint32_t events, mc_err *err);
void loop_del(struct loop *l, int fd);
/* Dispatch until loop_stop() is called (from a callback). */
int loop_run(struct loop *l, mc_err *err);
void loop_stop(struct loop *l);

#endif
