/* Unit tests for the ACPI tables: checksums, lengths, pointers, MADT entries, FADT fields, MCFG. */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/error.h"
#include "vmm/boot/acpi.h"
#include "vmm/bytes.h"
#include "vmm/guest_mem.h"
#include "vmm/layout.h"

static struct guest_mem gm;

static int setup(void **state)
{
	(void)state;
	gm_init(&gm, calloc(1, 16u << 20), 16u << 20);
	return gm.host ? 0 : -1;
}
static int teardown(void **state)
{
	(void)state;
	free(gm.host);
	return 0;
}

/* A table at gpa with signature sig: right length bounds and a zero checksum. */
static uint8_t *table(uint64_t gpa, const char *sig)
{
	assert_true(gpa >= ACPI_ADDR && gpa < ACPI_ADDR + ACPI_MAX);
	uint8_t *t = gm.host + gpa;
	assert_memory_equal(t, sig, 4);
	uint32_t len = get32(t + 4);
	assert_true(len >= ACPI_HDR_LEN);
	assert_true(gpa + len <= ACPI_ADDR + ACPI_MAX);
	assert_int_equal(acpi_checksum(t, len), 0);
	assert_memory_equal(t + 10, "MINIVM", 6);
	return t;
}

/* The DSDT body the ACPI PM device contributes: Name (_S5, Package (4) { 5, 5, 0, 0 }) */
static const uint8_t s5[] = {0x08, '_', 'S', '5', '_', 0x12, 0x08, 0x04, 0x0a, 5, 0x0a, 5, 0, 0};

static const struct acpi_pci pci = {.ecam = PCI_ECAM_ADDR, .segment = 0, .bus_end = 0};

