#include "backend.h"

#include <errno.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "cleanup.h"
#include "util.h"
#include "vmguest.h"

static const char *const names[MB_NBACKENDS] = {
    [MB_VM] = "vm",	    [MB_CT] = "ct",	    [MB_NATIVE] = "native",
    [MB_QEMU] = "qemu",	    [MB_CRUN] = "crun",	    [MB_RUNC] = "runc",
    [MB_DOCKER] = "docker", [MB_PODMAN] = "podman", [MB_DOCKER_MINICT] = "docker-minict",
};

const char *mb_backend_name(enum mb_backend b)
{
	return (size_t)b < MB_NBACKENDS ? names[b] : "?";
}

int mb_backend_by_name(const char *name)
{
	for (int i = 0; i < MB_NBACKENDS; i++)
		if (strcmp(name, names[i]) == 0)
			return i;
	return -1;
}

const char *mb_backend_names(void)
{
	return "vm, ct, native, qemu, crun, runc, docker, docker-minict, podman";
}

bool mb_which(const char *prog, char *path, size_t size)
{
	const char *env = getenv("PATH");
	_cleanup_free_ char *dirs = strdup(env && *env ? env : "/usr/local/bin:/usr/bin:/bin");
	if (!dirs)
		return false;
	char *save = NULL;
	for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		int n = snprintf(path, size, "%s/%s", d, prog);
		if (n > 0 && (size_t)n < size && access(path, X_OK) == 0)
			return true;
	}
	/* root's tools in sbin may be missing from a user's PATH */
	static const char *const extra[] = {"/usr/sbin", "/sbin"};
	for (size_t i = 0; i < MC_ARRAY_SIZE(extra); i++) {
		int n = snprintf(path, size, "%s/%s", extra[i], prog);
		if (n > 0 && (size_t)n < size && access(path, X_OK) == 0)
			return true;
	}
	return false;
}

const char *mb_self_dir(void)
{
	static char dir[PATH_MAX];
	if (!dir[0]) {
		ssize_t n = readlink("/proc/self/exe", dir, sizeof(dir) - 1);
		if (n <= 0) {
			strcpy(dir, ".");
		} else {
			dir[n] = 0;
			char *slash = strrchr(dir, '/');
			if (slash)
				*slash = 0;
		}
	}
	return dir;
}

const char *mb_checkout_dir(void)
{
	static char dir[PATH_MAX];
	char probe[PATH_MAX + 32];
	snprintf(dir, sizeof(dir), "%s", mb_self_dir());
	for (int up = 0; up < 4; up++) {
		char *slash = strrchr(dir, '/');
		if (!slash || slash == dir)
			return NULL;
		*slash = 0;
		snprintf(probe, sizeof(probe), "%s/bench/record.py", dir);
		if (access(probe, R_OK) == 0)
			return dir;
	}
	return NULL;
}

void mb_images_env(const char *name, char *out, size_t size)
{
	const char *env = getenv(name);
	const char *co = mb_checkout_dir();
	out[0] = 0;
	if (env && *env) {
		snprintf(out, size, "%s", env);
		return;
	}
	if (!co)
		return;
	char path[PATH_MAX + 32], line[PATH_MAX + 64];
	size_t len = strlen(name);
	snprintf(path, sizeof(path), "%s/build/images.env", co);
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, name, len) == 0 && line[len] == '=') {
			line[strcspn(line, "\n")] = 0;
			snprintf(out, size, "%s", line + len + 1);
		}
}

/* A hybrid cgroup host: /sys/fs/cgroup is a tmpfs of v1 hierarchies with cgroup2 mounted at
 * /sys/fs/cgroup/unified. crun 1.8 refuses that layout. */
static bool hybrid_cgroups(void)
{
	struct statfs root, unified;
	if (statfs("/sys/fs/cgroup", &root) < 0 || root.f_type == CGROUP2_SUPER_MAGIC)
		return false;
	return statfs("/sys/fs/cgroup/unified", &unified) == 0 &&
	       unified.f_type == CGROUP2_SUPER_MAGIC;
}

int mb_backend_engine(enum mb_backend b)
{
	if (b == MB_DOCKER || b == MB_DOCKER_MINICT)
		return MB_ENGINE_DOCKER;
	return b == MB_PODMAN ? MB_ENGINE_PODMAN : -1;
}

static int find_minict(struct mb_launcher *l, mc_err *err)
{
	const char *env = getenv("MINICT");
	int n = env && *env ? snprintf(l->tool, sizeof(l->tool), "%s", env)
			    : snprintf(l->tool, sizeof(l->tool), "%s/minict", mb_self_dir());
	if (n < 0 || (size_t)n >= sizeof(l->tool))
		return mc_errorf(err, 0, "minict path too long");
	if (access(l->tool, X_OK) < 0)
		return mc_errorf(err, 0, "minict is not built: no %s (make, or set MINICT)",
				 l->tool);
	/* dockerd resolves a relative path from its own cwd */
	char abs[PATH_MAX];
	if (l->tool[0] != '/' && realpath(l->tool, abs))
		snprintf(l->tool, sizeof(l->tool), "%s", abs);
	return 0;
}

int mb_backend_prepare(enum mb_backend b, const char *workdir, struct mb_launcher *l, mc_err *err)
{
	memset(l, 0, sizeof(*l));
	l->backend = b;
	if (geteuid() != 0)
		return mc_errorf(err, 0, "backend %s needs root (containers and chroot)", names[b]);
	switch (b) {
	case MB_CT:
		if (find_minict(l, err) < 0)
			return -1;
		break;
	case MB_DOCKER_MINICT:
		if (find_minict(l, err) < 0)
			return mc_wrap(err, "docker-minict");
		l->runtime = "minict";
		return mb_engine_check(MB_ENGINE_DOCKER, err);
	case MB_DOCKER:
		return mb_engine_check(MB_ENGINE_DOCKER, err);
	case MB_PODMAN:
		return mb_engine_check(MB_ENGINE_PODMAN, err);
	case MB_CRUN:
	case MB_RUNC:
		if (!mb_which(names[b], l->tool, sizeof(l->tool)))
			return mc_errorf(err, 0, "%s is not installed (make deps)", names[b]);
		l->private_cgroup2_umount = b == MB_CRUN && hybrid_cgroups();
		break;
	case MB_NATIVE:
		return 0;
	case MB_VM:
	case MB_QEMU:
		return mb_vm_tool(b, l, err);
	default:
		return mc_errorf(err, 0, "unknown backend %d",
				 (int)b); /* every backend is a case above */
	}
	if (!workdir)
		return 0;
	int n = snprintf(l->state, sizeof(l->state), "%s/state/%s", workdir, names[b]);
	if (n < 0 || (size_t)n >= sizeof(l->state))
		return mc_errorf(err, 0, "work directory path too long");
	if (mc_mkdir_p(l->state, 0700, err) < 0)
		return mc_wrap(err, "backend %s: state directory", names[b]);
	return 0;
}
