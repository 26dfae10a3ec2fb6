/* minict restore [--image-path DIR] [--work-path DIR] [--bundle DIR] [--detach] [--pid-file F]
 *   [--tcp-established] [--ext-unix-sk] [--shell-job] [--file-locks] [--lazy-pages] ID
 * The container is made again around CRIU: minict claims the id, recreates the cgroups (limits
 * from the bundle), a fresh network namespace (veth and address when the config asks for
 * them), and CRIU restores the process tree into them over RPC: the rootfs as its root, the
 * bundle's bind mounts and the network namespace as external objects, CRIU itself placed in
 * the container's cgroups so the tasks it forks land there. Then state.json names the
 * restored init. Anything failing undoes all of it. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "checkpoint.h"
#include "cleanup.h"
#include "cli.h"
#include "container.h"
#include "log.h"
#include "network.h"
#include "util.h"

static int parse_opts(int argc, char **argv, struct ct_restore_opts *o, mc_err *err)
{
	static const struct option opts[] = {CT_CRIU_LONGOPTS,
					     {"bundle", required_argument, 0, 'b'},
					     {"detach", no_argument, 0, 'd'},
					     {"pid-file", required_argument, 0, 'p'},
					     {"no-subreaper", no_argument, 0, 'S'},
					     {"no-pivot", no_argument, 0, 'N'},
					     {"console-socket", required_argument, 0, 'c'},
					     {"manage-cgroups-mode", required_argument, 0, 'm'},
					     {0, 0, 0, 0}};
	int c;
	while ((c = getopt_long(argc, argv, "b:d", opts, NULL)) != -1) {
		if (ct_criu_opt(c, optarg, &o->com))
			continue;
		switch (c) {
		case 'b':
			o->bundle = optarg;
			break;
		case 'd':
			o->detach = true;
			break;
		case 'p':
			o->pid_file = optarg;
			break;
		case 'S':
		case 'N':
			break;
		case 'c':
		case 'm':
			return mc_errorf(err, 0, "restore: --%s is not supported",
					 c == 'c' ? "console-socket" : "manage-cgroups-mode");
		default:
			return mc_errorf(err, 0, "restore: bad option (see docs/checkpoint.md)");
		}
	}
	if (optind != argc - 1)
		return mc_errorf(err, 0, "restore: need exactly one container id");
	o->id = argv[optind];
	return ct_check_id(o->id, err);
}

/* Everything restore makes, so one place undoes it. */
struct ct_restoring {
	struct ct_restore_opts o;
	struct ct_spec *spec;
	char *bundle, *criu;
	int images, work, netns;
	bool claimed, have_cg;
	struct ct_cgroup cg;
	char veth[16];
	struct ct_criu c;
	struct ct_strlist ext;
	char *stdio[3];
	/* CRIU's cgroups, read back after it joined the container's: cg_root */
	char *cgline[32];
	struct ct_criu_cgroot cgroot[32];
	size_t ncgroot;
	pid_t pid;
	bool debug;
};

/* receive: once the veth's host end is up, eth0 says where the container is now with a
 * gratuitous ARP (sender and target its address, broadcast), as a migrated VM does: the
 * bridges learn its MAC on this side's port at once, and peers refresh their ARP entry. Sent
 * from a child in the container's network namespace; best effort (a failure only costs the
 * time the network takes to find out by itself). */
