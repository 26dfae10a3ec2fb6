/* Container networking: a veth pair, one end (eth0) in the container's network namespace, the
 * other attached to a bridge on the host (created if missing). The links are made through
 * lib/netdev.h (libnl-3), shared with minivm; minict has no netlink code of its own. */
#ifndef MINICT_NETWORK_H
#define MINICT_NETWORK_H

#include <stdbool.h>
#include <sys/types.h>

#include "error.h"

/* Parse "bridge=NAME,ip=CIDR" (short form --net). */
int ct_net_parse(const char *arg, char **bridge, char **cidr, mc_err *err);
/* Host side: bridge (with the subnet's first address) + veth, peer "eth0" in pid's netns. */
int ct_net_setup_host(const char *bridge, const char *cidr, const char *host_if, pid_t pid,
		      mc_err *err);
/* Container side (inside the netns): lo up; eth0 address, up, default route via the bridge. */
int ct_net_setup_container(const char *cidr, mc_err *err);
/* Bring lo up in a fresh network namespace (cheap ioctl). */
int ct_net_loopback_up(mc_err *err);
/* The host end up or down (in our network namespace): down, nothing the container sends
 * reaches the bridge, and the bridge forgets the addresses it learned on that port (migration:
 * the destination's end until its restore, the source's from the switch-over). */
int ct_net_set_up(const char *host_if, bool up, mc_err *err);
/* Attach the host end to bridge, up (NULL: detach it from its bridge, as it is). A port
 * attached up with its carrier on forwards at once; one set up on its bridge waits for the
 * kernel's link watch to see its carrier (under the rtnl lock: 0-300 ms here under load). */
int ct_net_attach(const char *host_if, const char *bridge, mc_err *err);
/* Delete the host end (the peer goes with it). ENODEV is fine. */
int ct_net_remove(const char *host_if, mc_err *err);
/* A veth name unique to the container id: "mct" + 8 hex digits. */
void ct_net_ifname(const char *id, char out[16]);

#endif
