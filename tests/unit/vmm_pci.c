/* Unit tests for PCI without KVM: the host bridge through conf1 and ECAM, a function's config
 * space (read-only bytes, BAR sizing, BAR moves on the bus and memory decoding), the
 * capability chain, MSI-X (table, masks, pending bits, interrupts on unmask), saved config
 * space, and the DSDT fragment. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/error.h"
#include "vmm/bus.h"
#include "vmm/bytes.h"
#include "vmm/hw/msix.h"
#include "vmm/hw/pci.h"
#include "vmm/layout.h"

static struct bus mmio;
static struct pci_host host;

static int setup(void **state)
{
	(void)state;
	mc_err err = NULL;
	if (bus_init(&mmio, "mmio", &err) < 0)
		return -1;
	memset(&host, 0, sizeof(host));
	pci_host_init(&host, &mmio);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (unsigned i = 1; i < PCI_MAX_SLOTS; i++)
		if (host.slots[i])
			pci_unregister_function(&host, host.slots[i]);
	pci_host_fini(&host);
	bus_destroy(&mmio);
	return 0;
}

static uint32_t conf1_read(uint32_t devfn, uint32_t reg, uint32_t len)
{
	uint8_t a[4], d[4] = {0};
	put32(a, 0x80000000u | devfn << 8 | (reg & 0xfc) | (reg & 0xf00) << 16);
	pci_conf1_io(&host, 0, a, 4, true);
	pci_conf1_io(&host, 4 + (reg & 3), d, len, false);
	return len == 1 ? d[0] : len == 2 ? get16(d) : get32(d);
}

static uint32_t cfg_read(struct pci_function *f, uint32_t off, uint32_t len)
{
	uint8_t d[4] = {0};
	pci_host_cfg_access(&host, 0, f->slot * 8, off, d, len, false);
	return len == 1 ? d[0] : len == 2 ? get16(d) : get32(d);
}

static void cfg_write(struct pci_function *f, uint32_t off, uint32_t v, uint32_t len)
{
	uint8_t d[4];
	put32(d, v);
	pci_host_cfg_access(&host, 0, f->slot * 8, off, d, len, true);
}

static void nop_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	(void)opaque;
	(void)off;
	if (!is_write)
		memset(data, 0x5a, len);
}

static unsigned bar_events;
static uint64_t bar_last_addr;
static bool bar_last_mapped;
static void on_bar(struct pci_function *f, unsigned bar, uint64_t addr, bool mapped)
{
	(void)f;
	(void)bar;
	bar_events++;
	bar_last_addr = addr;
	bar_last_mapped = mapped;
}

static struct pci_function *new_function(const char *name)
{
	struct pci_function *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	pci_function_init(f, name, 0x1af4, 0x1042, 0x010000, 1, 0x1af4, 0x1100);
	mc_err err = NULL;
	assert_int_equal(pci_function_add_bar(f, 0, 0x8000, PCI_BAR_MEM64, nop_io, NULL, &err), 0);
	assert_int_equal(pci_function_add_bar(f, 2, 0x1000, PCI_BAR_MEM32, nop_io, NULL, &err), 0);
	/* BAR 1 is BAR 0's high half; out of range; too small */
	assert_int_equal(pci_function_add_bar(f, 1, 0x1000, 0, nop_io, NULL, &err), -1);
	mc_error_free(&err);
	assert_int_equal(pci_function_add_bar(f, 6, 0x1000, 0, nop_io, NULL, &err), -1);
	mc_error_free(&err);
	assert_int_equal(pci_function_add_bar(f, 3, 8, 0, nop_io, NULL, &err), -1);
	mc_error_free(&err);
	f->on_bar = on_bar;
	return f;
}

