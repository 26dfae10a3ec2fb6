/* Host network devices through libnl-3 (rtnetlink) and /dev/net/tun: see netdev.h. */
#include "netdev.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cleanup.h"

_Static_assert(MC_IFNAMSIZ == IFNAMSIZ, "MC_IFNAMSIZ");
_Static_assert(MC_TAP_VNET_HDR_SIZE == sizeof(struct virtio_net_hdr_v1), "virtio_net_hdr_v1");

struct mc_rtnl {
	struct nl_sock *sk;
};

/* ---- errors ------------------------------------------------------------------------------ */

/* libnl turns the kernel's errno into an NLE_* code; turn the common ones back, so the message
 * reads as the kernel's and callers can test errnum. 0: no errno, use nl_geterror(). */
static int nle_errno(int nle)
{
	switch (nle < 0 ? -nle : nle) {
	case NLE_EXIST:
		return EEXIST;
	case NLE_NODEV:
		return ENODEV;
	case NLE_OBJ_NOTFOUND:
		return ENOENT;
	case NLE_PERM:
		return EPERM;
	case NLE_NOACCESS:
		return EACCES;
	case NLE_BUSY:
		return EBUSY;
	case NLE_INVAL:
		return EINVAL;
	case NLE_RANGE:
		return ERANGE;
	case NLE_NOMEM:
		return ENOMEM;
	case NLE_AGAIN:
		return EAGAIN;
	case NLE_INTR:
		return EINTR;
	case NLE_NOADDR:
		return EADDRNOTAVAIL;
	case NLE_OPNOTSUPP:
		return EOPNOTSUPP;
	case NLE_AF_NOSUPPORT:
		return EAFNOSUPPORT;
	case NLE_PROTO_MISMATCH:
		return EPROTONOSUPPORT;
	case NLE_BAD_SOCK:
		return EBADF;
	}
	return 0;
}

/* "<what> `<name>`: <op>" followed by the error of libnl call result nle. */
static int nl_fail(mc_err *err, int nle, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int nl_fail(mc_err *err, int nle, const char *fmt, ...)
{
	_cleanup_free_ char *what = NULL;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&what, fmt, ap);
	va_end(ap);
	if (n < 0)
		return mc_errorf(err, ENOMEM, "netlink");
	int e = nle_errno(nle);
	if (e)
		return mc_errorf(err, e, "%s", what);
	return mc_errorf(err, 0, "%s: %s", what, nl_geterror(nle));
}

/* The kernel's dev_valid_name(). */
static const char *name_problem(const char *name, char *buf, size_t len)
{
	if (!name || !*name)
		return "empty name";
	size_t n = strlen(name);
	if (n >= IFNAMSIZ) {
		snprintf(buf, len, "name too long (%zu bytes, at most %d)", n, IFNAMSIZ - 1);
		return buf;
	}
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return "\".\" and \"..\" are not interface names";
	for (const char *p = name; *p; p++)
		if (*p == '/' || *p == ':' || *p == ' ' || (*p >= '\t' && *p <= '\r'))
			return "'/', ':' and spaces are not allowed";
	return NULL;
}

static int check_name(const char *name, mc_err *err, const char *what, const char *op)
{
	char buf[64];
	const char *why = name_problem(name, buf, sizeof(buf));
	if (!why)
		return 0;
	return mc_errorf(err, 0, "%s `%s`: %s: %s", what, name ? name : "", op, why);
}

int mc_netdev_check_name(const char *name, mc_err *err)
{
	char buf[64];
	const char *why = name_problem(name, buf, sizeof(buf));
	if (!why)
		return 0;
	return mc_errorf(err, 0, "interface name `%s`: %s", name ? name : "", why);
}

/* ---- the rtnetlink socket ------------------------------------------------------------------ */

int mc_rtnl_open(struct mc_rtnl **out, mc_err *err)
{
	*out = NULL;
	struct mc_rtnl *nl = calloc(1, sizeof(*nl));
	if (!nl || !(nl->sk = nl_socket_alloc())) {
		free(nl);
		return mc_errorf(err, ENOMEM, "netlink: socket");
	}
	int r = nl_connect(nl->sk, NETLINK_ROUTE);
	if (r < 0) {
		mc_rtnl_close(nl);
		return nl_fail(err, r, "netlink: connect");
	}
	*out = nl;
	return 0;
}

