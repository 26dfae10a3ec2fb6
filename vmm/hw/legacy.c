/* Two stateless legacy stubs: the i8042's reset line (command 0xfe, Linux's reboot=k; status
 * reads 0, input buffer empty, so a waiting guest goes ahead) and an empty CMOS (no RTC, as the
 * FADT says: reads 0, so "update in progress" is never set). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hw.h"
#include "layout.h"
#include "vm.h"

struct legacy {
	struct device dev;
	struct device_ops ops;
	uint64_t port, len;
	io_handler_fn fn;
	bool realized;
};

static void i8042_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct legacy *l = opaque;
	(void)off;
	if (!is_write) {
		memset(data, 0, len);
		return;
	}
	if (data[0] == 0xfe)
		vm_end(l->dev.vm, VM_REBOOT, "guest rebooted (i8042 reset)");
}

static void cmos_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	(void)opaque;
	(void)off;
	if (!is_write)
		memset(data, 0, len);
}

static int legacy_realize(struct device *d, struct vm *vm, mc_err *err)
{
	struct legacy *l = (struct legacy *)d;
	if (bus_add(&vm->pio, l->port, l->len, l->fn, l, d->name, err) < 0)
		return -1;
	l->realized = true;
	return 0;
}

static void legacy_destroy(struct device *d)
{
	struct legacy *l = (struct legacy *)d;
	if (l->realized) {
		bus_remove(&d->vm->pio, l->port, NULL);
		bus_synchronize(&d->vm->pio);
	}
	free(l);
}

static struct device *legacy_create(const char *name, uint64_t port, uint64_t len, io_handler_fn fn,
				    mc_err *err)
{
	struct legacy *l = calloc(1, sizeof(*l));
	if (!l) {
		mc_errorf(err, ENOMEM, "%s", name);
		return NULL;
	}
	l->ops = (struct device_ops){.realize = legacy_realize, .destroy = legacy_destroy};
	l->dev = (struct device){.name = name, .ops = &l->ops};
	l->port = port;
	l->len = len;
	l->fn = fn;
	return &l->dev;
}

struct device *i8042_create(const struct hw_config *cfg, mc_err *err)
{
	(void)cfg;
	return legacy_create("i8042", I8042_CMD_PORT, 1, i8042_io, err);
}

struct device *cmos_create(const struct hw_config *cfg, mc_err *err)
{
	(void)cfg;
	return legacy_create("cmos", CMOS_PORT, 2, cmos_io, err);
}
