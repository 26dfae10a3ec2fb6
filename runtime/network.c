#include "network.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cleanup.h"

int ct_net_parse(const char *arg, char **bridge, char **cidr, mc_err *err)
{
	_cleanup_free_ char *copy = strdup(arg);
	if (!copy)
		return mc_errorf(err, ENOMEM, "--net");
	for (char *save = NULL, *t = strtok_r(copy, ",", &save); t;
	     t = strtok_r(NULL, ",", &save)) {
		if (!strncmp(t, "bridge=", 7)) {
			if (strlen(t + 7) == 0 || strlen(t + 7) >= IFNAMSIZ || strchr(t + 7, '/'))
				return mc_errorf(err, 0, "--net: bad bridge name \"%s\"", t + 7);
			free(*bridge);
			*bridge = strdup(t + 7);
		} else if (!strncmp(t, "ip=", 3)) {
			char a[64];
			unsigned pfx;
			struct in_addr ia;
			if (sscanf(t + 3, "%63[0-9.]/%u", a, &pfx) != 2 || pfx < 1 || pfx > 30 ||
			    inet_pton(AF_INET, a, &ia) != 1)
				return mc_errorf(err, 0, "--net: bad ip \"%s\" (want A.B.C.D/N)",
						 t + 3);
			free(*cidr);
			*cidr = strdup(t + 3);
		} else {
			return mc_errorf(err, 0, "--net: unknown option \"%s\"", t);
		}
	}
	if (!*bridge || !*cidr)
		return mc_errorf(err, 0, "--net: need bridge=NAME,ip=CIDR");
	return 0;
}