static void host_bridge(void **state)
{
	(void)state;
	assert_int_equal(conf1_read(0, PCI_VENDOR_ID, 2), PCI_HOST_VENDOR);
	assert_int_equal(conf1_read(0, PCI_DEVICE_ID, 2), PCI_HOST_DEVICE);
	assert_int_equal(conf1_read(0, 0x0a, 2), 0x0600); /* host bridge class */
	assert_int_equal(conf1_read(0, PCI_HEADER_TYPE, 1), 0);
	/* nobody at 00:05.0, at function 1 of slot 0, on bus 1 */
	assert_int_equal(conf1_read(5 << 3, 0, 4), 0xffffffffu);
	assert_int_equal(conf1_read(1, 0, 4), 0xffffffffu);
	uint8_t a[4], d[4];
	put32(a, 0x80010000u);
	pci_conf1_io(&host, 0, a, 4, true);
	pci_conf1_io(&host, 4, d, 4, false);
	assert_int_equal(get32(d), 0xffffffffu);
	/* the address register reads back; without bit 31 the data port reads all ones */
	put32(a, 0x00000000u);
	pci_conf1_io(&host, 0, a, 4, true);
	pci_conf1_io(&host, 0, d, 4, false);
	assert_int_equal(get32(d), 0);
	pci_conf1_io(&host, 4, d, 4, false);
	assert_int_equal(get32(d), 0xffffffffu);
	/* a byte at 0xcfb (Linux's type 2 probe) is ignored */
	d[0] = 1;
	pci_conf1_io(&host, 3, d, 1, true);
	pci_conf1_io(&host, 0, d, 4, false);
	assert_int_equal(get32(d), 0);
	/* extended register bits (AMD) reach extended config space: zeros, no capabilities */
	assert_int_equal(conf1_read(0, 0x100, 4), 0);
	/* ECAM: the same bytes */
	pci_ecam_io(&host, 0, d, 4, false);
	assert_int_equal(get32(d), PCI_HOST_VENDOR | PCI_HOST_DEVICE << 16);
	pci_ecam_io(&host, 0x100, d, 4, false);
	assert_int_equal(get32(d), 0);
	pci_ecam_io(&host, 3 << 15, d, 4, false);
	assert_int_equal(get32(d), 0xffffffffu);
	uint8_t q[8];
	pci_ecam_io(&host, 0, q, 8, false); /* not a config access width */
	assert_int_equal(get64(q), ~0ull);
	pci_ecam_io(&host, 2, d, 4, false); /* unaligned */
	assert_int_equal(get32(d), 0xffffffffu);
	pci_ecam_io(&host, PCI_ECAM_SIZE, d, 4, false);
	assert_int_equal(get32(d), 0xffffffffu);
}

