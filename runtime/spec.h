/* The OCI runtime-spec config (config.json) as typed C structs, parsed with json-c. */
#ifndef MINICT_SPEC_H
#define MINICT_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

struct json_object;

struct mc_rlimit {
	int resource; /* RLIMIT_* */
	char *type;   /* "RLIMIT_NOFILE" */
	uint64_t soft, hard;
};

struct mc_caps {
	/* each a list of CAP_* numbers; count -1 means "not given" */
	int *set[5];
	int count[5];
};
enum { MC_CAP_BOUNDING, MC_CAP_EFFECTIVE, MC_CAP_PERMITTED, MC_CAP_INHERITABLE, MC_CAP_AMBIENT };

struct mc_process {
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
	struct mc_caps caps;
	bool has_caps;
	struct mc_rlimit *rlimits;
	size_t nrlimits;
	bool no_new_privileges;
	bool has_oom_score_adj;
	int oom_score_adj;
};

struct mc_mount {
	char *destination;
	char *type;
	char *source;
	unsigned long flags;	   /* MS_* set */
	unsigned long clear_flags; /* MS_* cleared ("rw", "suid"...) */
	unsigned long propagation; /* MS_PRIVATE|MS_REC ... or 0 */
	char *data;		   /* remaining options joined by ',' */
	bool bind;
};

struct mc_namespace {
	int type; /* CLONE_NEW* */
	char *path;
};

struct mc_idmap {
	uint32_t container_id, host_id, size;
};

struct mc_device {
	char *path;
	char type; /* c, b, u, p */
	int64_t major, minor;
	bool has_mode, has_uid, has_gid;
	mode_t mode;
	uid_t uid;
	gid_t gid;
};

struct mc_seccomp_arg {
	unsigned index;
	uint64_t value, value_two;
	int op; /* enum scmp_compare */
};
struct mc_seccomp_rule {
	char **names;
	size_t nnames;
	uint32_t action; /* SCMP_ACT_* (errno folded in) */
	struct mc_seccomp_arg *args;
	size_t nargs;
};
struct mc_seccomp {
	uint32_t default_action;
	uint32_t *archs; /* SCMP_ARCH_* */
	size_t narchs;
	struct mc_seccomp_rule *rules;
	size_t nrules;
	bool flag_log, flag_spec_allow;
};

struct mc_resources {
	int64_t mem_limit, mem_reservation, mem_swap; /* -1 = unset (spec: -1 unlimited -> "max") */
	bool has_mem_limit, has_mem_reservation, has_mem_swap;
	uint64_t cpu_shares, cpu_period;
	int64_t cpu_quota;
	bool has_cpu_shares, has_cpu_quota, has_cpu_period;
	char *cpus, *mems;
	int64_t pids_limit;
	bool has_pids_limit;
	uint16_t blkio_weight;
	bool has_blkio_weight;
	struct mc_dev_rule {
		bool allow;
		char type;	      /* a, c, b */
		int64_t major, minor; /* -1 = any */
		char access[4];	      /* subset of "rwm" */
	} * devrules;
	size_t ndevrules;
	struct mc_throttle {
		int64_t major, minor;
		uint64_t rate;
		int kind; /* 0 rbps 1 wbps 2 riops 3 wiops */
	} * throttle;
	size_t nthrottle;
};

struct mc_hook {
	char *path;
	char **args; /* NULL-terminated, may be NULL */
	char **env;
	int timeout; /* seconds, 0 none */
};
enum {
	MC_HOOK_PRESTART,
	MC_HOOK_CREATE_RUNTIME,
	MC_HOOK_CREATE_CONTAINER,
	MC_HOOK_START_CONTAINER,
	MC_HOOK_POSTSTART,
	MC_HOOK_POSTSTOP,
	MC_HOOK_KINDS
};
struct mc_hooks {
	struct mc_hook *list[MC_HOOK_KINDS];
	size_t count[MC_HOOK_KINDS];
};

struct mc_sysctl {
	char *key, *value;
};

struct mc_spec {
	char *oci_version;
	char *root_path; /* absolute after mc_spec_resolve_root */
	bool root_readonly;
	char *hostname, *domainname;
	bool has_process;
	struct mc_process process;
	struct mc_mount *mounts;
	size_t nmounts;
	struct mc_hooks hooks;
	struct mc_namespace *namespaces;
	size_t nnamespaces;
	struct mc_idmap *uid_maps, *gid_maps;
	size_t nuid_maps, ngid_maps;
	struct mc_device *devices;
	size_t ndevices;
	char *cgroups_path;
	bool has_resources;
	struct mc_resources res;
	struct mc_sysctl *sysctls;
	size_t nsysctls;
	bool has_seccomp;
	struct mc_seccomp seccomp;
	unsigned long rootfs_propagation; /* MS_* or 0 = default rprivate */
	char **masked_paths, **readonly_paths;
	size_t nmasked, nreadonly;
	struct json_object *annotations; /* owned reference or NULL */
	/* minict extensions (short form): network */
	char *net_bridge, *net_cidr;
};

/* Parse config.json text. Errors name the field: "process.args: expected an array". */
int mc_spec_parse(const char *json, size_t len, struct mc_spec **out, mc_err *err);
/* Parse bundle/config.json and resolve root.path against the bundle. */
int mc_spec_load(const char *bundle, struct mc_spec **out, mc_err *err);
void mc_spec_free(struct mc_spec *spec);
/* Check the rootfs exists and is a directory; make root_path absolute (bundle may be NULL). */
int mc_spec_resolve_root(struct mc_spec *spec, const char *bundle, mc_err *err);
/* Mount options: fill flags/propagation/data of m from options. */
int mc_mount_options(struct mc_mount *m, char **opts, size_t n, mc_err *err);
/* Has namespace of this CLONE_NEW* type (and its path, or NULL). */
bool mc_spec_has_ns(const struct mc_spec *spec, int type, const char **path);

/* The default config.json (runc's `spec` layout) as a json-c object the caller owns. */
struct json_object *mc_spec_default_json(void);

#endif
