/* COM1: the 16550A model (uart.c) on ports 0x3f8-0x3ff and a level-triggered line on IRQ 4. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hw.h"
#include "layout.h"
#include "log.h"
#include "vm.h"

struct serial {
	struct device dev; /* first: a struct device * is a struct serial * */
	struct device_ops ops;
	struct uart uart;
	struct irq_line irq;
	bool realized;
};

static void serial_set_irq(void *opaque, int level)
{
	struct serial *s = opaque;
	mc_err err = NULL;
	if (irq_line_set(&s->irq, level, &err) < 0) {
		mc_log_debug("com1: %s", err->msg);
		mc_error_free(&err);
	}
}

static int serial_realize(struct device *d, struct vm *vm, mc_err *err)
{
	struct serial *s = (struct serial *)d;
	irq_line_init(&s->irq, &vm->irq, COM1_IRQ, true);
	if (bus_add(&vm->pio, COM1_PORT, 8, uart_io, &s->uart, "com1", err) < 0)
		return -1;
	s->realized = true;
	return 0;
}

static void serial_reset(struct device *d)
{
	uart_reset(&((struct serial *)d)->uart);
}

static void serial_pause(struct device *d)
{
	uart_set_paused(&((struct serial *)d)->uart, true);
}

static void serial_resume(struct device *d)
{
	uart_set_paused(&((struct serial *)d)->uart, false);
}

static void serial_save(struct device *d, struct state_w *w)
{
	uart_save(&((struct serial *)d)->uart, w);
}

static int serial_load(struct device *d, uint32_t version, struct state_r *r, mc_err *err)
{
	(void)version;
	return uart_load(&((struct serial *)d)->uart, r, err);
}

static void serial_destroy(struct device *d)
{
	struct serial *s = (struct serial *)d;
	if (s->realized) {
		struct vm *vm = d->vm;
		bus_remove(&vm->pio, COM1_PORT, NULL);
		bus_synchronize(&vm->pio);
	}
	uart_destroy(&s->uart);
	free(s);
}

struct device *serial_create(const struct hw_config *cfg, mc_err *err)
{
	struct serial *s = calloc(1, sizeof(*s));
	if (!s) {
		mc_errorf(err, ENOMEM, "com1");
		return NULL;
	}
	s->ops = (struct device_ops){.realize = serial_realize,
				     .reset = serial_reset,
				     .pause = serial_pause,
				     .resume = serial_resume,
				     .save = serial_save,
				     .load = serial_load,
				     .destroy = serial_destroy};
	s->dev = (struct device){
	    .name = "com1", .ops = &s->ops, .state_version = 1, .state_min_version = 1};
	uart_init(&s->uart, cfg->console_fd, serial_set_irq, s);
	return &s->dev;
}

struct uart *serial_uart(struct device *d)
{
	return d && d->ops->realize == serial_realize ? &((struct serial *)d)->uart : NULL;
}
