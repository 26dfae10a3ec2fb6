#include "acpi.h"

#include <string.h>

#include "bytes.h"
#include "layout.h"

uint8_t acpi_checksum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;
	for (size_t i = 0; i < len; i++)
		sum = (uint8_t)(sum + p[i]);
	return sum;
}

static void header(uint8_t *t, const char *sig, uint32_t len, uint8_t rev)
{
	memcpy(t, sig, 4);
	put32(t + 4, len);
	t[8] = rev;
	memcpy(t + 10, "MINIVM", 6);
	memcpy(t + 16, "MINIVM  ", 8);
	put32(t + 24, 1);
	memcpy(t + 28, "MNVM", 4);
	put32(t + 32, 1);
}

static void finish(uint8_t *t)
{
	uint32_t len = get32(t + 4);
	t[9] = 0;
	t[9] = (uint8_t)(0 - acpi_checksum(t, len));
}

/* Generic Address Structure for a system I/O port. */
static void gas_io(uint8_t *g, uint16_t port, uint8_t bits)
{
	g[0] = 1; /* SystemIO */
	g[1] = bits;
	g[2] = 0;
	g[3] = bits == 8 ? 1 : bits == 16 ? 2 : 3;
	put64(g + 4, port);
}

static uint64_t align16(uint64_t x)
{
	return (x + 15) & ~15ull;
}

