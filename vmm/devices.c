/* The platform's explicit device table (no constructors): COM1, the debug port, the ACPI
 * PM1a blocks and reset register, the i8042 reset line and an empty CMOS. */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "../guestinit/debug_port.h"
#include "bytes.h"
#include "layout.h"
#include "log.h"
#include "timings.h"
#include "vm.h"

static void uart_set_irq(void *opaque, int level)
{
	struct vm *vm = opaque;
	struct kvm_irq_level irq = {.irq = COM1_IRQ, .level = (uint32_t)level};
	if (ioctl(vm->vm_fd, KVM_IRQ_LINE, &irq) < 0)
		mc_log_debug("KVM_IRQ_LINE %d: %s", COM1_IRQ, strerror(errno));
}

/* Milestones from guestinit and the test guests (guestinit/debug_port.h). */
static void debug_port_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct vm *vm = opaque;
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
		__atomic_store_n(&vm->guest_status, (int)(MINI_DBG_PAYLOAD(v) & 0xff),
				 __ATOMIC_RELEASE);
		break;
	case MINI_DBG_NOTE:
		mc_log_info("guest note 0x%06x", MINI_DBG_PAYLOAD(v));
		break;
	default:
		mc_log_debug("debug port: unknown value 0x%08x", v);
		break;
	}
}

/* PM1a event block: status (write 1 to clear) and enable; nothing ever raises an event. */
static void pm1_evt_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct vm *vm = opaque;
	if (off + len > 4)
		return;
	pthread_mutex_lock(&vm->end_lock);
	for (uint32_t i = 0; i < len; i++) {
		uint8_t *reg = &vm->pm1_evt[off + i];
		if (!is_write)
			data[i] = *reg;
		else if (off + i < 2)
			*reg &= (uint8_t)~data[i];
		else
			*reg = data[i];
	}
	pthread_mutex_unlock(&vm->end_lock);
}

/* PM1a control: SCI_EN always set (ACPI mode); SLP_EN with the S5 type from \_S5 powers off. */
static void pm1_cnt_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct vm *vm = opaque;
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
		vm_end(vm, VM_POWEROFF, "guest powered off (ACPI S5)");
}

static void acpi_reset_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct vm *vm = opaque;
	(void)off;
	if (!is_write) {
		memset(data, 0, len);
		return;
	}
	if (data[0] == ACPI_RESET_VALUE)
		vm_end(vm, VM_REBOOT, "guest rebooted (ACPI reset register)");
}

/* Only the i8042's reset line (command 0xfe, Linux's reboot=k). Status reads 0: input buffer
 * empty, so a waiting guest goes ahead. */
static void i8042_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct vm *vm = opaque;
	(void)off;
	if (!is_write) {
		memset(data, 0, len);
		return;
	}
	if (data[0] == 0xfe)
		vm_end(vm, VM_REBOOT, "guest rebooted (i8042 reset)");
}

/* No RTC (the FADT says so): reads 0, so "update in progress" is never set. */
static void cmos_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	(void)opaque;
	(void)off;
	if (!is_write)
		memset(data, 0, len);
}

int devices_register(struct vm *vm, int console_fd, mc_err *err)
{
	uart_init(&vm->uart, console_fd, uart_set_irq, vm);
	if (io_register(&vm->pio, COM1_PORT, 8, uart_io, &vm->uart, "com1", err) < 0 ||
	    io_register(&vm->pio, MINI_DEBUG_PORT, 4, debug_port_io, vm, "debug", err) < 0 ||
	    io_register(&vm->pio, ACPI_PM1A_EVT_PORT, 4, pm1_evt_io, vm, "pm1-evt", err) < 0 ||
	    io_register(&vm->pio, ACPI_PM1A_CNT_PORT, 2, pm1_cnt_io, vm, "pm1-cnt", err) < 0 ||
	    io_register(&vm->pio, ACPI_RESET_PORT, 1, acpi_reset_io, vm, "acpi-reset", err) < 0 ||
	    io_register(&vm->pio, I8042_CMD_PORT, 1, i8042_io, vm, "i8042", err) < 0 ||
	    io_register(&vm->pio, CMOS_PORT, 2, cmos_io, vm, "cmos", err) < 0)
		return mc_wrap(err, "devices");
	return 0;
}
