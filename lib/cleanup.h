/* __attribute__((cleanup)) helpers: keep error paths short (as in crun's utils.h). */
#ifndef MINI_CLEANUP_H
#define MINI_CLEANUP_H

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void mc_freep(void *p)
{
	free(*(void **)p);
}
static inline void mc_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}
static inline void mc_fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}
static inline void mc_closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}

#define _cleanup_free_	   __attribute__((cleanup(mc_freep)))
#define _cleanup_closedir_ __attribute__((cleanup(mc_closedirp)))
#define _cleanup_close_	   __attribute__((cleanup(mc_closep)))
#define _cleanup_fclose_   __attribute__((cleanup(mc_fclosep)))

/* Hand ownership out of a cleanup variable. */
static inline int mc_steal_fd(int *fd)
{
	int r = *fd;
	*fd = -1;
	return r;
}
static inline void *mc_steal_ptr(void *pp)
{
	void **p = pp;
	void *r = *p;
	*p = NULL;
	return r;
}

#define MC_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
