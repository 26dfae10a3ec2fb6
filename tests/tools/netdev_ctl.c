/* netdev_ctl: one lib/netdev.h call per run, for tests/host/lib_netdev.sh. Prints what the call
 * returns (created=, ifindex, ...) on stdout; a failure is one line on stderr and exit 1, usage
 * errors exit 2.
 *
 *   exists NAME | ifindex NAME | check-name NAME
 *   bridge-add NAME | bridge-del NAME | master NAME BRIDGE|-
 *   veth NAME PEER [--mac MAC] [--peer-mac MAC] [--peer-netns PATH | --peer-pid PID]
 *   del NAME [--missing-ok] | up NAME | down NAME | rename NAME NEW | mac NAME MAC | mtu NAME N
 *   netns NAME PATH|PID | addr NAME CIDR | route NAME GATEWAY
 *   tap NAME [--vnet-hdr] [--multi-queue] [--offload] [-- SHELL-COMMAND]
 *       opens (or creates) the tap, prints created= name= vnet_hdr_sz=, runs the command while
 *       the tap is held, then closes it
 *   tap-features
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "error.h"
#include "netdev.h"

static int usage(void)
{
	fprintf(stderr, "usage: netdev_ctl COMMAND ARGS... (see tests/tools/netdev_ctl.c)\n");
	return 2;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned b[6];
	char tail;
	if (sscanf(s, "%x:%x:%x:%x:%x:%x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &tail) != 6)
		return -1;
	for (int i = 0; i < 6; i++) {
		if (b[i] > 0xff)
			return -1;
		mac[i] = b[i];
	}
	return 0;
}

static int tap(int argc, char **argv, mc_err *err)
{
	unsigned flags = 0;
	bool offload = false;
	const char *cmd = NULL;
	for (int i = 3; i < argc; i++) {
		if (!strcmp(argv[i], "--vnet-hdr"))
			flags |= MC_TAP_VNET_HDR;
		else if (!strcmp(argv[i], "--multi-queue"))
			flags |= MC_TAP_MULTI_QUEUE;
		else if (!strcmp(argv[i], "--offload"))
			offload = true;
		else if (!strcmp(argv[i], "--") && i + 1 < argc)
			cmd = argv[++i];
		else
			return usage();
	}
	bool created;
	int fd = mc_tap_open(argv[2], flags, &created, err);
	if (fd < 0)
		return 1;
	char name[MC_IFNAMSIZ];
	int sz = 0;
	if (mc_tap_name(fd, name, err) < 0 ||
	    (offload &&
	     mc_tap_set_offload(
		 fd, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN | TUN_F_UFO, err) < 0)) {
		close(fd);
		return 1;
	}
	if (flags & MC_TAP_VNET_HDR)
		ioctl(fd, TUNGETVNETHDRSZ, &sz);
	printf("created=%d name=%s vnet_hdr_sz=%d fd_cloexec=%d\n", created, name, sz,
	       (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
	fflush(stdout);
	int rc = 0;
	if (cmd) {
		pid_t pid = fork();
		if (pid == 0) {
			execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
			_exit(127);
		}
		int st;
		if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
			rc = 3;
	}
	close(fd);
	return rc;
}

static int run(int argc, char **argv, mc_err *err)
{
	const char *c = argv[1], *name = argc > 2 ? argv[2] : NULL;
	if (!strcmp(c, "tap-features")) {
		int r = mc_tap_has_vnet_hdr(err);
		if (r < 0)
			return 1;
		printf("vnet_hdr=%d\n", r);
		return 0;
	}
	if (!name)
		return usage();
	if (!strcmp(c, "check-name"))
		return mc_netdev_check_name(name, err) < 0;
	if (!strcmp(c, "tap"))
		return tap(argc, argv, err);
	if (!strcmp(c, "del")) {
		/* without a socket of its own: the call opens one */
		bool ok = argc > 3 && !strcmp(argv[3], "--missing-ok");
		return mc_netdev_delete(NULL, name, ok, err) < 0;
	}

	_cleanup_rtnl_ struct mc_rtnl *nl = NULL;
	if (mc_rtnl_open(&nl, err) < 0)
		return 1;
	const char *arg = argc > 3 ? argv[3] : NULL;
	if (!strcmp(c, "exists")) {
		int r = mc_netdev_exists(nl, name, err);
		if (r < 0)
			return 1;
		printf("%d\n", r);
		return 0;
	}
	if (!strcmp(c, "ifindex")) {
		int r = mc_netdev_ifindex(nl, name, err);
		if (r < 0)
			return 1;
		printf("%d\n", r);
		return 0;
	}
	if (!strcmp(c, "bridge-add")) {
		bool created;
		if (mc_netdev_bridge_add(nl, name, &created, err) < 0)
			return 1;
		printf("created=%d\n", created);
		return 0;
	}
	if (!strcmp(c, "bridge-del"))
		return mc_netdev_bridge_del(nl, name, err) < 0;
	if (!strcmp(c, "up") || !strcmp(c, "down"))
		return mc_netdev_set_up(nl, name, !strcmp(c, "up"), err) < 0;
	if (!strcmp(c, "veth")) {
		uint8_t mac[6], peer_mac[6];
		struct mc_veth v = {.name = name, .peer = arg, .peer_netns_fd = -1};
		if (!arg)
			return usage();
		int rc = 0;
		for (int i = 4; i < argc && !rc; i++) {
			const char *val = i + 1 < argc ? argv[i + 1] : NULL;
			if (!val)
				return usage();
			if (!strcmp(argv[i], "--mac") && !parse_mac(val, mac))
				v.mac = mac;
			else if (!strcmp(argv[i], "--peer-mac") && !parse_mac(val, peer_mac))
				v.peer_mac = peer_mac;
			else if (!strcmp(argv[i], "--peer-pid"))
				v.peer_netns_pid = atoi(val);
			else if (!strcmp(argv[i], "--peer-netns")) {
				v.peer_netns_fd = open(val, O_RDONLY | O_CLOEXEC);
				if (v.peer_netns_fd < 0)
					return mc_errorf(err, errno, "open `%s`", val), 1;
			} else
				return usage();
			i++;
		}
		rc = mc_netdev_veth_add(nl, &v, err) < 0;
		if (v.peer_netns_fd >= 0)
			close(v.peer_netns_fd);
		return rc;
	}
	if (!arg)
		return usage();
	if (!strcmp(c, "master"))
		return mc_netdev_set_master(nl, name, strcmp(arg, "-") ? arg : NULL, err) < 0;
	if (!strcmp(c, "rename"))
		return mc_netdev_rename(nl, name, arg, err) < 0;
	if (!strcmp(c, "mac")) {
		uint8_t mac[6];
		if (parse_mac(arg, mac) < 0)
			return usage();
		return mc_netdev_set_mac(nl, name, mac, err) < 0;
	}
	if (!strcmp(c, "mtu"))
		return mc_netdev_set_mtu(nl, name, (unsigned)strtoul(arg, NULL, 10), err) < 0;
	if (!strcmp(c, "netns")) {
		int fd = -1, rc;
		pid_t pid = 0;
		if (arg[0] == '/') {
			fd = open(arg, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				return mc_errorf(err, errno, "open `%s`", arg), 1;
		} else {
			pid = atoi(arg);
		}
		rc = mc_netdev_set_netns(nl, name, fd, pid, err) < 0;
		if (fd >= 0)
			close(fd);
		return rc;
	}
	if (!strcmp(c, "addr"))
		return mc_netdev_addr_add(nl, name, arg, err) < 0;
	if (!strcmp(c, "route"))
		return mc_netdev_route_add_default(nl, name, arg, err) < 0;
	return usage();
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	mc_err err = NULL;
	int rc = run(argc, argv, &err);
	if (rc == 1)
		mc_error_print(err, "netdev_ctl", stderr);
	mc_error_free(&err);
	return rc;
}