void mc_rtnl_close(struct mc_rtnl *nl)
{
	if (!nl)
		return;
	nl_socket_free(nl->sk);
	free(nl);
}

/* nl, or a socket opened for this call (*own, closed by the caller's cleanup). */
static struct nl_sock *sock(struct mc_rtnl *nl, struct mc_rtnl **own, mc_err *err)
{
	if (nl)
		return nl->sk;
	if (mc_rtnl_open(own, err) < 0)
		return NULL;
	return (*own)->sk;
}

static void link_putp(struct rtnl_link **l)
{
	if (*l)
		rtnl_link_put(*l);
}
static void addr_putp(struct nl_addr **a)
{
	if (*a)
		nl_addr_put(*a);
}
#define _cleanup_link_	 __attribute__((cleanup(link_putp)))
#define _cleanup_nladdr_ __attribute__((cleanup(addr_putp)))

/* The link called name as the kernel has it; a missing one is ENODEV. */
static int get_link(struct nl_sock *sk, const char *name, struct rtnl_link **link, mc_err *err,
		    const char *what, const char *op)
{
	*link = NULL;
	int r = rtnl_link_get_kernel(sk, 0, name, link);
	if (r == -NLE_NODEV || r == -NLE_OBJ_NOTFOUND || (r >= 0 && !*link))
		return mc_errorf(err, ENODEV, "%s `%s`: %s", what, name, op);
	if (r < 0)
		return nl_fail(err, r, "%s `%s`: %s", what, name, op);
	return 0;
}

/* Common start of a call on an existing link: name checked, socket, the link. */
#define LINK_BEGIN(what, op)                                                                       \
	_cleanup_rtnl_ struct mc_rtnl *own = NULL;                                                 \
	_cleanup_link_ struct rtnl_link *link = NULL;                                              \
	struct nl_sock *sk;                                                                        \
	if (check_name(name, err, what, op) < 0)                                                   \
		return -1;                                                                         \
	if (!(sk = sock(nl, &own, err)))                                                           \
		return mc_wrap(err, "%s `%s`: %s", what, name, op);                                \
	if (get_link(sk, name, &link, err, what, op) < 0)                                          \
	return -1

/* Apply the attributes set in chg to link. */
static int change(struct nl_sock *sk, struct rtnl_link *link, struct rtnl_link *chg, mc_err *err,
		  const char *what, const char *name, const char *op)
{
	int r = rtnl_link_change(sk, link, chg, 0);
	rtnl_link_put(chg);
	if (r < 0)
		return nl_fail(err, r, "%s `%s`: %s", what, name, op);
	return 0;
}

static struct rtnl_link *change_alloc(mc_err *err, const char *name, const char *op)
{
	struct rtnl_link *chg = rtnl_link_alloc();
	if (!chg)
		mc_errorf(err, ENOMEM, "link `%s`: %s", name, op);
	return chg;
}

/* ---- links --------------------------------------------------------------------------------- */

int mc_netdev_exists(struct mc_rtnl *nl, const char *name, mc_err *err)
{
	_cleanup_rtnl_ struct mc_rtnl *own = NULL;
	_cleanup_link_ struct rtnl_link *link = NULL;
	struct nl_sock *sk;
	if (check_name(name, err, "link", "look up") < 0)
		return -1;
	if (!(sk = sock(nl, &own, err)))
		return mc_wrap(err, "link `%s`: look up", name);
	int r = rtnl_link_get_kernel(sk, 0, name, &link);
	if (r == -NLE_NODEV || r == -NLE_OBJ_NOTFOUND)
		return 0;
	if (r < 0)
		return nl_fail(err, r, "link `%s`: look up", name);
	return link ? 1 : 0;
}

int mc_netdev_ifindex(struct mc_rtnl *nl, const char *name, mc_err *err)
{
	LINK_BEGIN("link", "look up");
	return rtnl_link_get_ifindex(link);
}

