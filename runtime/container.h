/* Creating a container: the parent side (container.c) and the init side (init.c). */
#ifndef MINICT_CONTAINER_H
#define MINICT_CONTAINER_H

#include <stdbool.h>
#include <sys/types.h>

#include "cgroup.h"
#include "error.h"
#include "spec.h"
#include "state.h"

struct ct_create_opts {
	const char *root; /* state root, e.g. /run/minict */
	const char *id;
	const char *bundle; /* absolute, or NULL for the short form */
	const char *pid_file;
	const char *console_socket; /* path of a unix socket to receive the pty master */
	int preserve_fds;
	bool no_pivot;
	bool foreground;     /* `run` without --detach: stdio stays, minict waits */
	int console_sock_fd; /* already-connected console socket (short form -t), or -1 */
};

/* What the child needs; filled by the parent before clone. */
struct ct_init_args {
	struct ct_spec *spec;
	const struct ct_create_opts *opts;
	struct ct_cgroup *cg;
	int sync_fd;
	int fifo_fd;	 /* O_PATH to exec.fifo, -1 in foreground mode */
	int console_fd;	 /* connected console socket or -1 */
	bool net_config; /* configure eth0 from spec->net_cidr */
};

/* Create the container; on success st is filled and saved (pid, cgroups, veth). Nothing is
 * left behind on failure. In foreground mode *sync_fd stays open: send CT_SYNC_CONTINUE on
 * it to let the process exec (instead of exec.fifo). */
int ct_container_create(struct ct_spec *spec, const struct ct_create_opts *opts,
			struct ct_state *st, int *sync_fd, mc_err *err);
/* Release a created container (open exec.fifo for reading) and return once its program
 * runs (the fifo's write end closes at execve); then the poststart hooks. */
int ct_container_start(const char *root, struct ct_state *st, mc_err *err);
/* The poststart hooks of spec (may be NULL): a failure is a warning. */
void ct_container_poststart(struct ct_spec *spec, const struct ct_state *st);
/* Tear down: kill what's left (if force), remove cgroups, veth, state dir; poststop hooks. */
int ct_container_destroy(const char *root, struct ct_state *st, mc_err *err);
/* Container init (child of clone). Never returns. */
__attribute__((noreturn)) void ct_init_main(struct ct_init_args *a);

#endif
