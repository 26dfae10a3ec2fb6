/* Unit tests for the bus (the trap table with run-time regions), the 16550 UART model, the
 * device registry (saved state, ACPI fragments) and the state streams. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/error.h"
#include "vmm/bus.h"
#include "vmm/device.h"
#include "vmm/hw/hw.h"
#include "vmm/hw/uart.h"
#include "vmm/state.h"

static unsigned hits;
static uint64_t last_off;
static void count_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	(void)opaque;
	hits++;
	last_off = off;
	if (!is_write)
		memset(data, 0x42, len);
}

static void trap_table(void **state)
{
	(void)state;
	struct bus bus;
	mc_err err = NULL;
	assert_int_equal(bus_init(&bus, "port", &err), 0);
	assert_int_equal(bus_add(&bus, 0x3f8, 8, count_io, NULL, "a", &err), 0);
	assert_int_equal(bus_add(&bus, 0x60, 1, count_io, NULL, "b", &err), 0);
	assert_int_equal(bus_add(&bus, 0x600, 4, count_io, NULL, "c", &err), 0);
	assert_int_equal(bus_add(&bus, 0x3fc, 8, count_io, NULL, "overlap", &err), -1);
	assert_non_null(strstr(err->msg, "overlaps"));
	mc_error_free(&err);
	assert_int_equal(bus_add(&bus, 0x3f0, 9, count_io, NULL, "overlap", &err), -1);
	mc_error_free(&err);
	assert_int_equal(bus_add(&bus, 0x100, 0, count_io, NULL, "empty", &err), -1);
	mc_error_free(&err);
	assert_int_equal(bus_add(&bus, UINT64_MAX - 1, 4, count_io, NULL, "wraps", &err), -1);
	mc_error_free(&err);
	uint8_t d[4] = {0};
	assert_true(bus_dispatch(&bus, 0, 0x3ff, d, 1, false));
	assert_int_equal(last_off, 7);
	assert_int_equal(d[0], 0x42);
	assert_true(bus_dispatch(&bus, 1, 0x602, d, 2, true));
	assert_int_equal(last_off, 2);
	assert_int_equal(hits, 2);
	assert_false(bus_dispatch(&bus, 0, 0x400, d, 4, false));
	assert_memory_equal(d, "\xff\xff\xff\xff", 4);
	assert_false(bus_dispatch(&bus, 0, 0x3f7, d, 1, false));
	assert_int_equal(bus.unclaimed, 2);
	assert_int_equal(hits, 2);

	/* remove and move at run time */
	assert_int_equal(bus_remove(&bus, 0x60, &err), 0);
	assert_false(bus_dispatch(&bus, 0, 0x60, d, 1, false));
	assert_int_equal(bus_remove(&bus, 0x60, &err), -1);
	mc_error_free(&err);
	assert_int_equal(bus_move(&bus, 0x600, 0x3f6, &err), -1); /* onto com1's 0x3f8 */
	assert_non_null(strstr(err->msg, "overlaps"));
	mc_error_free(&err);
	assert_int_equal(bus_move(&bus, 0x600, 0x700, &err), 0);
	assert_false(bus_dispatch(&bus, 0, 0x600, d, 1, false));
	assert_true(bus_dispatch(&bus, 0, 0x703, d, 1, false));
	assert_int_equal(last_off, 3);
	assert_int_equal(bus_move(&bus, 0x700, 0x10, &err), 0); /* to the front: order kept */
	struct bus_region r;
	assert_true(bus_find(&bus, 0x12, &r));
	assert_int_equal(r.base, 0x10);
	assert_string_equal(r.name, "c");
	assert_true(bus_find(&bus, 0x3f8, &r));
	bus_synchronize(&bus);
	assert_null(bus.retired);
	bus_destroy(&bus);

	/* a full bus refuses more */
	struct bus full;
	assert_int_equal(bus_init(&full, "mmio", &err), 0);
	for (unsigned i = 0; i < BUS_MAX_REGIONS; i++)
		assert_int_equal(bus_add(&full, i * 16, 16, count_io, NULL, "x", &err), 0);
	assert_int_equal(bus_add(&full, 0x100000, 16, count_io, NULL, "x", &err), -1);
	mc_error_free(&err);
	bus_destroy(&full);
}