int mc_netdev_bridge_add(struct mc_rtnl *nl, const char *name, bool *created, mc_err *err)
{
	_cleanup_rtnl_ struct mc_rtnl *own = NULL;
	struct nl_sock *sk;
	if (created)
		*created = false;
	if (check_name(name, err, "bridge", "create") < 0)
		return -1;
	if (!(sk = sock(nl, &own, err)))
		return mc_wrap(err, "bridge `%s`: create", name);
	struct rtnl_link *br = rtnl_link_bridge_alloc();
	if (!br)
		return mc_errorf(err, ENOMEM, "bridge `%s`: create", name);
	rtnl_link_set_name(br, name);
	int r = rtnl_link_add(sk, br, NLM_F_CREATE | NLM_F_EXCL);
	rtnl_link_put(br);
	if (r >= 0) {
		if (created)
			*created = true;
		return 0;
	}
	if (r != -NLE_EXIST)
		return nl_fail(err, r, "bridge `%s`: create", name);
	/* there already: fine if it is a bridge (made by someone else, or a moment ago by a
	 * concurrent caller) */
	_cleanup_link_ struct rtnl_link *link = NULL;
	if (get_link(sk, name, &link, err, "bridge", "create") < 0)
		return -1;
	const char *type = rtnl_link_get_type(link);
	if (!type || strcmp(type, "bridge"))
		return mc_errorf(err, EEXIST,
				 "bridge `%s`: create: a link of type %s has that name", name,
				 type ? type : "(none)");
	return 0;
}

int mc_netdev_bridge_del(struct mc_rtnl *nl, const char *name, mc_err *err)
{
	LINK_BEGIN("bridge", "delete");
	const char *type = rtnl_link_get_type(link);
	if (!type || strcmp(type, "bridge"))
		return mc_errorf(err, 0, "bridge `%s`: delete: not a bridge but a link of type %s",
				 name, type ? type : "(none)");
	int r = rtnl_link_delete(sk, link);
	if (r < 0)
		return nl_fail(err, r, "bridge `%s`: delete", name);
	return 0;
}

int mc_netdev_set_master(struct mc_rtnl *nl, const char *name, const char *bridge, mc_err *err)
{
	char op[64] = "detach from its bridge", buf[64];
	if (bridge)
		snprintf(op, sizeof(op), "attach to bridge `%s`", bridge);
	LINK_BEGIN("link", op);
	int r;
	if (!bridge) {
		r = rtnl_link_release(sk, link);
		if (r < 0)
			return nl_fail(err, r, "link `%s`: %s", name, op);
		return 0;
	}
	const char *why = name_problem(bridge, buf, sizeof(buf));
	if (why)
		return mc_errorf(err, 0, "link `%s`: %s: %s", name, op, why);
	_cleanup_link_ struct rtnl_link *br = NULL;
	r = rtnl_link_get_kernel(sk, 0, bridge, &br);
	if (r == -NLE_NODEV || r == -NLE_OBJ_NOTFOUND || (r >= 0 && !br))
		return mc_errorf(err, ENODEV, "link `%s`: %s: the bridge is missing", name, op);
	if (r >= 0)
		r = rtnl_link_enslave(sk, br, link);
	if (r < 0)
		return nl_fail(err, r, "link `%s`: %s", name, op);
	return 0;
}

int mc_netdev_veth_add(struct mc_rtnl *nl, const struct mc_veth *v, mc_err *err)
{
	_cleanup_rtnl_ struct mc_rtnl *own = NULL;
	struct nl_sock *sk;
	if (check_name(v->name, err, "veth", "create") < 0 ||
	    check_name(v->peer, err, "veth peer", "create") < 0)
		return -1;
	if (!(sk = sock(nl, &own, err)))
		return mc_wrap(err, "veth `%s`: create", v->name);
	_cleanup_link_ struct rtnl_link *veth = rtnl_link_veth_alloc();
	if (!veth)
		return mc_errorf(err, ENOMEM, "veth `%s`: create", v->name);
	_cleanup_link_ struct rtnl_link *peer = rtnl_link_veth_get_peer(veth);
	rtnl_link_set_name(veth, v->name);
	rtnl_link_set_name(peer, v->peer);
	const uint8_t *macs[2] = {v->mac, v->peer_mac};
	struct rtnl_link *ends[2] = {veth, peer};
	for (int i = 0; i < 2; i++) {
		if (!macs[i])
			continue;
		_cleanup_nladdr_ struct nl_addr *ll = nl_addr_build(AF_LLC, macs[i], 6);
		if (!ll)
			return mc_errorf(err, ENOMEM, "veth `%s`: create", v->name);
		rtnl_link_set_addr(ends[i], ll);
	}
	if (v->peer_netns_fd >= 0)
		rtnl_link_set_ns_fd(peer, v->peer_netns_fd);
	else if (v->peer_netns_pid > 0)
		rtnl_link_set_ns_pid(peer, v->peer_netns_pid);
	int r = rtnl_link_add(sk, veth, NLM_F_CREATE | NLM_F_EXCL);
	if (r < 0)
		return nl_fail(err, r, "veth `%s` (peer `%s`): create", v->name, v->peer);
	return 0;
}

