/* I/O threads (iothread.h).
 *
 * The thread waits in epoll_wait without any lock, then dispatches the batch holding
 * t->lock. Other threads change the sources, pause or stop the thread under the same lock, so
 * when they hold it no callback runs. A control eventfd wakes the thread out of epoll_wait
 * for a pause or stop. A source removed while its event sits in the current batch is
 * recognised by its generation and skipped. The I/O thread's own callbacks change sources
 * without locking (they already hold the lock).
 */
#include "iothread.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct iothread_source {
	int fd; /* -1: free */
	uint32_t gen;
	iothread_fn fn;
	void *opaque;
};

struct iothread {
	char name[16];
	pthread_t thread;
	bool running;
	int epfd, ctl_fd;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned pause_depth; /* > 0: parked */
	bool parked, stop;
	struct iothread_source src[IOTHREAD_MAX_SOURCES];
};

int iothread_is_current(const struct iothread *t)
{
	return t->running && pthread_equal(pthread_self(), t->thread);
}

static void lock(struct iothread *t)
{
	if (!iothread_is_current(t))
		pthread_mutex_lock(&t->lock);
}

static void unlock(struct iothread *t)
{
	if (!iothread_is_current(t))
		pthread_mutex_unlock(&t->lock);
}

static void wake(struct iothread *t)
{
	uint64_t one = 1;
	ssize_t n = write(t->ctl_fd, &one, sizeof(one));
	(void)n; /* EAGAIN: already signalled */
}

static uint64_t key(const struct iothread *t, const struct iothread_source *s)
{
	return (uint64_t)s->gen << 32 | (uint64_t)(s - t->src);
}

static void *run(void *arg)
{
	struct iothread *t = arg;
	struct epoll_event ev[32];
	pthread_mutex_lock(&t->lock);
	while (!t->stop) {
		if (t->pause_depth > 0) {
			t->parked = true;
			pthread_cond_broadcast(&t->cond);
			pthread_cond_wait(&t->cond, &t->lock);
			continue;
		}
		t->parked = false;
		pthread_mutex_unlock(&t->lock);
		int n = epoll_wait(t->epfd, ev, 32, -1);
		pthread_mutex_lock(&t->lock);
		for (int i = 0; i < n && !t->stop && t->pause_depth == 0; i++) {
			uint32_t slot = (uint32_t)ev[i].data.u64;
			uint32_t gen = (uint32_t)(ev[i].data.u64 >> 32);
			if (slot == UINT32_MAX) {
				uint64_t v;
				ssize_t r = read(t->ctl_fd, &v, sizeof(v));
				(void)r;
				continue;
			}
			if (slot >= IOTHREAD_MAX_SOURCES)
				continue;
			struct iothread_source *s = &t->src[slot];
			if (s->fd < 0 || s->gen != gen)
				continue;
			s->fn(s->opaque, ev[i].events);
		}
		/* A pause that arrived during the batch drops the rest of it: level-triggered
		 * sources report their events again after the resume. */
	}
	t->parked = true;
	pthread_cond_broadcast(&t->cond);
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

int iothread_create(struct iothread **out, const char *name, mc_err *err)
{
	struct iothread *t = calloc(1, sizeof(*t));
	if (!t)
		return mc_errorf(err, ENOMEM, "I/O thread %s", name);
	snprintf(t->name, sizeof(t->name), "%s", name);
	for (unsigned i = 0; i < IOTHREAD_MAX_SOURCES; i++)
		t->src[i].fd = -1;
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->cond, NULL);
	t->epfd = epoll_create1(EPOLL_CLOEXEC);
	t->ctl_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (t->epfd < 0 || t->ctl_fd < 0) {
		mc_errorf(err, errno, "I/O thread %s: epoll/eventfd", name);
		goto fail;
	}
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = UINT32_MAX};
	if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, t->ctl_fd, &ev) < 0) {
		mc_errorf(err, errno, "I/O thread %s: epoll_ctl", name);
		goto fail;
	}
	int e = pthread_create(&t->thread, NULL, run, t);
	if (e) {
		mc_errorf(err, e, "I/O thread %s: pthread_create", name);
		goto fail;
	}
	t->running = true;
	pthread_setname_np(t->thread, t->name);
	*out = t;
	return 0;