static void announce(struct ct_restoring *r)
{
	if (r->netns < 0 || !r->spec->net_cidr)
		return;
	char ip[64];
	snprintf(ip, sizeof(ip), "%s", r->spec->net_cidr);
	ip[strcspn(ip, "/")] = 0;
	struct in_addr a;
	if (inet_pton(AF_INET, ip, &a) != 1)
		return;
	pid_t pid = fork();
	if (pid == 0) {
		if (setns(r->netns, CLONE_NEWNET) < 0)
			_exit(1);
		int fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_ARP));
		struct ifreq ifr = {0};
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "eth0");
		if (fd < 0 || ioctl(fd, SIOCGIFINDEX, &ifr) < 0)
			_exit(1);
		int ifindex = ifr.ifr_ifindex;
		if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
			_exit(1);
		uint8_t pkt[28] = {0, 1, 8, 0, 6, 4, 0, 1}; /* Ethernet, IPv4, request */
		memcpy(pkt + 8, ifr.ifr_hwaddr.sa_data, 6);
		memcpy(pkt + 14, &a, 4);
		memcpy(pkt + 24, &a, 4);
		struct sockaddr_ll to = {.sll_family = AF_PACKET,
					 .sll_protocol = htons(ETH_P_ARP),
					 .sll_ifindex = ifindex,
					 .sll_halen = 6};
		memset(to.sll_addr, 0xff, 6);
		_exit(sendto(fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&to, sizeof(to)) ==
			      sizeof(pkt)
			  ? 0
			  : 1);
	}
	int st;
	while (pid > 0 && waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (pid < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		mc_log_debug("restore: the gratuitous ARP for %s was not sent", ip);
}

/* receive: the veth's host end onto its bridge, then the gratuitous ARP, in a child while CRIU
 * restores: the link change waits for the kernel's rtnl lock, which other work on the host can
 * hold for long (26-310 ms measured inside the frozen window at load 7-9, before this ran
 * beside CRIU). The host end has been up, off the bridge, since the frame was made (make_netns):
 * set up only now, on its bridge, the port forwarded only once the kernel's link watch had seen
 * the veth's carrier (a work item under the rtnl lock), 100-330 ms after the restore in about a
 * third of the runs right after the hosts were set up (tcpdump: the probes came in over the
 * link between the bridges, the container's own GARP had gone out, and the bridge passed
 * nothing to the port); attached with its carrier on already, it forwards at once.
 * link_wait reaps it: its error text comes through *fd. */
static int link_start(struct ct_restoring *r, pid_t *pid, int *fd, mc_err *err)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return mc_errorf(err, errno, "restore: pipe");
	*pid = fork();
	if (*pid < 0) {
		int e = errno;
		close(p[0]);
		close(p[1]);
		return mc_errorf(err, e, "restore: fork");
	}
	if (*pid == 0) {
		close(p[0]);
		mc_err e = NULL;
		if (ct_net_attach(r->veth, r->spec->net_bridge, &e) < 0) {
			mc_write_all(p[1], mc_error_text(e), strlen(mc_error_text(e)));
			_exit(1);
		}
		announce(r);
		_exit(0);
	}
	close(p[1]);
	*fd = p[0];
	return 0;
}

static int link_wait(pid_t pid, int fd, mc_err *err)
{
	char buf[1024];
	ssize_t n = mc_read_all(fd, buf, sizeof(buf) - 1);
	close(fd);
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	buf[n > 0 ? n : 0] = 0;
	return mc_errorf(err, 0, "%s", n > 0 ? buf : "network: the link helper failed");
}

/* A helper child in a new network namespace: lo up; with the config's network, minict adds
 * the veth from outside and the helper configures eth0 inside. The namespace lives on in
 * *nsfd once the helper has exited. */
