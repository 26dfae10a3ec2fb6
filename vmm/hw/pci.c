/* The PCI host bridge and the functions' config space (pci.h). */
#include "pci.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "coalesced.h"
#include "hw.h"
#include "layout.h"
#include "log.h"
#include "vm.h"

#define PCI_HOST_STATE_VERSION 1

static bool overlaps(uint32_t off, uint32_t len, uint32_t start, uint32_t n)
{
	return off < start + n && start < off + len;
}

void pci_function_init(struct pci_function *f, const char *name, uint16_t vendor, uint16_t device,
		       uint32_t class_code, uint8_t revision, uint16_t subsys_vendor,
		       uint16_t subsys_id)
{
	memset(f, 0, sizeof(*f));
	f->name = name;
	put16(f->cfg + PCI_VENDOR_ID, vendor);
	put16(f->cfg + PCI_DEVICE_ID, device);
	f->cfg[PCI_REVISION_ID] = revision;
	f->cfg[PCI_CLASS_PROG] = (uint8_t)class_code;
	f->cfg[PCI_CLASS_PROG + 1] = (uint8_t)(class_code >> 8);
	f->cfg[PCI_CLASS_PROG + 2] = (uint8_t)(class_code >> 16);
	put16(f->cfg + PCI_SUBSYS_VENDOR, subsys_vendor);
	put16(f->cfg + PCI_SUBSYS_ID, subsys_id);
	uint16_t cmd =
	    PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_OFF;
	put16(f->wmask + PCI_COMMAND, cmd);
	f->wmask[PCI_INTERRUPT_LINE] = 0xff;
	f->cap_next = PCI_CAP_START;
}

int pci_function_add_bar(struct pci_function *f, unsigned idx, uint64_t size, unsigned flags,
			 io_handler_fn fn, void *opaque, mc_err *err)
{
	bool is64 = flags & PCI_BAR_MEM64;
	if (idx >= PCI_NUM_BARS || (is64 && idx + 1 >= PCI_NUM_BARS) || f->bar[idx].size ||
	    (idx > 0 && (f->bar[idx - 1].flags & PCI_BAR_MEM64)))
		return mc_errorf(err, 0, "%s: BAR %u taken or out of range", f->name, idx);
	if (size < 16 || (size & (size - 1)) || (!is64 && size > 0x80000000ull))
		return mc_errorf(err, 0, "%s: BAR %u size %#llx", f->name, idx,
				 (unsigned long long)size);
	f->bar[idx] = (struct pci_bar){.size = size, .flags = flags, .fn = fn, .opaque = opaque};
	uint32_t off = PCI_BAR0 + 4 * idx;
	put32(f->cfg + off, flags & (PCI_BAR_MEM64 | PCI_BAR_PREFETCH));
	put32(f->wmask + off, (uint32_t) ~(size - 1) & ~0xfu);
	if (is64)
		put32(f->wmask + off + 4, (uint32_t)(~(size - 1) >> 32));
	return 0;
}

int pci_function_add_cap(struct pci_function *f, uint8_t id, const void *body, uint32_t len,
			 uint8_t *off, mc_err *err)
{
	uint32_t at = f->cap_next;
	if (at + 2 + len > PCI_CFG_SIZE)
		return mc_errorf(err, 0, "%s: no room for capability %#x in config space", f->name,
				 id);
	f->cfg[at] = id;
	f->cfg[at + 1] = 0;
	memcpy(f->cfg + at + 2, body, len);
	if (f->cap_last)
		f->cfg[f->cap_last + 1] = (uint8_t)at;
	else
		f->cfg[PCI_CAP_PTR] = (uint8_t)at;
	put16(f->cfg + PCI_STATUS, get16(f->cfg + PCI_STATUS) | PCI_STATUS_CAP_LIST);
	f->cap_last = (uint8_t)at;
	f->cap_next = (uint8_t)((at + 2 + len + 3) & ~3u);
	if (at + 2 + len + 3 >= PCI_CFG_SIZE)
		f->cap_next = 0xfc; /* full: the next add fails */
	*off = (uint8_t)at;
	return 0;
}

