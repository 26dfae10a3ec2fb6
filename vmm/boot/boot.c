#include "boot.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acpi.h"
#include "bytes.h"
#include "bzimage.h"
#include "cleanup.h"
#include "cpio.h"
#include "hw/pci.h"
#include "kver.h"
#include "layout.h"
#include "log.h"
#include "pvh.h"
#include "util.h"

#define PVH_CMDLINE_MAX 2047 /* x86 COMMAND_LINE_SIZE - 1 */

int boot_build_cmdline(const char *base, char *out, size_t max, mc_err *err)
{
	size_t n = strlen(base);
	if (n > max)
		return mc_errorf(err, 0, "kernel command line longer than %zu bytes", max);
	memcpy(out, base, n + 1);
	return 0;
}

int boot_place_initrd(uint64_t size, uint64_t floor, uint64_t limit, uint64_t *addr)
{
	if (size > limit)
		return -1;
	uint64_t a = (limit - size) & ~0xfffull;
	if (a < floor)
		return -1;
	*addr = a;
	return 0;
}

/* The initrd, then (when extra is not empty) the argument archive right after it, 4-byte
 * aligned as the kernel wants each cpio header: one initrd region covering both. */
static int load_initrd(struct vm *vm, const char *path, const struct cpio *extra, uint64_t floor,
		       uint64_t limit, uint64_t *addr, uint64_t *size, mc_err *err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return mc_errorf(err, errno, "initrd: open `%s`", path);
	struct stat st;
	if (fstat(fd, &st) < 0)
		return mc_errorf(err, errno, "initrd: stat `%s`", path);
	if (!S_ISREG(st.st_mode))
		return mc_errorf(err, 0, "initrd `%s` is not a regular file", path);
	uint64_t sz = (uint64_t)st.st_size;
	if (sz == 0)
		return mc_errorf(err, 0, "initrd `%s` is empty", path);
	uint64_t padded = (sz + 3) & ~3ull;
	uint64_t total = extra->len ? padded + extra->len : sz;
	if (boot_place_initrd(total, floor, limit, addr) < 0)
		return mc_errorf(err, 0,
				 "initrd `%s` (%llu MiB%s) does not fit in guest memory (%llu MiB) "
				 "above the kernel and below 0x%llx: raise --mem",
				 path, (unsigned long long)(total >> 20) + 1,
				 extra->len ? " with the command's arguments and environment" : "",
				 (unsigned long long)(vm->gm.size >> 20),
				 (unsigned long long)limit);
	uint8_t *dst = gm_ptr(&vm->gm, *addr, total);
	if (!dst || mc_read_all(fd, dst, sz) != (ssize_t)sz)
		return mc_errorf(err, errno, "initrd: read `%s`", path);
	if (extra->len) {
		memset(dst + sz, 0, padded - sz);
		memcpy(dst + padded, extra->data, extra->len);
	}
	*size = total;
	return 0;
}

/* Warn when the initramfs's modules are for another kernel than this bzImage (vmm/boot/kver.h):
 * finit_module would refuse every one of them, and the guest would have no disk or network.
 * A few header reads in memory already touched; a vmlinux (PVH) carries no version string
 * where it is cheap to find, so it is not checked. */
static void check_kver(struct vm *vm, const struct boot_config *bc, const uint8_t *img, size_t len,
		       uint64_t initrd_addr, uint64_t initrd_size)
{
	char kernel[KVER_MAX], modules[KVER_MAX];
	const uint8_t *initrd = gm_ptr(&vm->gm, initrd_addr, initrd_size);
	if (!initrd || !kver_bzimage(img, len, kernel, sizeof(kernel)) ||
	    !kver_initrd(initrd, initrd_size, modules, sizeof(modules)))
		return;
	if (strcmp(kernel, modules) != 0)
		mc_log_warn("the initramfs `%s` holds modules for kernel %s but the kernel `%s` is "
			    "%s: they will not load (build a matching one: make images KERNEL=...)",
			    bc->initrd, modules, bc->kernel, kernel);
}

/* GDT and an identity map of the first 4 GiB with 2 MiB pages (64-bit entry only needs what
 * covers the kernel, zero page and command line; 4 GiB covers everything we place). */
