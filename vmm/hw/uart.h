/* A 16550A UART model: what Linux's 8250 driver needs for a console in both directions.
 * Transmit is instant (bytes go straight to the output fd); receive goes through a software
 * FIFO the console fills from the event loop without ever blocking (uart_push), told by a
 * callback when room comes back. Interrupts: received data and THR empty, on one line raised
 * through a callback. The device around it (COM1, its port range and IRQ) is hw/serial.c.
 */
#ifndef MINIVM_UART_H
#define MINIVM_UART_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "state.h"

#define UART_RX_SIZE 4096

struct uart {
	pthread_mutex_t lock;
	uint8_t ier, lcr, mcr, lsr_extra, scr, dll, dlm, fcr;
	bool thre_pending;
	uint8_t rx[UART_RX_SIZE];
	unsigned rx_head, rx_count;
	int out_fd; /* -1: output discarded */
	void (*set_irq)(void *opaque, int level);
	void *irq_opaque;
	int irq_level;
	bool paused;	   /* device paused: input held back */
	bool space_wanted; /* uart_push could not take everything: call on_space when it can */
	void (*on_space)(void *opaque);
	void *space_opaque;
};

void uart_init(struct uart *u, int out_fd, void (*set_irq)(void *, int), void *irq_opaque);
void uart_destroy(struct uart *u);
/* Power-on register values (the FIFO keeps the host's input typed ahead). */
void uart_reset(struct uart *u);
/* The io_handler_fn for the 8 registers at COM1_PORT. */
void uart_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);
/* Queue received bytes without waiting: returns how many fit (none while paused or in
 * loopback); when not all did, on_space is called (from a vCPU thread, under the UART's lock:
 * only signal something) once there is room again. */
size_t uart_push(struct uart *u, const uint8_t *buf, size_t len);
void uart_set_space_cb(struct uart *u, void (*on_space)(void *), void *opaque);
/* Pause: hold input back. Resume: let it in again (and call on_space if it was wanted). */
void uart_set_paused(struct uart *u, bool paused);
/* Registers and the FIFO's contents. */
void uart_save(struct uart *u, struct state_w *w);
int uart_load(struct uart *u, struct state_r *r, mc_err *err);

#endif