static int make_netns(struct ct_restoring *r, mc_err *err)
{
	int up[2], down[2];
	if (pipe2(up, O_CLOEXEC) < 0)
		return mc_errorf(err, errno, "restore: pipe");
	if (pipe2(down, O_CLOEXEC) < 0) {
		close(up[0]);
		close(up[1]);
		return mc_errorf(err, errno, "restore: pipe");
	}
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(up[0]);
		close(up[1]);
		close(down[0]);
		close(down[1]);
		return mc_errorf(err, e, "restore: fork");
	}
	if (pid == 0) {
		close(up[0]);
		close(down[1]);
		mc_err e = NULL;
		char cmd;
		if (unshare(CLONE_NEWNET) < 0)
			mc_errorf(&e, errno, "unshare(CLONE_NEWNET)");
		else
			ct_net_loopback_up(&e);
		if (!e) {
			mc_write_all(up[1], "", 1);
			if (read(down[0], &cmd, 1) == 1)
				ct_net_setup_container(r->spec->net_cidr, &e);
		}
		if (e)
			mc_write_all(up[1], mc_error_text(e), strlen(mc_error_text(e)));
		_exit(e ? 1 : 0);
	}
	close(up[1]);
	close(down[0]);
	char buf[1024] = "";
	ssize_t n = read(up[0], buf, 1);
	int ret = n == 1 ? 0 : mc_errorf(err, 0, "network namespace: the helper died");
	if (n == 1 && buf[0] == 0) {
		char p[64];
		snprintf(p, sizeof(p), "/proc/%d/ns/net", pid);
		r->netns = open(p, O_RDONLY | O_CLOEXEC);
		if (r->netns < 0)
			ret = mc_errorf(err, errno, "restore: open `%s`", p);
		else if (r->spec->net_bridge && r->spec->net_cidr) {
			ct_net_ifname(r->o.id, r->veth);
			if (ct_net_setup_host(r->spec->net_bridge, r->spec->net_cidr, r->veth, pid,
					      err) < 0) {
				r->veth[0] = 0;
				ret = -1;
			} else if (r->o.link_later && ct_net_attach(r->veth, NULL, err) < 0) {
				ret = -1; /* before eth0 is up: nothing went out to the bridge */
			} else if (write(down[1], "c", 1) != 1) {
				ret = mc_errorf(err, errno, "restore: network helper");
			}
		}
	}
	close(down[1]);
	n = mc_read_all(up[0], buf + 1, sizeof(buf) - 2);
	close(up[0]);
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (ret == 0 && (st != 0 || buf[0] != 0)) {
		buf[n > 0 ? n + 1 : 1] = 0;
		ret = mc_errorf(err, 0, "network namespace: %s",
				buf[0]	 ? buf
				: buf[1] ? buf + 1
					 : "helper failed");
	}
	return ret < 0 ? mc_wrap(err, "restore") : 0;
}

/* cg_root: the container's cgroup in each hierarchy, read back from CRIU's own
 * /proc/PID/cgroup once it joined them ("0::" is every controller without its own). */
static int cg_roots(struct ct_restoring *r, mc_err *err)
{
	char p[64];
	snprintf(p, sizeof(p), "/proc/%d/cgroup", r->c.pid);
	_cleanup_fclose_ FILE *f = fopen(p, "re");
	if (!f)
		return mc_errorf(err, errno, "restore: open `%s`", p);
	char line[4096];
	while (fgets(line, sizeof(line), f) && r->ncgroot < MC_ARRAY_SIZE(r->cgline)) {
		line[strcspn(line, "\n")] = 0;
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		char *copy = strdup(c1 + 1);
		if (!copy)
			return mc_errorf(err, ENOMEM, "restore");
		r->cgline[r->ncgroot] = copy;
		copy[c2 - c1 - 1] = 0;
		r->cgroot[r->ncgroot].ctrl = copy[0] ? copy : NULL;
		r->cgroot[r->ncgroot].path = copy + (c2 - c1);
		r->ncgroot++;
	}
	return 0;
}

static int prep_spec(struct ct_restoring *r, mc_err *err)
{
	r->bundle = realpath(r->o.bundle ? r->o.bundle : ".", NULL);
	if (!r->bundle)
		return mc_errorf(err, errno, "restore: bundle `%s`",
				 r->o.bundle ? r->o.bundle : ".");
	if (ct_spec_load(r->bundle, &r->spec, err) < 0)
		return mc_wrap(err, "restore");
	return 0;
}

static int prep_images(struct ct_restoring *r, mc_err *err)
{
	r->images = ct_ckpt_open_dir(r->o.com.image, false, err);
	if (r->images < 0)
		return mc_wrap(err, "restore: --image-path");
	if (faccessat(r->images, "inventory.img", F_OK, 0) < 0)
		return mc_errorf(err, 0, "restore: `%s` holds no checkpoint (no inventory.img)",
				 r->o.com.image);
	r->work = r->o.com.work ? ct_ckpt_open_dir(r->o.com.work, true, err) : dup(r->images);
	if (r->work < 0)
		return mc_wrap(err, "restore: --work-path");
	if (ct_ckpt_load_stdio(r->images, r->stdio, err) < 0)
		return mc_wrap(err, "restore");
	return 0;
}

/* CRIU's request forks the tasks: criu goes into the container's cgroups first, so they are in
 * them from their first instruction. */