static int write_gdt_and_pages(struct vm *vm, bool long_mode, mc_err *err)
{
	uint8_t *gdt = gm_ptr(&vm->gm, GDT_ADDR, 5 * 8);
	uint8_t *pml4 = gm_ptr(&vm->gm, PML4_ADDR, 4096);
	uint8_t *pdpt = gm_ptr(&vm->gm, PDPT_ADDR, 4096);
	uint8_t *pd = gm_ptr(&vm->gm, PD_ADDR, 4 * 4096);
	if (!gdt || !pml4 || !pdpt || !pd)
		return mc_errorf(err, 0, "guest memory too small for boot tables");
	put64(gdt + 0, 0);
	put64(gdt + 8, 0);
	put64(gdt + BOOT_CS, long_mode ? 0x00af9b000000ffffull : 0x00cf9b000000ffffull);
	put64(gdt + BOOT_DS, 0x00cf93000000ffffull);
	put64(gdt + BOOT_TSS, 0x00008b0000000067ull);
	if (!long_mode)
		return 0;
	memset(pml4, 0, 4096);
	memset(pdpt, 0, 4096);
	put64(pml4, PDPT_ADDR | 3);
	for (uint64_t i = 0; i < 4; i++)
		put64(pdpt + 8 * i, (PD_ADDR + 4096 * i) | 3);
	for (uint64_t i = 0; i < 4 * 512; i++)
		put64(pd + 8 * i, (i << 21) | 0x83); /* present, writable, 2 MiB page */
	return 0;
}

static int load_image(struct vm *vm, const struct boot_config *bc, const uint8_t *img, size_t len,
		      mc_err *err)
{
	bool is_elf = len >= 4 && memcmp(img,
					 "\x7f"
					 "ELF",
					 4) == 0;
	bool is_bz = len >= 0x206 && memcmp(img + 0x202, "HdrS", 4) == 0;
	if (!is_elf && !is_bz)
		return mc_errorf(err, 0, "kernel `%s` is neither a bzImage nor an ELF vmlinux",
				 bc->kernel);

	struct bz_info bz;
	struct pvh_info pvh;
	uint64_t kernel_end, initrd_limit;
	size_t cmdline_max;
	uint64_t t0 = mc_now_ns();
	if (is_elf) {
		if (pvh_parse(img, len, &pvh, err) < 0 || pvh_load(&pvh, img, &vm->gm, err) < 0)
			return mc_wrap(err, "kernel `%s`", bc->kernel);
		kernel_end = pvh.hi;
		initrd_limit = vm->gm.low_end;
		cmdline_max = PVH_CMDLINE_MAX;
	} else {
		if (bz_parse(img, len, &bz, err) < 0 || bz_load(&bz, img, &vm->gm, err) < 0)
			return mc_wrap(err, "kernel `%s`", bc->kernel);
		kernel_end = bz.pref_address + bz.init_size;
		initrd_limit = (uint64_t)bz.initrd_addr_max + 1;
		if (initrd_limit > vm->gm.low_end)
			initrd_limit = vm->gm.low_end;
		cmdline_max = bz.cmdline_size < CMDLINE_MAX - 1 ? bz.cmdline_size : CMDLINE_MAX - 1;
	}

	char *cmdline = gm_ptr(&vm->gm, CMDLINE_ADDR, cmdline_max + 1);
	if (!cmdline)
		return mc_errorf(err, 0, "guest memory too small for the command line");
	if (boot_build_cmdline(bc->cmdline ? bc->cmdline : BOOT_DEFAULT_CMDLINE, cmdline,
			       cmdline_max, err) < 0)
		return -1;

	uint64_t t1 = mc_now_ns();
	uint64_t initrd_addr = 0, initrd_size = 0;
	__attribute__((cleanup(cpio_free))) struct cpio extra = {0};
	if ((bc->nargs || bc->nenv) &&
	    boot_args_archive(bc->args, bc->nargs, bc->env, bc->nenv, &extra, err) < 0)
		return mc_wrap(err, "guest command");
	if (bc->initrd && load_initrd(vm, bc->initrd, &extra, (kernel_end + 0xfff) & ~0xfffull,
				      initrd_limit, &initrd_addr, &initrd_size, err) < 0)
		return -1;
	if (bc->initrd && !is_elf)
		check_kver(vm, bc, img, len, initrd_addr, initrd_size);
	uint64_t t2 = mc_now_ns();
	/* MINI_DEBUG=1: where set-up goes (docs/boot.md, "What set-up costs in the lab"). */
	mc_log_debug("load: kernel %.2f ms (%s), initrd %.2f ms (%llu KiB)",
		     (double)(t1 - t0) / 1e6, is_elf ? "PVH segments" : "bzImage payload",
		     (double)(t2 - t1) / 1e6, (unsigned long long)(initrd_size >> 10));

	uint64_t rsdp;
	uint8_t aml[4096];
	size_t aml_len = devices_acpi_aml(&vm->devices, aml, sizeof(aml));
	if (aml_len > sizeof(aml))
		return mc_errorf(err, 0, "ACPI: the devices' DSDT fragments take %zu bytes",
				 aml_len);
	/* the PCI host bridge's config space (ECAM) for the MCFG table */
	const struct acpi_pci mcfg = {.ecam = PCI_ECAM_ADDR, .segment = 0, .bus_end = 0};
	if (acpi_build(&vm->gm, vm->ncpus, aml, aml_len, pci_host_of(vm) ? &mcfg : NULL, &rsdp,
		       err) < 0)
		return -1;
	if (write_gdt_and_pages(vm, !is_elf, err) < 0)
		return -1;
	if (is_elf) {
		if (pvh_start_info(&vm->gm, CMDLINE_ADDR, initrd_addr, initrd_size, rsdp, err) < 0)
			return -1;
		vm->entry = (struct boot_entry){.mode = BOOT_MODE_PROT32,
						.rip = pvh.entry,
						.rbx = START_INFO_ADDR,
						.protocol = "PVH"};
	} else {
		if (bz_boot_params(&bz, img, &vm->gm, CMDLINE_ADDR, initrd_addr, initrd_size, rsdp,
				   err) < 0)
			return -1;
		vm->entry = (struct boot_entry){.mode = BOOT_MODE_LONG64,
						.rip = bz.pref_address + 0x200,
						.rsi = BOOT_PARAMS_ADDR,
						.protocol = "bzImage"};
	}
	return 0;
}

