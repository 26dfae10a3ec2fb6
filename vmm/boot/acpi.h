/* ACPI tables so a stock Linux finds its vCPUs and can power off: RSDP -> XSDT -> FADT (and
 * DSDT, FACS), MADT, and MCFG for PCI's ECAM. Fixed-hardware ACPI with a PM1a event/control block
 * (poweroff: the \_S5 type from the DSDT written to PM1a_CNT with SLP_EN) and the FADT reset
 * register (reboot). Not hardware-reduced mode: Linux then drops the legacy PIC and with it the ISA
 * IRQs (COM1's IRQ 4). Linux with CONFIG_X86_MPPARSE off relies on the MADT alone for the vCPUs.
 */
#ifndef MINIVM_ACPI_H
#define MINIVM_ACPI_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "guest_mem.h"

#define ACPI_MAX_CPUS 255 /* xAPIC ids fit in 8 bits */

#define ACPI_HDR_LEN	    36
#define ACPI_RSDP_LEN	    36
#define ACPI_FADT_LEN	    276
#define ACPI_FADT_RESET_REG (1u << 10)

/* Sum of len bytes, mod 256 (0 for a table with a correct checksum). */
uint8_t acpi_checksum(const uint8_t *p, size_t len);

#define ACPI_MCFG_LEN (ACPI_HDR_LEN + 8 + 16)

/* PCI config space by ECAM, for the MCFG table: one segment, one bus range. */
struct acpi_pci {
	uint64_t ecam; /* the address of bus 0's config space */
	uint16_t segment;
	uint8_t bus_start, bus_end;
};

/* Write all tables at ACPI_ADDR for ncpus vCPUs (APIC ids 0..ncpus-1), the DSDT's body being
 * the devices' AML (devices_acpi_aml: \_S5 from the ACPI PM device...), and an MCFG when pci
 * is not NULL; *rsdp = its address. */
int acpi_build(struct guest_mem *gm, unsigned ncpus, const uint8_t *aml, size_t aml_len,
	       const struct acpi_pci *pci, uint64_t *rsdp, mc_err *err);

#endif
