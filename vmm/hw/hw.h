/* The platform's devices (hw/devices.c holds the one explicit table) and their constructors.
 * A constructor allocates an instance with its ops and state; devices_add() realizes it. */
#ifndef MINIVM_HW_H
#define MINIVM_HW_H

#include "device.h"
#include "error.h"
#include "uart.h"

struct vm;
struct blk_disk;
struct virtio_net_conf;
struct virtio_console_conf;

/* What the devices are built from (run.c fills it from the options). */
struct hw_config {
	int console_fd; /* the serial console's output; -1: discarded */
	/* --disk, in order: a virtio-blk device each ("virtio-blk0"...) after the table */
	const struct blk_disk *disks;
	unsigned ndisks;
	/* --net, in order: a virtio-net device each ("virtio-net0"...) after the disks */
	const struct virtio_net_conf *nets;
	unsigned nnets;
	/* the guest command's stdio: a virtio-console ("virtio-console") after the cards; NULL:
	 * none */
	const struct virtio_console_conf *stdio;
};

/* Create and realize every device of the table, in order. */
int hw_create_devices(struct vm *vm, const struct hw_config *cfg, mc_err *err);

struct device *serial_create(const struct hw_config *cfg, mc_err *err);
/* The UART model inside a serial device (the console feeds its input). */
struct uart *serial_uart(struct device *d);
struct device *debug_port_create(const struct hw_config *cfg, mc_err *err);
struct device *acpi_pm_create(const struct hw_config *cfg, mc_err *err);
struct device *i8042_create(const struct hw_config *cfg, mc_err *err);
struct device *cmos_create(const struct hw_config *cfg, mc_err *err);

#endif
