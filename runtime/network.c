#include "network.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cleanup.h"
#include "netdev.h"

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

/* The subnet's first address: the bridge's and the containers' gateway. */
static uint32_t gateway(uint32_t addr, unsigned pfx)
{
	uint32_t mask = pfx ? ~0u << (32 - pfx) : 0;
	return (addr & mask) + 1;
}

/* "A.B.C.D" (with "/N" when pfx >= 0) */
#define ADDR_STRLEN 32
static void addr_str(uint32_t addr, int pfx, char out[ADDR_STRLEN])
{
	struct in_addr ia = {htonl(addr)};
	char a[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &ia, a, sizeof(a));
	if (pfx >= 0)
		snprintf(out, ADDR_STRLEN, "%s/%d", a, pfx);
	else
		snprintf(out, ADDR_STRLEN, "%s", a);
}

int ct_net_setup_host(const char *bridge, const char *cidr, const char *host_if, pid_t pid,
		      mc_err *err)
{
	uint32_t addr;
	unsigned pfx;
	if (cidr_split(cidr, &addr, &pfx) < 0)
		return mc_errorf(err, 0, "network: bad address \"%s\"", cidr);
	_cleanup_rtnl_ struct mc_rtnl *nl = NULL;
	if (mc_rtnl_open(&nl, err) < 0)
		return mc_wrap(err, "network");
	/* a bridge made here gets the gateway address and is set up; one already there (the
	 * user's, or another container's) is used as it is */
	int have = mc_netdev_exists(nl, bridge, err);
	if (have < 0)
		return mc_wrap(err, "network");
	if (!have) {
		char gw[ADDR_STRLEN];
		addr_str(gateway(addr, pfx), pfx, gw);
		if (mc_netdev_bridge_add(nl, bridge, NULL, err) < 0 ||
		    mc_netdev_addr_add(nl, bridge, gw, err) < 0 ||
		    mc_netdev_set_up(nl, bridge, true, err) < 0)
			return mc_wrap(err, "network");
	}
	/* the MAC follows the address (02:4d:A:B:C:D), so it is the same wherever the container
	 * is created, restored or migrated to: its neighbours' ARP entries stay right */
	uint8_t mac[6] = {0x02,	      0x4d, addr >> 24, (addr >> 16) & 0xff, (addr >> 8) & 0xff,
			  addr & 0xff};
	struct mc_veth veth = {.name = host_if,
			       .peer = "eth0",
			       .peer_mac = mac,
			       .peer_netns_fd = -1,
			       .peer_netns_pid = pid};
	if (mc_netdev_veth_add(nl, &veth, err) < 0)
		return mc_wrap(err, "network");
	if (mc_netdev_set_master(nl, host_if, bridge, err) < 0 ||
	    mc_netdev_set_up(nl, host_if, true, err) < 0) {
		mc_netdev_delete(nl, host_if, true, NULL);
		return mc_wrap(err, "network");
	}
	return 0;
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
	if (cidr_split(cidr, &addr, &pfx) < 0)
		return mc_errorf(err, 0, "network: bad address \"%s\"", cidr);
	char self[ADDR_STRLEN];
	addr_str(addr, pfx, self);
	_cleanup_rtnl_ struct mc_rtnl *nl = NULL;
	if (mc_rtnl_open(&nl, err) < 0 || mc_netdev_addr_add(nl, "eth0", self, err) < 0 ||
	    mc_netdev_set_up(nl, "eth0", true, err) < 0)
		return mc_wrap(err, "network");
	uint32_t gw = gateway(addr, pfx);
	if (gw != addr) {
		char gws[ADDR_STRLEN];
		addr_str(gw, -1, gws);
		if (mc_netdev_route_add_default(nl, "eth0", gws, err) < 0)
			return mc_wrap(err, "network");
	}
	return 0;
}

int ct_net_set_up(const char *host_if, bool up, mc_err *err)
{
	if (mc_netdev_set_up(NULL, host_if, up, err) < 0)
		return mc_wrap(err, "network: %s %s", host_if, up ? "up" : "down");
	return 0;
}

int ct_net_attach(const char *host_if, const char *bridge, mc_err *err)
{
	_cleanup_rtnl_ struct mc_rtnl *nl = NULL;
	if (mc_rtnl_open(&nl, err) < 0 || mc_netdev_set_master(nl, host_if, bridge, err) < 0 ||
	    (bridge && mc_netdev_set_up(nl, host_if, true, err) < 0))
		return mc_wrap(err, "network");
	return 0;
}

int ct_net_remove(const char *host_if, mc_err *err)
{
	if (mc_netdev_delete(NULL, host_if, true, err) < 0)
		return mc_wrap(err, "network");
	return 0;
}
