/* virtio-console (virtio spec 1.2, 5.3) with VIRTIO_CONSOLE_F_MULTIPORT: the guest command's
 * stdin, stdout and stderr, each a port of its own (docs/virtio.md, "virtio-console and the
 * guest command's stdio").
 *
 * Ports (ids are fixed; the guest finds them by name in /sys/class/virtio-ports/ * /name):
 *   without a tty: 0 "minivm.stdin" (host fd -> guest), 1 "minivm.stdout", 2 "minivm.stderr"
 *                  (guest -> host fd), byte for byte; end of the host's stdin is the port's
 *                  host side closing (VIRTIO_CONSOLE_PORT_OPEN 0): the guest's read() then
 *                  returns 0 once it has read every byte before it. max_nr_ports 3: 8 queues.
 *   with a tty:    0 "minivm.tty", the console port (the guest's /dev/hvc0): host stdin in,
 *                  guest output to host stdout, the window size in RESIZE control messages
 *                  (which Linux applies only with VIRTIO_CONSOLE_F_SIZE, offered).
 *                  max_nr_ports 1: 4 queues.
 * No port more than these: each queue costs the guest's driver some 20 register accesses at
 * probe time, each a trip to minivm (docs/virtio.md, "Start-up cost").
 */
#ifndef MINIVM_VIRTIO_CONSOLE_H
#define MINIVM_VIRTIO_CONSOLE_H

#include <stdbool.h>
#include <stdint.h>

#include "device.h"
#include "error.h"
#include "virtio.h"

/* Feature bits (5.3.3). */
#define VIRTIO_CONSOLE_F_SIZE	   0
#define VIRTIO_CONSOLE_F_MULTIPORT 1

/* Control events (5.3.6.2). */
#define VIRTIO_CONSOLE_DEVICE_READY  0
#define VIRTIO_CONSOLE_DEVICE_ADD    1
#define VIRTIO_CONSOLE_DEVICE_REMOVE 2
#define VIRTIO_CONSOLE_PORT_READY    3
#define VIRTIO_CONSOLE_CONSOLE_PORT  4
#define VIRTIO_CONSOLE_RESIZE	     5
#define VIRTIO_CONSOLE_PORT_OPEN     6
#define VIRTIO_CONSOLE_PORT_NAME     7

#define VIRTIO_CONSOLE_MAX_PORTS  3u   /* max_nr_ports without a tty (1 with one) */
#define VIRTIO_CONSOLE_QUEUE_SIZE 128u /* the queues that carry data */
#define VIRTIO_CONSOLE_CTL_SIZE	  16u  /* control queues (Linux posts a page per entry) */
#define VIRTIO_CONSOLE_IDLE_SIZE  4u   /* a direction no stream uses (stdout's receive...) */
#define VIRTIO_CONSOLE_CONFIG_LEN 12u  /* cols, rows, max_nr_ports, emerg_wr */
#define VIRTIO_CONSOLE_PORT_TTY	  0u   /* with a tty */
#define VIRTIO_CONSOLE_PORT_IN	  0u   /* without one */
#define VIRTIO_CONSOLE_PORT_OUT	  1u
#define VIRTIO_CONSOLE_PORT_ERR	  2u

/* What minivm run gives the device: the host side of the guest command's stdio. */
struct virtio_console_conf {
	int in_fd, out_fd, err_fd; /* minivm's 0, 1, 2; -1: none */
	bool tty;		   /* one console port (hvc0) instead of three */
	uint16_t rows, cols;	   /* the initial window size (tty) */
};

/* The device "virtio-console" over the transport; give it to devices_add(). */
struct device *virtio_console_create(const struct virtio_console_conf *conf,
				     const struct virtio_transport_ops *tops, void *transport,
				     mc_err *err);
/* The host terminal's new size (SIGWINCH): a RESIZE for the console port. Any thread. */
void virtio_console_resize(struct device *d, uint16_t rows, uint16_t cols);
/* After the vCPUs stopped: write out everything the guest had queued on its output ports
 * (its last writes before it powered off), blocking until the host fds took it. */
void virtio_console_flush(struct device *d);
/* Whether the guest ever opened its output ports (false: an initramfs without
 * virtio_console, whose command wrote to the serial console instead). */
bool virtio_console_used(struct device *d);
/* Whether the command's stdio is one terminal port (-t) rather than three ports (snapshots
 * and migration record it: the other side must make the same ports). */
bool virtio_console_tty(struct device *d);

#endif
