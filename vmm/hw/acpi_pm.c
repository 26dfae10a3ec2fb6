/* ACPI fixed hardware: the PM1a event block (status, write 1 to clear; enable), the PM1a
 * control block (SCI_EN always set; SLP_EN with the S5 type powers off) and the FADT reset
 * register. Its DSDT fragment is \_S5, the sleep type the guest writes to power off. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "hw.h"
#include "layout.h"
#include "vm.h"

struct acpi_pm {
	struct device dev;
	struct device_ops ops;
	pthread_mutex_t lock;
	uint8_t pm1_evt[4]; /* status (2 bytes), enable (2 bytes) */
	unsigned realized;  /* how many port ranges are registered */
};

static void pm1_evt_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct acpi_pm *pm = opaque;
	if (off + len > 4) {
		/* an access running past the block reads as all ones, like a floating bus */
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	pthread_mutex_lock(&pm->lock);
	for (uint32_t i = 0; i < len; i++) {
		uint8_t *reg = &pm->pm1_evt[off + i];
		if (!is_write)
			data[i] = *reg;
		else if (off + i < 2)
			*reg &= (uint8_t)~data[i];
		else
			*reg = data[i];
	}
	pthread_mutex_unlock(&pm->lock);
}

static void pm1_cnt_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct acpi_pm *pm = opaque;
	if (!is_write) {
		memset(data, 0, len);
		if (off == 0)
			data[0] = ACPI_PM1_SCI_EN;
		return;
	}
	if (off != 0 || len != 2)
		return;
	uint16_t v = get16(data);
	if ((v & ACPI_PM1_SLP_EN) && ((v >> 10) & 7) == ACPI_S5_SLP_TYP)
		vm_end(pm->dev.vm, VM_POWEROFF, "guest powered off (ACPI S5)");
}

static void reset_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct acpi_pm *pm = opaque;
	(void)off;
	if (!is_write) {
		memset(data, 0, len);
		return;
	}
	if (data[0] == ACPI_RESET_VALUE)
		vm_end(pm->dev.vm, VM_REBOOT, "guest rebooted (ACPI reset register)");
}

static const struct {
	uint64_t port, len;
	io_handler_fn fn;
	const char *name;
} ranges[] = {
    {ACPI_PM1A_EVT_PORT, 4, pm1_evt_io, "pm1-evt"},
    {ACPI_PM1A_CNT_PORT, 2, pm1_cnt_io, "pm1-cnt"},
    {ACPI_RESET_PORT, 1, reset_io, "acpi-reset"},
};

static int acpi_pm_realize(struct device *d, struct vm *vm, mc_err *err)
{
	struct acpi_pm *pm = (struct acpi_pm *)d;
	for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
		if (bus_add(&vm->pio, ranges[i].port, ranges[i].len, ranges[i].fn, pm,
			    ranges[i].name, err) < 0)
			return -1;
		pm->realized++;
	}
	return 0;
}

static void acpi_pm_reset(struct device *d)
{
	struct acpi_pm *pm = (struct acpi_pm *)d;
	pthread_mutex_lock(&pm->lock);
	memset(pm->pm1_evt, 0, sizeof(pm->pm1_evt));
	pthread_mutex_unlock(&pm->lock);
}

static void acpi_pm_save(struct device *d, struct state_w *w)
{
	struct acpi_pm *pm = (struct acpi_pm *)d;
	pthread_mutex_lock(&pm->lock);
	state_put(w, pm->pm1_evt, sizeof(pm->pm1_evt));
	pthread_mutex_unlock(&pm->lock);
}

static int acpi_pm_load(struct device *d, uint32_t version, struct state_r *r, mc_err *err)
{
	struct acpi_pm *pm = (struct acpi_pm *)d;
	(void)version;
	const uint8_t *evt = state_get(r, sizeof(pm->pm1_evt));
	if (!evt)
		return mc_errorf(err, 0, "PM1 event block cut short");
	pthread_mutex_lock(&pm->lock);
	memcpy(pm->pm1_evt, evt, sizeof(pm->pm1_evt));
	pthread_mutex_unlock(&pm->lock);
	return 0;
}

/* Name (_S5, Package (4) { 5, 5, 0, 0 }) */
static size_t acpi_pm_aml(struct device *d, uint8_t *buf, size_t max)
{
	(void)d;
	static const uint8_t s5[] = {
	    0x08, '_',
	    'S',  '5',
	    '_', /* NameOp "_S5_" */
	    0x12, 0x08,
	    0x04, /* PackageOp, PkgLength 8, 4 elements */
	    0x0a, ACPI_S5_SLP_TYP,
	    0x0a, ACPI_S5_SLP_TYP, /* BytePrefix 5, BytePrefix 5 */
	    0x00, 0x00,		   /* Zero, Zero */
	};
	if (buf && max >= sizeof(s5))
		memcpy(buf, s5, sizeof(s5));
	return sizeof(s5);
}

static void acpi_pm_destroy(struct device *d)
{
	struct acpi_pm *pm = (struct acpi_pm *)d;
	for (unsigned i = 0; i < pm->realized; i++)
		bus_remove(&d->vm->pio, ranges[i].port, NULL);
	if (pm->realized)
		bus_synchronize(&d->vm->pio);
	pthread_mutex_destroy(&pm->lock);
	free(pm);
}

struct device *acpi_pm_create(const struct hw_config *cfg, mc_err *err)
{
	(void)cfg;
	struct acpi_pm *pm = calloc(1, sizeof(*pm));
	if (!pm) {
		mc_errorf(err, ENOMEM, "ACPI PM");
		return NULL;
	}
	pthread_mutex_init(&pm->lock, NULL);
	pm->ops = (struct device_ops){.realize = acpi_pm_realize,
				      .reset = acpi_pm_reset,
				      .save = acpi_pm_save,
				      .load = acpi_pm_load,
				      .acpi_aml = acpi_pm_aml,
				      .destroy = acpi_pm_destroy};
	pm->dev = (struct device){
	    .name = "acpi-pm", .ops = &pm->ops, .state_version = 1, .state_min_version = 1};
	return &pm->dev;
}
