/* config.json "linux" section: namespaces, id maps, devices, resources, sysctl, paths. */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

#include "config_internal.h"
#include "jsonh.h"

static const struct {
	const char *name;
	int flag;
} ns_names[] = {
    {"pid", CLONE_NEWPID},	 {"network", CLONE_NEWNET}, {"mount", CLONE_NEWNS},
    {"ipc", CLONE_NEWIPC},	 {"uts", CLONE_NEWUTS},	    {"user", CLONE_NEWUSER},
    {"cgroup", CLONE_NEWCGROUP}, {"time", CLONE_NEWTIME},
};

static int parse_namespaces(json_object *a, struct ct_spec *s, mc_err *err)
{
	size_t n = json_object_array_length(a);
	s->namespaces = calloc(n + 1, sizeof(*s->namespaces));
	if (!s->namespaces)
		return mc_errorf(err, ENOMEM, "linux.namespaces");
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(a, i);
		char ctx[48];
		snprintf(ctx, sizeof(ctx), "linux.namespaces[%zu]", i);
		if (!e || !json_object_is_type(e, json_type_object))
			return mc_errorf(err, 0, "%s: expected an object", ctx);
		char *type = NULL;
		int r = ct_j_str(e, ctx, "type", &type, err);
		if (r < 0)
			return -1;
		if (!r)
			return mc_errorf(err, 0, "%s.type: missing", ctx);
		int flag = 0;
		for (size_t k = 0; k < sizeof(ns_names) / sizeof(ns_names[0]); k++)
			if (!strcmp(type, ns_names[k].name))
				flag = ns_names[k].flag;
		if (!flag) {
			mc_errorf(err, 0, "%s.type: unknown namespace type \"%s\"", ctx, type);
			free(type);
			return -1;
		}
		free(type);
		if (ct_spec_has_ns(s, flag, NULL))
			return mc_errorf(err, 0, "%s.type: namespace listed twice", ctx);
		s->namespaces[i].type = flag;
		s->nnamespaces = i + 1;
		if (ct_j_str(e, ctx, "path", &s->namespaces[i].path, err) < 0)
			return -1;
		if (s->namespaces[i].path && s->namespaces[i].path[0] != '/')
			return mc_errorf(err, 0, "%s.path: not an absolute path", ctx);
	}
	return 0;
}

static int parse_idmaps(json_object *o, const char *key, struct ct_idmap **out, size_t *nout,
			mc_err *err)
{
	json_object *a;
	int r = ct_j_arr(o, "linux", key, &a, err);
	if (r <= 0)
		return r;
	size_t n = json_object_array_length(a);
	if (n > 340)
		return mc_errorf(err, 0, "linux.%s: more than 340 entries", key);
	*out = calloc(n + 1, sizeof(**out));
	if (!*out)
		return mc_errorf(err, ENOMEM, "linux.%s", key);
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(a, i);
		char ctx[48];
		snprintf(ctx, sizeof(ctx), "linux.%s[%zu]", key, i);
		if (!e || !json_object_is_type(e, json_type_object))
			return mc_errorf(err, 0, "%s: expected an object", ctx);
		int64_t c, h, sz;
		if (ct_j_i64(e, ctx, "containerID", 0, UINT32_MAX, &c, err) != 1 ||
		    ct_j_i64(e, ctx, "hostID", 0, UINT32_MAX, &h, err) != 1 ||
		    ct_j_i64(e, ctx, "size", 1, UINT32_MAX, &sz, err) != 1)
			return mc_errorf(err, 0, "%s: containerID, hostID and size are required",
					 ctx);
		(*out)[i] = (struct ct_idmap){c, h, sz};
		*nout = i + 1;
	}
	return 0;
}

