/* The OCI runtime-spec config (config.json) as typed C structs, parsed with json-c. */
#ifndef MINICT_SPEC_H
#define MINICT_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

struct json_object;

struct ct_rlimit {
	int resource; /* RLIMIT_* */
	char *type;   /* "RLIMIT_NOFILE" */
	uint64_t soft, hard;
};

struct ct_caps {
	/* each a list of CAP_* numbers; count -1 means "not given" */
	int *set[5];
	int count[5];
};
enum { CT_CAP_BOUNDING, CT_CAP_EFFECTIVE, CT_CAP_PERMITTED, CT_CAP_INHERITABLE, CT_CAP_AMBIENT };

struct ct_process {
	bool terminal;
	unsigned console_h, console_w;
	uid_t uid;
	gid_t gid;
	gid_t *gids;
	size_t ngids;
	bool has_umask;
	mode_t umask;
	char **args; /* NULL-terminated */
	char **env;  /* NULL-terminated */
	char *cwd;
	struct ct_caps caps;
	bool has_caps;
	struct ct_rlimit *rlimits;
	size_t nrlimits;
	bool no_new_privileges;
	bool has_oom_score_adj;
	int oom_score_adj;
	char *apparmor_profile; /* applied at exec where AppArmor is enabled, else refused */
};

struct ct_mount {
	char *destination;
	char *type;
	char *source;
	unsigned long flags;	   /* MS_* set */
	unsigned long clear_flags; /* MS_* cleared ("rw", "suid"...) */
	unsigned long propagation; /* MS_PRIVATE|MS_REC ... or 0 */
	char *data;		   /* remaining options joined by ',' */
	bool bind;
};

struct ct_namespace {
	int type; /* CLONE_NEW* */
	char *path;
};

struct ct_idmap {
	uint32_t container_id, host_id, size;
};

struct ct_device {
	char *path;
	char type; /* c, b, u, p */
	int64_t major, minor;
	bool has_mode, has_uid, has_gid;
	mode_t mode;
	uid_t uid;
	gid_t gid;
};

struct ct_seccomp_arg {
	unsigned index;
	uint64_t value, value_two;
	int op; /* enum scmp_compare */
};
struct ct_seccomp_rule {
	char **names;
	size_t nnames;
	uint32_t action; /* SCMP_ACT_* (errno folded in) */
	struct ct_seccomp_arg *args;
	size_t nargs;
};
struct ct_seccomp {
	uint32_t default_action;
	uint32_t *archs; /* SCMP_ARCH_* */
	size_t narchs;
	struct ct_seccomp_rule *rules;
	size_t nrules;
	bool flag_log, flag_spec_allow;
};

struct ct_resources {
	int64_t mem_limit, mem_reservation, mem_swap; /* -1 = unset (spec: -1 unlimited -> "max") */
	bool has_mem_limit, has_mem_reservation, has_mem_swap;
	int64_t mem_kernel, mem_kernel_tcp; /* v1 kmem limits */
	bool has_mem_kernel, has_mem_kernel_tcp;
	uint64_t mem_swappiness;
	bool has_mem_swappiness;
	bool disable_oom_killer;
	uint64_t cpu_shares, cpu_period;
	int64_t cpu_quota;
	bool has_cpu_shares, has_cpu_quota, has_cpu_period;
	char *cpus, *mems;
	int64_t pids_limit;
	bool has_pids_limit;
	uint16_t blkio_weight;
	bool has_blkio_weight;
	struct ct_dev_rule {
		bool allow;
		char type;	      /* a, c, b */
		int64_t major, minor; /* -1 = any */
		char access[4];	      /* subset of "rwm" */
	} * devrules;
	size_t ndevrules;
	struct ct_hugepage {
		char *page_size; /* "2MB", "1GB" */
		uint64_t limit;
	} * hugepages;
	size_t nhugepages;
	/* net_cls / net_prio (v1 only) */
	uint32_t net_class_id;
	bool has_net_class_id;
	struct ct_net_prio {
		char *iface;
		uint32_t prio;
	} * net_prios;
	size_t nnet_prios;
	struct ct_throttle {
		int64_t major, minor;
		uint64_t rate;
		int kind; /* 0 rbps 1 wbps 2 riops 3 wiops */
	} * throttle;
	size_t nthrottle;
};

struct ct_hook {
	char *path;
	char **args; /* NULL-terminated, may be NULL */
	char **env;
	int timeout; /* seconds, 0 none */
};
enum {
	CT_HOOK_PRESTART,
	CT_HOOK_CREATE_RUNTIME,
	CT_HOOK_CREATE_CONTAINER,
	CT_HOOK_START_CONTAINER,
	CT_HOOK_POSTSTART,
	CT_HOOK_POSTSTOP,
	CT_HOOK_KINDS
};
struct ct_hooks {
	struct ct_hook *list[CT_HOOK_KINDS];
	size_t count[CT_HOOK_KINDS];
};

struct ct_sysctl {
	char *key, *value;
};

struct ct_spec {
	char *oci_version;
	char *root_path; /* absolute after ct_spec_resolve_root */
	bool root_readonly;
	char *hostname, *domainname;
	bool has_process;
	struct ct_process process;
	struct ct_mount *mounts;
	size_t nmounts;
	struct ct_hooks hooks;
	struct ct_namespace *namespaces;
	size_t nnamespaces;
	struct ct_idmap *uid_maps, *gid_maps;
	size_t nuid_maps, ngid_maps;
	struct ct_device *devices;
	size_t ndevices;
	char *cgroups_path;
	bool has_resources;
	struct ct_resources res;
	struct ct_sysctl *sysctls;
	size_t nsysctls;
	bool has_seccomp;
	struct ct_seccomp seccomp;
	unsigned long rootfs_propagation; /* MS_* or 0 = default rprivate */
	char **masked_paths, **readonly_paths;
	size_t nmasked, nreadonly;
	struct json_object *annotations; /* owned reference or NULL */
	/* minict extensions (short form): network */
	char *net_bridge, *net_cidr;
};

/* Parse config.json text. Errors name the field: "process.args: expected an array". */
int ct_spec_parse(const char *json, size_t len, struct ct_spec **out, mc_err *err);
/* Parse bundle/config.json and resolve root.path against the bundle. */
int ct_spec_load(const char *bundle, struct ct_spec **out, mc_err *err);
void ct_spec_free(struct ct_spec *spec);
/* Check the rootfs exists and is a directory; make root_path absolute (bundle may be NULL). */
int ct_spec_resolve_root(struct ct_spec *spec, const char *bundle, mc_err *err);
/* Mount options: fill flags/propagation/data of m from options. */
int ct_mount_options(struct ct_mount *m, char **opts, size_t n, mc_err *err);
/* Queries on a parsed spec (spec_query.c). */
/* Has namespace of this CLONE_NEW* type (and its path, or NULL). */
bool ct_spec_has_ns(const struct ct_spec *spec, int type, const char **path);
/* What the namespaces make impossible or unsafe: mounts, devices, masked or read-only
 * paths without a mount namespace of the container's own (they would land in the host's);
 * sysctls whose namespace the container doesn't have (they would change the host). */
int ct_spec_check_namespaces(const struct ct_spec *spec, mc_err *err);

/* The default config.json (runc's `spec` layout) as a json-c object the caller owns. */
struct json_object *ct_spec_default_json(void);

#endif
