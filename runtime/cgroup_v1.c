/* cgroup v1 knobs: memory.limit_in_bytes, cpu.cfs_quota_us, pids.max, freezer.state... */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup.h"
#include "cleanup.h"
#include "log.h"
#include "util.h"

static int put(const char *dir, const char *file, const char *val, mc_err *err)
{
	_cleanup_free_ char *p = NULL;
	if (asprintf(&p, "%s/%s", dir, file) < 0)
		return mc_errorf(err, ENOMEM, "cgroup");
	mc_log_debug("cgroup v1: %s = %s", p, val);
	if (mc_write_file(p, val, strlen(val), err) < 0)
		return mc_wrap(err, "write %s", val);
	return 0;
}

static int put_i64(const char *dir, const char *file, int64_t v, mc_err *err)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%" PRId64, v);
	return put(dir, file, buf, err);
}

static int v1_devices(const char *dir, const struct ct_resources *r, mc_err *err);

static int v1_apply(const char *dir, enum ct_cg_ctrl ctrl, const struct ct_resources *r,
		    mc_err *err)
{
	switch (ctrl) {
	case CT_CG_MEMORY:
		/* OCI's v1 "swap" is memory+swap; raise memsw after the limit when growing */
		if (r->has_mem_limit &&
		    put_i64(dir, "memory.limit_in_bytes", r->mem_limit, err) < 0)
			return -1;
		if (r->has_mem_reservation &&
		    put_i64(dir, "memory.soft_limit_in_bytes", r->mem_reservation, err) < 0)
			return -1;
		if (r->has_mem_kernel &&
		    put_i64(dir, "memory.kmem.limit_in_bytes", r->mem_kernel, err) < 0)
			return -1;
		if (r->has_mem_kernel_tcp &&
		    put_i64(dir, "memory.kmem.tcp.limit_in_bytes", r->mem_kernel_tcp, err) < 0)
			return -1;
		if (r->has_mem_swappiness &&
		    put_i64(dir, "memory.swappiness", (int64_t)r->mem_swappiness, err) < 0)
			return -1;
		if (r->disable_oom_killer && put(dir, "memory.oom_control", "1", err) < 0)
			return -1;
		if (r->has_mem_swap) {
			_cleanup_free_ char *p = NULL;
			if (asprintf(&p, "%s/memory.memsw.limit_in_bytes", dir) < 0)
				return mc_errorf(err, ENOMEM, "cgroup");
			if (access(p, F_OK) < 0) {
				if (r->mem_swap != r->mem_limit && r->mem_swap != -1)
					mc_log_warn(
					    "memory.swap: no swap accounting on this host "
					    "(memory.memsw missing), swap limit not applied");
			} else if (put_i64(dir, "memory.memsw.limit_in_bytes", r->mem_swap, err) <
				   0)
				return -1;
		}
		return 0;
	case CT_CG_CPU:
		if (r->has_cpu_shares && put_i64(dir, "cpu.shares", r->cpu_shares, err) < 0)
			return -1;
		if (r->has_cpu_period && put_i64(dir, "cpu.cfs_period_us", r->cpu_period, err) < 0)
			return -1;
		if (r->has_cpu_quota && put_i64(dir, "cpu.cfs_quota_us", r->cpu_quota, err) < 0)
			return -1;
		return 0;
	case CT_CG_CPUSET:
		if (r->cpus && *r->cpus && put(dir, "cpuset.cpus", r->cpus, err) < 0)
			return -1;
		if (r->mems && *r->mems && put(dir, "cpuset.mems", r->mems, err) < 0)
			return -1;
		return 0;
	case CT_CG_PIDS:
		if (r->has_pids_limit) {
			if (r->pids_limit <= 0)
				return put(dir, "pids.max", "max", err);
			return put_i64(dir, "pids.max", r->pids_limit, err);
		}
		return 0;
	case CT_CG_IO:
		if (r->has_blkio_weight) {
			/* CFQ's blkio.weight, or BFQ's blkio.bfq.weight on newer kernels */
			_cleanup_free_ char *p = NULL;
			if (asprintf(&p, "%s/blkio.weight", dir) < 0)
				return mc_errorf(err, ENOMEM, "cgroup");
			const char *f = access(p, F_OK) == 0 ? "blkio.weight" : "blkio.bfq.weight";
			if (put_i64(dir, f, r->blkio_weight, err) < 0)
				return -1;
		}
		for (size_t i = 0; i < r->nthrottle; i++) {
			static const char *f[4] = {
			    "blkio.throttle.read_bps_device", "blkio.throttle.write_bps_device",
			    "blkio.throttle.read_iops_device", "blkio.throttle.write_iops_device"};
			char buf[64];
			const struct ct_throttle *t = &r->throttle[i];
			snprintf(buf, sizeof(buf), "%" PRId64 ":%" PRId64 " %" PRIu64, t->major,
				 t->minor, t->rate);
			if (put(dir, f[t->kind], buf, err) < 0)
				return -1;
		}
		return 0;
	case CT_CG_DEVICES:
		return r->ndevrules ? v1_devices(dir, r, err) : 0;
	case CT_CG_HUGETLB:
		for (size_t i = 0; i < r->nhugepages; i++) {
			char f[64];
			snprintf(f, sizeof(f), "hugetlb.%s.limit_in_bytes",
				 r->hugepages[i].page_size);
			if (put_i64(dir, f, (int64_t)r->hugepages[i].limit, err) < 0)
				return -1;
		}
		return 0;
	case CT_CG_NET_CLS:
		return r->has_net_class_id ? put_i64(dir, "net_cls.classid", r->net_class_id, err)
					   : 0;
	case CT_CG_NET_PRIO:
		for (size_t i = 0; i < r->nnet_prios; i++) {
			char v[48];
			snprintf(v, sizeof(v), "%s %u", r->net_prios[i].iface,
				 r->net_prios[i].prio);
			if (put(dir, "net_prio.ifpriomap", v, err) < 0)
				return -1;
		}
		return 0;
	default:
		return 0;
	}
}