int mc_netdev_delete(struct mc_rtnl *nl, const char *name, bool missing_ok, mc_err *err)
{
	_cleanup_rtnl_ struct mc_rtnl *own = NULL;
	struct nl_sock *sk;
	if (check_name(name, err, "link", "delete") < 0)
		return -1;
	if (!(sk = sock(nl, &own, err)))
		return mc_wrap(err, "link `%s`: delete", name);
	/* by name: one request, and the kernel says whether it was there */
	_cleanup_link_ struct rtnl_link *link = rtnl_link_alloc();
	if (!link)
		return mc_errorf(err, ENOMEM, "link `%s`: delete", name);
	rtnl_link_set_name(link, name);
	int r = rtnl_link_delete(sk, link);
	if (r == -NLE_NODEV || r == -NLE_OBJ_NOTFOUND)
		return missing_ok ? 0 : mc_errorf(err, ENODEV, "link `%s`: delete", name);
	if (r < 0)
		return nl_fail(err, r, "link `%s`: delete", name);
	return 0;
}

int mc_netdev_set_up(struct mc_rtnl *nl, const char *name, bool up, mc_err *err)
{
	const char *op = up ? "set up" : "set down";
	LINK_BEGIN("link", op);
	struct rtnl_link *chg = change_alloc(err, name, op);
	if (!chg)
		return -1;
	if (up)
		rtnl_link_set_flags(chg, IFF_UP);
	else
		rtnl_link_unset_flags(chg, IFF_UP);
	return change(sk, link, chg, err, "link", name, op);
}

int mc_netdev_rename(struct mc_rtnl *nl, const char *name, const char *new_name, mc_err *err)
{
	LINK_BEGIN("link", "rename");
	if (check_name(new_name, err, "link", "rename") < 0)
		return mc_wrap(err, "link `%s`", name);
	struct rtnl_link *chg = change_alloc(err, name, "rename");
	if (!chg)
		return -1;
	rtnl_link_set_name(chg, new_name);
	char op[64];
	snprintf(op, sizeof(op), "rename to `%s`", new_name);
	return change(sk, link, chg, err, "link", name, op);
}

int mc_netdev_set_mac(struct mc_rtnl *nl, const char *name, const uint8_t mac[6], mc_err *err)
{
	char op[48];
	snprintf(op, sizeof(op), "set MAC %02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2],
		 mac[3], mac[4], mac[5]);
	LINK_BEGIN("link", op);
	_cleanup_nladdr_ struct nl_addr *ll = nl_addr_build(AF_LLC, mac, 6);
	struct rtnl_link *chg = ll ? change_alloc(err, name, op) : NULL;
	if (!chg)
		return mc_errorf(err, ENOMEM, "link `%s`: %s", name, op);
	rtnl_link_set_addr(chg, ll);
	return change(sk, link, chg, err, "link", name, op);
}

int mc_netdev_set_mtu(struct mc_rtnl *nl, const char *name, unsigned mtu, mc_err *err)
{
	char op[32];
	snprintf(op, sizeof(op), "set MTU %u", mtu);
	LINK_BEGIN("link", op);
	struct rtnl_link *chg = change_alloc(err, name, op);
	if (!chg)
		return -1;
	rtnl_link_set_mtu(chg, mtu);
	return change(sk, link, chg, err, "link", name, op);
}