void pci_function_set_wmask(struct pci_function *f, uint32_t off, uint32_t len, const uint8_t *mask)
{
	for (uint32_t i = 0; i < len && off + i < PCI_CFG_SIZE; i++)
		f->wmask[off + i] = mask ? mask[i] : 0xff;
}

uint64_t pci_function_bar_addr(const struct pci_function *f, unsigned idx)
{
	uint64_t a = get32(f->cfg + PCI_BAR0 + 4 * idx) & ~0xfull;
	if (f->bar[idx].flags & PCI_BAR_MEM64)
		a |= (uint64_t)get32(f->cfg + PCI_BAR0 + 4 * idx + 4) << 32;
	return a;
}

/* Put each BAR where its register says while memory decoding is on, take it off otherwise. */
static void update_bars(struct pci_function *f)
{
	if (!f->host)
		return;
	struct bus *mmio = f->host->mmio;
	bool decode = get16(f->cfg + PCI_COMMAND) & PCI_COMMAND_MEMORY;
	for (unsigned i = 0; i < PCI_NUM_BARS; i++) {
		struct pci_bar *b = &f->bar[i];
		if (!b->size)
			continue;
		uint64_t a = pci_function_bar_addr(f, i);
		/* 0 is never a placed BAR; an address whose end wraps is a sizing leftover */
		bool want = decode && a != 0 && a + b->size > a;
		if (b->mapped && want && b->mapped_at == a)
			continue;
		if (!b->mapped && !want)
			continue;
		mc_err err = NULL;
		if (b->mapped && want) {
			if (bus_move(mmio, b->mapped_at, a, &err) < 0) {
				bus_remove(mmio, b->mapped_at, NULL);
				b->mapped = false;
			} else
				b->mapped_at = a;
		} else if (b->mapped) {
			bus_remove(mmio, b->mapped_at, NULL);
			b->mapped = false;
		} else if (bus_add(mmio, a, b->size, b->fn, b->opaque, f->name, &err) == 0) {
			b->mapped = true;
			b->mapped_at = a;
		}
		if (err) {
			/* the guest put it over something else: it stays off the bus */
			mc_log_debug("%s: BAR %u at %#llx: %s", f->name, i, (unsigned long long)a,
				     err->msg);
			mc_error_free(&err);
		}
		if (f->on_bar)
			f->on_bar(f, i, b->mapped_at, b->mapped);
	}
}

void pci_function_cfg_access(struct pci_function *f, uint32_t off, uint8_t *data, uint32_t len,
			     bool is_write)
{
	if ((len != 1 && len != 2 && len != 4) || off % len || off + len > PCI_CFG_SIZE) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	if (!is_write) {
		if (f->on_cfg)
			f->on_cfg(f, off, len, false);
		memcpy(data, f->cfg + off, len);
		return;
	}
	for (uint32_t i = 0; i < len; i++) {
		uint8_t m = f->wmask[off + i];
		f->cfg[off + i] = (uint8_t)((f->cfg[off + i] & ~m) | (data[i] & m));
	}
	if (overlaps(off, len, PCI_COMMAND, 2) || overlaps(off, len, PCI_BAR0, 4 * PCI_NUM_BARS))
		update_bars(f);
	if (f->on_cfg)
		f->on_cfg(f, off, len, true);
}

void pci_function_save(const struct pci_function *f, struct state_w *w)
{
	state_put(w, f->cfg, PCI_CFG_SIZE);
}

