#include "uart.h"

#include <string.h>
#include <unistd.h>

#include "util.h"

/* Register offsets and bits (the 16550A data sheet; Linux include/uapi/linux/serial_reg.h). */
enum { RBR_THR = 0, IER = 1, IIR_FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7 };
#define IER_RDI	   0x01
#define IER_THRI   0x02
#define IIR_NO_INT 0x01
#define IIR_THRI   0x02
#define IIR_RDI	   0x04
#define IIR_FIFO   0xc0
#define LCR_DLAB   0x80
#define LSR_DR	   0x01
#define LSR_THRE   0x20
#define LSR_TEMT   0x40
#define MCR_DTR	   0x01
#define MCR_RTS	   0x02
#define MCR_OUT1   0x04
#define MCR_OUT2   0x08
#define MCR_LOOP   0x10
#define MSR_CTS	   0x10
#define MSR_DSR	   0x20
#define MSR_RI	   0x40
#define MSR_DCD	   0x80

void uart_init(struct uart *u, int out_fd, void (*set_irq)(void *, int), void *irq_opaque)
{
	memset(u, 0, sizeof(*u));
	pthread_mutex_init(&u->lock, NULL);
	u->out_fd = out_fd;
	u->set_irq = set_irq;
	u->irq_opaque = irq_opaque;
	u->mcr = MCR_OUT2;
}

/* Called with the lock held after any state change. */
static void update_irq(struct uart *u);

void uart_reset(struct uart *u)
{
	pthread_mutex_lock(&u->lock);
	u->ier = u->lcr = u->lsr_extra = u->scr = u->dll = u->dlm = u->fcr = 0;
	u->mcr = MCR_OUT2;
	u->thre_pending = false;
	u->irq_level = -1; /* drive the line once, whatever it was */
	update_irq(u);
	pthread_mutex_unlock(&u->lock);
}

void uart_destroy(struct uart *u)
{
	pthread_mutex_destroy(&u->lock);
}

static uint8_t iir(const struct uart *u)
{
	if ((u->ier & IER_RDI) && u->rx_count)
		return IIR_RDI;
	if ((u->ier & IER_THRI) && u->thre_pending)
		return IIR_THRI;
	return IIR_NO_INT;
}

static void update_irq(struct uart *u)
{
	int level = iir(u) != IIR_NO_INT;
	if (level != u->irq_level) {
		u->irq_level = level;
		if (u->set_irq)
			u->set_irq(u->irq_opaque, level);
	}
}

/* Under the lock: room again for what uart_push could not take? Tell the console. */
static void notify_space(struct uart *u)
{
	if (u->space_wanted && !u->paused && !(u->mcr & MCR_LOOP) && u->rx_count < UART_RX_SIZE) {
		u->space_wanted = false;
		if (u->on_space)
			u->on_space(u->space_opaque);
	}
}

static void rx_push(struct uart *u, uint8_t c)
{
	if (u->rx_count == UART_RX_SIZE) {
		u->lsr_extra |= 0x02; /* overrun */
		return;
	}
	u->rx[(u->rx_head + u->rx_count) % UART_RX_SIZE] = c;
	u->rx_count++;
}

static void write_reg(struct uart *u, unsigned reg, uint8_t v)
{
	switch (reg) {
	case RBR_THR:
		if (u->lcr & LCR_DLAB) {
			u->dll = v;
		} else if (u->mcr & MCR_LOOP) {
			rx_push(u, v);
			u->thre_pending = true;
		} else {
			if (u->out_fd >= 0 && mc_write_all(u->out_fd, &v, 1) < 0)
				u->out_fd = -1; /* output gone: keep the guest running */
			u->thre_pending = true;
		}
		break;
	case IER:
		if (u->lcr & LCR_DLAB) {
			u->dlm = v;
		} else {
			/* Enabling the THR-empty interrupt while THR is empty raises it. */
			if ((v & IER_THRI) && !(u->ier & IER_THRI))
				u->thre_pending = true;
			u->ier = v & 0x0f;
		}
		break;
	case IIR_FCR:
		u->fcr = v & 0xc9;
		/* "Clear RX FIFO" (bit 1) is ignored on purpose: our FIFO is the host's input
		 * backlog, and Linux clears it when it opens the port, which would drop what was
		 * typed (or piped) before the guest got there. */
		break;
	case LCR:
		u->lcr = v;
		break;
	case MCR:
		u->mcr = v & 0x1f;
		notify_space(u); /* leaving loopback lets input in again */
		break;
	case SCR:
		u->scr = v;
		break;
	default: /* LSR, MSR: read-only */
		break;
	}
}

