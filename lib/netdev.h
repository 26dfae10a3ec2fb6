/* Host network devices, shared by minict (veth + bridge per container) and minivm (taps):
 * links, bridges, veth pairs, addresses and routes through rtnetlink (libnl-3, libnl-route-3),
 * taps through /dev/net/tun.
 *
 * Every function returns < 0 on failure with *err naming the link and the operation
 * ("link `br0`: set up: Operation not permitted"); errnum is the kernel's errno when there is
 * one (ENODEV for a missing link, EEXIST, EPERM, EINVAL...), so callers can tell cases apart.
 * Link names are checked first as the kernel would (1 to 15 bytes, no '/', ':' or spaces).
 *
 * A struct mc_rtnl is one rtnetlink socket; it acts in the network namespace it was opened in,
 * whatever the thread's namespace later. Every mc_netdev_* function takes NULL instead to open
 * one for that call only. Nothing here is thread-safe on one mc_rtnl.
 */
#ifndef MINI_NETDEV_H
#define MINI_NETDEV_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

#define MC_IFNAMSIZ 16 /* IFNAMSIZ: 15 bytes and the NUL */

struct mc_rtnl;
int mc_rtnl_open(struct mc_rtnl **nl, mc_err *err);
void mc_rtnl_close(struct mc_rtnl *nl);
static inline void mc_rtnl_closep(struct mc_rtnl **nl)
{
	if (*nl)
		mc_rtnl_close(*nl);
}
#define _cleanup_rtnl_ __attribute__((cleanup(mc_rtnl_closep)))

/* 0 when name is a valid interface name, else -1 saying why (EINVAL). */
int mc_netdev_check_name(const char *name, mc_err *err);

/* 1 when the link exists, 0 when not, -1 on error. */
int mc_netdev_exists(struct mc_rtnl *nl, const char *name, mc_err *err);
/* The link's ifindex (> 0), or -1 (ENODEV when it does not exist). */
int mc_netdev_ifindex(struct mc_rtnl *nl, const char *name, mc_err *err);

/* Create bridge name. An existing bridge of that name is fine (*created = false, may be NULL);
 * an existing link of another kind is EEXIST. The new bridge is down. */
int mc_netdev_bridge_add(struct mc_rtnl *nl, const char *name, bool *created, mc_err *err);
/* Delete bridge name (its ports are released, not deleted); a link of another kind is EINVAL. */
int mc_netdev_bridge_del(struct mc_rtnl *nl, const char *name, mc_err *err);
/* Attach link name to bridge (NULL: detach it from its bridge). */
int mc_netdev_set_master(struct mc_rtnl *nl, const char *name, const char *bridge, mc_err *err);

/* A veth pair name <-> peer, both down. The peer can be given a MAC and be created directly in
 * another network namespace: netns_fd (an open /proc/PID/ns/net or /run/netns/NAME; -1 none)
 * or netns_pid (that process's namespace; 0 none). */
struct mc_veth {
	const char *name;
	const char *peer;
	const uint8_t *mac;	 /* name's MAC (6 bytes), NULL: the kernel's random one */
	const uint8_t *peer_mac; /* the peer's */
	int peer_netns_fd;
	pid_t peer_netns_pid;
};
int mc_netdev_veth_add(struct mc_rtnl *nl, const struct mc_veth *veth, mc_err *err);

/* Delete any link (a veth's peer goes with it). missing_ok: a missing link is success. */
int mc_netdev_delete(struct mc_rtnl *nl, const char *name, bool missing_ok, mc_err *err);

int mc_netdev_set_up(struct mc_rtnl *nl, const char *name, bool up, mc_err *err);
/* Older kernels (before 6.2 or so) refuse to rename a link that is up: EBUSY. */
int mc_netdev_rename(struct mc_rtnl *nl, const char *name, const char *new_name, mc_err *err);
int mc_netdev_set_mac(struct mc_rtnl *nl, const char *name, const uint8_t mac[6], mc_err *err);
int mc_netdev_set_mtu(struct mc_rtnl *nl, const char *name, unsigned mtu, mc_err *err);
/* Move the link into another network namespace (fd as for mc_veth, else pid). */
int mc_netdev_set_netns(struct mc_rtnl *nl, const char *name, int netns_fd, pid_t netns_pid,
			mc_err *err);

/* Add an address with its prefix, "10.0.0.1/24" or "fd00::1/64" (the prefix is required).
 * An address already on the link is success. */
int mc_netdev_addr_add(struct mc_rtnl *nl, const char *name, const char *cidr, mc_err *err);
/* A default route (IPv4 or IPv6, as gateway is) through gateway on link name. An identical
 * route already there is success. */
int mc_netdev_route_add_default(struct mc_rtnl *nl, const char *name, const char *gateway,
				mc_err *err);

/* Taps, for minivm's virtio-net: ioctls on /dev/net/tun, no netlink.
 *
 * mc_tap_open() attaches to tap name, creating it when missing (IFF_TAP | IFF_NO_PI), and
 * returns the queue's fd (close-on-exec). *created (may be NULL) says whether this call made
 * the link: a tap made here is not persistent and goes away with its last fd; one that existed
 * (persistent, e.g. `ip tuntap add`) is left as it is. With MC_TAP_VNET_HDR every packet
 * carries a struct virtio_net_hdr_v1 (12 bytes, TUNSETVNETHDRSZ); with MC_TAP_MULTI_QUEUE each
 * call opens one more queue of the same tap (the flag must match how the tap was made). */
#define MC_TAP_VNET_HDR	     (1u << 0)
#define MC_TAP_MULTI_QUEUE   (1u << 1)
#define MC_TAP_NONBLOCK	     (1u << 2)
#define MC_TAP_VNET_HDR_SIZE 12
int mc_tap_open(const char *name, unsigned flags, bool *created, mc_err *err);
/* TUNSETOFFLOAD: the TUN_F_* offloads (TUN_F_CSUM, TUN_F_TSO4, TUN_F_TSO6, TUN_F_TSO_ECN,
 * TUN_F_UFO) the reader of fd handles; needs MC_TAP_VNET_HDR. 0 turns them all off. */
int mc_tap_set_offload(int fd, unsigned offload, mc_err *err);
/* The tap's name (TUNGETIFF), e.g. after opening a "tap%d" template. */
int mc_tap_name(int fd, char name[MC_IFNAMSIZ], mc_err *err);
/* TUNGETFEATURES: the IFF_* flags /dev/net/tun accepts. */
int mc_tap_features(unsigned *features, mc_err *err);
/* 1 when taps can carry a virtio-net header (IFF_VNET_HDR), 0 when not, -1 on error. */
int mc_tap_has_vnet_hdr(mc_err *err);

#endif