/* A reader inside a handler keeps the table it holds alive: the update does not wait for it
 * (the handler may be the one updating), the old table is freed once the reader is out. */
static struct bus *nested_bus;
static void moving_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	(void)off;
	(void)data;
	(void)len;
	(void)is_write;
	unsigned *calls = opaque;
	(*calls)++;
	mc_err err = NULL;
	/* a BAR move from inside the access, as a PCI config write would do */
	assert_int_equal(bus_move(nested_bus, 0x1000, 0x2000, &err), 0);
	assert_non_null(nested_bus->retired); /* we still hold the old table */
}

static void update_inside_handler(void **state)
{
	(void)state;
	struct bus bus;
	mc_err err = NULL;
	unsigned calls = 0;
	assert_int_equal(bus_init(&bus, "mmio", &err), 0);
	nested_bus = &bus;
	assert_int_equal(bus_add(&bus, 0x1000, 0x100, moving_io, &calls, "bar", &err), 0);
	uint8_t d[4];
	assert_true(bus_dispatch(&bus, 3, 0x1004, d, 4, true));
	assert_int_equal(calls, 1);
	bus_reclaim(&bus); /* reader 3 is out now */
	assert_null(bus.retired);
	assert_false(bus_dispatch(&bus, 3, 0x1004, d, 4, false));
	bus_destroy(&bus);
}

/* Readers on several threads while a writer keeps moving, adding and removing regions: under
 * ASan a table freed too early is a use-after-free report; every access must find either the
 * region's old place or its new one, never a torn table. */
struct stress {
	struct bus *bus;
	unsigned reader;
	volatile bool *stop;
	unsigned long found;
};
static unsigned long stress_hits;
static void stress_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	(void)opaque;
	(void)off;
	(void)data;
	(void)len;
	(void)is_write;
	__atomic_add_fetch(&stress_hits, 1, __ATOMIC_RELAXED);
}
static void *stress_reader(void *arg)
{
	struct stress *s = arg;
	uint8_t d[4];
	while (!*s->stop)
		for (uint64_t a = 0; a < 0x4000; a += 0x100)
			s->found += bus_dispatch(s->bus, s->reader, a, d, 1, false);
	return NULL;
}