int pci_function_load(struct pci_function *f, struct state_r *r, mc_err *err)
{
	const uint8_t *p = state_get(r, PCI_CFG_SIZE);
	if (!p)
		return mc_errorf(err, 0, "%s: PCI config space cut short", f->name);
	struct pci_host *h = f->host;
	if (h)
		pthread_mutex_lock(&h->lock);
	/* only what the guest could have written: ids, BAR types and the capability chain stay
	 * this build's */
	for (unsigned i = 0; i < PCI_CFG_SIZE; i++)
		f->cfg[i] = (uint8_t)((f->cfg[i] & ~f->wmask[i]) | (p[i] & f->wmask[i]));
	update_bars(f);
	if (h)
		pthread_mutex_unlock(&h->lock);
	return 0;
}

/* ---- The host ------------------------------------------------------------------------ */

void pci_host_init(struct pci_host *h, struct bus *mmio)
{
	pthread_mutex_init(&h->lock, NULL);
	h->mmio = mmio;
	h->next_bar = PCI_MMIO_START;
	pci_function_init(&h->bridge, "pci-host", PCI_HOST_VENDOR, PCI_HOST_DEVICE, 0x060000, 0,
			  PCI_HOST_VENDOR, 0x1100);
	h->bridge.host = h;
	h->slots[0] = &h->bridge;
}

void pci_host_fini(struct pci_host *h)
{
	pthread_mutex_destroy(&h->lock);
}

int pci_register_function(struct pci_host *h, struct pci_function *f, mc_err *err)
{
	pthread_mutex_lock(&h->lock);
	unsigned slot = 1;
	while (slot < PCI_MAX_SLOTS && h->slots[slot])
		slot++;
	uint64_t next = h->next_bar;
	int r = 0;
	if (slot == PCI_MAX_SLOTS) {
		r = mc_errorf(err, 0, "%s: all %d PCI slots taken", f->name, PCI_MAX_SLOTS);
		goto out;
	}
	/* as firmware would: each BAR at the next address aligned to its size */
	for (unsigned i = 0; i < PCI_NUM_BARS; i++) {
		struct pci_bar *b = &f->bar[i];
		if (!b->size)
			continue;
		uint64_t a = (next + b->size - 1) & ~(b->size - 1);
		if (a + b->size > PCI_MMIO_END) {
			r = mc_errorf(err, 0,
				      "%s: BAR %u (%llu KiB) does not fit in the PCI window",
				      f->name, i, (unsigned long long)(b->size >> 10));
			goto out;
		}
		uint32_t off = PCI_BAR0 + 4 * i;
		put32(f->cfg + off, (uint32_t)a | (get32(f->cfg + off) & 0xfu));
		if (b->flags & PCI_BAR_MEM64)
			put32(f->cfg + off + 4, (uint32_t)(a >> 32));
		next = a + b->size;
	}
	h->next_bar = next;
	f->host = h;
	f->slot = slot;
	put16(f->cfg + PCI_COMMAND, get16(f->cfg + PCI_COMMAND) | PCI_COMMAND_MEMORY);
	update_bars(f);
	for (unsigned i = 0; i < PCI_NUM_BARS; i++)
		if (f->bar[i].size && !f->bar[i].mapped) {
			r = mc_errorf(err, 0, "%s: BAR %u at %#llx overlaps another region",
				      f->name, i, (unsigned long long)pci_function_bar_addr(f, i));
			for (unsigned j = 0; j < PCI_NUM_BARS; j++)
				if (f->bar[j].mapped) {
					bus_remove(h->mmio, f->bar[j].mapped_at, NULL);
					f->bar[j].mapped = false;
				}
			f->host = NULL;
			goto out;
		}
	h->slots[slot] = f;
	mc_log_debug("pci: 00:%02x.0 %s", slot, f->name);
out:
	pthread_mutex_unlock(&h->lock);
	return r;
}

void pci_unregister_function(struct pci_host *h, struct pci_function *f)
{
	pthread_mutex_lock(&h->lock);
	if (f->host == h && h->slots[f->slot] == f) {
		h->slots[f->slot] = NULL;
		for (unsigned i = 0; i < PCI_NUM_BARS; i++)
			if (f->bar[i].mapped) {
				bus_remove(h->mmio, f->bar[i].mapped_at, NULL);
				f->bar[i].mapped = false;
			}
		f->host = NULL;
	}
	pthread_mutex_unlock(&h->lock);
}