static int parse_devices(json_object *a, struct ct_spec *s, mc_err *err)
{
	size_t n = json_object_array_length(a);
	s->devices = calloc(n + 1, sizeof(*s->devices));
	if (!s->devices)
		return mc_errorf(err, ENOMEM, "linux.devices");
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(a, i);
		char ctx[48];
		snprintf(ctx, sizeof(ctx), "linux.devices[%zu]", i);
		if (!e || !json_object_is_type(e, json_type_object))
			return mc_errorf(err, 0, "%s: expected an object", ctx);
		struct ct_device *d = &s->devices[i];
		s->ndevices = i + 1;
		char *type = NULL;
		int64_t v;
		int r;
		if (ct_j_str(e, ctx, "path", &d->path, err) != 1 || d->path[0] != '/' ||
		    strncmp(d->path, "/dev/", 5) != 0 || strstr(d->path, "/../"))
			return mc_errorf(err, 0, "%s.path: must be an absolute path under /dev",
					 ctx);
		if (ct_j_str(e, ctx, "type", &type, err) != 1)
			return mc_errorf(err, 0, "%s.type: missing", ctx);
		bool ok = strlen(type) == 1 && strchr("cbup", type[0]);
		d->type = type[0];
		free(type);
		if (!ok)
			return mc_errorf(err, 0, "%s.type: must be one of c, b, u, p", ctx);
		if (d->type != 'p') {
			if (ct_j_i64(e, ctx, "major", 0, 4095, &d->major, err) != 1 ||
			    ct_j_i64(e, ctx, "minor", 0, 1048575, &d->minor, err) != 1)
				return mc_errorf(err, 0, "%s: major and minor are required", ctx);
		}
		if ((r = ct_j_i64(e, ctx, "fileMode", 0, 07777, &v, err)) < 0)
			return -1;
		d->has_mode = r;
		d->mode = v;
		if ((r = ct_j_i64(e, ctx, "uid", 0, UINT32_MAX - 1, &v, err)) < 0)
			return -1;
		d->has_uid = r;
		d->uid = v;
		if ((r = ct_j_i64(e, ctx, "gid", 0, UINT32_MAX - 1, &v, err)) < 0)
			return -1;
		d->has_gid = r;
		d->gid = v;
	}
	return 0;
}

static int parse_hugepages(json_object *a, struct ct_resources *res, mc_err *err);
static int parse_network(json_object *m, struct ct_resources *res, mc_err *err);

static int parse_memory(json_object *m, struct ct_resources *res, mc_err *err)
{
	int r;
	int64_t v;
	const char *c = "linux.resources.memory";
	if ((r = ct_j_i64(m, c, "limit", -1, INT64_MAX, &res->mem_limit, err)) < 0)
		return -1;
	res->has_mem_limit = r;
	if ((r = ct_j_i64(m, c, "reservation", -1, INT64_MAX, &res->mem_reservation, err)) < 0)
		return -1;
	res->has_mem_reservation = r;
	if ((r = ct_j_i64(m, c, "swap", -1, INT64_MAX, &res->mem_swap, err)) < 0)
		return -1;
	res->has_mem_swap = r;
	/* clients (Docker) write 0 for "not set" */
	if (res->has_mem_limit && res->mem_limit == 0)
		res->has_mem_limit = false;
	if (res->has_mem_reservation && res->mem_reservation == 0)
		res->has_mem_reservation = false;
	if (res->has_mem_swap && res->mem_swap == 0)
		res->has_mem_swap = false;
	if ((r = ct_j_i64(m, c, "kernel", -1, INT64_MAX, &res->mem_kernel, err)) < 0)
		return -1;
	res->has_mem_kernel = r && res->mem_kernel != 0;
	if ((r = ct_j_i64(m, c, "kernelTCP", -1, INT64_MAX, &res->mem_kernel_tcp, err)) < 0)
		return -1;
	res->has_mem_kernel_tcp = r && res->mem_kernel_tcp != 0;
	/* swappiness is a uint64 in the spec; runc reads -1 (as Docker may send it) as
	 * "not set" too */
	if ((r = ct_j_i64(m, c, "swappiness", -1, INT64_MAX, &v, err)) < 0)
		return -1;
	if (r && v >= 0) {
		if (v > 100)
			return mc_errorf(err, 0, "%s.swappiness: %lld is not in [0, 100]", c,
					 (long long)v);
		res->has_mem_swappiness = true;
		res->mem_swappiness = v;
	}
	if (ct_j_bool(m, c, "disableOOMKiller", &res->disable_oom_killer, err) < 0)
		return -1;
	static const char *const mem_unsupported[] = {"checkBeforeUpdate", NULL};
	if (ct_j_refuse(m, c, mem_unsupported, err) < 0)
		return -1;
	if (res->has_mem_limit && res->mem_limit >= 0 && res->mem_limit < 4096 * 2)
		return mc_errorf(err, 0, "%s.limit: %lld bytes is too small", c,
				 (long long)res->mem_limit);
	return 0;
}