static int start_criu(struct ct_restoring *r, mc_err *err)
{
	/* in the new network namespace: a dump that shared the container's (checkpoint.c) left
	 * the tasks in criu's; an external one (net[]:minict-netns) comes by inherit_fd */
	if (ct_criu_start_in(&r->c, r->criu, &r->netns, r->netns >= 0, true, r->netns, err) < 0)
		return mc_wrap(err, "restore");
	if (ct_cg_enter(&r->cg, r->c.pid, err) < 0 || cg_roots(r, err) < 0)
		return mc_wrap(err, "restore");
	return 0;
}

/* receive makes the container's frame while the stream still comes: a state without a pid
 * (creating) names its cgroups, so that `delete -f` cleans up after a receiver that was killed.
 * The veth needs no record: its namespace dies with the receiver and criu, and takes it along. */
static int save_early(struct ct_global *g, struct ct_restoring *r, mc_err *err)
{
	char created[64];
	ct_now_rfc3339(created, sizeof(created));
	struct ct_state st = {.id = (char *)r->o.id,
			      .bundle = r->bundle,
			      .rootfs = (char *)r->spec->root_path,
			      .created = created,
			      .cg = r->cg,
			      .has_cg = true};
	return ct_state_save(g->root, &st, err) < 0 ? mc_wrap(err, "restore") : 0;
}

static int prep_env(struct ct_global *g, struct ct_restoring *r, mc_err *err)
{
	if (ct_ckpt_find_criu(g->criu, &r->criu, err) < 0)
		return mc_wrap(err, "restore");
	/* from here on there is something to undo */
	if (ct_state_claim(g->root, r->o.id, err) < 0)
		return -1;
	r->claimed = true;
	const struct ct_resources *res = r->spec->has_resources ? &r->spec->res : NULL;
	if (ct_cg_create(&r->cg, r->spec->cgroups_path, r->o.id, res, err) < 0)
		return mc_wrap(err, "restore");
	r->have_cg = true;
	if (ct_cg_apply(&r->cg, res, err) < 0)
		return mc_wrap(err, "restore");
	if (r->o.link_later && save_early(g, r, err) < 0)
		return -1;
	if (ct_spec_has_ns(r->spec, CLONE_NEWNET, NULL) && make_netns(r, err) < 0)
		return -1;
	if (ct_ckpt_ext_mounts(r->spec, true, &r->ext, err) < 0)
		return -1;
	return start_criu(r, err);
}

static int restore(struct ct_restoring *r, mc_err *err)
{
	struct ct_criu_ifd ifd[4];
	size_t nifd = 0;
	for (int i = 0; i < 3; i++)
		if (r->stdio[i])
			ifd[nifd++] = (struct ct_criu_ifd){r->stdio[i], i};
	if (r->netns >= 0)
		ifd[nifd++] = (struct ct_criu_ifd){CT_CKPT_NETNS_KEY, r->netns};
	uint64_t t_in = mc_now_ns();
	if (ct_ckpt_tmpfs_restore(r->images, &r->ext, err) < 0) {
		ct_ckpt_tmpfs_release();
		return mc_wrap(err, "restore");
	}
	mc_log_debug("restore: tmpfs mounts %.1f ms", (mc_now_ns() - t_in) / 1e6);
	/* the source is frozen by now: the container's MAC may speak from here */
	pid_t lpid = -1;
	int lfd = -1;
	if (r->o.link_later && r->veth[0] && link_start(r, &lpid, &lfd, err) < 0) {
		ct_ckpt_tmpfs_release();
		return mc_wrap(err, "restore");
	}
	struct ct_criu_req q = {
	    .op = CT_CRIU_RESTORE,
	    .images_fd = r->images,
	    .work_fd = r->work,
	    .log_file = "restore.log",
	    .log_level = r->debug ? 4 : 2,
	    .timeout_s = ct_ckpt_timeout(120),
	    .root = r->spec->root_path,
	    .rst_sibling = true,
	    .manage_cgroups = true,
	    .cg_mode = -1,
	    .external = (const char *const *)r->ext.v,
	    .nexternal = r->ext.n,
	    .inherit = ifd,
	    .ninherit = nifd,
	    .cg_root = r->cgroot,
	    .ncg_root = r->ncgroot,
	};
	ct_criu_opts_req(&r->o.com, &q);
	uint64_t t0 = mc_now_ns();
	pid_t pid = -1;
	int ret = ct_criu_run(&r->c, &q, &pid, err);
	uint64_t t_run = mc_now_ns();
	ct_criu_stop(&r->c);
	ct_ckpt_tmpfs_release();
	uint64_t t1 = mc_now_ns();
	mc_log_debug("restore: criu answered in %.1f ms, its exit %.1f ms more", (t_run - t0) / 1e6,
		     (t1 - t_run) / 1e6);
	if (lpid > 0) {
		mc_err e2 = NULL;
		if (link_wait(lpid, lfd, ret < 0 ? &e2 : err) < 0)
			ret = -1; /* the restored tasks go with the cgroups (undo) */
		mc_error_free(&e2);
	}
	mc_log_debug("restore: criu restore took %.1f ms, then the link %.1f ms more",
		     (t1 - t0) / 1e6, (mc_now_ns() - t1) / 1e6);
	if (ret < 0)
		return mc_wrap(err, "restore");
	if (pid <= 0)
		return mc_errorf(err, 0, "restore: criu named no restored process");
	r->pid = pid;
	return 0;
}

