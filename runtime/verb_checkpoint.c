/* minict checkpoint [--image-path DIR] [--work-path DIR] [--leave-running] [--tcp-established]
 *   [--ext-unix-sk] [--shell-job] [--file-locks] [--pre-dump] [--parent-path DIR]
 *   [--lazy-pages] [--page-server IP:PORT] ID
 * runc's flags. minict freezes the container through its cgroup (cgroup2's cgroup.freeze where
 * there is one), CRIU dumps it over RPC (criu-glue/), and without --leave-running (or
 * --pre-dump) the container is gone afterwards, as with runc. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint.h"
#include "cleanup.h"
#include "cli.h"
#include "container.h"
#include "log.h"
#include "util.h"

static int parse_opts(int argc, char **argv, struct ct_ckpt_opts *o, mc_err *err)
{
	static const struct option opts[] = {CT_CRIU_LONGOPTS,
					     {"parent-path", required_argument, 0, 'P'},
					     {"leave-running", no_argument, 0, 'l'},
					     {"pre-dump", no_argument, 0, 'p'},
					     {"page-server", required_argument, 0, 'S'},
					     {"manage-cgroups-mode", required_argument, 0, 'm'},
					     {"empty-ns", required_argument, 0, 'e'},
					     {"auto-dedup", no_argument, 0, 'a'},
					     {0, 0, 0, 0}};
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ct_criu_opt(c, optarg, &o->com))
			continue;
		switch (c) {
		case 'P':
			o->parent = optarg;
			break;
		case 'l':
			o->leave_running = true;
			break;
		case 'p':
			o->pre_dump = true;
			break;
		case 'S':
			o->page_server = optarg;
			break;
		case 'm':
		case 'e':
		case 'a':
			return mc_errorf(err, 0, "checkpoint: --%s is not supported",
					 c == 'm'   ? "manage-cgroups-mode"
					 : c == 'e' ? "empty-ns"
						    : "auto-dedup");
		default:
			return mc_errorf(err, 0, "checkpoint: bad option (see docs/checkpoint.md)");
		}
	}
	if (optind != argc - 1)
		return mc_errorf(err, 0, "checkpoint: need exactly one container id");
	o->id = argv[optind];
	return 0;
}

/* "IP:PORT" (runc's --page-server) into its parts; addr is malloc'd. */
static int page_server(const char *s, char **addr, int *port, mc_err *err)
{
	const char *colon = strrchr(s, ':');
	uint64_t p;
	if (!colon || colon == s)
		return mc_errorf(err, 0, "--page-server \"%s\": want IP:PORT", s);
	if (mc_parse_uint(colon + 1, 1, 65535, &p, "--page-server port", err) < 0)
		return -1;
	*addr = strndup(s, colon - s);
	*port = (int)p;
	return *addr ? 0 : mc_errorf(err, ENOMEM, "--page-server");
}

/* Everything the dump needs that can fail before the container is touched. */
struct ckpt {
	struct ct_ckpt_opts o;
	struct ct_state st;
	struct ct_spec *spec;
	char *criu, *ps_addr;
	int ps_port;
	int images, work;
	struct ct_strlist ext;
	struct ct_criu c;
	bool debug;
};