void pci_host_cfg_access(struct pci_host *h, uint32_t bus, uint32_t devfn, uint32_t off,
			 uint8_t *data, uint32_t len, bool is_write)
{
	pthread_mutex_lock(&h->lock);
	struct pci_function *f = NULL;
	/* bus 0, function 0 of each slot: nothing is multi-function */
	if (bus == 0 && devfn < 8 * PCI_MAX_SLOTS && devfn % 8 == 0)
		f = h->slots[devfn / 8];
	if (!f) {
		if (!is_write)
			memset(data, 0xff, len);
	} else if (off >= PCI_CFG_SIZE && off < 4096) {
		if (!is_write) /* extended config space: no extended capabilities */
			memset(data, 0, len);
	} else
		pci_function_cfg_access(f, off, data, len, is_write);
	pthread_mutex_unlock(&h->lock);
}

void pci_ecam_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct pci_host *h = opaque;
	if (off >= PCI_ECAM_SIZE) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	pci_host_cfg_access(h, (uint32_t)(off >> 20), (uint32_t)(off >> 12) & 0xff,
			    (uint32_t)off & 0xfff, data, len, is_write);
}

/* 0xcf8: the address (dword accesses only; bit 31 enable, bits 27-24 the register's bits 11-8
 * (AMD's extended config access, which Linux uses on AMD CPUs), bus 23-16, devfn 15-8,
 * register 7-2); 0xcfc-0xcff: the data at that register plus the port's offset. */
void pci_conf1_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct pci_host *h = opaque;
	if (off < 4) {
		if (off != 0 || len != 4) {
			if (!is_write) /* Linux's type 2 probe pokes 0xcfb: nothing there */
				memset(data, 0xff, len);
			return;
		}
		pthread_mutex_lock(&h->lock);
		if (is_write)
			h->conf1 = get32(data) & 0x8ffffffcu;
		else
			put32(data, h->conf1);
		pthread_mutex_unlock(&h->lock);
		return;
	}
	pthread_mutex_lock(&h->lock);
	uint32_t a = h->conf1;
	pthread_mutex_unlock(&h->lock);
	if (!(a & 0x80000000u) || off + len > 8) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	uint32_t reg = (a & 0xfc) | ((a >> 16) & 0xf00);
	pci_host_cfg_access(h, (a >> 16) & 0xff, (a >> 8) & 0xff, reg + (uint32_t)(off - 4), data,
			    len, is_write);
}

/* ---- The DSDT fragment ----------------------------------------------------------------- */

struct aml {
	uint8_t b[512];
	size_t n;
};

static void emit(struct aml *a, const void *p, size_t n)
{
	if (a->n + n <= sizeof(a->b))
		memcpy(a->b + a->n, p, n);
	a->n += n;
}

/* op (1 or 2 bytes), PkgLength, body (the PkgLength counts itself and the body) */
static void emit_pkg(struct aml *a, const uint8_t *op, size_t op_len, const struct aml *body)
{
	emit(a, op, op_len);
	size_t total = body->n + 1;
	if (total < 64) {
		uint8_t l = (uint8_t)total;
		emit(a, &l, 1);
	} else {
		total = body->n + 2; /* two bytes: up to 4095 */
		uint8_t l[2] = {(uint8_t)(0x40 | (total & 0xf)), (uint8_t)(total >> 4)};
		emit(a, l, 2);
	}
	emit(a, body->b, body->n);
}

/* Name (NAME, EisaId (...)): the id already compressed, as its four bytes */
static void name_eisa(struct aml *a, const char *name, const uint8_t id[4])
{
	emit(a, "\x08", 1);
	emit(a, name, 4);
	emit(a, "\x0c", 1);
	emit(a, id, 4);
}