static int record(struct ct_global *g, struct ct_restoring *r, struct ct_state *st, mc_err *err)
{
	char created[64];
	ct_now_rfc3339(created, sizeof(created));
	memset(st, 0, sizeof(*st));
	st->id = strdup(r->o.id);
	st->pid = r->pid;
	st->start_time = ct_proc_start_time(r->pid);
	st->bundle = strdup(r->bundle);
	st->rootfs = strdup(r->spec->root_path);
	st->created = strdup(created);
	st->annotations = r->spec->annotations ? json_object_get(r->spec->annotations) : NULL;
	st->veth = r->veth[0] ? strdup(r->veth) : NULL;
	st->net_bridge = r->veth[0] ? strdup(r->spec->net_bridge) : NULL;
	st->cg = r->cg;
	st->has_cg = true;
	int ret = ct_state_save(g->root, st, err);
	if (ret == 0 && r->o.pid_file) {
		char b[24];
		int n = snprintf(b, sizeof(b), "%d", r->pid);
		int fd = open(r->o.pid_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0 || mc_write_all(fd, b, n) < 0)
			ret = mc_errorf(err, errno, "pid file `%s`", r->o.pid_file);
		if (fd >= 0)
			close(fd);
	}
	if (ret < 0) {
		memset(&st->cg, 0, sizeof(st->cg)); /* still ours to undo */
		st->has_cg = false;
		ct_state_free(st);
		return -1;
	}
	r->have_cg = false; /* the state owns it now */
	return 0;
}

