/* The debug port: milestones and the exit status from guestinit and the test guests
 * (guestinit/debug_port.h). Stateless: what it learns goes to the timings and the VM's result. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../guestinit/debug_port.h"
#include "bytes.h"
#include "hw.h"
#include "log.h"
#include "timings.h"
#include "vm.h"

struct debug_port {
	struct device dev;
	struct device_ops ops;
	bool realized;
};

static void debug_port_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct debug_port *p = opaque;
	if (!is_write) {
		memset(data, 0, len);
		return;
	}
	if (off != 0 || len != 4)
		return;
	uint32_t v = get32(data);
	switch (MINI_DBG_CODE(v)) {
	case MINI_DBG_INIT:
		timings_mark(MS_INIT);
		break;
	case MINI_DBG_READY:
		timings_mark(MS_READY);
		break;
	case MINI_DBG_EXIT:
		timings_mark(MS_EXIT);
		vm_set_guest_status(p->dev.vm, (int)(MINI_DBG_PAYLOAD(v) & 0xff));
		break;
	case MINI_DBG_NOTE:
		mc_log_info("guest note 0x%06x", MINI_DBG_PAYLOAD(v));
		break;
	default:
		mc_log_debug("debug port: unknown value 0x%08x", v);
		break;
	}
}

static int debug_port_realize(struct device *d, struct vm *vm, mc_err *err)
{
	struct debug_port *p = (struct debug_port *)d;
	if (bus_add(&vm->pio, MINI_DEBUG_PORT, 4, debug_port_io, p, "debug", err) < 0)
		return -1;
	p->realized = true;
	return 0;
}

static void debug_port_destroy(struct device *d)
{
	struct debug_port *p = (struct debug_port *)d;
	if (p->realized) {
		bus_remove(&d->vm->pio, MINI_DEBUG_PORT, NULL);
		bus_synchronize(&d->vm->pio);
	}
	free(p);
}

struct device *debug_port_create(const struct hw_config *cfg, mc_err *err)
{
	(void)cfg;
	struct debug_port *p = calloc(1, sizeof(*p));
	if (!p) {
		mc_errorf(err, ENOMEM, "debug port");
		return NULL;
	}
	p->ops = (struct device_ops){.realize = debug_port_realize, .destroy = debug_port_destroy};
	p->dev = (struct device){.name = "debug-port", .ops = &p->ops};
	return &p->dev;
}
