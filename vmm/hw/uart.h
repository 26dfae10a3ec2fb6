/* A 16550A UART (COM1): what Linux's 8250 driver needs for a console in both directions.
 * Transmit is instant (bytes go straight to the output fd); receive goes through a software
 * FIFO filled by the console input thread. Interrupts: received data and THR empty, on one IRQ
 * line raised through a callback (KVM_IRQ_LINE).
 */
#ifndef MINIVM_UART_H
#define MINIVM_UART_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UART_RX_SIZE 4096

struct uart {
	pthread_mutex_t lock;
	pthread_cond_t rx_space;
	uint8_t ier, lcr, mcr, lsr_extra, scr, dll, dlm, fcr;
	bool thre_pending;
	uint8_t rx[UART_RX_SIZE];
	unsigned rx_head, rx_count;
	int out_fd; /* -1: output discarded */
	void (*set_irq)(void *opaque, int level);
	void *irq_opaque;
	int irq_level;
	bool closed; /* no more input will be accepted (shutdown) */
};

void uart_init(struct uart *u, int out_fd, void (*set_irq)(void *, int), void *irq_opaque);
void uart_destroy(struct uart *u);
/* The io_handler_fn for the 8 registers at COM1_PORT. */
void uart_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);
/* Queue received bytes, waiting for room while the guest drains the FIFO; returns the number
 * accepted (less than len only after uart_close()). */
size_t uart_receive(struct uart *u, const uint8_t *buf, size_t len);
/* Wake and stop any uart_receive() (on shutdown). */
void uart_close(struct uart *u);

#endif