static void bars(void **state)
{
	(void)state;
	mc_err err = NULL;
	struct pci_function *f = new_function("f1");
	bar_events = 0;
	assert_int_equal(pci_register_function(&host, f, &err), 0);
	assert_int_equal(f->slot, 1);
	assert_int_equal(bar_events, 2);
	/* placed by "firmware", aligned, in the window, decoding on, on the bus */
	uint64_t b0 = pci_function_bar_addr(f, 0), b2 = pci_function_bar_addr(f, 2);
	assert_true(b0 >= PCI_MMIO_START && b0 + 0x8000 <= PCI_MMIO_END && b0 % 0x8000 == 0);
	assert_true(b2 >= PCI_MMIO_START && b2 + 0x1000 <= PCI_MMIO_END && b2 % 0x1000 == 0);
	assert_true(cfg_read(f, PCI_COMMAND, 2) & PCI_COMMAND_MEMORY);
	struct bus_region r;
	assert_true(bus_find(&mmio, b0 + 0x7fff, &r));
	assert_int_equal(r.base, b0);
	assert_int_equal(cfg_read(f, PCI_BAR0, 4) & 0xf, PCI_BAR_MEM64);
	assert_int_equal(cfg_read(f, PCI_VENDOR_ID, 2), 0x1af4);
	assert_int_equal(cfg_read(f, PCI_REVISION_ID, 1), 1);
	assert_int_equal(cfg_read(f, PCI_SUBSYS_ID, 2), 0x1100);
	assert_int_equal(cfg_read(f, PCI_INTERRUPT_PIN, 1), 0); /* no INTx */

	/* read-only bytes stay */
	cfg_write(f, PCI_VENDOR_ID, 0x1234, 2);
	cfg_write(f, PCI_HEADER_TYPE, 0x80, 1);
	assert_int_equal(cfg_read(f, PCI_VENDOR_ID, 2), 0x1af4);
	assert_int_equal(cfg_read(f, PCI_HEADER_TYPE, 1), 0);

	/* sizing, as Linux does it: decoding off, all ones, read, restore */
	bar_events = 0;
	uint16_t cmd = (uint16_t)cfg_read(f, PCI_COMMAND, 2);
	cfg_write(f, PCI_COMMAND, cmd & ~PCI_COMMAND_MEMORY, 2);
	assert_int_equal(bar_events, 2);
	assert_false(bar_last_mapped);
	assert_false(bus_find(&mmio, b0, &r));
	cfg_write(f, PCI_BAR0, 0xffffffffu, 4);
	cfg_write(f, PCI_BAR0 + 4, 0xffffffffu, 4);
	assert_int_equal(cfg_read(f, PCI_BAR0, 4), 0xffff8004u);
	assert_int_equal(cfg_read(f, PCI_BAR0 + 4, 4), 0xffffffffu);
	cfg_write(f, PCI_BAR0 + 8, 0xffffffffu, 4);
	assert_int_equal(cfg_read(f, PCI_BAR0 + 8, 4), 0xfffff000u);
	/* unimplemented BARs and the ROM read 0 after all ones */
	cfg_write(f, PCI_BAR0 + 12, 0xffffffffu, 4);
	assert_int_equal(cfg_read(f, PCI_BAR0 + 12, 4), 0);
	cfg_write(f, PCI_ROM_ADDRESS, 0xfffffffeu, 4);
	assert_int_equal(cfg_read(f, PCI_ROM_ADDRESS, 4), 0);
	assert_int_equal(bar_events, 2); /* nothing mapped while decoding is off */

	/* moved elsewhere, decoding on again: on the bus at the new place only */
	cfg_write(f, PCI_BAR0, 0xd0000000u, 4);
	cfg_write(f, PCI_BAR0 + 4, 0, 4);
	cfg_write(f, PCI_BAR0 + 8, 0xd0010000u, 4);
	cfg_write(f, PCI_COMMAND, cmd, 2);
	assert_true(bar_last_mapped);
	assert_true(bus_find(&mmio, 0xd0000000u, &r));
	assert_int_equal(r.len, 0x8000);
	assert_true(bus_find(&mmio, 0xd0010000u, &r));
	assert_false(bus_find(&mmio, b0, &r));
	/* moved while decoding (a live move): one bus update, the old place empty */
	cfg_write(f, PCI_BAR0, 0xd0020000u, 4);
	assert_int_equal(bar_last_addr, 0xd0020000u);
	assert_true(bus_find(&mmio, 0xd0020000u, &r));
	assert_false(bus_find(&mmio, 0xd0000000u, &r));
	/* onto another BAR: refused by the bus, the BAR stays off it */
	cfg_write(f, PCI_BAR0, 0xd0010000u & ~0x7fffu, 4);
	assert_false(bar_last_mapped);
	cfg_write(f, PCI_BAR0, 0xd0020000u, 4);
	assert_true(bar_last_mapped);
	/* a 64-bit address whose end wraps (half-written sizing) is not mapped */
	cfg_write(f, PCI_BAR0 + 4, 0xffffffffu, 4);
	cfg_write(f, PCI_BAR0, 0xffff8000u, 4);
	assert_false(bar_last_mapped);
	cfg_write(f, PCI_BAR0 + 4, 0, 4);
	cfg_write(f, PCI_BAR0, 0xd0020000u, 4);
	assert_true(bar_last_mapped);

	/* odd accesses: read all ones, written nowhere */
	uint8_t d[4];
	pci_function_cfg_access(f, 1, d, 2, false);
	assert_int_equal(get16(d), 0xffff);
	pci_function_cfg_access(f, 254, d, 4, false);
	assert_int_equal(get32(d), 0xffffffffu);
	pci_function_cfg_access(f, 0, d, 3, false);

	/* saved and loaded: the BAR goes back where it was saved */
	struct state_w w = {0};
	pci_function_save(f, &w);
	assert_int_equal(w.len, PCI_CFG_SIZE);
	cfg_write(f, PCI_BAR0, 0xd0040000u, 4);
	assert_true(bus_find(&mmio, 0xd0040000u, &r));
	w.p[PCI_VENDOR_ID] = 0x99; /* read-only in the stream: ignored */
	struct state_r rd;
	state_r_init(&rd, w.p, w.len);
	assert_int_equal(pci_function_load(f, &rd, &err), 0);
	assert_true(bus_find(&mmio, 0xd0020000u, &r));
	assert_false(bus_find(&mmio, 0xd0040000u, &r));
	assert_int_equal(cfg_read(f, PCI_VENDOR_ID, 2), 0x1af4);
	state_r_init(&rd, w.p, 10);
	assert_int_equal(pci_function_load(f, &rd, &err), -1);
	mc_error_free(&err);
	state_w_free(&w);

	/* a second function: the next slot, BARs after the first's */
	struct pci_function *g = new_function("f2");
	assert_int_equal(pci_register_function(&host, g, &err), 0);
	assert_int_equal(g->slot, 2);
	assert_true(pci_function_bar_addr(g, 0) >= b2 + 0x1000);
	assert_int_equal(conf1_read(2 << 3, PCI_DEVICE_ID, 2), 0x1042);
	pci_unregister_function(&host, g);
	assert_int_equal(conf1_read(2 << 3, PCI_VENDOR_ID, 2), 0xffff);
	assert_false(bus_find(&mmio, pci_function_bar_addr(g, 0), &r));
	free(g);
	pci_unregister_function(&host, f);
	assert_false(bus_find(&mmio, 0xd0020000u, &r));
	free(f);
}

