/* libFuzzer target for PCI config space and MSI-X (vmm/hw/pci.c, vmm/hw/msix.c): a host bridge
 * with one function (a 64-bit and a 32-bit BAR, vendor capabilities, MSI-X with 4 vectors) on a
 * bus of its own, then the input as 8-byte records, each one access:
 *   [0] low 3 bits: 0 conf1 address/data port, 1 ECAM, 2 config space of 00:01.0 directly,
 *       3 MSI-X table, 4 PBA, 5 notify on a vector, 6 bind a source, 7 save and reload;
 *       bit 3: write; bits 4-5: length 1, 2, 4, 8
 *   [1..3] offset (le24)   [4..7] value (le32)
 * Every access is as a guest (or the guest's driver) could make it; ASan and UBSan watch, and
 * after each record the BARs on the bus must match what the function says. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/error.h"
#include "vmm/bus.h"
#include "vmm/bytes.h"
#include "vmm/hw/msix.h"
#include "vmm/hw/pci.h"

static struct msix *the_msix;

static void bar_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	(void)opaque;
	(void)off;
	if (!is_write)
		memset(data, 0, len);
}

static void on_cfg(struct pci_function *f, uint32_t off, uint32_t len, bool is_write)
{
	(void)f;
	if (is_write)
		msix_cfg_written(the_msix, off, len);
}

static void check_bars(struct bus *mmio, struct pci_function *f)
{
	for (unsigned i = 0; i < PCI_NUM_BARS; i++) {
		struct pci_bar *b = &f->bar[i];
		struct bus_region r;
		if (!b->size || !b->mapped)
			continue;
		if (!bus_find(mmio, b->mapped_at, &r) || r.base != b->mapped_at || r.len != b->size)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct bus mmio;
	static struct pci_host host;
	static struct pci_function f;
	static struct msix m;
	mc_err err = NULL;
	if (bus_init(&mmio, "mmio", &err) < 0)
		abort();
	memset(&host, 0, sizeof(host));
	pci_host_init(&host, &mmio);
	pci_function_init(&f, "fuzz", 0x1af4, 0x1042, 0x010000, 1, 0x1af4, 0x1100);
	uint8_t body[14] = {16, 1};
	uint8_t at;
	the_msix = &m;
	f.on_cfg = on_cfg;
	if (pci_function_add_bar(&f, 0, 0x8000, PCI_BAR_MEM64, bar_io, NULL, &err) < 0 ||
	    pci_function_add_bar(&f, 2, 0x1000, PCI_BAR_MEM32, bar_io, NULL, &err) < 0 ||
	    pci_function_add_cap(&f, PCI_CAP_ID_VNDR, body, sizeof(body), &at, &err) < 0 ||
	    msix_init(&m, &f, 4, 0, 0x4000, 0x5000, NULL, &err) < 0 ||
	    pci_register_function(&host, &f, &err) < 0)
		abort();
	struct msix_src src = {.fd = -1};

	for (size_t i = 0; i + 8 <= size; i += 8) {
		const uint8_t *rec = data + i;
		bool wr = rec[0] & 8;
		uint32_t len = 1u << ((rec[0] >> 4) & 3);
		uint32_t off = rec[1] | rec[2] << 8 | (uint32_t)rec[3] << 16;
		uint8_t buf[8];
		put32(buf, get32(rec + 4));
		put32(buf + 4, get32(rec + 4));
		switch (rec[0] & 7) {
		case 0:
			pci_conf1_io(&host, off & 7, buf, len > 4 ? 4 : len, wr);
			break;
		case 1:
			pci_ecam_io(&host, off, buf, len, wr);
			break;
		case 2:
			pci_host_cfg_access(&host, 0, 8, off & 0xfff, buf, len, wr);
			break;
		case 3:
			msix_table_io(&m, off, buf, len, wr);
			break;
		case 4:
			msix_pba_io(&m, off, buf, len, wr);
			break;
		case 5:
			msix_notify(&m, &src, (uint16_t)off);
			break;
		case 6:
			/* no KVM: the fd stays -1, a notify's write to it fails harmlessly */
			msix_bind(&m, &src, (uint16_t)off);
			break;
		case 7: {
			struct state_w w = {0};
			pci_function_save(&f, &w);
			msix_save(&m, &w);
			if (w.oom)
				abort();
			struct state_r r;
			state_r_init(&r, w.p, w.len - (off % 4 == 0 ? (off >> 2) % w.len : 0));
			if (pci_function_load(&f, &r, &err) == 0)
				(void)msix_load(&m, &r, &err);
			mc_error_free(&err);
			state_w_free(&w);
			break;
		}
		}
		check_bars(&mmio, &f);
	}
	msix_bind(&m, &src, MSIX_NO_VECTOR);
	pci_unregister_function(&host, &f);
	msix_fini(&m);
	pci_host_fini(&host);
	bus_destroy(&mmio);
	return 0;
}
