/* cgroup v2 knobs: memory.max, memory.swap.max, cpu.max, cpu.weight, pids.max, io.max,
 * cpuset.*, cgroup.freeze. */
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
	mc_log_debug("cgroup v2: %s = %s", p, val);
	if (mc_write_file(p, val, strlen(val), err) < 0)
		return mc_wrap(err, "write %s", val);
	return 0;
}

static void fmt_max(char *buf, size_t n, int64_t v)
{
	if (v < 0)
		snprintf(buf, n, "max");
	else
		snprintf(buf, n, "%" PRId64, v);
}

static int v2_apply(const char *dir, enum ct_cg_ctrl ctrl, const struct ct_resources *r,
		    mc_err *err)
{
	char buf[96];
	switch (ctrl) {
	case CT_CG_MEMORY:
		/* v1-only knobs: refused, not dropped */
		if (r->has_mem_kernel || r->has_mem_kernel_tcp)
			return mc_errorf(
			    err, EOPNOTSUPP,
			    "linux.resources.memory.kernel/kernelTCP: cgroup v2 has no "
			    "kernel memory limit");
		if (r->has_mem_swappiness)
			return mc_errorf(err, EOPNOTSUPP,
					 "linux.resources.memory.swappiness: cgroup v2 has no "
					 "per-cgroup swappiness");
		if (r->disable_oom_killer)
			return mc_errorf(
			    err, EOPNOTSUPP,
			    "linux.resources.memory.disableOOMKiller: cgroup v2 cannot "
			    "disable the OOM killer");
		if (r->has_mem_limit) {
			fmt_max(buf, sizeof(buf), r->mem_limit);
			if (put(dir, "memory.max", buf, err) < 0)
				return -1;
		}
		if (r->has_mem_reservation) {
			fmt_max(buf, sizeof(buf), r->mem_reservation);
			if (put(dir, "memory.low", buf, err) < 0)
				return -1;
		}
		if (r->has_mem_swap) {
			/* OCI swap = memory + swap; v2 swap.max counts swap alone */
			int64_t sw = -1;
			if (r->mem_swap >= 0 && r->has_mem_limit && r->mem_limit >= 0) {
				if (r->mem_swap < r->mem_limit)
					return mc_errorf(
					    err, 0, "memory.swap (%" PRId64 ") below memory.limit",
					    r->mem_swap);
				sw = r->mem_swap - r->mem_limit;
			}
			fmt_max(buf, sizeof(buf), sw);
			_cleanup_free_ char *p = NULL;
			if (asprintf(&p, "%s/memory.swap.max", dir) >= 0 && access(p, F_OK) == 0 &&
			    put(dir, "memory.swap.max", buf, err) < 0)
				return -1;
		}
		return 0;
	case CT_CG_CPU:
		if (r->has_cpu_shares) {
			/* the mapping runc and crun use: [2, 262144] -> [1, 10000] */
			uint64_t w = 1 + ((r->cpu_shares - 2) * 9999) / 262142;
			snprintf(buf, sizeof(buf), "%" PRIu64, w);
			if (put(dir, "cpu.weight", buf, err) < 0)
				return -1;
		}
		if (r->has_cpu_quota || r->has_cpu_period) {
			uint64_t period = r->has_cpu_period ? r->cpu_period : 100000;
			if (r->has_cpu_quota && r->cpu_quota > 0)
				snprintf(buf, sizeof(buf), "%" PRId64 " %" PRIu64, r->cpu_quota,
					 period);
			else
				snprintf(buf, sizeof(buf), "max %" PRIu64, period);
			if (put(dir, "cpu.max", buf, err) < 0)
				return -1;
		}
		return 0;
	case CT_CG_CPUSET:
		if (r->cpus && *r->cpus && put(dir, "cpuset.cpus", r->cpus, err) < 0)
			return -1;
		if (r->mems && *r->mems && put(dir, "cpuset.mems", r->mems, err) < 0)
			return -1;
		return 0;
	case CT_CG_PIDS:
		if (r->has_pids_limit) {
			fmt_max(buf, sizeof(buf), r->pids_limit > 0 ? r->pids_limit : -1);
			return put(dir, "pids.max", buf, err);
		}
		return 0;
	case CT_CG_IO:
		if (r->has_blkio_weight) {
			snprintf(buf, sizeof(buf), "default %u", r->blkio_weight);
			if (put(dir, "io.weight", buf, err) < 0)
				return -1;
		}
		for (size_t i = 0; i < r->nthrottle; i++) {
			static const char *k[4] = {"rbps", "wbps", "riops", "wiops"};
			const struct ct_throttle *t = &r->throttle[i];
			snprintf(buf, sizeof(buf), "%" PRId64 ":%" PRId64 " %s=%" PRIu64, t->major,
				 t->minor, k[t->kind], t->rate);
			if (put(dir, "io.max", buf, err) < 0)
				return -1;
		}
		return 0;
	case CT_CG_DEVICES:
		return r->ndevrules ? ct_cg_v2_devices(dir, r, err) : 0;
	case CT_CG_HUGETLB:
		for (size_t i = 0; i < r->nhugepages; i++) {
			char f[64];
			snprintf(f, sizeof(f), "hugetlb.%s.max", r->hugepages[i].page_size);
			snprintf(buf, sizeof(buf), "%" PRIu64, r->hugepages[i].limit);
			if (put(dir, f, buf, err) < 0)
				return -1;
		}
		return 0;
	default:
		return 0;
	}
}

