/* PCI: a host bridge for bus 0 ("pci-host", docs/virtio.md "The transport") and the config
 * space of the functions on it.
 *
 * The guest reaches config space two ways, both served here: ECAM (MMIO at PCI_ECAM_ADDR,
 * described by the MCFG table, reserved by a PNP0C02 device in the DSDT) and the legacy
 * conf1 ports 0xcf8/0xcfc (Linux probes them first and uses them for the first 256 bytes).
 * The DSDT gets \_SB.PCI0 (PNP0A08, _CID PNP0A03, _SEG 0, _BBN 0) whose _CRS gives bus 0 and
 * the 32-bit window [PCI_MMIO_START, PCI_MMIO_END) where BARs live. There is no _PRT and no
 * INTx: functions interrupt by MSI-X only (msix.h).
 *
 * A function (struct pci_function, embedded in its owner) is a 256-byte config space with a
 * write mask, up to six BARs and a capability list. pci_register_function() puts it in the
 * next free slot and, as firmware would, gives each BAR an address in the window and enables
 * memory decoding. The guest may then size BARs (all ones reads back the size mask), move
 * them and turn decoding off and on: a BAR is on vm->mmio exactly while decoding is on and
 * its address is valid (bus_add/bus_move/bus_remove; the bus allows that while vCPUs run),
 * and the owner hears about each change through on_bar (to move its ioeventfds).
 *
 * Every config access holds the host's lock; hooks are called with it held. Function owners'
 * BAR handlers never take it (they run without it on vCPU threads), so the order is always
 * host lock -> owner's locks.
 */
#ifndef MINIVM_PCI_H
#define MINIVM_PCI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "bus.h"
#include "device.h"
#include "error.h"
#include "state.h"

#define PCI_CFG_SIZE  256
#define PCI_MAX_SLOTS 32
#define PCI_NUM_BARS  6

/* Config space registers (type 0 header) */
#define PCI_VENDOR_ID	     0x00
#define PCI_DEVICE_ID	     0x02
#define PCI_COMMAND	     0x04
#define PCI_STATUS	     0x06
#define PCI_REVISION_ID	     0x08
#define PCI_CLASS_PROG	     0x09
#define PCI_HEADER_TYPE	     0x0e
#define PCI_BAR0	     0x10
#define PCI_SUBSYS_VENDOR    0x2c
#define PCI_SUBSYS_ID	     0x2e
#define PCI_ROM_ADDRESS	     0x30
#define PCI_CAP_PTR	     0x34
#define PCI_INTERRUPT_LINE   0x3c
#define PCI_INTERRUPT_PIN    0x3d
#define PCI_CAP_START	     0x40
#define PCI_COMMAND_IO	     0x0001
#define PCI_COMMAND_MEMORY   0x0002
#define PCI_COMMAND_MASTER   0x0004
#define PCI_COMMAND_INTX_OFF 0x0400
#define PCI_STATUS_CAP_LIST  0x0010
#define PCI_CAP_ID_VNDR	     0x09
#define PCI_CAP_ID_MSIX	     0x11

/* BAR flags (the low bits of the register) */
#define PCI_BAR_MEM32	 0x0u
#define PCI_BAR_MEM64	 0x4u
#define PCI_BAR_PREFETCH 0x8u

/* The host bridge at 00:00.0: Red Hat's id for a generic virtual PCIe host bridge. */
#define PCI_HOST_VENDOR 0x1b36
#define PCI_HOST_DEVICE 0x0008

struct hw_config;
struct vm;
struct pci_function;
struct pci_host;

struct pci_bar {
	uint64_t size;	  /* a power of two >= 16; 0: not implemented */
	unsigned flags;	  /* PCI_BAR_MEM64, PCI_BAR_PREFETCH */
	io_handler_fn fn; /* the region's handler on vm->mmio (offset inside the BAR) */
	void *opaque;
	uint64_t mapped_at; /* where it is on the bus */
	bool mapped;
};

struct pci_function {
	const char *name;
	uint8_t cfg[PCI_CFG_SIZE];
	uint8_t wmask[PCI_CFG_SIZE]; /* bits the guest may change */
	struct pci_bar bar[PCI_NUM_BARS];
	uint8_t cap_next; /* where the next capability goes */
	uint8_t cap_last; /* the last capability's offset (0: none yet) */
	/* A config access touched [off, off + len): for reads before the bytes are copied out
	 * (refresh them), for writes after the masked bytes are in cfg. NULL: none. */
	void (*on_cfg)(struct pci_function *f, uint32_t off, uint32_t len, bool is_write);
	/* BAR bar is now on the bus at addr (mapped) or off it. NULL: none. */
	void (*on_bar)(struct pci_function *f, unsigned bar, uint64_t addr, bool mapped);
	void *opaque;
	/* Set by pci_register_function(). */
	struct pci_host *host;
	unsigned slot;
};