static int dev_rule(const char *dir, bool allow, char type, int64_t major, int64_t minor,
		    const char *access, mc_err *err)
{
	char buf[64], ma[24], mi[24];
	if (major < 0)
		strcpy(ma, "*");
	else
		snprintf(ma, sizeof(ma), "%" PRId64, major);
	if (minor < 0)
		strcpy(mi, "*");
	else
		snprintf(mi, sizeof(mi), "%" PRId64, minor);
	snprintf(buf, sizeof(buf), "%c %s:%s %s", type, ma, mi, access);
	return put(dir, allow ? "devices.allow" : "devices.deny", buf, err);
}

/* The spec's rules in order, then what every container needs (as runc adds them): the
 * default nodes, the pty devices. */
static int v1_devices(const char *dir, const struct ct_resources *r, mc_err *err)
{
	static const struct {
		char t;
		int ma, mi;
	} defaults[] = {{'c', 1, 3}, {'c', 1, 5}, {'c', 1, 7}, {'c', 1, 8},   {'c', 1, 9},
			{'c', 5, 0}, {'c', 5, 1}, {'c', 5, 2}, {'c', 136, -1}};
	for (size_t i = 0; i < r->ndevrules; i++) {
		const struct ct_dev_rule *d = &r->devrules[i];
		if (dev_rule(dir, d->allow, d->type, d->type == 'a' ? -1 : d->major,
			     d->type == 'a' ? -1 : d->minor, d->access, err) < 0)
			return -1;
	}
	for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
		if (dev_rule(dir, true, defaults[i].t, defaults[i].ma, defaults[i].mi, "rwm", err) <
		    0)
			return -1;
	return 0;
}

/* A new v1 cpuset starts empty: give it its parent's cpus and mems. The parent may be new
 * itself and still empty (another container made it a moment ago and has not filled it
 * yet): fill it first, from its own parent, so no container joins an empty cpuset (ENOSPC). */
