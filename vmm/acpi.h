/* ACPI tables so a stock Linux finds its vCPUs and can power off: RSDP -> XSDT -> FADT (and
 * DSDT, FACS), MADT. Hardware-reduced ACPI (like Cloud Hypervisor): no SCI, PM1 or PM timer;
 * poweroff through the FADT sleep control register with the \_S5 type from the DSDT, reboot
 * through the FADT reset register. Linux with CONFIG_X86_MPPARSE off relies on the MADT alone.
 */
#ifndef MINIVM_ACPI_H
#define MINIVM_ACPI_H

#include <stdint.h>

#include "error.h"
#include "guest_mem.h"

#define ACPI_MAX_CPUS 255 /* xAPIC ids fit in 8 bits */

#define ACPI_HDR_LEN	     36
#define ACPI_RSDP_LEN	     36
#define ACPI_FADT_LEN	     276
#define ACPI_FADT_HW_REDUCED (1u << 20)
#define ACPI_FADT_RESET_REG  (1u << 10)

/* Sum of len bytes, mod 256 (0 for a table with a correct checksum). */
uint8_t acpi_checksum(const uint8_t *p, size_t len);

/* Write all tables at ACPI_ADDR for ncpus vCPUs (APIC ids 0..ncpus-1); *rsdp = its address. */
int acpi_build(struct guest_mem *gm, unsigned ncpus, uint64_t *rsdp, mc_err *err);

#endif
