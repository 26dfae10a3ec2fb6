/* Devices as objects. Each instance carries its own ops (never a shared table that instances
 * overwrite) and its own state; struct vm holds only the registry. The life of a device:
 *
 *   create (its constructor in hw/devices.c's table) -> realize (claim bus regions, interrupt
 *   lines, eventfds) -> reset -> [pause -> save/load -> resume]* -> destroy
 *
 * pause is called once every vCPU is parked: the device stops changing its state on its own
 * (input from the host is held back, no timers fire), so save sees a consistent state; resume
 * lets it go on. save writes the device's fields into a byte stream and load reads them back
 * into a device that was created and realized the same way (devices_save/devices_load add a
 * header, the device's name and version, and check lengths). acpi_aml returns the AML the
 * device adds to the DSDT, describe a line for the control API's status. Every op but realize
 * and destroy may be NULL.
 */
#ifndef MINIVM_DEVICE_H
#define MINIVM_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "state.h"

struct vm;
struct device;

struct device_ops {
	int (*realize)(struct device *d, struct vm *vm, mc_err *err);
	void (*reset)(struct device *d);
	void (*pause)(struct device *d);
	void (*resume)(struct device *d);
	void (*save)(struct device *d, struct state_w *w);
	/* version: the saved stream's version of this device (<= d->state_version) */
	int (*load)(struct device *d, uint32_t version, struct state_r *r, mc_err *err);
	/* Writes at most max bytes into buf (buf may be NULL), returns the length it needs. */
	size_t (*acpi_aml)(struct device *d, uint8_t *buf, size_t max);
	/* One line of what the device is doing, for diagnostics (the control API's status):
	 * any thread, no lock needed, the values may be a moment old. */
	void (*describe)(struct device *d, char *buf, size_t len);
	void (*destroy)(struct device *d);
};

struct device {
	const char *name; /* unique in the VM: "com1", "acpi-pm" */
	const struct device_ops *ops;
	uint32_t state_version;	    /* what save writes */
	uint32_t state_min_version; /* the oldest load accepts (the previous one at least) */
	struct vm *vm;		    /* set by realize */
};

#define DEVICES_MAX	     32
#define DEVICES_STATE_MAGIC  0x5344564du /* "MVDS" */
#define DEVICES_STATE_FORMAT 1

struct devices {
	struct device *d[DEVICES_MAX];
	unsigned n;
};

/* Take ownership of d and realize it; on failure d is destroyed. */
int devices_add(struct devices *ds, struct device *d, struct vm *vm, mc_err *err);
struct device *devices_find(const struct devices *ds, const char *name);
void devices_reset(struct devices *ds);
void devices_pause(struct devices *ds);
void devices_resume(struct devices *ds);
/* "MVDS", format, count, then per device: name, version, length, its bytes. */
int devices_save(struct devices *ds, struct state_w *w, mc_err *err);
/* Whether a saved device state stream (devices_save's) holds a device of that name. */
bool devices_state_has(const uint8_t *buf, size_t len, const char *name);
/* Every device in the stream must exist here; every device here gets its state. */
int devices_load(struct devices *ds, const uint8_t *buf, size_t len, mc_err *err);
/* The DSDT body: each device's AML in registration order. Returns the length it needs. */
size_t devices_acpi_aml(struct devices *ds, uint8_t *buf, size_t max);
/* Destroy in reverse order. */
void devices_destroy(struct devices *ds);

#endif