static int cpuset_fill(const char *dir, int depth, mc_err *err)
{
	static const char *files[2] = {"cpuset.cpus", "cpuset.mems"};
	const char *slash = strrchr(dir, '/');
	if (!slash || depth > 32)
		return 0;
	_cleanup_free_ char *parent = strndup(dir, slash - dir);
	for (int i = 0; i < 2 && parent; i++) {
		_cleanup_free_ char *pp = NULL, *val = NULL;
		size_t len;
		if (asprintf(&pp, "%s/%s", parent, files[i]) < 0)
			return mc_errorf(err, ENOMEM, "cgroup");
		if (mc_read_file(pp, 4096, &val, &len, err) < 0)
			return -1;
		val[strcspn(val, "\n")] = 0;
		if (!*val) {
			if (cpuset_fill(parent, depth + 1, err) < 0)
				return -1;
			free(val);
			val = NULL;
			if (mc_read_file(pp, 4096, &val, &len, err) < 0)
				return -1;
			val[strcspn(val, "\n")] = 0;
		}
		if (put(dir, files[i], val, err) < 0)
			return -1;
	}
	return 0;
}

static int v1_init_dir(const char *dir, enum ct_cg_ctrl ctrl, mc_err *err)
{
	return ctrl == CT_CG_CPUSET ? cpuset_fill(dir, 0, err) : 0;
}

static int v1_freeze(const char *dir, bool frozen, mc_err *err)
{
	if (put(dir, "freezer.state", frozen ? "FROZEN" : "THAWED", err) < 0)
		return -1;
	for (int i = 0; frozen && i < 1000; i++) {
		int f = ct_cg_v1_ops.frozen(dir);
		if (f == 1)
			return 0;
		usleep(1000);
	}
	return frozen ? mc_errorf(err, ETIMEDOUT, "freezer: `%s` did not freeze", dir) : 0;
}

static int v1_frozen(const char *dir)
{
	_cleanup_free_ char *p = NULL, *buf = NULL;
	size_t len;
	mc_err e = NULL;
	if (asprintf(&p, "%s/freezer.state", dir) < 0 || mc_read_file(p, 64, &buf, &len, &e) < 0) {
		mc_error_free(&e);
		return -1;
	}
	return !strncmp(buf, "FROZEN", 6);
}

static int64_t read_i64(const char *dir, const char *file)
{
	_cleanup_free_ char *p = NULL, *buf = NULL;
	size_t len;
	mc_err e = NULL;
	if (asprintf(&p, "%s/%s", dir, file) < 0 || mc_read_file(p, 4096, &buf, &len, &e) < 0) {
		mc_error_free(&e);
		return -1;
	}
	return strtoll(buf, NULL, 10);
}

static void v1_stats(const char *dir, enum ct_cg_ctrl ctrl, json_object *out)
{
	json_object *o = json_object_new_object();
	switch (ctrl) {
	case CT_CG_MEMORY:
		json_object_object_add(
		    o, "usage", json_object_new_int64(read_i64(dir, "memory.usage_in_bytes")));
		json_object_object_add(
		    o, "max_usage",
		    json_object_new_int64(read_i64(dir, "memory.max_usage_in_bytes")));
		json_object_object_add(
		    o, "limit", json_object_new_int64(read_i64(dir, "memory.limit_in_bytes")));
		json_object_object_add(o, "failcnt",
				       json_object_new_int64(read_i64(dir, "memory.failcnt")));
		break;
	case CT_CG_PIDS:
		json_object_object_add(o, "current",
				       json_object_new_int64(read_i64(dir, "pids.current")));
		break;
	case CT_CG_CPUACCT:
		json_object_object_add(o, "usage_ns",
				       json_object_new_int64(read_i64(dir, "cpuacct.usage")));
		break;
	default:
		json_object_put(o);
		return;
	}
	json_object_object_add(o, "hierarchy", json_object_new_string("v1"));
	json_object_object_add(out, ct_cg_ctrl_name(ctrl), o);
}

const struct ct_cg_ops ct_cg_v1_ops = {
    .name = "v1",
    .apply = v1_apply,
    .freeze = v1_freeze,
    .frozen = v1_frozen,
    .stats = v1_stats,
    .init_dir = v1_init_dir,
};
