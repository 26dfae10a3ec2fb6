/* An I/O thread: one thread running an epoll loop over the file descriptors devices give it
 * (queue kick eventfds, an io_uring's completion eventfd, a tap), so device work never runs on
 * a vCPU thread (docs/virtio.md, "Threads").
 *
 * Sources can be added and removed from any thread, the I/O thread's own callbacks included.
 * After iothread_del() returns on another thread, the callback is not running and will not be
 * called again for that fd. iothread_pause() returns once no callback is running and none will
 * start until iothread_resume(): the VM's pause uses it to quiesce the devices.
 */
#ifndef MINIVM_IOTHREAD_H
#define MINIVM_IOTHREAD_H

#include <stdint.h>

#include "error.h"

#define IOTHREAD_MAX_SOURCES 64

typedef void (*iothread_fn)(void *opaque, uint32_t events);

struct iothread;

/* Start a thread named name (shown by ps/top; at most 15 bytes). */
int iothread_create(struct iothread **t, const char *name, mc_err *err);
/* Stop and join the thread (no callback runs after this), free it. NULL is accepted. */
void iothread_destroy(struct iothread *t);
/* Watch fd for events (EPOLLIN...), calling fn on the I/O thread. */
int iothread_add(struct iothread *t, int fd, uint32_t events, iothread_fn fn, void *opaque,
		 mc_err *err);
int iothread_mod(struct iothread *t, int fd, uint32_t events, mc_err *err);
void iothread_del(struct iothread *t, int fd);
/* Park the thread between callbacks (nests: resume after as many pauses). Not from the I/O
 * thread itself. */
void iothread_pause(struct iothread *t);
void iothread_resume(struct iothread *t);
/* Whether the caller is t's thread. */
int iothread_is_current(const struct iothread *t);

#endif