static int v2_frozen(const char *dir)
{
	_cleanup_free_ char *p = NULL, *buf = NULL;
	size_t len;
	mc_err e = NULL;
	if (asprintf(&p, "%s/cgroup.events", dir) < 0 ||
	    mc_read_file(p, 4096, &buf, &len, &e) < 0) {
		mc_error_free(&e);
		return -1;
	}
	return strstr(buf, "frozen 1") != NULL;
}

static int v2_freeze(const char *dir, bool frozen, mc_err *err)
{
	if (put(dir, "cgroup.freeze", frozen ? "1" : "0", err) < 0)
		return -1;
	for (int i = 0; i < 2000; i++) {
		if (v2_frozen(dir) == (frozen ? 1 : 0))
			return 0;
		usleep(500);
	}
	return mc_errorf(err, ETIMEDOUT, "cgroup.freeze: `%s` did not %s", dir,
			 frozen ? "freeze" : "thaw");
}

static void kv(const char *dir, const char *file, const char *key, json_object *o, const char *name)
{
	_cleanup_free_ char *p = NULL, *buf = NULL;
	size_t len;
	mc_err e = NULL;
	if (asprintf(&p, "%s/%s", dir, file) < 0 || mc_read_file(p, 1 << 16, &buf, &len, &e) < 0) {
		mc_error_free(&e);
		return;
	}
	if (!key) {
		if (!strncmp(buf, "max", 3))
			json_object_object_add(o, name, json_object_new_string("max"));
		else
			json_object_object_add(o, name,
					       json_object_new_int64(strtoll(buf, NULL, 10)));
		return;
	}
	size_t kl = strlen(key);
	for (char *l = buf; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (!strncmp(l, key, kl) && l[kl] == ' ') {
			json_object_object_add(
			    o, name, json_object_new_int64(strtoll(l + kl + 1, NULL, 10)));
			return;
		}
}

static void v2_stats(const char *dir, enum ct_cg_ctrl ctrl, json_object *out)
{
	json_object *o = json_object_new_object();
	switch (ctrl) {
	case CT_CG_MEMORY:
		kv(dir, "memory.current", NULL, o, "usage");
		kv(dir, "memory.max", NULL, o, "limit");
		kv(dir, "memory.events", "oom_kill", o, "oom_kill");
		break;
	case CT_CG_PIDS:
		kv(dir, "pids.current", NULL, o, "current");
		kv(dir, "pids.max", NULL, o, "limit");
		break;
	case CT_CG_CPU:
		kv(dir, "cpu.stat", "usage_usec", o, "usage_usec");
		kv(dir, "cpu.stat", "nr_throttled", o, "nr_throttled");
		kv(dir, "cpu.stat", "throttled_usec", o, "throttled_usec");
		break;
	default:
		json_object_put(o);
		return;
	}
	json_object_object_add(o, "hierarchy", json_object_new_string("v2"));
	json_object_object_add(out, ct_cg_ctrl_name(ctrl), o);
}

const struct ct_cg_ops ct_cg_v2_ops = {
    .name = "v2",
    .apply = v2_apply,
    .freeze = v2_freeze,
    .frozen = v2_frozen,
    .stats = v2_stats,
    .init_dir = NULL,
};