int mc_netdev_set_netns(struct mc_rtnl *nl, const char *name, int netns_fd, pid_t netns_pid,
			mc_err *err)
{
	LINK_BEGIN("link", "move to another network namespace");
	struct rtnl_link *chg = change_alloc(err, name, "move to another network namespace");
	if (!chg)
		return -1;
	if (netns_fd >= 0)
		rtnl_link_set_ns_fd(chg, netns_fd);
	else
		rtnl_link_set_ns_pid(chg, netns_pid);
	return change(sk, link, chg, err, "link", name, "move to another network namespace");
}

/* ---- addresses and routes ------------------------------------------------------------------ */

/* "A.B.C.D[/N]" or "X:Y::Z[/N]" into an nl_addr (prefix required when want_prefix, refused
 * when not). NULL when s is not one. */
static struct nl_addr *parse_addr(const char *s, bool want_prefix)
{
	char a[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	if (!!slash != want_prefix || alen == 0 || alen >= sizeof(a))
		return NULL;
	memcpy(a, s, alen);
	a[alen] = 0;
	int family = strchr(a, ':') ? AF_INET6 : AF_INET;
	unsigned max = family == AF_INET6 ? 128 : 32, pfx = max;
	if (slash) {
		char *end;
		errno = 0;
		unsigned long p = strtoul(slash + 1, &end, 10);
		if (!slash[1] || *end || errno || p > max || slash[1] == '-' || slash[1] == '+')
			return NULL;
		pfx = p;
	}
	uint8_t bin[16];
	if (inet_pton(family, a, bin) != 1)
		return NULL;
	struct nl_addr *na = nl_addr_build(family, bin, family == AF_INET6 ? 16 : 4);
	if (na)
		nl_addr_set_prefixlen(na, pfx);
	return na;
}

int mc_netdev_addr_add(struct mc_rtnl *nl, const char *name, const char *cidr, mc_err *err)
{
	char op[80];
	snprintf(op, sizeof(op), "add address %s", cidr);
	LINK_BEGIN("link", op);
	_cleanup_nladdr_ struct nl_addr *local = parse_addr(cidr, true);
	if (!local)
		return mc_errorf(err, EINVAL,
				 "link `%s`: add address \"%s\" (want A.B.C.D/N or X::Y/N)", name,
				 cidr);
	struct rtnl_addr *ra = rtnl_addr_alloc();
	if (!ra)
		return mc_errorf(err, ENOMEM, "link `%s`: %s", name, op);
	rtnl_addr_set_ifindex(ra, rtnl_link_get_ifindex(link));
	rtnl_addr_set_family(ra, nl_addr_get_family(local));
	rtnl_addr_set_local(ra, local);
	int r = rtnl_addr_add(sk, ra, 0);
	rtnl_addr_put(ra);
	if (r < 0 && r != -NLE_EXIST)
		return nl_fail(err, r, "link `%s`: %s", name, op);
	return 0;
}

int mc_netdev_route_add_default(struct mc_rtnl *nl, const char *name, const char *gateway,
				mc_err *err)
{
	char op[80];
	snprintf(op, sizeof(op), "add default route via %s", gateway);
	LINK_BEGIN("link", op);
	_cleanup_nladdr_ struct nl_addr *gw = parse_addr(gateway, false);
	if (!gw)
		return mc_errorf(err, EINVAL,
				 "link `%s`: add default route via \"%s\" (not an address)", name,
				 gateway);
	int family = nl_addr_get_family(gw);
	uint8_t zero[16] = {0};
	_cleanup_nladdr_ struct nl_addr *dst =
	    nl_addr_build(family, zero, family == AF_INET6 ? 16 : 4);
	struct rtnl_route *rt = dst ? rtnl_route_alloc() : NULL;
	struct rtnl_nexthop *nh = rt ? rtnl_route_nh_alloc() : NULL;
	if (!nh) {
		if (rt)
			rtnl_route_put(rt);
		return mc_errorf(err, ENOMEM, "link `%s`: %s", name, op);
	}
	nl_addr_set_prefixlen(dst, 0);
	rtnl_route_nh_set_gateway(nh, gw);
	rtnl_route_nh_set_ifindex(nh, rtnl_link_get_ifindex(link));
	rtnl_route_add_nexthop(rt, nh); /* rt owns nh now */
	rtnl_route_set_dst(rt, dst);
	rtnl_route_set_family(rt, family);
	rtnl_route_set_table(rt, RT_TABLE_MAIN);
	int r = rtnl_route_add(sk, rt, NLM_F_CREATE);
	rtnl_route_put(rt);
	if (r < 0 && r != -NLE_EXIST)
		return nl_fail(err, r, "link `%s`: %s", name, op);
	return 0;
}

/* ---- taps ---------------------------------------------------------------------------------- */

int mc_tap_open(const char *name, unsigned flags, bool *created, mc_err *err)
{
	if (created)
		*created = false;
	if (check_name(name, err, "tap", "open") < 0)
		return -1;
	_cleanup_close_ int fd =
	    open("/dev/net/tun", O_RDWR | O_CLOEXEC | (flags & MC_TAP_NONBLOCK ? O_NONBLOCK : 0));
	if (fd < 0)
		return mc_errorf(err, errno, "tap `%s`: open /dev/net/tun", name);
	/* whether it was there before: TUNSETIFF attaches to an existing tap and makes a missing
	 * one alike, saying nothing about which it did */
	bool existed = if_nametoindex(name) != 0;
	struct ifreq ifr = {0};
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	if (flags & MC_TAP_VNET_HDR)
		ifr.ifr_flags |= IFF_VNET_HDR;
	if (flags & MC_TAP_MULTI_QUEUE)
		ifr.ifr_flags |= IFF_MULTI_QUEUE;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int e = errno;
		if (existed && e == EINVAL)
			return mc_errorf(
			    err, e,
			    "tap `%s`: attach (TUNSETIFF): it exists but is not a tap, "
			    "or is one %s multi_queue",
			    name, flags & MC_TAP_MULTI_QUEUE ? "without" : "with");
		if (existed && e == EBUSY)
			return mc_errorf(
			    err, e, "tap `%s`: attach (TUNSETIFF): another process has it", name);
		return mc_errorf(err, e, "tap `%s`: %s (TUNSETIFF)", name,
				 existed ? "attach" : "create");
	}
	if (flags & MC_TAP_VNET_HDR) {
		int sz = MC_TAP_VNET_HDR_SIZE;
		if (ioctl(fd, TUNSETVNETHDRSZ, &sz) < 0)
			return mc_errorf(err, errno,
					 "tap `%s`: set the virtio-net header size to %d",
					 ifr.ifr_name, sz);
	}
	if (created) {
		struct ifreq got = {0};
		if (ioctl(fd, TUNGETIFF, &got) < 0)
			return mc_errorf(err, errno, "tap `%s`: read its flags (TUNGETIFF)",
					 ifr.ifr_name);
		/* a persistent one appeared between the check and TUNSETIFF: not ours either */
		*created = !existed && !(got.ifr_flags & IFF_PERSIST);
	}
	return mc_steal_fd(&fd);
}