static int parse_cpu(json_object *m, struct ct_resources *res, mc_err *err)
{
	int r;
	int64_t v;
	const char *c = "linux.resources.cpu";
	/* 0 means "not set" for shares, quota and period (Docker writes zeros) */
	if ((r = ct_j_i64(m, c, "shares", 0, 262144, &v, err)) < 0)
		return -1;
	if (r && v == 1)
		return mc_errorf(err, ERANGE, "%s.shares: 1 out of range [2, 262144]", c);
	res->has_cpu_shares = r && v != 0;
	res->cpu_shares = v;
	if ((r = ct_j_i64(m, c, "quota", -1, INT64_MAX, &res->cpu_quota, err)) < 0)
		return -1;
	res->has_cpu_quota = r && res->cpu_quota != 0;
	if ((r = ct_j_i64(m, c, "period", 0, 1000000, &v, err)) < 0)
		return -1;
	if (r && v != 0 && v < 1000)
		return mc_errorf(err, ERANGE, "%s.period: %lld out of range [1000, 1000000]", c,
				 (long long)v);
	res->has_cpu_period = r && v != 0;
	res->cpu_period = v;
	static const char *const cpu_unsupported[] = {"realtimeRuntime", "realtimePeriod", "idle",
						      "burst", NULL};
	for (const char *const *k = cpu_unsupported; *k; k++) {
		/* 0 is "not set" here too */
		int64_t x = 0;
		if (ct_j_i64(m, c, *k, INT64_MIN, INT64_MAX, &x, err) < 0)
			return -1;
		if (x != 0)
			return mc_errorf(err, EOPNOTSUPP, "%s.%s: not supported by minict", c, *k);
	}
	if (res->has_cpu_quota && res->cpu_quota >= 0 && res->cpu_quota < 1000)
		return mc_errorf(err, 0, "%s.quota: must be -1 or at least 1000", c);
	if (ct_j_str(m, c, "cpus", &res->cpus, err) < 0 ||
	    ct_j_str(m, c, "mems", &res->mems, err) < 0)
		return -1;
	for (const char *p = res->cpus; p && *p; p++)
		if (!strchr("0123456789,-", *p))
			return mc_errorf(err, 0, "%s.cpus: invalid list \"%s\"", c, res->cpus);
	for (const char *p = res->mems; p && *p; p++)
		if (!strchr("0123456789,-", *p))
			return mc_errorf(err, 0, "%s.mems: invalid list \"%s\"", c, res->mems);
	return 0;
}

static int parse_dev_rules(json_object *a, struct ct_resources *res, mc_err *err)
{
	int r;
	size_t n = json_object_array_length(a);
	res->devrules = calloc(n + 1, sizeof(*res->devrules));
	if (!res->devrules)
		return mc_errorf(err, ENOMEM, "linux.resources.devices");
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(a, i);
		char ctx[64];
		snprintf(ctx, sizeof(ctx), "linux.resources.devices[%zu]", i);
		if (!e || !json_object_is_type(e, json_type_object))
			return mc_errorf(err, 0, "%s: expected an object", ctx);
		struct ct_dev_rule *d = &res->devrules[i];
		res->ndevrules = i + 1;
		if (ct_j_bool(e, ctx, "allow", &d->allow, err) != 1)
			return mc_errorf(err, 0, "%s.allow: missing", ctx);
		char *t = NULL, *acc = NULL;
		d->type = 'a';
		if ((r = ct_j_str(e, ctx, "type", &t, err)) < 0)
			return -1;
		if (r) {
			bool ok = strlen(t) == 1 && strchr("acb", t[0]);
			d->type = t[0];
			free(t);
			if (!ok)
				return mc_errorf(err, 0, "%s.type: must be a, c or b", ctx);
		}
		d->major = d->minor = -1;
		if (ct_j_i64(e, ctx, "major", -1, 4095, &d->major, err) < 0 ||
		    ct_j_i64(e, ctx, "minor", -1, 1048575, &d->minor, err) < 0)
			return -1;
		if ((r = ct_j_str(e, ctx, "access", &acc, err)) < 0)
			return -1;
		strcpy(d->access, "rwm");
		if (r) {
			bool ok = strlen(acc) <= 3 && strspn(acc, "rwm") == strlen(acc);
			if (ok && *acc)
				strcpy(d->access, acc);
			free(acc);
			if (!ok)
				return mc_errorf(err, 0, "%s.access: only r, w and m", ctx);
		}
	}
	return 0;
}