static void concurrent_updates(void **state)
{
	(void)state;
	struct bus bus;
	mc_err err = NULL;
	assert_int_equal(bus_init(&bus, "mmio", &err), 0);
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(bus_add(&bus, 0x100 + i * 0x200, 0x80, stress_io, NULL, "r", &err),
				 0);
	volatile bool stop = false;
	struct stress rs[3];
	pthread_t th[3];
	for (unsigned i = 0; i < 3; i++) {
		rs[i] = (struct stress){.bus = &bus, .reader = i, .stop = &stop};
		assert_int_equal(pthread_create(&th[i], NULL, stress_reader, &rs[i]), 0);
	}
	for (unsigned n = 0; n < 3000; n++) {
		uint64_t from = 0x100 + (n % 8) * 0x200;
		assert_int_equal(bus_move(&bus, from, from + 0x80, &err), 0);
		assert_int_equal(bus_move(&bus, from + 0x80, from, &err), 0);
		assert_int_equal(bus_add(&bus, 0x3000, 0x10, stress_io, NULL, "t", &err), 0);
		assert_int_equal(bus_remove(&bus, 0x3000, &err), 0);
	}
	stop = true;
	for (unsigned i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	bus_synchronize(&bus);
	assert_null(bus.retired);
	assert_true(bus.updates >= 12000);
	assert_true(stress_hits > 0);
	bus_destroy(&bus);
}

static int irq_level = -1, irq_changes;
static void set_irq(void *opaque, int level)
{
	(void)opaque;
	irq_level = level;
	irq_changes++;
}

static uint8_t rd(struct uart *u, unsigned reg)
{
	uint8_t v = 0;
	uart_io(u, reg, &v, 1, false);
	return v;
}
static void wr(struct uart *u, unsigned reg, uint8_t v)
{
	uart_io(u, reg, &v, 1, true);
}

static void uart_model(void **state)
{
	(void)state;
	int p[2];
	assert_int_equal(pipe(p), 0);
	struct uart u;
	uart_init(&u, p[1], set_irq, NULL);
	/* transmit goes to the fd, LSR says empty */
	wr(&u, 0, 'h');
	wr(&u, 0, 'i');
	char buf[4] = {0};
	assert_int_equal(read(p[0], buf, 2), 2);
	assert_string_equal(buf, "hi");
	assert_int_equal(rd(&u, 5) & 0x60, 0x60);
	/* scratch and divisor latch */
	wr(&u, 7, 0x5a);
	assert_int_equal(rd(&u, 7), 0x5a);
	wr(&u, 3, 0x80);
	wr(&u, 0, 0x01);
	wr(&u, 1, 0x00);
	assert_int_equal(rd(&u, 0), 0x01);
	wr(&u, 3, 0x03);
	/* no interrupt until enabled */
	assert_int_equal(rd(&u, 2) & 0x0f, 0x01);
	/* THR-empty interrupt when enabled, acknowledged by reading IIR */
	wr(&u, 1, 0x02);
	assert_int_equal(irq_level, 1);
	assert_int_equal(rd(&u, 2) & 0x0f, 0x02);
	assert_int_equal(irq_level, 0);
	wr(&u, 1, 0x00);
	/* receive: data ready, RX interrupt, bytes in order */
	wr(&u, 1, 0x01);
	assert_int_equal(uart_push(&u, (const uint8_t *)"ok", 2), 2);
	assert_int_equal(irq_level, 1);
	assert_int_equal(rd(&u, 5) & 1, 1);
	assert_int_equal(rd(&u, 2) & 0x0f, 0x04);
	assert_int_equal(rd(&u, 0), 'o');
	assert_int_equal(rd(&u, 0), 'k');
	assert_int_equal(rd(&u, 5) & 1, 0);
	assert_int_equal(irq_level, 0);
	/* loopback: MSR mirrors MCR, THR comes back on RBR */
	wr(&u, 1, 0x00);
	wr(&u, 4, 0x10 | 0x0a);
	assert_int_equal(rd(&u, 6) & 0xf0, 0x90);
	wr(&u, 0, 'z');
	assert_int_equal(rd(&u, 0), 'z');
	wr(&u, 4, 0x08);
	/* FIFO enabled shows in IIR; clearing the RX FIFO keeps host input typed ahead */
	wr(&u, 2, 0x01);
	assert_int_equal(rd(&u, 2) & 0xc0, 0xc0);
	assert_int_equal(uart_push(&u, (const uint8_t *)"q", 1), 1);
	wr(&u, 2, 0x03);
	assert_int_equal(rd(&u, 0), 'q');
	/* odd sizes and offsets are ignored, reads see all ones */
	uint8_t d[2] = {0, 0};
	uart_io(&u, 0, d, 2, false);
	assert_int_equal(d[0], 0xff);
	uart_destroy(&u);
	close(p[0]);
	close(p[1]);
}

static unsigned space_calls;
static void on_space(void *opaque)
{
	(void)opaque;
	space_calls++;
}

/* Input never blocks: a full FIFO takes what fits and calls back when the guest makes room;
 * paused or in loopback it takes nothing and calls back when that ends. */
static void uart_input_flow(void **state)
{
	(void)state;
	struct uart u;
	uart_init(&u, -1, NULL, NULL);
	uart_set_space_cb(&u, on_space, NULL);
	static uint8_t big[UART_RX_SIZE + 10];
	memset(big, 'a', sizeof(big));
	assert_int_equal(uart_push(&u, big, sizeof(big)), UART_RX_SIZE);
	assert_int_equal(space_calls, 0);
	assert_int_equal(rd(&u, 0), 'a');
	assert_int_equal(space_calls, 1);
	assert_int_equal(uart_push(&u, big, 10), 1);
	uart_set_paused(&u, true);
	assert_int_equal(rd(&u, 0), 'a'); /* the guest still reads what is there */
	assert_int_equal(uart_push(&u, big, 1), 0);
	assert_int_equal(space_calls, 1); /* paused: no room to offer */
	uart_set_paused(&u, false);
	assert_int_equal(space_calls, 2); /* input was held back: room now */
	wr(&u, 4, 0x10);
	assert_int_equal(uart_push(&u, big, 1), 0);
	wr(&u, 4, 0x08);
	assert_int_equal(space_calls, 3);
	uart_destroy(&u);
}

/* Saved state: a UART with registers set and bytes queued comes back the same in a new one;
 * short or oversized streams are refused. */
static void uart_state(void **state)
{
	(void)state;
	struct uart a, b;
	uart_init(&a, -1, set_irq, NULL);
	wr(&a, 3, 0x03);
	wr(&a, 7, 0x77);
	wr(&a, 1, 0x01);
	assert_int_equal(uart_push(&a, (const uint8_t *)"xyz", 3), 3);
	assert_int_equal(rd(&a, 0), 'x');
	struct state_w w = {0};
	uart_save(&a, &w);
	assert_false(w.oom);
	uart_init(&b, -1, set_irq, NULL);
	irq_level = -1;
	struct state_r r;
	state_r_init(&r, w.p, w.len);
	mc_err err = NULL;
	assert_int_equal(uart_load(&b, &r, &err), 0);
	assert_int_equal(r.off, w.len);
	assert_int_equal(irq_level, 1); /* the line is driven again from the loaded state */
	assert_int_equal(rd(&b, 3), 0x03);
	assert_int_equal(rd(&b, 7), 0x77);
	assert_int_equal(rd(&b, 0), 'y');
	assert_int_equal(rd(&b, 0), 'z');
	assert_int_equal(rd(&b, 5) & 1, 0);
	state_r_init(&r, w.p, w.len - 1);
	assert_int_equal(uart_load(&b, &r, &err), -1);
	mc_error_free(&err);
	uint8_t bad[11] = {0};
	bad[9] = 0xff; /* FIFO length 0xffff */
	bad[10] = 0xff;
	state_r_init(&r, bad, sizeof(bad));
	assert_int_equal(uart_load(&b, &r, &err), -1);
	mc_error_free(&err);
	state_w_free(&w);
	uart_destroy(&a);
	uart_destroy(&b);
}

/* The registry: a device with state and AML, one without; devices_save/devices_load frame
 * them with names, versions and lengths and refuse what does not match. */
struct fake {
	struct device dev;
	struct device_ops ops;
	uint32_t value;
	int *destroyed;
};
static int fake_realize(struct device *d, struct vm *vm, mc_err *err)
{
	(void)d;
	(void)vm;
	(void)err;
	return 0;
}
static int fail_realize(struct device *d, struct vm *vm, mc_err *err)
{
	(void)vm;
	return mc_errorf(err, 0, "no %s today", d->name);
}
static void fake_save(struct device *d, struct state_w *w)
{
	state_put32(w, ((struct fake *)d)->value);
}
static int fake_load(struct device *d, uint32_t version, struct state_r *r, mc_err *err)
{
	(void)err;
	((struct fake *)d)->value = state_get32(r) + (version == 1 ? 1000 : 0);
	return 0;
}
static size_t fake_aml(struct device *d, uint8_t *buf, size_t max)
{
	(void)d;
	if (buf && max >= 3)
		memcpy(buf, "AML", 3);
	return 3;
}
static void fake_destroy(struct device *d)
{
	(*((struct fake *)d)->destroyed)++;
	free(d);
}
static struct device *fake_new(const char *name, bool stateful, int *destroyed)
{
	struct fake *f = calloc(1, sizeof(*f));
	f->ops = (struct device_ops){.realize = fake_realize, .destroy = fake_destroy};
	if (stateful) {
		f->ops.save = fake_save;
		f->ops.load = fake_load;
		f->ops.acpi_aml = fake_aml;
	}
	f->dev = (struct device){.name = name,
				 .ops = &f->ops,
				 .state_version = stateful ? 2 : 0,
				 .state_min_version = stateful ? 1 : 0};
	f->destroyed = destroyed;
	return &f->dev;
}

static void registry(void **state)
{
	(void)state;
	int destroyed = 0;
	mc_err err = NULL;
	struct devices a = {0}, b = {0};
	assert_int_equal(devices_add(&a, fake_new("one", true, &destroyed), NULL, &err), 0);
	assert_int_equal(devices_add(&a, fake_new("two", false, &destroyed), NULL, &err), 0);
	assert_int_equal(devices_add(&a, fake_new("one", false, &destroyed), NULL, &err), -1);
	assert_non_null(strstr(err->msg, "name taken"));
	mc_error_free(&err);
	assert_int_equal(destroyed, 1);
	struct device *bad = fake_new("broken", false, &destroyed);
	((struct fake *)bad)->ops.realize = fail_realize;
	assert_int_equal(devices_add(&a, bad, NULL, &err), -1);
	assert_string_equal(err->msg, "device broken: no broken today");
	mc_error_free(&err);
	assert_int_equal(destroyed, 2);
	assert_int_equal(a.n, 2);

	uint8_t aml[8];
	assert_int_equal(devices_acpi_aml(&a, aml, sizeof(aml)), 3);
	assert_memory_equal(aml, "AML", 3);
	assert_int_equal(devices_acpi_aml(&a, NULL, 0), 3);

	((struct fake *)devices_find(&a, "one"))->value = 42;
	struct state_w w = {0};
	assert_int_equal(devices_save(&a, &w, &err), 0);
	assert_int_equal(devices_add(&b, fake_new("one", true, &destroyed), NULL, &err), 0);
	assert_int_equal(devices_load(&b, w.p, w.len, &err), -1); /* b lacks "two" */
	assert_non_null(strstr(err->msg, "2 devices saved"));
	mc_error_free(&err);
	assert_int_equal(devices_add(&b, fake_new("two", false, &destroyed), NULL, &err), 0);
	assert_int_equal(devices_load(&b, w.p, w.len, &err), 0);
	assert_int_equal(((struct fake *)devices_find(&b, "one"))->value, 42);
	/* every cut is refused, never read past */
	for (size_t n = 0; n < w.len; n++) {
		assert_int_equal(devices_load(&b, w.p, n, &err), -1);
		mc_error_free(&err);
	}
	/* the previous version is accepted (and converted), a newer one is not */
	size_t ver_at = 12 + 2 + 3; /* header, name length, "one" */
	w.p[ver_at] = 1;
	assert_int_equal(devices_load(&b, w.p, w.len, &err), 0);
	assert_int_equal(((struct fake *)devices_find(&b, "one"))->value, 1042);
	w.p[ver_at] = 3;
	assert_int_equal(devices_load(&b, w.p, w.len, &err), -1);
	assert_non_null(strstr(err->msg, "state version 3"));
	mc_error_free(&err);
	w.p[0] ^= 1;
	assert_int_equal(devices_load(&b, w.p, w.len, &err), -1);
	mc_error_free(&err);
	state_w_free(&w);
	devices_destroy(&a);
	devices_destroy(&b);
	assert_int_equal(destroyed, 6);
}

/* The ACPI PM device contributes \_S5 to the DSDT. */
static void acpi_pm_fragment(void **state)
{
	(void)state;
	struct hw_config cfg = {.console_fd = -1};
	mc_err err = NULL;
	struct device *d = acpi_pm_create(&cfg, &err);
	assert_non_null(d);
	uint8_t buf[64];
	size_t n = d->ops->acpi_aml(d, buf, sizeof(buf));
	assert_true(n > 0 && n <= sizeof(buf));
	assert_non_null(memmem(buf, n, "_S5_", 4));
	assert_int_equal(d->ops->acpi_aml(d, NULL, 0), n);
	d->ops->destroy(d);
}

static void state_streams(void **state)
{
	(void)state;
	struct state_w w = {0};
	state_put8(&w, 1);
	state_put16(&w, 0x0203);
	state_put32(&w, 0x04050607);
	state_put64(&w, 0x08090a0b0c0d0e0full);
	for (int i = 0; i < 1000; i++)
		state_put8(&w, (uint8_t)i);
	struct state_r r;
	state_r_init(&r, w.p, w.len);
	assert_int_equal(state_get8(&r), 1);
	assert_int_equal(state_get16(&r), 0x0203);
	assert_int_equal(state_get32(&r), 0x04050607);
	assert_int_equal(state_get64(&r), 0x08090a0b0c0d0e0full);
	assert_non_null(state_get(&r, 1000));
	assert_false(r.bad);
	assert_int_equal(state_get32(&r), 0);
	assert_true(r.bad);
	assert_null(state_get(&r, 0)); /* once bad, always bad */
	state_w_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(trap_table),	  cmocka_unit_test(update_inside_handler),
	    cmocka_unit_test(concurrent_updates), cmocka_unit_test(uart_model),
	    cmocka_unit_test(uart_input_flow),	  cmocka_unit_test(uart_state),
	    cmocka_unit_test(registry),		  cmocka_unit_test(acpi_pm_fragment),
	    cmocka_unit_test(state_streams),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