void ct_net_ifname(const char *id, char out[16])
{
	uint32_t h = 2166136261u;
	for (const char *p = id; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	snprintf(out, 16, "mct%08x", h);
}

static int cidr_split(const char *cidr, uint32_t *addr, unsigned *pfx)
{
	char a[64];
	struct in_addr ia;
	if (sscanf(cidr, "%63[0-9.]/%u", a, pfx) != 2 || *pfx > 32 ||
	    inet_pton(AF_INET, a, &ia) != 1)
		return -1;
	*addr = ntohl(ia.s_addr);
	return 0;
}

static struct nl_sock *nl_open(mc_err *err)
{
	struct nl_sock *sk = nl_socket_alloc();
	if (!sk) {
		mc_errorf(err, ENOMEM, "netlink socket");
		return NULL;
	}
	int r = nl_connect(sk, NETLINK_ROUTE);
	if (r < 0) {
		mc_errorf(err, 0, "netlink connect: %s", nl_geterror(r));
		nl_socket_free(sk);
		return NULL;
	}
	return sk;
}

/* The address of a network request, checked, and a netlink socket to carry it out. */
static struct nl_sock *net_begin(const char *cidr, uint32_t *addr, unsigned *pfx, mc_err *err)
{
	if (cidr_split(cidr, addr, pfx) < 0) {
		mc_errorf(err, 0, "network: bad address \"%s\"", cidr);
		return NULL;
	}
	struct nl_sock *sk = nl_open(err);
	if (!sk)
		mc_wrap(err, "network");
	return sk;
}

static int add_addr(struct nl_sock *sk, int ifindex, uint32_t addr, unsigned pfx, mc_err *err)
{
	struct rtnl_addr *ra = rtnl_addr_alloc();
	uint32_t be = htonl(addr);
	struct nl_addr *local = nl_addr_build(AF_INET, &be, 4);
	nl_addr_set_prefixlen(local, pfx);
	rtnl_addr_set_ifindex(ra, ifindex);
	rtnl_addr_set_local(ra, local);
	int r = rtnl_addr_add(sk, ra, 0);
	nl_addr_put(local);
	rtnl_addr_put(ra);
	if (r < 0 && r != -NLE_EXIST)
		return mc_errorf(err, 0, "add address: %s", nl_geterror(r));
	return 0;
}

static int link_up(struct nl_sock *sk, struct rtnl_link *link, mc_err *err)
{
	struct rtnl_link *chg = rtnl_link_alloc();
	rtnl_link_set_flags(chg, IFF_UP);
	int r = rtnl_link_change(sk, link, chg, 0);
	rtnl_link_put(chg);
	if (r < 0)
		return mc_errorf(err, 0, "set %s up: %s", rtnl_link_get_name(link), nl_geterror(r));
	return 0;
}

int ct_net_setup_host(const char *bridge, const char *cidr, const char *host_if, pid_t pid,
		      mc_err *err)
{
	uint32_t addr;
	unsigned pfx;
	struct nl_sock *sk = net_begin(cidr, &addr, &pfx, err);
	if (!sk)
		return -1;
	int ret = -1, r;
	struct rtnl_link *br = NULL, *veth = NULL, *host = NULL;
	if (rtnl_link_get_kernel(sk, 0, bridge, &br) < 0) {
		struct rtnl_link *nb = rtnl_link_bridge_alloc();
		rtnl_link_set_name(nb, bridge);
		r = rtnl_link_add(sk, nb, NLM_F_CREATE | NLM_F_EXCL);
		rtnl_link_put(nb);
		if (r < 0 && r != -NLE_EXIST) {
			mc_errorf(err, 0, "network: create bridge %s: %s", bridge, nl_geterror(r));
			goto out;
		}
		if ((r = rtnl_link_get_kernel(sk, 0, bridge, &br)) < 0) {
			mc_errorf(err, 0, "network: bridge %s: %s", bridge, nl_geterror(r));
			goto out;
		}
		/* the gateway: first address of the subnet */
		uint32_t mask = pfx ? ~0u << (32 - pfx) : 0;
		if (add_addr(sk, rtnl_link_get_ifindex(br), (addr & mask) + 1, pfx, err) < 0 ||
		    link_up(sk, br, err) < 0)
			goto out;
	}
	veth = rtnl_link_veth_alloc();
	if (!veth) {
		mc_errorf(err, ENOMEM, "network: veth");
		goto out;
	}
	rtnl_link_set_name(veth, host_if);
	struct rtnl_link *peer = rtnl_link_veth_get_peer(veth);
	rtnl_link_set_name(peer, "eth0");
	/* the MAC follows the address (02:4d:A:B:C:D), so it is the same wherever the container
	 * is created, restored or migrated to: its neighbours' ARP entries stay right */
	uint8_t mac[6] = {0x02,	      0x4d, addr >> 24, (addr >> 16) & 0xff, (addr >> 8) & 0xff,
			  addr & 0xff};
	struct nl_addr *lladdr = nl_addr_build(AF_LLC, mac, sizeof(mac));
	if (!lladdr) {
		rtnl_link_put(peer);
		mc_errorf(err, ENOMEM, "network: MAC address");
		goto out;
	}
	rtnl_link_set_addr(peer, lladdr);
	nl_addr_put(lladdr);
	rtnl_link_set_ns_pid(peer, pid);
	r = rtnl_link_add(sk, veth, NLM_F_CREATE | NLM_F_EXCL);
	rtnl_link_put(peer);
	if (r < 0) {
		mc_errorf(err, 0, "network: create veth %s: %s", host_if, nl_geterror(r));
		goto out;
	}
	if ((r = rtnl_link_get_kernel(sk, 0, host_if, &host)) < 0) {
		mc_errorf(err, 0, "network: veth %s: %s", host_if, nl_geterror(r));
		goto out;
	}
	if ((r = rtnl_link_enslave(sk, br, host)) < 0) {
		mc_errorf(err, 0, "network: attach %s to %s: %s", host_if, bridge, nl_geterror(r));
		goto out;
	}
	if (link_up(sk, host, err) < 0)
		goto out;
	ret = 0;
out:
	if (ret < 0 && host)
		rtnl_link_delete(sk, host);
	if (br)
		rtnl_link_put(br);
	if (veth)
		rtnl_link_put(veth);
	if (host)
		rtnl_link_put(host);
	nl_socket_free(sk);
	return ret < 0 ? mc_wrap(err, "network") : 0;
}

int ct_net_loopback_up(mc_err *err)
{
	_cleanup_close_ int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return mc_errorf(err, errno, "loopback: socket");
	struct ifreq ifr = {0};
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		return mc_errorf(err, errno, "loopback: get flags");
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		return mc_errorf(err, errno, "loopback: set up");
	return 0;
}

int ct_net_setup_container(const char *cidr, mc_err *err)
{
	uint32_t addr;
	unsigned pfx;
	struct nl_sock *sk = net_begin(cidr, &addr, &pfx, err);
	if (!sk)
		return -1;
	struct rtnl_link *eth = NULL;
	int ret = -1, r;
	if ((r = rtnl_link_get_kernel(sk, 0, "eth0", &eth)) < 0) {
		mc_errorf(err, 0, "network: eth0: %s", nl_geterror(r));
		goto out;
	}
	if (add_addr(sk, rtnl_link_get_ifindex(eth), addr, pfx, err) < 0 ||
	    link_up(sk, eth, err) < 0)
		goto out;
	uint32_t mask = ~0u << (32 - pfx);
	uint32_t gw = (addr & mask) + 1;
	if (gw != addr) {
		struct rtnl_route *rt = rtnl_route_alloc();
		struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
		uint32_t gbe = htonl(gw), zero = 0;
		struct nl_addr *ga = nl_addr_build(AF_INET, &gbe, 4);
		struct nl_addr *dst = nl_addr_build(AF_INET, &zero, 4);
		nl_addr_set_prefixlen(dst, 0);
		rtnl_route_nh_set_gateway(nh, ga);
		rtnl_route_nh_set_ifindex(nh, rtnl_link_get_ifindex(eth));
		rtnl_route_add_nexthop(rt, nh);
		rtnl_route_set_dst(rt, dst);
		rtnl_route_set_family(rt, AF_INET);
		rtnl_route_set_table(rt, RT_TABLE_MAIN);
		r = rtnl_route_add(sk, rt, NLM_F_CREATE);
		nl_addr_put(ga);
		nl_addr_put(dst);
		rtnl_route_put(rt);
		if (r < 0) {
			mc_errorf(err, 0, "network: default route: %s", nl_geterror(r));
			goto out;
		}
	}
	ret = 0;
out:
	if (eth)
		rtnl_link_put(eth);
	nl_socket_free(sk);
	return ret;
}

int ct_net_remove(const char *host_if, mc_err *err)
{
	struct nl_sock *sk = nl_open(err);
	if (!sk)
		return mc_wrap(err, "network");
	struct rtnl_link *l = NULL;
	int r = rtnl_link_get_kernel(sk, 0, host_if, &l);
	if (r == 0) {
		r = rtnl_link_delete(sk, l);
		rtnl_link_put(l);
	}
	nl_socket_free(sk);
	if (r < 0 && r != -NLE_NODEV && r != -NLE_OBJ_NOTFOUND)
		return mc_errorf(err, 0, "network: delete %s: %s", host_if, nl_geterror(r));
	return 0;
}
