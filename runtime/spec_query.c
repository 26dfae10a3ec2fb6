/* Questions about a parsed spec, kept apart from the parser (config*.c). */
#include <errno.h>
#include <sched.h>
#include <string.h>

#include "spec.h"

bool ct_spec_has_ns(const struct ct_spec *spec, int type, const char **path)
{
	for (size_t i = 0; i < spec->nnamespaces; i++)
		if (spec->namespaces[i].type == type) {
			if (path)
				*path = spec->namespaces[i].path;
			return true;
		}
	return false;
}

/* The namespace a sysctl belongs to (as runc's validator sorts them), or 0 if none. */
static int sysctl_ns(const char *key)
{
	static const char *const ipc[] = {
	    "kernel.msgmax", "kernel.msgmnb",	       "kernel.msgmni",
	    "kernel.sem",    "kernel.shmall",	       "kernel.shmmax",
	    "kernel.shmmni", "kernel.shm_rmid_forced", NULL};
	for (const char *const *k = ipc; *k; k++)
		if (!strcmp(key, *k))
			return CLONE_NEWIPC;
	if (!strncmp(key, "fs.mqueue.", 10))
		return CLONE_NEWIPC;
	if (!strncmp(key, "net.", 4))
		return CLONE_NEWNET;
	if (!strcmp(key, "kernel.hostname") || !strcmp(key, "kernel.domainname"))
		return CLONE_NEWUTS;
	return 0;
}

int ct_spec_check_namespaces(const struct ct_spec *spec, mc_err *err)
{
	const char *mnt_path = NULL;
	bool own_mnt = ct_spec_has_ns(spec, CLONE_NEWNS, &mnt_path) && !mnt_path;
	if (!own_mnt) {
		const char *what = spec->nmounts	      ? "mounts"
				   : spec->ndevices	      ? "linux.devices"
				   : spec->nmasked	      ? "linux.maskedPaths"
				   : spec->nreadonly	      ? "linux.readonlyPaths"
				   : spec->root_readonly      ? "root.readonly"
				   : spec->rootfs_propagation ? "linux.rootfsPropagation"
							      : NULL;
		if (what)
			return mc_errorf(err, EINVAL,
					 "%s: needs a mount namespace of the container's own "
					 "(linux.namespaces has no \"mount\" entry without a path)",
					 what);
	}
	for (size_t i = 0; i < spec->nsysctls; i++) {
		int ns = sysctl_ns(spec->sysctls[i].key);
		if (!ns)
			return mc_errorf(
			    err, EINVAL,
			    "linux.sysctl.%s: not a namespaced sysctl; it would change "
			    "the host",
			    spec->sysctls[i].key);
		if (!ct_spec_has_ns(spec, ns, NULL))
			return mc_errorf(err, EINVAL,
					 "linux.sysctl.%s: the container has no %s namespace; it "
					 "would change the host",
					 spec->sysctls[i].key,
					 ns == CLONE_NEWNET   ? "network"
					 : ns == CLONE_NEWIPC ? "ipc"
							      : "uts");
	}
	return 0;
}