int mc_tap_name(int fd, char name[MC_IFNAMSIZ], mc_err *err)
{
	struct ifreq ifr = {0};
	if (ioctl(fd, TUNGETIFF, &ifr) < 0)
		return mc_errorf(err, errno, "tap (fd %d): read its name (TUNGETIFF)", fd);
	snprintf(name, MC_IFNAMSIZ, "%s", ifr.ifr_name);
	return 0;
}

int mc_tap_set_offload(int fd, unsigned offload, mc_err *err)
{
	if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)offload) == 0)
		return 0;
	int e = errno;
	char name[MC_IFNAMSIZ] = "?";
	mc_tap_name(fd, name, NULL);
	return mc_errorf(err, e, "tap `%s`: set offloads %#x (TUNSETOFFLOAD)", name, offload);
}

int mc_tap_features(unsigned *features, mc_err *err)
{
	_cleanup_close_ int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return mc_errorf(err, errno, "taps: open /dev/net/tun");
	if (ioctl(fd, TUNGETFEATURES, features) < 0)
		return mc_errorf(err, errno, "taps: features (TUNGETFEATURES)");
	return 0;
}

int mc_tap_has_vnet_hdr(mc_err *err)
{
	unsigned f;
	if (mc_tap_features(&f, err) < 0)
		return -1;
	return (f & IFF_VNET_HDR) != 0;
}
