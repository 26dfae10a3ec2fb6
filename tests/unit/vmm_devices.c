/* Unit tests for the trap table and the 16550 UART model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/error.h"
#include "vmm/io.h"
#include "vmm/hw/uart.h"

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
	struct io_bus bus = {.name = "port"};
	mc_err err = NULL;
	assert_int_equal(io_register(&bus, 0x3f8, 8, count_io, NULL, "a", &err), 0);
	assert_int_equal(io_register(&bus, 0x60, 1, count_io, NULL, "b", &err), 0);
	assert_int_equal(io_register(&bus, 0x600, 4, count_io, NULL, "c", &err), 0);
	assert_int_equal(io_register(&bus, 0x3fc, 8, count_io, NULL, "overlap", &err), -1);
	assert_non_null(strstr(err->msg, "overlaps"));
	mc_error_free(&err);
	assert_int_equal(io_register(&bus, 0x3f0, 9, count_io, NULL, "overlap", &err), -1);
	mc_error_free(&err);
	assert_int_equal(io_register(&bus, 0x100, 0, count_io, NULL, "empty", &err), -1);
	mc_error_free(&err);
	uint8_t d[4] = {0};
	assert_non_null(io_dispatch(&bus, 0x3ff, d, 1, false));
	assert_int_equal(last_off, 7);
	assert_int_equal(d[0], 0x42);
	assert_non_null(io_dispatch(&bus, 0x602, d, 2, true));
	assert_int_equal(last_off, 2);
	assert_int_equal(hits, 2);
	assert_null(io_dispatch(&bus, 0x400, d, 4, false));
	assert_memory_equal(d, "\xff\xff\xff\xff", 4);
	assert_null(io_dispatch(&bus, 0x3f7, d, 1, false));
	assert_int_equal(bus.unclaimed, 2);
	assert_int_equal(hits, 2);
	/* a full table refuses more */
	struct io_bus full = {.name = "mmio"};
	for (unsigned i = 0; i < IO_MAX_REGIONS; i++)
		assert_int_equal(io_register(&full, i * 16, 16, count_io, NULL, "x", &err), 0);
	assert_int_equal(io_register(&full, 0x10000, 16, count_io, NULL, "x", &err), -1);
	mc_error_free(&err);
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
	assert_int_equal(uart_receive(&u, (const uint8_t *)"ok", 2), 2);
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
	assert_int_equal(uart_receive(&u, (const uint8_t *)"q", 1), 1);
	wr(&u, 2, 0x03);
	assert_int_equal(rd(&u, 0), 'q');
	/* odd sizes and offsets are ignored, reads see all ones */
	uint8_t d[2] = {0, 0};
	uart_io(&u, 0, d, 2, false);
	assert_int_equal(d[0], 0xff);
	/* after close, input is refused instead of blocking */
	uart_close(&u);
	assert_int_equal(uart_receive(&u, (const uint8_t *)"x", 1), 0);
	uart_destroy(&u);
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(trap_table),
	    cmocka_unit_test(uart_model),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