static int prepare(struct ct_global *g, struct ckpt *k, mc_err *err)
{
	enum ct_status s = ct_state_status(g->root, &k->st);
	if (s != CT_RUNNING && s != CT_PAUSED)
		return mc_errorf(err, 0,
				 "container \"%s\" is %s: only a running or paused one "
				 "can be checkpointed",
				 k->st.id, ct_status_name(s));
	if (k->st.bundle && ct_spec_load(k->st.bundle, &k->spec, err) < 0)
		return mc_wrap(err, "checkpoint");
	if (k->o.page_server && page_server(k->o.page_server, &k->ps_addr, &k->ps_port, err) < 0)
		return -1;
	if (ct_ckpt_find_criu(g->criu, &k->criu, err) < 0)
		return mc_wrap(err, "checkpoint");
	k->images = ct_ckpt_open_dir(k->o.com.image, true, err);
	if (k->images < 0)
		return mc_wrap(err, "checkpoint: --image-path");
	k->work = k->o.com.work ? ct_ckpt_open_dir(k->o.com.work, true, err) : dup(k->images);
	if (k->work < 0)
		return mc_wrap(err, "checkpoint: --work-path");
	/* CRIU in the container's network namespace dumps none: that namespace is replaced on
	 * restore anyway, and dumping it costs two conntrack table walks (~10-20 ms each here,
	 * whatever the container holds). Not with a page server (its connections must leave from
	 * the host's namespace) nor TCP connections (their network lock is CRIU's). */
	char p[64];
	struct stat ns;
	snprintf(p, sizeof(p), "/proc/%d/ns/net", k->st.pid);
	bool own_net = k->spec && ct_spec_has_ns(k->spec, CLONE_NEWNET, NULL);
	bool in_net = own_net && !k->ps_addr && !k->o.com.lazy && !k->o.com.tcp;
	_cleanup_close_ int netns = in_net ? open(p, O_RDONLY | O_CLOEXEC) : -1;
	if (in_net && netns < 0)
		return mc_errorf(err, errno, "checkpoint: open `%s`", p);
	if (ct_criu_start_in(&k->c, k->criu, NULL, 0, false, netns, err) < 0)
		return mc_wrap(err, "checkpoint");
	if (k->o.pre_dump || k->o.com.lazy) {
		bool mem_track = false, lazy = false;
		if (ct_criu_features(&k->c, &mem_track, &lazy, err) < 0)
			return mc_wrap(err, "checkpoint");
		if (k->o.pre_dump && !mem_track)
			return mc_errorf(
			    err, 0,
			    "checkpoint --pre-dump: CRIU cannot track memory changes "
			    "on this kernel (no soft-dirty page tracking: "
			    "CONFIG_MEM_SOFT_DIRTY is off); take a full checkpoint instead");
		if (k->o.com.lazy && !lazy)
			return mc_errorf(
			    err, 0,
			    "checkpoint --lazy-pages: CRIU cannot serve lazy pages here "
			    "(no userfaultfd with the features it needs)");
		if (k->o.com.lazy && ct_ckpt_lazy_pipe(err) < 0)
			return mc_wrap(err, "checkpoint --lazy-pages");
	}
	/* what CRIU finds outside the container: bind mounts, the network namespace (handed
	 * back on restore), stdio files */
	if (ct_ckpt_ext_mounts(k->spec, false, &k->ext, err) < 0 ||
	    ct_ckpt_masked_mounts(k->st.pid, k->spec, &k->ext, err) < 0)
		return -1;
	if (own_net && !in_net && stat(p, &ns) == 0 &&
	    ct_strlist_add(&k->ext, err, "net[%lu]:" CT_CKPT_NETNS_KEY, (unsigned long)ns.st_ino) <
		0)
		return -1;
	return ct_ckpt_save_stdio(k->st.pid, k->images, &k->ext, err);
}

static int after_notify(void *arg, const char *script, mc_err *err)
{
	struct ckpt *k = arg;
	return k->o.notified ? k->o.notified(k->o.cb_arg, script, err) : 0;
}