static int parse_blkio(json_object *m, struct ct_resources *res, mc_err *err)
{
	int r;
	int64_t v;
	json_object *a;
	const char *c = "linux.resources.blockIO";
	if ((r = ct_j_i64(m, c, "weight", 0, 1000, &v, err)) < 0)
		return -1;
	if (r && v != 0 && v < 10)
		return mc_errorf(err, ERANGE, "%s.weight: %lld out of range [10, 1000]", c,
				 (long long)v);
	res->has_blkio_weight = r && v != 0; /* 0: not set */
	res->blkio_weight = v;
	static const char *const blkio_unsupported[] = {"leafWeight", "weightDevice", NULL};
	int64_t lw = 0;
	if (ct_j_i64(m, c, "leafWeight", 0, 1000, &lw, err) < 0)
		return -1;
	if (lw != 0 || ct_j_refuse(m, c, blkio_unsupported + 1, err) < 0)
		return lw != 0
			   ? mc_errorf(err, EOPNOTSUPP, "%s.leafWeight: not supported by minict", c)
			   : -1;
	static const char *tk[4] = {"throttleReadBpsDevice", "throttleWriteBpsDevice",
				    "throttleReadIOPSDevice", "throttleWriteIOPSDevice"};
	for (int k = 0; k < 4; k++) {
		if ((r = ct_j_arr(m, c, tk[k], &a, err)) < 0)
			return -1;
		if (!r)
			continue;
		size_t n = json_object_array_length(a);
		void *nt =
		    realloc(res->throttle, (res->nthrottle + n + 1) * sizeof(*res->throttle));
		if (!nt)
			return mc_errorf(err, ENOMEM, "%s", c);
		res->throttle = nt;
		for (size_t i = 0; i < n; i++) {
			json_object *e = json_object_array_get_idx(a, i);
			char ctx[96];
			snprintf(ctx, sizeof(ctx), "%s.%s[%zu]", c, tk[k], i);
			struct ct_throttle *t = &res->throttle[res->nthrottle];
			int64_t rate;
			if (!e || !json_object_is_type(e, json_type_object) ||
			    ct_j_i64(e, ctx, "major", 0, 4095, &t->major, err) != 1 ||
			    ct_j_i64(e, ctx, "minor", 0, 1048575, &t->minor, err) != 1 ||
			    ct_j_i64(e, ctx, "rate", 0, INT64_MAX, &rate, err) != 1)
				return mc_errorf(err, 0, "%s: needs major, minor and rate", ctx);
			t->rate = rate;
			t->kind = k;
			res->nthrottle++;
		}
	}
	return 0;
}

static int parse_resources(json_object *o, struct ct_resources *res, mc_err *err)
{
	json_object *m;
	int r;
	if ((r = ct_j_obj(o, "linux.resources", "memory", &m, err)) < 0)
		return -1;
	if (r && parse_memory(m, res, err) < 0)
		return -1;
	if ((r = ct_j_obj(o, "linux.resources", "cpu", &m, err)) < 0)
		return -1;
	if (r && parse_cpu(m, res, err) < 0)
		return -1;
	json_object *a;
	if ((r = ct_j_arr(o, "linux.resources", "devices", &a, err)) < 0)
		return -1;
	if (r && parse_dev_rules(a, res, err) < 0)
		return -1;
	if ((r = ct_j_obj(o, "linux.resources", "pids", &m, err)) < 0)
		return -1;
	if (r) {
		if ((r = ct_j_i64(m, "linux.resources.pids", "limit", INT64_MIN, INT64_MAX,
				  &res->pids_limit, err)) < 0)
			return -1;
		res->has_pids_limit = r;
	}
	if ((r = ct_j_arr(o, "linux.resources", "hugepageLimits", &a, err)) < 0)
		return -1;
	if (r && parse_hugepages(a, res, err) < 0)
		return -1;
	if ((r = ct_j_obj(o, "linux.resources", "network", &m, err)) < 0)
		return -1;
	if (r && parse_network(m, res, err) < 0)
		return -1;
	static const char *const res_unsupported[] = {"rdma", "unified", NULL};
	if (ct_j_refuse(o, "linux.resources", res_unsupported, err) < 0)
		return -1;
	if ((r = ct_j_obj(o, "linux.resources", "blockIO", &m, err)) < 0)
		return -1;
	if (r && parse_blkio(m, res, err) < 0)
		return -1;
	return 0;
}

