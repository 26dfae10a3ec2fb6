/* The backends minibench compares, how to find each one's tool and how to start one guest. */
#ifndef MB_BACKEND_H
#define MB_BACKEND_H

#include <stdbool.h>
#include <stddef.h>

#include "engine.h"
#include "error.h"

enum mb_backend {
	MB_VM,	   /* minivm (vmm/) */
	MB_CT,	   /* minict (runtime/) */
	MB_NATIVE, /* the workload in a chroot of the same rootfs */
	MB_QEMU,
	MB_CRUN,
	MB_RUNC,
	MB_DOCKER,
	MB_PODMAN,
	MB_DOCKER_MINICT, /* the same private dockerd, `docker run --runtime minict` */
	MB_NBACKENDS
};

const char *mb_backend_name(enum mb_backend b);
/* -1 for an unknown name. */
int mb_backend_by_name(const char *name);
/* "vm, ct, native, ..." for error messages. */
const char *mb_backend_names(void);

/* How one guest of a backend is started. */
struct mb_launcher {
	enum mb_backend backend;
	char tool[4096];  /* the runtime binary (docker-minict: minict); empty for native */
	char state[4096]; /* its --root */
	bool private_cgroup2_umount;	/* crun on a hybrid host: see mb_spawn_batch */
	const struct mb_engine *engine; /* docker, docker-minict, podman: set by the experiment */
	const char *runtime;		/* the engine's --runtime; NULL: its default */
};

/* The engine a backend runs through, or -1 for a runtime/chroot backend. */
int mb_backend_engine(enum mb_backend b);

/* Check that backend b can run the container latency experiment here and fill l: the tool is
 * found (else "crun is not installed (make deps)"), the backend is implemented (else "not yet:
 * ..."). workdir holds the state directories (NULL: only check). */
int mb_backend_prepare(enum mb_backend b, const char *workdir, struct mb_launcher *l, mc_err *err);
/* Find prog in $PATH into path; false if it isn't there. */
bool mb_which(const char *prog, char *path, size_t size);
/* The directory minibench's binary lives in (build/bin), for minict and the checkout. */
const char *mb_self_dir(void);
/* The checkout minibench was built in: the nearest directory above mb_self_dir() holding
 * bench/record.py (build/bin, build/san/bin), or NULL. */
const char *mb_checkout_dir(void);
/* An image setting (MINIVM_KERNEL, MINIVM_ROOTFS_DIR, ...) into out: $NAME, else its NAME= line
 * in the checkout's build/images.env (`make images`); "" if neither has it. */
void mb_images_env(const char *name, char *out, size_t size);

#endif
