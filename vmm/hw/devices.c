/* The explicit device table (no constructors run behind anyone's back): order here is
 * realization order, the DSDT's order and the saved state's order. */
#include "hw.h"

#include <stdbool.h>

#include "pci.h"
#include "virtio/blk.h"
#include "virtio/console.h"
#include "virtio/net.h"
#include "vm.h"

static const struct {
	const char *what;
	struct device *(*create)(const struct hw_config *cfg, mc_err *err);
} table[] = {
    {"COM1 16550A UART (port 0x3f8, IRQ 4)", serial_create},
    {"debug port (guestinit milestones)", debug_port_create},
    {"ACPI PM1a event/control blocks and reset register", acpi_pm_create},
    {"i8042 reset line", i8042_create},
    {"CMOS (empty: no RTC)", cmos_create},
    {"PCI host bridge (ECAM at 0xe0000000, conf1 at 0xcf8)", pci_host_create},
};

int hw_create_devices(struct vm *vm, const struct hw_config *cfg, mc_err *err)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		struct device *d = table[i].create(cfg, err);
		if (!d || devices_add(&vm->devices, d, vm, err) < 0)
			return mc_wrap(err, "devices: %s", table[i].what);
	}
	/* Then the virtio devices, each a PCI function on the host bridge. */
	for (unsigned i = 0; i < cfg->ndisks + cfg->nnets; i++) {
		const struct virtio_transport_ops *tops;
		void *tr;
		struct device *d = NULL;
		bool disk = i < cfg->ndisks;
		if (virtio_pci_transport_new(&tops, &tr, err) == 0)
			d = disk ? virtio_blk_create(&cfg->disks[i], i, tops, tr, err)
				 : virtio_net_create(&cfg->nets[i - cfg->ndisks], i - cfg->ndisks,
						     tops, tr, err);
		if (!d || devices_add(&vm->devices, d, vm, err) < 0)
			return disk ? mc_wrap(err, "--disk `%s`", cfg->disks[i].path)
				    : mc_wrap(err, "--net tap=%s", cfg->nets[i - cfg->ndisks].tap);
	}
	/* Last, so the disks and cards keep their PCI slots and virtio indexes. */
	if (cfg->stdio) {
		const struct virtio_transport_ops *tops;
		void *tr;
		struct device *d = NULL;
		if (virtio_pci_transport_new(&tops, &tr, err) == 0)
			d = virtio_console_create(cfg->stdio, tops, tr, err);
		if (!d || devices_add(&vm->devices, d, vm, err) < 0)
			return mc_wrap(err, "virtio-console (the guest command's stdio)");
	}
	return 0;
}
