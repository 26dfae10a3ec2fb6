/* The event loop (loop.h). */
#include "loop.h"

#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

int loop_init(struct loop *l, mc_err *err)
{
	l->stop = false;
	for (unsigned i = 0; i < LOOP_MAX_SOURCES; i++)
		l->src[i] = (struct loop_source){.fd = -1};
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0)
		return mc_errorf(err, errno, "epoll_create1");
	return 0;
}

void loop_destroy(struct loop *l)
{
	if (l->epfd >= 0)
		close(l->epfd);
	l->epfd = -1;
}

static struct loop_source *find(struct loop *l, int fd)
{
	for (unsigned i = 0; i < LOOP_MAX_SOURCES; i++)
		if (l->src[i].fd == fd)
			return &l->src[i];
	return NULL;
}

/* epoll's data: the slot and its generation, so an event for a source removed earlier in the
 * same batch is recognised and dropped. */
static uint64_t key(const struct loop *l, const struct loop_source *s)
{
	return (uint64_t)s->gen << 32 | (uint64_t)(s - l->src);
}

int loop_add(struct loop *l, int fd, uint32_t events, loop_fn fn, void *opaque, mc_err *err)
{
	struct loop_source *s = find(l, -1);
	if (!s)
		return mc_errorf(err, 0, "event loop: more than %d sources", LOOP_MAX_SOURCES);
	s->gen++;
	struct epoll_event ev = {.events = events, .data.u64 = key(l, s)};
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return mc_errorf(err, errno, "epoll_ctl add fd %d", fd);
	s->fd = fd;
	s->fn = fn;
	s->opaque = opaque;
	return 0;
}

int loop_mod(struct loop *l, int fd, uint32_t events, mc_err *err)
{
	struct loop_source *s = find(l, fd);
	if (!s || fd < 0)
		return mc_errorf(err, 0, "event loop: fd %d not watched", fd);
	struct epoll_event ev = {.events = events, .data.u64 = key(l, s)};
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
		return mc_errorf(err, errno, "epoll_ctl mod fd %d", fd);
	return 0;
}

void loop_del(struct loop *l, int fd)
{
	struct loop_source *s = find(l, fd);
	if (!s || fd < 0)
		return;
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
	s->fd = -1;
	s->gen++;
}

void loop_stop(struct loop *l)
{
	l->stop = true;
}

int loop_run(struct loop *l, mc_err *err)
{
	struct epoll_event ev[16];
	while (!l->stop) {
		int n = epoll_wait(l->epfd, ev, 16, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return mc_errorf(err, errno, "epoll_wait");
		}
		for (int i = 0; i < n && !l->stop; i++) {
			uint32_t slot = (uint32_t)ev[i].data.u64;
			uint32_t gen = (uint32_t)(ev[i].data.u64 >> 32);
			if (slot >= LOOP_MAX_SOURCES)
				continue;
			struct loop_source *s = &l->src[slot];
			if (s->fd < 0 || s->gen != gen)
				continue;
			s->fn(s->opaque, ev[i].events);
		}
	}
	return 0;
}