static void name_byte(struct aml *a, const char *name, uint8_t v)
{
	emit(a, "\x08", 1);
	emit(a, name, 4);
	if (v == 0 || v == 1) {
		emit(a, v ? "\x01" : "\x00", 1); /* One, Zero */
	} else {
		uint8_t b[2] = {0x0a, v};
		emit(a, b, 2);
	}
}

/* Name (_CRS, ResourceTemplate () {...}): the descriptors, then the end tag */
static void name_crs(struct aml *a, const uint8_t *res, size_t n)
{
	struct aml buf = {.n = 0};
	uint8_t size[2] = {0x0a, (uint8_t)(n + 2)}; /* BufferSize (ByteConst) */
	emit(&buf, size, 2);
	emit(&buf, res, n);
	emit(&buf, "\x79\x00", 2);
	emit(a, "\x08_CRS", 5);
	emit_pkg(a, (const uint8_t *)"\x11", 1, &buf);
}

size_t pci_host_aml(uint8_t *buf, size_t max)
{
	static const uint8_t pnp0a08[4] = {0x41, 0xd0, 0x0a, 0x08};
	static const uint8_t pnp0a03[4] = {0x41, 0xd0, 0x0a, 0x03};
	static const uint8_t pnp0c02[4] = {0x41, 0xd0, 0x0c, 0x02};
	static const uint8_t device_op[2] = {0x5b, 0x82};
	struct aml out = {.n = 0}, dev = {.n = 0};
	uint8_t res[64];
	size_t n = 0;

	/* Device (\_SB.PCI0): the root bridge of segment 0, bus 0 */
	emit(&dev, "\\\x2e_SB_PCI0", 10);
	name_eisa(&dev, "_HID", pnp0a08);
	name_eisa(&dev, "_CID", pnp0a03);
	name_byte(&dev, "_SEG", 0);
	name_byte(&dev, "_BBN", 0);
	name_byte(&dev, "_UID", 0);
	/* WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode, 0, 0, 0, 0, 1) */
	static const uint8_t busnum[16] = {0x88, 13, 0, 2, 0x0c, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0};
	memcpy(res + n, busnum, sizeof(busnum));
	n += sizeof(busnum);
	/* IO (Decode16, 0xcf8, 0xcf8, 1, 8): conf1, consumed by the bridge itself */
	uint8_t io[8] = {0x47, 1, 0, 0, 0, 0, 1, 8};
	put16(io + 2, PCI_CONF1_PORT);
	put16(io + 4, PCI_CONF1_PORT);
	memcpy(res + n, io, sizeof(io));
	n += sizeof(io);
	/* DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite,
	 * 0, PCI_MMIO_START, PCI_MMIO_END - 1, 0, PCI_MMIO_END - PCI_MMIO_START): BARs go here */
	uint8_t mem[26] = {0x87, 23, 0, 0, 0x0c, 0x01};
	put32(mem + 6, 0);
	put32(mem + 10, (uint32_t)PCI_MMIO_START);
	put32(mem + 14, (uint32_t)(PCI_MMIO_END - 1));
	put32(mem + 18, 0);
	put32(mem + 22, (uint32_t)(PCI_MMIO_END - PCI_MMIO_START));
	memcpy(res + n, mem, sizeof(mem));
	n += sizeof(mem);
	name_crs(&dev, res, n);
	emit_pkg(&out, device_op, 2, &dev);

	/* Device (\_SB.PRES): motherboard resources, so Linux trusts the MCFG's ECAM range */
	dev.n = 0;
	emit(&dev, "\\\x2e_SB_PRES", 10);
	name_eisa(&dev, "_HID", pnp0c02);
	name_byte(&dev, "_UID", 1);
	/* Memory32Fixed (ReadWrite, PCI_ECAM_ADDR, PCI_ECAM_SIZE) */
	uint8_t ecam[12] = {0x86, 9, 0, 1};
	put32(ecam + 4, (uint32_t)PCI_ECAM_ADDR);
	put32(ecam + 8, (uint32_t)PCI_ECAM_SIZE);
	name_crs(&dev, ecam, sizeof(ecam));
	emit_pkg(&out, device_op, 2, &dev);

	if (buf && out.n <= max && out.n <= sizeof(out.b))
		memcpy(buf, out.b, out.n);
	return out.n;
}