int acpi_build(struct guest_mem *gm, unsigned ncpus, const uint8_t *aml, size_t aml_len,
	       const struct acpi_pci *pci, uint64_t *rsdp_out, mc_err *err)
{
	if (ncpus == 0 || ncpus > ACPI_MAX_CPUS)
		return mc_errorf(err, 0, "ACPI: %u vCPUs (1 to %d)", ncpus, ACPI_MAX_CPUS);
	uint8_t *base = gm_ptr(gm, ACPI_ADDR, ACPI_MAX);
	if (!base)
		return mc_errorf(err, 0, "ACPI: guest memory too small");
	memset(base, 0, ACPI_MAX);
	uint64_t rsdp = ACPI_ADDR;
	uint64_t xsdt = align16(rsdp + ACPI_RSDP_LEN);
	uint32_t xsdt_len = ACPI_HDR_LEN + (pci ? 3 : 2) * 8;
	uint64_t facs = (xsdt + xsdt_len + 63) & ~63ull; /* 64-byte aligned */
	uint64_t fadt = facs + 64;
	uint64_t dsdt = align16(fadt + ACPI_FADT_LEN);
	if (aml_len > ACPI_MAX / 2)
		return mc_errorf(err, 0, "ACPI: the devices' DSDT fragments take %zu bytes",
				 aml_len);
	uint32_t dsdt_len = ACPI_HDR_LEN + (uint32_t)aml_len;
	uint64_t madt = align16(dsdt + dsdt_len);
	uint32_t madt_len = 44 + 8 * ncpus + 12 + 10 + 6;
	uint64_t mcfg = align16(madt + madt_len);
	if (mcfg + (pci ? ACPI_MCFG_LEN : 0) > ACPI_ADDR + ACPI_MAX)
		return mc_errorf(err, 0, "ACPI: tables do not fit");
#define AT(gpa) (base + ((gpa)-ACPI_ADDR))

	/* RSDP, revision 2: the XSDT holds 64-bit table addresses. */
	uint8_t *r = AT(rsdp);
	memcpy(r, "RSD PTR ", 8);
	memcpy(r + 9, "MINIVM", 6);
	r[15] = 2;
	put32(r + 20, ACPI_RSDP_LEN);
	put64(r + 24, xsdt);
	r[8] = (uint8_t)(0 - acpi_checksum(r, 20));
	r[32] = (uint8_t)(0 - acpi_checksum(r, ACPI_RSDP_LEN));

	uint8_t *x = AT(xsdt);
	header(x, "XSDT", xsdt_len, 1);
	put64(x + ACPI_HDR_LEN, fadt);
	put64(x + ACPI_HDR_LEN + 8, madt);
	if (pci)
		put64(x + ACPI_HDR_LEN + 16, mcfg);
	finish(x);

	uint8_t *fc = AT(facs);
	memcpy(fc, "FACS", 4);
	put32(fc + 4, 64);
	fc[32] = 2; /* version */

	/* FADT 6.0 with the PM1a blocks; SMI_CMD 0: already in ACPI mode. */
	uint8_t *f = AT(fadt);
	header(f, "FACP", ACPI_FADT_LEN, 6);
	put32(f + 36, (uint32_t)facs);
	put32(f + 40, (uint32_t)dsdt);
	put16(f + 46, ACPI_SCI_IRQ);
	put32(f + 56, ACPI_PM1A_EVT_PORT);
	put32(f + 64, ACPI_PM1A_CNT_PORT);
	f[88] = 4;			   /* PM1_EVT_LEN */
	f[89] = 2;			   /* PM1_CNT_LEN */
	put16(f + 109, 1u << 2 | 1u << 5); /* IAPC_BOOT_ARCH: no VGA, no CMOS RTC; no 8042 */
	/* WBINVD, C1 on all CPUs, no power/sleep buttons, reset register */
	put32(f + 112, 1u << 0 | 1u << 2 | 1u << 4 | 1u << 5 | ACPI_FADT_RESET_REG);
	gas_io(f + 116, ACPI_RESET_PORT, 8);
	f[128] = ACPI_RESET_VALUE;
	f[131] = 0; /* FADT minor version */
	put64(f + 132, facs);
	put64(f + 140, dsdt);
	gas_io(f + 148, ACPI_PM1A_EVT_PORT, 32); /* X_PM1a_EVT_BLK */
	gas_io(f + 172, ACPI_PM1A_CNT_PORT, 16); /* X_PM1a_CNT_BLK */
	memcpy(f + 268, "MINIVM\0\0", 8);
	finish(f);

	uint8_t *d = AT(dsdt);
	header(d, "DSDT", dsdt_len, 2);
	if (aml_len)
		memcpy(d + ACPI_HDR_LEN, aml, aml_len);
	finish(d);

	uint8_t *m = AT(madt);
	header(m, "APIC", madt_len, 5);
	put32(m + 36, (uint32_t)LAPIC_ADDR);
	put32(m + 40, 1); /* PCAT_COMPAT: dual 8259s present (masked by the guest) */
	uint8_t *e = m + 44;
	for (unsigned i = 0; i < ncpus; i++, e += 8) {
		e[0] = 0; /* Processor Local APIC */
		e[1] = 8;
		e[2] = (uint8_t)i; /* ACPI processor UID */
		e[3] = (uint8_t)i; /* APIC id */
		put32(e + 4, 1);   /* enabled */
	}
	e[0] = 1; /* I/O APIC */
	e[1] = 12;
	e[2] = 0; /* id */
	put32(e + 4, (uint32_t)IOAPIC_ADDR);
	put32(e + 8, 0); /* GSI base */
	e += 12;
	/* No IRQ 0 -> GSI 2 override: KVM's default routing wires the in-kernel PIT (GSI 0) to
	 * IOAPIC pin 0, not pin 2 as on PC hardware. */
	e[0] = 2; /* ISA IRQ 9 -> GSI 9, level, active high (as on PCs) */
	e[1] = 10;
	e[2] = 0;
	e[3] = 9;
	put32(e + 4, 9);
	put16(e + 8, 0x000d);
	e += 10;
	e[0] = 4; /* Local APIC NMI: all processors, LINT1 */
	e[1] = 6;
	e[2] = 0xff;
	put16(e + 3, 0);
	e[5] = 1;
	finish(m);

	if (pci) {
		/* MCFG: 8 reserved bytes, then per segment: base, segment, start and end bus */
		uint8_t *c = AT(mcfg);
		header(c, "MCFG", ACPI_MCFG_LEN, 1);
		put64(c + ACPI_HDR_LEN + 8, pci->ecam);
		put16(c + ACPI_HDR_LEN + 16, pci->segment);
		c[ACPI_HDR_LEN + 18] = pci->bus_start;
		c[ACPI_HDR_LEN + 19] = pci->bus_end;
		finish(c);
	}
#undef AT
	*rsdp_out = rsdp;
	return 0;
}