struct pci_host {
	struct device dev;
	struct device_ops ops;
	pthread_mutex_t lock;
	struct bus *mmio; /* where BARs go (vm->mmio; a test's own bus) */
	uint32_t conf1;	  /* the address latch at 0xcf8 */
	struct pci_function bridge;
	struct pci_function *slots[PCI_MAX_SLOTS];
	uint64_t next_bar; /* the next free address in the window, for BAR placement */
	bool ecam_on, conf1_on;
	bool conf1_coalesced; /* 0xcf8's writes queued by KVM (coalesced.h) until the VM goes */
};

/* ---- Functions ----------------------------------------------------------------------- */
/* A type 0 header: ids, class (base << 16 | sub << 8 | prog-if), revision, subsystem ids; no
 * INTx (pin 0), command writable (I/O, memory, bus master, INTx disable). */
void pci_function_init(struct pci_function *f, const char *name, uint16_t vendor, uint16_t device,
		       uint32_t class_code, uint8_t revision, uint16_t subsys_vendor,
		       uint16_t subsys_id);
/* A memory BAR (idx, and idx + 1 for PCI_BAR_MEM64) of size bytes (a power of two >= 16),
 * handled by fn. Before pci_register_function(). */
int pci_function_add_bar(struct pci_function *f, unsigned idx, uint64_t size, unsigned flags,
			 io_handler_fn fn, void *opaque, mc_err *err);
/* Append a capability: id, then body (len bytes after the id and next pointer); *off gets its
 * offset in config space (dword aligned). Fails when config space is full. */
int pci_function_add_cap(struct pci_function *f, uint8_t id, const void *body, uint32_t len,
			 uint8_t *off, mc_err *err);
/* Make bytes [off, off + len) of config space writable with mask (NULL: every bit). */
void pci_function_set_wmask(struct pci_function *f, uint32_t off, uint32_t len,
			    const uint8_t *mask);
/* One config access (len 1, 2 or 4, naturally aligned; anything else reads all ones and is
 * ignored): what conf1 and ECAM call, with the host's lock held. Public for the tests. */
void pci_function_cfg_access(struct pci_function *f, uint32_t off, uint8_t *data, uint32_t len,
			     bool is_write);
/* The BAR's current address as programmed (whether mapped or not). */
uint64_t pci_function_bar_addr(const struct pci_function *f, unsigned idx);
/* Config space (BAR registers included) to the stream and back; load moves the BARs to where
 * the saved registers say. Call with the function registered, VM paused. */
void pci_function_save(const struct pci_function *f, struct state_w *w);
int pci_function_load(struct pci_function *f, struct state_r *r, mc_err *err);

/* ---- The host ------------------------------------------------------------------------ */
/* The pci-host device (constructor for hw/devices.c's table: before any PCI function). */
struct device *pci_host_create(const struct hw_config *cfg, mc_err *err);
/* The VM's host bridge (NULL when the table has none). */
struct pci_host *pci_host_of(struct vm *vm);
/* Set up a host without a VM (tests): its BARs go on mmio; no ECAM/conf1 regions claimed. */
void pci_host_init(struct pci_host *h, struct bus *mmio);
void pci_host_fini(struct pci_host *h);
/* Put f in the next free slot, place its BARs and map them (memory decoding on). */
int pci_register_function(struct pci_host *h, struct pci_function *f, mc_err *err);
/* Take f off the bus (its BARs too). The caller calls bus_synchronize() before freeing it. */
void pci_unregister_function(struct pci_host *h, struct pci_function *f);
/* Config access by bus/device/function (ECAM and conf1 end here; tests call it too). */
void pci_host_cfg_access(struct pci_host *h, uint32_t bus, uint32_t devfn, uint32_t off,
			 uint8_t *data, uint32_t len, bool is_write);
/* The handlers claimed on the buses (public for the tests). */
void pci_ecam_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write);
void pci_conf1_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write);
/* The DSDT fragment: \_SB.PCI0 and the PNP0C02 device reserving ECAM. */
size_t pci_host_aml(uint8_t *buf, size_t max);

#endif
