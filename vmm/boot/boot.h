/* Loading a kernel into the VM: detect bzImage or ELF (PVH), place the kernel, command line,
 * initrd and ACPI tables, write the boot GDT and page tables and set vm->entry. */
#ifndef MINIVM_BOOT_H
#define MINIVM_BOOT_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "vm.h"

/* Lean by default: every console byte is a VM exit. PCI stays on (virtio devices are PCI
 * functions); enumerating bus 0 costs little (docs/boot.md). */
#define BOOT_DEFAULT_CMDLINE "console=ttyS0 quiet panic=-1 no_timer_check"
#define BOOT_KERNEL_MAX	     (1ull << 30)

struct boot_config {
	const char *kernel;
	const char *initrd;  /* NULL: none */
	const char *cmdline; /* NULL: BOOT_DEFAULT_CMDLINE */
	/* The guest command and its environment (K=V): handed to guestinit in a small cpio
	 * archive appended to the initrd (cpio.h), never on the kernel command line. With
	 * neither, nothing is appended and guestinit runs /bin/sh. They need an initrd. */
	char **args;
	size_t nargs;
	char **env;
	size_t nenv;
};

/* The kernel command line (kernel parameters only) into out (max bytes without the NUL).
 * Fails when it is too long. */
int boot_build_cmdline(const char *base, char *out, size_t max, mc_err *err);

/* Highest page-aligned address for an initrd of size bytes that ends at or below limit and
 * starts at or above floor; fails when it does not fit. */
int boot_place_initrd(uint64_t size, uint64_t floor, uint64_t limit, uint64_t *addr);

int boot_load(struct vm *vm, const struct boot_config *bc, mc_err *err);

#endif