static int parse_hugepages(json_object *a, struct ct_resources *res, mc_err *err)
{
	size_t n = json_object_array_length(a);
	res->hugepages = calloc(n + 1, sizeof(*res->hugepages));
	if (!res->hugepages)
		return mc_errorf(err, ENOMEM, "linux.resources.hugepageLimits");
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(a, i);
		char ctx[64];
		int64_t limit;
		snprintf(ctx, sizeof(ctx), "linux.resources.hugepageLimits[%zu]", i);
		if (!e || !json_object_is_type(e, json_type_object))
			return mc_errorf(err, 0, "%s: expected an object", ctx);
		struct ct_hugepage *h = &res->hugepages[i];
		res->nhugepages = i + 1;
		if (ct_j_str(e, ctx, "pageSize", &h->page_size, err) != 1 ||
		    ct_j_i64(e, ctx, "limit", 0, INT64_MAX, &limit, err) != 1)
			return mc_errorf(err, 0, "%s: needs pageSize and limit", ctx);
		h->limit = limit;
		/* "2MB", "1GB", "64KB": it becomes part of a file name */
		size_t l = strlen(h->page_size), d = strspn(h->page_size, "0123456789");
		if (d == 0 || l != d + 2 || !strchr("KMG", h->page_size[d]) ||
		    h->page_size[d + 1] != 'B')
			return mc_errorf(err, 0, "%s.pageSize: \"%s\" is not like \"2MB\"", ctx,
					 h->page_size);
	}
	return 0;
}

static int parse_network(json_object *m, struct ct_resources *res, mc_err *err)
{
	const char *c = "linux.resources.network";
	int64_t v;
	int r;
	json_object *a;
	if ((r = ct_j_i64(m, c, "classID", 0, UINT32_MAX, &v, err)) < 0)
		return -1;
	res->has_net_class_id = r;
	res->net_class_id = v;
	if ((r = ct_j_arr(m, c, "priorities", &a, err)) < 0)
		return -1;
	size_t n = r ? json_object_array_length(a) : 0;
	res->net_prios = calloc(n + 1, sizeof(*res->net_prios));
	if (!res->net_prios)
		return mc_errorf(err, ENOMEM, "%s", c);
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(a, i);
		char ctx[64];
		snprintf(ctx, sizeof(ctx), "%s.priorities[%zu]", c, i);
		struct ct_net_prio *p = &res->net_prios[i];
		res->nnet_prios = i + 1;
		if (!e || !json_object_is_type(e, json_type_object) ||
		    ct_j_str(e, ctx, "name", &p->iface, err) != 1 ||
		    ct_j_i64(e, ctx, "priority", 0, UINT32_MAX, &v, err) != 1)
			return mc_errorf(err, 0, "%s: needs name and priority", ctx);
		p->prio = v;
		if (!*p->iface || strlen(p->iface) >= 16 || strpbrk(p->iface, "/ \n"))
			return mc_errorf(err, 0, "%s.name: invalid interface name", ctx);
	}
	return 0;
}

static int parse_sysctl(json_object *o, struct ct_spec *s, mc_err *err)
{
	size_t n = json_object_object_length(o), i = 0;
	s->sysctls = calloc(n + 1, sizeof(*s->sysctls));
	if (!s->sysctls)
		return mc_errorf(err, ENOMEM, "linux.sysctl");
	json_object_object_foreach(o, k, v)
	{
		if (!json_object_is_type(v, json_type_string))
			return mc_errorf(err, 0, "linux.sysctl.%s: expected a string", k);
		if (strstr(k, "..") || k[0] == '.' || k[0] == '/')
			return mc_errorf(err, 0, "linux.sysctl: invalid key \"%s\"", k);
		s->sysctls[i].key = strdup(k);
		s->sysctls[i].value = strdup(json_object_get_string(v));
		s->nsysctls = ++i;
		if (!s->sysctls[i - 1].key || !s->sysctls[i - 1].value)
			return mc_errorf(err, ENOMEM, "linux.sysctl");
	}
	return 0;
}

