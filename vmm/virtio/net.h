/* virtio-net (virtio spec 1.2, 5.1) over a host tap: one receive/transmit queue pair and a
 * control queue, checksum and segmentation offloads negotiated with the tap, the MAC and link
 * status in config space, VIRTIO_NET_F_GUEST_ANNOUNCE; the data path in user space on two I/O
 * threads, or in the kernel's vhost-net (docs/virtio.md, "virtio-net").
 */
#ifndef MINIVM_VIRTIO_NET_H
#define MINIVM_VIRTIO_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "device.h"
#include "error.h"
#include "virtio.h"

#define VIRTIO_NET_TAP_MAX 16 /* IFNAMSIZ: 15 bytes and the NUL */

/* One --net. */
struct virtio_net_conf {
	char tap[VIRTIO_NET_TAP_MAX]; /* the host interface: created when missing */
	uint8_t mac[6];
	bool vhost; /* the data path in vhost-net */
	/* Tests: >= 0 replaces the tap with this fd (a datagram socket whose messages carry the
	 * 12-byte header, as the tap's do); not closed by the device. -1 otherwise. */
	int fd;
};

/* Parse `tap=NAME[,mac=MAC][,vhost=on|off]` (the argument of --net). Without mac= the MAC is
 * derived from the tap's name (52:54 and four bytes of its hash: locally administered, the same
 * for the same tap on every run). */
int virtio_net_parse(const char *arg, struct virtio_net_conf *c, mc_err *err);
/* "aa:bb:cc:dd:ee:ff": six hex pairs, not multicast, not all zeros. */
int virtio_net_parse_mac(const char *s, uint8_t mac[6], mc_err *err);
void virtio_net_default_mac(const char *tap, uint8_t mac[6]);

/* The VM's index-th virtio-net device ("virtio-net<index>") on the given transport;
 * devices_add() realizes it (opens the tap, vhost-net, starts the I/O threads). */
struct device *virtio_net_create(const struct virtio_net_conf *c, unsigned index,
				 const struct virtio_transport_ops *tops, void *transport,
				 mc_err *err);

/* Ask the driver to announce the guest on the network (gratuitous ARP / unsolicited NA), e.g.
 * after a migration: sets VIRTIO_NET_S_ANNOUNCE and raises a config interrupt when the driver
 * accepted VIRTIO_NET_F_GUEST_ANNOUNCE; the driver acks with VIRTIO_NET_CTRL_ANNOUNCE_ACK.
 * Returns whether the request was made. Any thread. */
bool virtio_net_announce(struct virtio_dev *vd);

/* What the data path counted (nothing is dropped without a count). */
struct virtio_net_stats {
	uint64_t rx_packets, rx_bytes;
	uint64_t rx_truncated; /* a packet larger than the buffers the driver gave (or half
				  received at a pause): dropped */
	uint64_t rx_errors;    /* a read from the tap failed */
	uint64_t rx_waits;     /* the driver's receive buffers ran out: the tap was left queued */
	uint64_t tx_packets, tx_bytes;
	uint64_t tx_dropped; /* the tap refused the packet (no buffer space) */
	uint64_t tx_errors;  /* the tap refused the packet (bad header or packet) */
	uint64_t bad_chains; /* malformed chains or headers, given back unused */
	uint64_t ctrl_cmds, ctrl_errors;
};
void virtio_net_get_stats(struct virtio_dev *vd, struct virtio_net_stats *s);
/* The config space's status field (VIRTIO_NET_S_LINK_UP, VIRTIO_NET_S_ANNOUNCE). */
uint16_t virtio_net_status(struct virtio_dev *vd);

#endif