/* The kernel image is mapped, not read: only the pages the loader touches (headers, notes, the
 * loadable segments) come in, straight from the page cache into guest memory. A vmlinux is
 * 53 MB of which 44 load; reading it whole into a buffer first cost a copy and a buffer's worth
 * of page faults. A file cut short under us raises SIGBUS on the missing pages: that becomes
 * an error, not a crash. */
static sigjmp_buf image_fault;

static void on_image_fault(int sig)
{
	(void)sig;
	siglongjmp(image_fault, 1);
}

int boot_load(struct vm *vm, const struct boot_config *bc, mc_err *err)
{
	_cleanup_close_ int fd = open(bc->kernel, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return mc_errorf(err, errno, "kernel: open `%s`", bc->kernel);
	struct stat st;
	if (fstat(fd, &st) < 0)
		return mc_errorf(err, errno, "kernel: stat `%s`", bc->kernel);
	if (!S_ISREG(st.st_mode))
		return mc_errorf(err, 0, "kernel `%s` is not a regular file", bc->kernel);
	if (st.st_size == 0)
		return mc_errorf(err, 0,
				 "kernel `%s` is empty: neither a bzImage nor an ELF vmlinux",
				 bc->kernel);
	if ((uint64_t)st.st_size > BOOT_KERNEL_MAX)
		return mc_errorf(err, 0, "kernel `%s` is larger than %llu MiB", bc->kernel,
				 BOOT_KERNEL_MAX >> 20);
	size_t len = (size_t)st.st_size;
	void *img = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
	if (img == MAP_FAILED)
		return mc_errorf(err, errno, "kernel: map `%s`", bc->kernel);
	struct sigaction sa = {.sa_handler = on_image_fault}, old;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &old);
	int r;
	if (sigsetjmp(image_fault, 1) == 0)
		r = load_image(vm, bc, img, len, err);
	else {
		mc_error_free(err);
		r = mc_errorf(err, 0, "kernel `%s` shrank while it was being loaded", bc->kernel);
	}
	sigaction(SIGBUS, &old, NULL);
	munmap(img, len);
	return r;
}