/* linux.rootfsPropagation: one of the mount(2) propagation kinds, "r" for recursive. */
static int parse_propagation(json_object *o, struct ct_spec *s, mc_err *err)
{
	int r;
	char *prop = NULL;
	if ((r = ct_j_str(o, "linux", "rootfsPropagation", &prop, err)) < 0)
		return -1;
	if (r) {
		static const struct {
			const char *n;
			unsigned long f;
		} pr[] = {{"private", MS_PRIVATE},	 {"rprivate", MS_PRIVATE | MS_REC},
			  {"shared", MS_SHARED},	 {"rshared", MS_SHARED | MS_REC},
			  {"slave", MS_SLAVE},		 {"rslave", MS_SLAVE | MS_REC},
			  {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC}};
		for (size_t i = 0; i < sizeof(pr) / sizeof(pr[0]); i++)
			if (!strcmp(prop, pr[i].n))
				s->rootfs_propagation = pr[i].f;
		if (!s->rootfs_propagation) {
			mc_errorf(err, 0, "linux.rootfsPropagation: unknown value \"%s\"", prop);
			free(prop);
			return -1;
		}
		free(prop);
	}
	return 0;
}

int ct_spec_parse_linux(json_object *o, struct ct_spec *s, mc_err *err)
{
	json_object *a;
	int r;
	if ((r = ct_j_arr(o, "linux", "namespaces", &a, err)) < 0)
		return -1;
	if (r && parse_namespaces(a, s, err) < 0)
		return -1;
	if (parse_idmaps(o, "uidMappings", &s->uid_maps, &s->nuid_maps, err) < 0 ||
	    parse_idmaps(o, "gidMappings", &s->gid_maps, &s->ngid_maps, err) < 0)
		return -1;
	if ((s->nuid_maps || s->ngid_maps) && !ct_spec_has_ns(s, CLONE_NEWUSER, NULL))
		return mc_errorf(err, 0, "linux.uidMappings: given without a user namespace");
	if ((r = ct_j_arr(o, "linux", "devices", &a, err)) < 0)
		return -1;
	if (r && parse_devices(a, s, err) < 0)
		return -1;
	if (ct_j_str(o, "linux", "cgroupsPath", &s->cgroups_path, err) < 0)
		return -1;
	if (s->cgroups_path &&
	    (strstr(s->cgroups_path, "/../") || !strncmp(s->cgroups_path, "../", 3) ||
	     (strlen(s->cgroups_path) >= 3 &&
	      !strcmp(s->cgroups_path + strlen(s->cgroups_path) - 3, "/..")) ||
	     !strcmp(s->cgroups_path, "..")))
		return mc_errorf(err, 0, "linux.cgroupsPath: \"..\" is not allowed");
	json_object *m;
	if ((r = ct_j_obj(o, "linux", "resources", &m, err)) < 0)
		return -1;
	if (r) {
		s->has_resources = true;
		if (parse_resources(m, &s->res, err) < 0)
			return -1;
	}
	if ((r = ct_j_obj(o, "linux", "sysctl", &m, err)) < 0)
		return -1;
	if (r && parse_sysctl(m, s, err) < 0)
		return -1;
	if ((r = ct_j_obj(o, "linux", "seccomp", &m, err)) < 0)
		return -1;
	if (r) {
		s->has_seccomp = true;
		if (ct_spec_parse_seccomp(m, &s->seccomp, err) < 0)
			return -1;
	}
	if (parse_propagation(o, s, err) < 0)
		return -1;
	static const char *const linux_unsupported[] = {
	    "mountLabel", "intelRdt",	 "personality", "memoryPolicy",
	    "netDevices", "timeOffsets", NULL};
	if (ct_j_refuse(o, "linux", linux_unsupported, err) < 0)
		return -1;
	if (ct_j_strv(o, "linux", "maskedPaths", &s->masked_paths, &s->nmasked, err) < 0 ||
	    ct_j_strv(o, "linux", "readonlyPaths", &s->readonly_paths, &s->nreadonly, err) < 0)
		return -1;
	for (size_t i = 0; i < s->nmasked; i++)
		if (s->masked_paths[i][0] != '/')
			return mc_errorf(err, 0, "linux.maskedPaths[%zu]: not absolute", i);
	for (size_t i = 0; i < s->nreadonly; i++)
		if (s->readonly_paths[i][0] != '/')
			return mc_errorf(err, 0, "linux.readonlyPaths[%zu]: not absolute", i);
	return 0;
}