static int dump(struct ckpt *k, bool paused, mc_err *err)
{
	struct ct_cgroup *cg = &k->st.cg;
	const char *freezer = cg->unified ? cg->unified : cg->path[CT_CG_FREEZER];
	if (k->o.keep_frozen && !freezer)
		return mc_errorf(err, 0,
				 "checkpoint: no freezer cgroup to keep the container frozen");
	if (k->o.pre_freeze && k->o.pre_freeze(k->o.cb_arg, err) < 0)
		return -1;
	uint64_t t_freeze = mc_now_ns();
	if (k->o.frozen_at)
		*k->o.frozen_at = t_freeze;
	/* frozen by us (cgroup.freeze is immediate, no 100 ms polling in CRIU): CRIU finds the
	 * cgroup frozen and only seizes the tasks */
	if (!paused && freezer && ct_cg_freeze(cg, true, err) < 0)
		return mc_wrap(err, "checkpoint: freeze");
	/* frozen: the tmpfs mounts minict recreates instead of CRIU's tar (a pre-dump dumps no
	 * mounts) */
	uint64_t t_frozen = mc_now_ns();
	int ret = 0;
	if (!k->o.pre_dump && ct_ckpt_tmpfs_dump(k->st.pid, k->spec, k->images, &k->ext, err) < 0)
		ret = -1;
	mc_log_debug("checkpoint: freeze %.1f ms, tmpfs mounts %.1f ms",
		     (t_frozen - t_freeze) / 1e6, (mc_now_ns() - t_frozen) / 1e6);
	struct ct_criu_req r = {
	    .op = k->o.pre_dump ? CT_CRIU_PRE_DUMP : CT_CRIU_DUMP,
	    .images_fd = k->images,
	    .work_fd = k->work,
	    .log_file = k->o.pre_dump ? "pre-dump.log" : "dump.log",
	    .log_level = k->debug ? 4 : 2,
	    .timeout_s = ct_ckpt_timeout(300),
	    .pid = k->st.pid,
	    .root = k->st.rootfs,
	    .parent = k->o.parent,
	    .freeze_cgroup = freezer,
	    .cgroup_yard = ct_ckpt_cgroup_yard(k->st.pid),
	    .leave_running = k->o.leave_running || k->o.pre_dump || k->o.keep_frozen,
	    /* a pre-dump tracks for the next dump; a dump on a parent reads that tracking */
	    .track_mem = k->o.pre_dump || k->o.parent,
	    .manage_cgroups = true,
	    .cg_mode = -1,
	    .ps_address = k->ps_addr,
	    .ps_port = k->ps_port,
	    .external = (const char *const *)k->ext.v,
	    .nexternal = k->ext.n,
	    .after_notify = after_notify,
	    .notify_arg = k,
	};
	ct_criu_opts_req(&k->o.com, &r);
	uint64_t t0 = mc_now_ns();
	if (ret == 0)
		ret = ct_criu_run(&k->c, &r, NULL, err);
	mc_log_debug("checkpoint: criu %s took %.1f ms", k->o.pre_dump ? "pre-dump" : "dump",
		     (mc_now_ns() - t0) / 1e6);
	/* still there (failure, --leave-running, --pre-dump): it runs on, or stays paused;
	 * migrate keeps a successful dump frozen */
	mc_err e2 = NULL;
	bool stay = (ret == 0 && k->o.keep_frozen) || (k->o.stay_frozen && *k->o.stay_frozen);
	if (!paused && freezer && ct_state_alive(&k->st) && !stay &&
	    ct_cg_freeze(cg, false, &e2) < 0) {
		mc_log_warn("checkpoint: %s", mc_error_text(e2));
		mc_error_free(&e2);
	}
	return ret < 0 ? mc_wrap(err, "checkpoint") : 0;
}

int ct_checkpoint(struct ct_global *g, const struct ct_ckpt_opts *o, mc_err *err)
{
	struct ckpt k = {
	    .o = *o, .images = -1, .work = -1, .c = {.pid = -1, .sk = -1}, .debug = g->debug};
	if (ct_state_load(g->root, k.o.id, &k.st, err) < 0)
		return -1;
	bool paused = ct_state_status(g->root, &k.st) == CT_PAUSED;
	int ret = 0;
	if (paused && k.o.keep_frozen)
		ret = mc_errorf(err, 0, "container \"%s\" is paused: resume it first", k.o.id);
	if (ret == 0)
		ret = prepare(g, &k, err);
	if (ret == 0)
		ret = dump(&k, paused, err);
	if (ret == 0 && k.o.criu_left) {
		*k.o.criu_left = ct_criu_hangup(&k.c);
	} else {
		uint64_t t0 = mc_now_ns();
		ct_criu_stop(&k.c);
		mc_log_debug("checkpoint: criu's exit %.1f ms", (mc_now_ns() - t0) / 1e6);
	}
	if (ret == 0 && !k.o.leave_running && !k.o.pre_dump && !k.o.keep_frozen) {
		/* CRIU killed the tasks: the container is gone, as with runc */
		ret = ct_container_destroy(g->root, &k.st, err);
	}
	if (k.images >= 0)
		close(k.images);
	if (k.work >= 0)
		close(k.work);
	ct_strlist_free(&k.ext);
	free(k.criu);
	free(k.ps_addr);
	ct_spec_free(k.spec);
	ct_state_free(&k.st);
	return ret;
}

int ct_verb_checkpoint(struct ct_global *g, int argc, char **argv, mc_err *err)
{
	struct ct_ckpt_opts o = {0};
	if (parse_opts(argc, argv, &o, err) < 0)
		return -1;
	_cleanup_free_ char *defimg = NULL;
	if (ct_criu_opts_default_image(&o.com, &defimg, "checkpoint", err) < 0)
		return -1;
	return ct_checkpoint(g, &o, err);
}