static void undo(struct ct_global *g, struct ct_restoring *r)
{
	mc_err e2 = NULL;
	if (r->c.pid > 0) {
		kill(r->c.pid, SIGKILL);
		ct_criu_stop(&r->c);
	}
	if (r->have_cg) {
		ct_cg_kill_all(&r->cg, SIGKILL, &e2);
		mc_error_free(&e2);
	}
	if (r->pid > 0) {
		kill(r->pid, SIGKILL);
		while (waitpid(r->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	if (r->veth[0])
		ct_net_remove(r->veth, &e2);
	mc_error_free(&e2);
	if (r->have_cg) {
		ct_cg_destroy(&r->cg, &e2);
		mc_error_free(&e2);
		ct_cg_free(&r->cg);
		r->have_cg = false;
	}
	if (r->claimed)
		ct_state_remove(g->root, r->o.id);
}

/* Without --detach minict stays with the container, as runc does: it waits for the init,
 * forwards nothing fancy, deletes the container and returns its exit status. */
static int wait_attached(struct ct_global *g, struct ct_state *st, mc_err *err)
{
	int status = 0;
	while (waitpid(st->pid, &status, 0) < 0 && errno == EINTR)
		;
	if (ct_container_destroy(g->root, st, err) < 0)
		return -1;
	return ct_exit_code(status);
}

static void rst_free(struct ct_restoring *r)
{
	if (r->netns >= 0)
		close(r->netns);
	if (r->images >= 0)
		close(r->images);
	if (r->work >= 0)
		close(r->work);
	for (size_t i = 0; i < r->ncgroot; i++)
		free(r->cgline[i]);
	for (int i = 0; i < 3; i++)
		free(r->stdio[i]);
	ct_strlist_free(&r->ext);
	free(r->criu);
	free(r->bundle);
	ct_spec_free(r->spec);
	free(r);
}

static struct ct_restoring *rst_new(const struct ct_restore_opts *o, bool debug, mc_err *err)
{
	struct ct_restoring *r = calloc(1, sizeof(*r));
	if (!r) {
		mc_errorf(err, ENOMEM, "restore");
		return NULL;
	}
	r->o = *o;
	r->images = r->work = r->netns = -1;
	r->c = (struct ct_criu){.pid = -1, .sk = -1};
	r->debug = debug;
	return r;
}

/* The images are there and the rest is made: CRIU's request, then the state. */
static int finish(struct ct_global *g, struct ct_restoring *r, struct ct_state *st, mc_err *err)
{
	int ret = restore(r, err);
	if (ret == 0)
		ret = record(g, r, st, err);
	if (ret < 0)
		undo(g, r);
	return ret;
}

int ct_restore_begin(struct ct_global *g, const struct ct_restore_opts *o, struct ct_restoring **rp,
		     mc_err *err)
{
	*rp = NULL;
	if (ct_check_id(o->id, err) < 0)
		return -1;
	/* first, before any directory is opened (CRIU can't mount on a directory of the mount
	 * namespace we leave): criu inherits it, so the tmpfs mounts made for it are in both */
	if (ct_ckpt_tmpfs_ns(err) < 0)
		return mc_wrap(err, "restore");
	struct ct_restoring *r = rst_new(o, g->debug, err);
	if (!r)
		return -1;
	if (prep_spec(r, err) < 0 || prep_env(g, r, err) < 0) {
		undo(g, r);
		rst_free(r);
		return -1;
	}
	*rp = r;
	return 0;
}

int ct_restore_finish(struct ct_global *g, struct ct_restoring *r, pid_t *pidp, mc_err *err)
{
	struct ct_state st = {0};
	int ret = prep_images(r, err);
	if (ret < 0)
		undo(g, r);
	else
		ret = finish(g, r, &st, err);
	if (ret == 0) {
		if (pidp)
			*pidp = r->pid;
		ct_state_free(&st);
	}
	rst_free(r);
	return ret;
}

void ct_restore_abort(struct ct_global *g, struct ct_restoring *r)
{
	if (!r)
		return;
	undo(g, r);
	rst_free(r);
}

int ct_restore(struct ct_global *g, const struct ct_restore_opts *o, pid_t *pidp, mc_err *err)
{
	if (ct_check_id(o->id, err) < 0)
		return -1;
	/* first, before any directory is opened (CRIU can't mount on a directory of the mount
	 * namespace we leave): criu inherits it, so the tmpfs mounts made for it are in both */
	if (ct_ckpt_tmpfs_ns(err) < 0)
		return mc_wrap(err, "restore");
	struct ct_restoring *r = rst_new(o, g->debug, err);
	if (!r)
		return -1;
	struct ct_state st = {0};
	/* what can fail before anything exists first: the bundle, the images */
	int ret = prep_spec(r, err);
	if (ret == 0)
		ret = prep_images(r, err);
	if (ret == 0 && (ret = prep_env(g, r, err)) < 0)
		undo(g, r);
	if (ret == 0)
		ret = finish(g, r, &st, err);
	bool have_st = ret == 0;
	if (ret == 0 && pidp)
		*pidp = r->pid;
	bool detach = r->o.detach;
	rst_free(r);
	if (ret == 0 && !detach)
		ret = wait_attached(g, &st, err);
	if (have_st)
		ct_state_free(&st);
	return ret;
}

int ct_verb_restore(struct ct_global *g, int argc, char **argv, mc_err *err)
{
	struct ct_restore_opts o = {0};
	if (parse_opts(argc, argv, &o, err) < 0)
		return -1;
	_cleanup_free_ char *defimg = NULL;
	if (ct_criu_opts_default_image(&o.com, &defimg, "restore", err) < 0)
		return -1;
	return ct_restore(g, &o, NULL, err);
}