static void caps(void **state)
{
	(void)state;
	mc_err err = NULL;
	struct pci_function f;
	pci_function_init(&f, "caps", 0x1af4, 0x1041, 0x020000, 1, 0x1af4, 0x1100);
	assert_int_equal(get16(f.cfg + PCI_STATUS) & PCI_STATUS_CAP_LIST, 0);
	uint8_t body[18] = {16, 1}, at[8];
	unsigned n = 0;
	for (; n < 8; n++)
		if (pci_function_add_cap(&f, PCI_CAP_ID_VNDR, body, (n % 2) ? 18 : 14, &at[n],
					 &err) < 0)
			break;
	/* 0x40 .. 0x100 holds 10 of 16 or 20 bytes: all 8 fit */
	assert_int_equal(n, 8);
	struct msix m;
	assert_int_equal(msix_init(&m, &f, 4, 0, 0x4000, 0x5000, NULL, &err), 0);
	assert_true(get16(f.cfg + PCI_STATUS) & PCI_STATUS_CAP_LIST);
	/* walk the chain: dword aligned, inside, ends, in order */
	unsigned seen = 0, p = f.cfg[PCI_CAP_PTR];
	while (p) {
		assert_true(p >= PCI_CAP_START && p % 4 == 0 && p < PCI_CFG_SIZE);
		if (seen < 8) {
			assert_int_equal(p, at[seen]);
			assert_int_equal(f.cfg[p], PCI_CAP_ID_VNDR);
		} else {
			assert_int_equal(p, m.cap);
			assert_int_equal(f.cfg[p], PCI_CAP_ID_MSIX);
			assert_int_equal(get16(f.cfg + p + 2), 3); /* table size - 1 */
			assert_int_equal(get32(f.cfg + p + 4), 0x4000);
			assert_int_equal(get32(f.cfg + p + 8), 0x5000);
		}
		seen++;
		assert_true(seen < 64);
		p = f.cfg[p + 1];
	}
	assert_int_equal(seen, 9);
	/* full: the next one is refused with the config space intact */
	uint8_t big[200] = {0}, off;
	assert_int_equal(pci_function_add_cap(&f, PCI_CAP_ID_VNDR, big, sizeof(big), &off, &err),
			 -1);
	mc_error_free(&err);
	msix_fini(&m);
}

static void msix_write_entry(struct msix *m, unsigned v, uint64_t addr, uint32_t data,
			     uint32_t ctrl)
{
	uint8_t b[4];
	put32(b, (uint32_t)addr);
	msix_table_io(m, v * 16, b, 4, true);
	put32(b, (uint32_t)(addr >> 32));
	msix_table_io(m, v * 16 + 4, b, 4, true);
	put32(b, data);
	msix_table_io(m, v * 16 + 8, b, 4, true);
	put32(b, ctrl);
	msix_table_io(m, v * 16 + 12, b, 4, true);
}

static uint64_t pba(struct msix *m)
{
	uint8_t b[8];
	msix_pba_io(m, 0, b, 8, false);
	return get64(b);
}

static struct msix *hooked;
static void msix_on_cfg(struct pci_function *f, uint32_t off, uint32_t len, bool is_write)
{
	(void)f;
	if (is_write)
		msix_cfg_written(hooked, off, len);
}