/* ---- The device ------------------------------------------------------------------------ */

static int pci_host_realize(struct device *d, struct vm *vm, mc_err *err)
{
	struct pci_host *h = (struct pci_host *)d;
	h->mmio = &vm->mmio;
	if (bus_add(&vm->mmio, PCI_ECAM_ADDR, PCI_ECAM_SIZE, pci_ecam_io, h, "pci-ecam", err) < 0)
		return -1;
	h->ecam_on = true;
	if (bus_add(&vm->pio, PCI_CONF1_PORT, 8, pci_conf1_io, h, "pci-conf1", err) < 0)
		return -1;
	h->conf1_on = true;
	/* the address register's writes exit with the next data access, not each on its own
	 * (a config access through conf1: one exit to us instead of two) */
	mc_err cerr = NULL;
	int c = coalesced_add(vm, PCI_CONF1_PORT, 4, true, &cerr);
	if (c < 0) { /* they exit one by one, as without the capability */
		mc_log_warn("pci-host: %s", mc_error_text(cerr));
		mc_error_free(&cerr);
	}
	h->conf1_coalesced = c > 0;
	return 0;
}

static void pci_host_save(struct device *d, struct state_w *w)
{
	struct pci_host *h = (struct pci_host *)d;
	pthread_mutex_lock(&h->lock);
	state_put32(w, h->conf1);
	pci_function_save(&h->bridge, w);
	pthread_mutex_unlock(&h->lock);
}

static int pci_host_load(struct device *d, uint32_t version, struct state_r *r, mc_err *err)
{
	struct pci_host *h = (struct pci_host *)d;
	(void)version;
	uint32_t conf1 = state_get32(r);
	if (pci_function_load(&h->bridge, r, err) < 0)
		return -1;
	pthread_mutex_lock(&h->lock);
	h->conf1 = conf1 & 0x8ffffffcu;
	pthread_mutex_unlock(&h->lock);
	return 0;
}

static size_t pci_host_acpi_aml(struct device *d, uint8_t *buf, size_t max)
{
	(void)d;
	return pci_host_aml(buf, max);
}

static void pci_host_destroy(struct device *d)
{
	struct pci_host *h = (struct pci_host *)d;
	if (h->ecam_on) {
		bus_remove(&d->vm->mmio, PCI_ECAM_ADDR, NULL);
		bus_synchronize(&d->vm->mmio);
	}
	if (h->conf1_on) {
		bus_remove(&d->vm->pio, PCI_CONF1_PORT, NULL);
		bus_synchronize(&d->vm->pio);
	}
	pci_host_fini(h);
	free(h);
}

struct device *pci_host_create(const struct hw_config *cfg, mc_err *err)
{
	(void)cfg;
	struct pci_host *h = calloc(1, sizeof(*h));
	if (!h) {
		mc_errorf(err, ENOMEM, "PCI host bridge");
		return NULL;
	}
	pci_host_init(h, NULL);
	h->ops = (struct device_ops){.realize = pci_host_realize,
				     .save = pci_host_save,
				     .load = pci_host_load,
				     .acpi_aml = pci_host_acpi_aml,
				     .destroy = pci_host_destroy};
	h->dev = (struct device){.name = "pci-host",
				 .ops = &h->ops,
				 .state_version = PCI_HOST_STATE_VERSION,
				 .state_min_version = PCI_HOST_STATE_VERSION};
	return &h->dev;
}

struct pci_host *pci_host_of(struct vm *vm)
{
	return (struct pci_host *)devices_find(&vm->devices, "pci-host");
}
