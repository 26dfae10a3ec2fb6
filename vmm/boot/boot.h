/* Loading a kernel into the VM: detect bzImage or ELF (PVH), place the kernel, command line,
 * initrd and ACPI tables, write the boot GDT and page tables and set vm->entry. */
#ifndef MINIVM_BOOT_H
#define MINIVM_BOOT_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "vm.h"

/* Lean by default: every console byte is a VM exit, PCI probing finds nothing. */
#define BOOT_DEFAULT_CMDLINE "console=ttyS0 quiet panic=-1 pci=off no_timer_check"
#define BOOT_KERNEL_MAX	     (1ull << 30)

struct boot_config {
	const char *kernel;
	const char *initrd;  /* NULL: none */
	const char *cmdline; /* NULL: BOOT_DEFAULT_CMDLINE */
	char **args;	     /* passed to the guest's init after ` -- `; NULL or empty: none */
	size_t nargs;
};

/* base + " -- " + args (double-quoted when they hold spaces) into out (max bytes without the
 * NUL). Fails on a too-long result or an argument the kernel could not pass (a `"`). */
int boot_build_cmdline(const char *base, char **args, size_t nargs, char *out, size_t max,
		       mc_err *err);

/* Highest page-aligned address for an initrd of size bytes that ends at or below limit and
 * starts at or above floor; fails when it does not fit. */
int boot_place_initrd(uint64_t size, uint64_t floor, uint64_t limit, uint64_t *addr);

int boot_load(struct vm *vm, const struct boot_config *bc, mc_err *err);

#endif