static uint8_t read_reg(struct uart *u, unsigned reg)
{
	uint8_t v = 0;
	switch (reg) {
	case RBR_THR:
		if (u->lcr & LCR_DLAB)
			return u->dll;
		if (u->rx_count) {
			v = u->rx[u->rx_head];
			u->rx_head = (u->rx_head + 1) % UART_RX_SIZE;
			u->rx_count--;
			notify_space(u);
		}
		return v;
	case IER:
		return (u->lcr & LCR_DLAB) ? u->dlm : u->ier;
	case IIR_FCR:
		v = iir(u);
		if (v == IIR_THRI)
			u->thre_pending = false; /* reading IIR acknowledges THR empty */
		return (uint8_t)(v | ((u->fcr & 0x01) ? IIR_FIFO : 0));
	case LCR:
		return u->lcr;
	case MCR:
		return u->mcr;
	case LSR:
		v = LSR_THRE | LSR_TEMT | (u->rx_count ? LSR_DR : 0) | u->lsr_extra;
		u->lsr_extra = 0;
		return v;
	case MSR:
		if (u->mcr & MCR_LOOP)
			return (uint8_t)(((u->mcr & MCR_RTS) ? MSR_CTS : 0) |
					 ((u->mcr & MCR_DTR) ? MSR_DSR : 0) |
					 ((u->mcr & MCR_OUT1) ? MSR_RI : 0) |
					 ((u->mcr & MCR_OUT2) ? MSR_DCD : 0));
		return MSR_DCD | MSR_DSR | MSR_CTS;
	case SCR:
		return u->scr;
	}
	return 0;
}

void uart_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct uart *u = opaque;
	if (offset > SCR || len != 1) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	pthread_mutex_lock(&u->lock);
	if (is_write)
		write_reg(u, (unsigned)offset, data[0]);
	else
		data[0] = read_reg(u, (unsigned)offset);
	update_irq(u);
	pthread_mutex_unlock(&u->lock);
}

size_t uart_push(struct uart *u, const uint8_t *buf, size_t len)
{
	size_t done = 0;
	pthread_mutex_lock(&u->lock);
	if (!u->paused && !(u->mcr & MCR_LOOP))
		while (done < len && u->rx_count < UART_RX_SIZE)
			rx_push(u, buf[done++]);
	if (done < len)
		u->space_wanted = true;
	if (done)
		update_irq(u);
	pthread_mutex_unlock(&u->lock);
	return done;
}

void uart_set_space_cb(struct uart *u, void (*on_space)(void *), void *opaque)
{
	pthread_mutex_lock(&u->lock);
	u->on_space = on_space;
	u->space_opaque = opaque;
	pthread_mutex_unlock(&u->lock);
}

void uart_set_paused(struct uart *u, bool paused)
{
	pthread_mutex_lock(&u->lock);
	u->paused = paused;
	notify_space(u);
	pthread_mutex_unlock(&u->lock);
}

#define UART_STATE_FIELDS 9

void uart_save(struct uart *u, struct state_w *w)
{
	pthread_mutex_lock(&u->lock);
	uint8_t regs[UART_STATE_FIELDS] = {u->ier, u->lcr, u->mcr, u->lsr_extra,   u->scr,
					   u->dll, u->dlm, u->fcr, u->thre_pending};
	state_put(w, regs, sizeof(regs));
	state_put16(w, (uint16_t)u->rx_count);
	for (unsigned i = 0; i < u->rx_count; i++)
		state_put8(w, u->rx[(u->rx_head + i) % UART_RX_SIZE]);
	pthread_mutex_unlock(&u->lock);
}

int uart_load(struct uart *u, struct state_r *r, mc_err *err)
{
	const uint8_t *regs = state_get(r, UART_STATE_FIELDS);
	unsigned count = state_get16(r);
	if (r->bad || count > UART_RX_SIZE)
		return mc_errorf(err, 0, "UART state: %s", r->bad ? "cut short" : "FIFO too long");
	const uint8_t *rx = state_get(r, count);
	if (!rx)
		return mc_errorf(err, 0, "UART state: FIFO cut short");
	pthread_mutex_lock(&u->lock);
	u->ier = regs[0] & 0x0f;
	u->lcr = regs[1];
	u->mcr = regs[2] & 0x1f;
	u->lsr_extra = regs[3] & 0x02;
	u->scr = regs[4];
	u->dll = regs[5];
	u->dlm = regs[6];
	u->fcr = regs[7] & 0xc9;
	u->thre_pending = regs[8] != 0;
	memcpy(u->rx, rx, count);
	u->rx_head = 0;
	u->rx_count = count;
	u->irq_level = -1;
	update_irq(u);
	pthread_mutex_unlock(&u->lock);
	return 0;
}