fail:
	if (t->epfd >= 0)
		close(t->epfd);
	if (t->ctl_fd >= 0)
		close(t->ctl_fd);
	pthread_mutex_destroy(&t->lock);
	pthread_cond_destroy(&t->cond);
	free(t);
	return -1;
}

void iothread_destroy(struct iothread *t)
{
	if (!t)
		return;
	if (t->running) {
		pthread_mutex_lock(&t->lock);
		t->stop = true;
		pthread_cond_broadcast(&t->cond);
		wake(t);
		pthread_mutex_unlock(&t->lock);
		pthread_join(t->thread, NULL);
		t->running = false;
	}
	close(t->epfd);
	close(t->ctl_fd);
	pthread_mutex_destroy(&t->lock);
	pthread_cond_destroy(&t->cond);
	free(t);
}

static struct iothread_source *find(struct iothread *t, int fd)
{
	for (unsigned i = 0; i < IOTHREAD_MAX_SOURCES; i++)
		if (t->src[i].fd == fd)
			return &t->src[i];
	return NULL;
}

int iothread_add(struct iothread *t, int fd, uint32_t events, iothread_fn fn, void *opaque,
		 mc_err *err)
{
	if (fd < 0)
		return mc_errorf(err, EBADF, "I/O thread %s: fd %d", t->name, fd);
	lock(t);
	int rc = 0;
	struct iothread_source *s = find(t, -1);
	if (find(t, fd)) {
		rc = mc_errorf(err, EEXIST, "I/O thread %s: fd %d already watched", t->name, fd);
	} else if (!s) {
		rc = mc_errorf(err, ENOSPC, "I/O thread %s: more than %d sources", t->name,
			       IOTHREAD_MAX_SOURCES);
	} else {
		s->gen++;
		struct epoll_event ev = {.events = events, .data.u64 = key(t, s)};
		if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			rc = mc_errorf(err, errno, "I/O thread %s: watch fd %d", t->name, fd);
		} else {
			s->fd = fd;
			s->fn = fn;
			s->opaque = opaque;
		}
	}
	unlock(t);
	return rc;
}

int iothread_mod(struct iothread *t, int fd, uint32_t events, mc_err *err)
{
	lock(t);
	int rc = 0;
	struct iothread_source *s = fd >= 0 ? find(t, fd) : NULL;
	if (!s) {
		rc = mc_errorf(err, ENOENT, "I/O thread %s: fd %d not watched", t->name, fd);
	} else {
		struct epoll_event ev = {.events = events, .data.u64 = key(t, s)};
		if (epoll_ctl(t->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
			rc = mc_errorf(err, errno, "I/O thread %s: fd %d", t->name, fd);
	}
	unlock(t);
	return rc;
}

void iothread_del(struct iothread *t, int fd)
{
	lock(t);
	struct iothread_source *s = fd >= 0 ? find(t, fd) : NULL;
	if (s) {
		epoll_ctl(t->epfd, EPOLL_CTL_DEL, fd, NULL);
		s->fd = -1;
		s->gen++;
	}
	unlock(t);
}

void iothread_pause(struct iothread *t)
{
	pthread_mutex_lock(&t->lock);
	t->pause_depth++;
	wake(t);
	while (t->running && !t->parked && !t->stop)
		pthread_cond_wait(&t->cond, &t->lock);
	pthread_mutex_unlock(&t->lock);
}

void iothread_resume(struct iothread *t)
{
	pthread_mutex_lock(&t->lock);
	if (t->pause_depth > 0 && --t->pause_depth == 0) {
		t->parked = false;
		pthread_cond_broadcast(&t->cond);
	}
	pthread_mutex_unlock(&t->lock);
}