static void msix(void **state)
{
	(void)state;
	mc_err err = NULL;
	struct pci_function *f = new_function("msix");
	struct msix m;
	assert_int_equal(msix_init(&m, f, 3, 0, 0x4000, 0x5000, NULL, &err), 0);
	f->on_bar = NULL;
	f->on_cfg = msix_on_cfg;
	hooked = &m;
	assert_int_equal(pci_register_function(&host, f, &err), 0);
	uint8_t b[8];
	/* power-on: every vector masked, nothing pending */
	for (unsigned v = 0; v < 3; v++) {
		msix_table_io(&m, v * 16 + 12, b, 4, false);
		assert_int_equal(get32(b), MSIX_ENTRY_MASKED);
	}
	/* out of the table, or not 4/8 bytes: all ones, ignored */
	msix_table_io(&m, 3 * 16, b, 4, false);
	assert_int_equal(get32(b), 0xffffffffu);
	msix_table_io(&m, 0, b, 2, false);
	assert_int_equal(get16(b), 0xffff);
	put32(b, 0x1234);
	msix_table_io(&m, 2, b, 4, true);
	msix_table_io(&m, 0, b, 4, false);
	assert_int_equal(get32(b), 0);

	/* a notify while everything is masked: pending */
	struct msix_src src = {.fd = -1};
	assert_int_equal(msix_bind(&m, &src, 7), MSIX_NO_VECTOR); /* no such vector */
	assert_false(src.bound);
	msix_notify(&m, &src, 1);
	assert_int_equal(pba(&m), 1u << 1);
	assert_int_equal(atomic_load(&m.fired), 0);
	msix_notify(&m, &src, 9); /* out of range: dropped */
	msix_notify(&m, &src, MSIX_NO_VECTOR);
	assert_int_equal(pba(&m), 1u << 1);

	/* the driver enables MSI-X with the function masked, programs, unmasks the entry */
	cfg_write(f, m.cap + 2, MSIX_CTRL_ENABLE | MSIX_CTRL_MASKALL, 2);
	assert_int_equal(cfg_read(f, m.cap + 2, 2), MSIX_CTRL_ENABLE | MSIX_CTRL_MASKALL | 2);
	msix_write_entry(&m, 1, 0xfee01000u, 0x4041, 0);
	msix_table_io(&m, 16, b, 8, false);
	assert_int_equal(get64(b), 0xfee01000u);
	msix_table_io(&m, 16 + 12, b, 4, false);
	assert_int_equal(get32(b), 0);		    /* unmasked; reserved control bits stay 0 */
	assert_int_equal(atomic_load(&m.fired), 0); /* still held by the function mask */
	cfg_write(f, m.cap + 2, MSIX_CTRL_ENABLE, 2);
	assert_int_equal(atomic_load(&m.fired), 1); /* the pending one went out */
	assert_int_equal(pba(&m), 0);
	/* an unmasked vector fires at once, no pending bit */
	msix_notify(&m, &src, 1);
	assert_int_equal(atomic_load(&m.fired), 2);
	assert_int_equal(pba(&m), 0);
	/* vector 2 stays masked: pending until its mask bit is cleared */
	msix_notify(&m, &src, 2);
	assert_int_equal(pba(&m), 1u << 2);
	uint8_t w[4];
	put32(w, 0xffffffffu); /* masked; the other control bits are reserved: ignored */
	msix_table_io(&m, 2 * 16 + 12, w, 4, true);
	assert_int_equal(pba(&m), 1u << 2);
	msix_table_io(&m, 2 * 16 + 12, b, 4, false);
	assert_int_equal(get32(b), MSIX_ENTRY_MASKED);
	put32(w, 0xfffffffeu);
	msix_table_io(&m, 2 * 16 + 12, w, 4, true);
	msix_table_io(&m, 2 * 16 + 12, b, 4, false);
	assert_int_equal(get32(b), 0);
	/* the mask bit cleared: it fired */
	assert_int_equal(atomic_load(&m.fired), 3);
	assert_int_equal(pba(&m), 0);
	/* MSI-X off: held back again; PBA writes are ignored */
	cfg_write(f, m.cap + 2, 0, 2);
	msix_notify(&m, &src, 1);
	assert_int_equal(pba(&m), 1u << 1);
	put64(b, 0);
	msix_pba_io(&m, 0, b, 8, true);
	assert_int_equal(pba(&m), 1u << 1);
	/* binding a source to a vector: its GSI, its irqfd (no KVM here) */
	src.fd = 99;
	assert_int_equal(msix_bind(&m, &src, 1), 1);
	assert_true(src.bound);
	assert_true(m.vec[1].has_gsi);
	/* set-up: the new route waits for the commit; an interrupt before it commits first
	 * (vector 1 is masked, MSI-X being off: it goes pending, nothing is written) */
	assert_true(m.defer);
	assert_true(atomic_load(&m.stale));
	msix_notify(&m, &src, 1);
	assert_false(atomic_load(&m.stale));
	assert_false(m.defer);
	/* live: a new route is committed at once */
	struct msix_src src2 = {.fd = 98};
	assert_int_equal(msix_bind(&m, &src2, 2), 2);
	assert_false(atomic_load(&m.stale));
	/* reset: set-up again, until msix_commit (DRIVER_OK) */
	assert_int_equal(msix_bind(&m, &src2, MSIX_NO_VECTOR), MSIX_NO_VECTOR);
	msix_defer(&m);
	assert_int_equal(msix_bind(&m, &src2, 0), 0);
	assert_true(atomic_load(&m.stale));
	msix_commit(&m);
	assert_false(atomic_load(&m.stale));
	assert_false(m.defer);
	assert_int_equal(msix_bind(&m, &src2, MSIX_NO_VECTOR), MSIX_NO_VECTOR);
	assert_int_equal(msix_bind(&m, &src, MSIX_NO_VECTOR), MSIX_NO_VECTOR);
	assert_false(src.bound);

	/* saved and loaded with the config space: enabled again, pending kept */
	struct state_w sw = {0};
	pci_function_save(f, &sw);
	msix_save(&m, &sw);
	cfg_write(f, m.cap + 2, MSIX_CTRL_ENABLE, 2); /* fires the pending one */
	msix_write_entry(&m, 1, 0, 0, 1);
	struct state_r r;
	state_r_init(&r, sw.p, sw.len);
	assert_int_equal(pci_function_load(f, &r, &err), 0);
	assert_int_equal(msix_load(&m, &r, &err), 0);
	assert_int_equal(cfg_read(f, m.cap + 2, 2), 2); /* MSI-X off, as saved */
	assert_int_equal(pba(&m), 1u << 1);
	msix_table_io(&m, 16, b, 4, false);
	assert_int_equal(get32(b), 0xfee01000u);
	state_r_init(&r, sw.p, sw.len - 3);
	assert_int_equal(pci_function_load(f, &r, &err), 0);
	assert_int_equal(msix_load(&m, &r, &err), -1);
	mc_error_free(&err);
	state_w_free(&sw);

	pci_unregister_function(&host, f);
	msix_fini(&m);
	free(f);
}