/* with_pci: an MCFG after the MADT, its one entry what pci says */
static void check_tables(unsigned ncpus, bool with_pci)
{
	uint64_t rsdp = 0;
	mc_err err = NULL;
	assert_int_equal(
	    acpi_build(&gm, ncpus, s5, sizeof(s5), with_pci ? &pci : NULL, &rsdp, &err), 0);
	assert_int_equal(rsdp, ACPI_ADDR);
	assert_int_equal(rsdp % 16, 0);
	uint8_t *r = gm.host + rsdp;
	assert_memory_equal(r, "RSD PTR ", 8);
	assert_int_equal(acpi_checksum(r, 20), 0);
	assert_int_equal(r[15], 2);
	assert_int_equal(get32(r + 20), ACPI_RSDP_LEN);
	assert_int_equal(acpi_checksum(r, ACPI_RSDP_LEN), 0);

	uint8_t *x = table(get64(r + 24), "XSDT");
	assert_int_equal(get32(x + 4), ACPI_HDR_LEN + (with_pci ? 24 : 16));
	uint8_t *f = table(get64(x + ACPI_HDR_LEN), "FACP");
	uint8_t *m = table(get64(x + ACPI_HDR_LEN + 8), "APIC");
	if (with_pci) {
		uint8_t *c = table(get64(x + ACPI_HDR_LEN + 16), "MCFG");
		assert_int_equal(get32(c + 4), ACPI_MCFG_LEN);
		assert_true(get64(x + ACPI_HDR_LEN + 16) >=
			    get64(x + ACPI_HDR_LEN + 8) + get32(m + 4));
		assert_int_equal(get64(c + 44), PCI_ECAM_ADDR);
		assert_int_equal(get16(c + 52), 0); /* segment */
		assert_int_equal(c[54], 0);	    /* buses 0 to 0 */
		assert_int_equal(c[55], 0);
	}

	/* FADT */
	assert_int_equal(get32(f + 4), ACPI_FADT_LEN);
	assert_int_equal(f[8], 6);
	uint8_t *d = table(get64(f + 140), "DSDT");
	assert_int_equal(get32(f + 40), get64(f + 140));
	assert_non_null(memmem(d + ACPI_HDR_LEN, get32(d + 4) - ACPI_HDR_LEN, "_S5_", 4));
	uint8_t *facs = gm.host + get64(f + 132);
	assert_memory_equal(facs, "FACS", 4);
	assert_int_equal(get64(f + 132) % 64, 0);
	assert_int_equal(get32(f + 64), ACPI_PM1A_CNT_PORT);
	assert_int_equal(f[89], 2);
	assert_int_equal(get64(f + 172 + 4), ACPI_PM1A_CNT_PORT);
	assert_int_equal(get32(f + 56), ACPI_PM1A_EVT_PORT);
	assert_int_equal(get16(f + 46), ACPI_SCI_IRQ);
	assert_true(get32(f + 112) & ACPI_FADT_RESET_REG);
	assert_false(get32(f + 112) & (1u << 20)); /* not hardware-reduced */
	assert_int_equal(get64(f + 116 + 4), ACPI_RESET_PORT);
	assert_int_equal(f[128], ACPI_RESET_VALUE);
	assert_false(get16(f + 109) & 2); /* no i8042 */

	/* MADT: one enabled LAPIC per vCPU with APIC id = index, one IOAPIC at GSI 0 */
	assert_int_equal(get32(m + 36), LAPIC_ADDR);
	uint32_t len = get32(m + 4);
	unsigned lapics = 0, ioapics = 0, overrides = 0, nmis = 0;
	for (uint32_t off = 44; off < len;) {
		uint8_t *e = m + off;
		assert_true(e[1] >= 2 && off + e[1] <= len);
		switch (e[0]) {
		case 0:
			assert_int_equal(e[1], 8);
			assert_int_equal(e[3], lapics);
			assert_int_equal(get32(e + 4) & 1, 1);
			lapics++;
			break;
		case 1:
			assert_int_equal(e[1], 12);
			assert_int_equal(get32(e + 4), IOAPIC_ADDR);
			assert_int_equal(get32(e + 8), 0);
			ioapics++;
			break;
		case 2:
			assert_int_equal(e[1], 10);
			assert_int_not_equal(e[3], 0); /* PIT stays on pin 0, as KVM routes it */
			overrides++;
			break;
		case 4:
			assert_int_equal(e[1], 6);
			nmis++;
			break;
		default:
			fail_msg("unexpected MADT entry type %u", e[0]);
		}
		off += e[1];
	}
	assert_int_equal(lapics, ncpus);
	assert_int_equal(ioapics, 1);
	assert_int_equal(overrides, 1);
	assert_int_equal(nmis, 1);
}

static void tables_1cpu(void **state)
{
	(void)state;
	check_tables(1, true);
}
static void tables_no_pci(void **state)
{
	(void)state;
	check_tables(2, false);
}
static void tables_8cpus(void **state)
{
	(void)state;
	check_tables(8, true);
}
static void tables_max(void **state)
{
	(void)state;
	check_tables(ACPI_MAX_CPUS, true);
}

static void rejects(void **state)
{
	(void)state;
	uint64_t rsdp;
	mc_err err = NULL;
	assert_int_equal(acpi_build(&gm, 0, s5, sizeof(s5), NULL, &rsdp, &err), -1);
	mc_error_free(&err);
	assert_int_equal(acpi_build(&gm, ACPI_MAX_CPUS + 1, s5, sizeof(s5), NULL, &rsdp, &err), -1);
	mc_error_free(&err);
	struct guest_mem small;
	gm_init(&small, gm.host, 0x80000); /* no room for the tables at 0xe0000 */
	assert_int_equal(acpi_build(&small, 1, s5, sizeof(s5), &pci, &rsdp, &err), -1);
	assert_non_null(strstr(err->msg, "too small"));
	mc_error_free(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(tables_1cpu),  cmocka_unit_test(tables_no_pci),
	    cmocka_unit_test(tables_8cpus), cmocka_unit_test(tables_max),
	    cmocka_unit_test(rejects),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