static void aml(void **state)
{
	(void)state;
	size_t n = pci_host_aml(NULL, 0);
	assert_true(n > 60 && n < 512);
	uint8_t *b = malloc(n);
	assert_int_equal(pci_host_aml(b, n), n);
	assert_non_null(memmem(b, n, "_SB_PCI0", 8));
	assert_non_null(memmem(b, n, "_SB_PRES", 8));
	assert_non_null(memmem(b, n, "\x41\xd0\x0a\x08", 4)); /* PNP0A08 */
	assert_non_null(memmem(b, n, "\x41\xd0\x0c\x02", 4)); /* PNP0C02 */
	/* two Device ops, each PkgLength covering exactly its bytes */
	assert_int_equal(b[0], 0x5b);
	assert_int_equal(b[1], 0x82);
	size_t len = (b[2] >> 6) ? ((b[2] & 0xf) | (size_t)b[3] << 4) : b[2];
	assert_true(2 + len < n);
	assert_int_equal(b[2 + len], 0x5b);
	assert_int_equal(b[3 + len], 0x82);
	size_t len2 =
	    (b[4 + len] >> 6) ? ((b[4 + len] & 0xf) | (size_t)b[5 + len] << 4) : b[4 + len];
	assert_int_equal(4 + len + len2, n);
	/* the ECAM range in the motherboard resources */
	uint8_t ecam[12] = {0x86, 9, 0, 1};
	put32(ecam + 4, (uint32_t)PCI_ECAM_ADDR);
	put32(ecam + 8, (uint32_t)PCI_ECAM_SIZE);
	assert_non_null(memmem(b, n, ecam, sizeof(ecam)));
	/* a short buffer is left alone */
	memset(b, 0xee, n);
	assert_int_equal(pci_host_aml(b, n - 1), n);
	assert_int_equal(b[0], 0xee);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(host_bridge), cmocka_unit_test(bars), cmocka_unit_test(caps),
	    cmocka_unit_test(msix),	   cmocka_unit_test(aml),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
