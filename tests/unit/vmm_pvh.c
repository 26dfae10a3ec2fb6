/* Unit tests for the ELF/PVH loader: note lookup, segment checks, loading, hvm_start_info. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <elf.h>

#include "lib/error.h"
#include "vmm/guest_mem.h"
#include "vmm/layout.h"
#include "vmm/boot/pvh.h"

#define LOAD  0x1000000u
#define ENTRY 0x1000040u

struct elf_img {
	uint8_t b[0x3000];
	size_t len;
};

/* ELF64 with one PT_LOAD (0x100 bytes of 0xcd, 0x1000 in memory) and a PT_NOTE holding a
 * foreign note then the Xen PHYS32_ENTRY note. */
static void make_elf(struct elf_img *e, uint32_t note_type)
{
	memset(e, 0, sizeof(*e));
	Elf64_Ehdr eh = {.e_type = ET_EXEC,
			 .e_machine = EM_X86_64,
			 .e_version = EV_CURRENT,
			 .e_phoff = sizeof(Elf64_Ehdr),
			 .e_ehsize = sizeof(Elf64_Ehdr),
			 .e_phentsize = sizeof(Elf64_Phdr),
			 .e_phnum = 2};
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	memcpy(e->b, &eh, sizeof(eh));
	Elf64_Phdr ph[2] = {{.p_type = PT_LOAD,
			     .p_offset = 0x1000,
			     .p_paddr = LOAD,
			     .p_filesz = 0x100,
			     .p_memsz = 0x1000},
			    {.p_type = PT_NOTE, .p_offset = 0x2000, .p_filesz = 0}};
	memset(e->b + 0x1000, 0xcd, 0x100);
	uint8_t *n = e->b + 0x2000;
	/* a GNU build-id style note first (name "GNU", 8-byte desc) */
	Elf64_Nhdr gnu = {4, 8, 3};
	memcpy(n, &gnu, sizeof(gnu));
	memcpy(n + 12, "GNU", 4);
	n += 12 + 4 + 8;
	Elf64_Nhdr xen = {4, 4, note_type};
	memcpy(n, &xen, sizeof(xen));
	memcpy(n + 12, "Xen", 4);
	uint32_t entry = ENTRY;
	memcpy(n + 16, &entry, 4);
	n += 20;
	ph[1].p_filesz = (uint64_t)(n - (e->b + 0x2000));
	memcpy(e->b + sizeof(eh), ph, sizeof(ph));
	e->len = 0x2000 + ph[1].p_filesz;
}

static void expect_error(struct elf_img *e, const char *needle)
{
	struct pvh_info info;
	mc_err err = NULL;
	assert_int_equal(pvh_parse(e->b, e->len, &info, &err), -1);
	if (!strstr(err->msg, needle))
		fail_msg("error `%s` lacks `%s`", err->msg, needle);
	mc_error_free(&err);
}

static void parse_and_load(void **state)
{
	(void)state;
	struct elf_img e;
	make_elf(&e, XEN_ELFNOTE_PHYS32_ENTRY);
	struct pvh_info info;
	mc_err err = NULL;
	assert_int_equal(pvh_parse(e.b, e.len, &info, &err), 0);
	assert_int_equal(info.entry, ENTRY);
	assert_int_equal(info.nseg, 1);
	assert_int_equal(info.lo, LOAD);
	assert_int_equal(info.hi, LOAD + 0x1000);
	struct guest_mem gm;
	gm_init(&gm, malloc(32u << 20), 32u << 20);
	memset(gm.host, 0x77, 32u << 20);
	assert_int_equal(pvh_load(&info, e.b, &gm, &err), 0);
	assert_int_equal(gm.host[LOAD], 0xcd);
	assert_int_equal(gm.host[LOAD + 0xff], 0xcd);
	assert_int_equal(gm.host[LOAD + 0x100], 0); /* bss zeroed */
	assert_int_equal(gm.host[LOAD + 0xfff], 0);
	assert_int_equal(gm.host[LOAD + 0x1000], 0x77);
	/* too little memory for the segment */
	gm_init(&gm, gm.host, LOAD + 0x800);
	assert_int_equal(pvh_load(&info, e.b, &gm, &err), -1);
	mc_error_free(&err);
	free(gm.host);
}

static void rejects(void **state)
{
	(void)state;
	struct elf_img e;
	make_elf(&e, 17); /* some other Xen note: no PVH entry */
	expect_error(&e, "no PVH entry note");
	make_elf(&e, XEN_ELFNOTE_PHYS32_ENTRY);
	e.len = 0x2000 + 20; /* note segment runs past the end of the file */
	expect_error(&e, "outside the file");
	make_elf(&e, XEN_ELFNOTE_PHYS32_ENTRY);
	e.b[EI_CLASS] = ELFCLASS32;
	expect_error(&e, "ELF64");
	make_elf(&e, XEN_ELFNOTE_PHYS32_ENTRY);
	e.b[0] = 0;
	expect_error(&e, "not an ELF");
	make_elf(&e, XEN_ELFNOTE_PHYS32_ENTRY);
	Elf64_Phdr ph;
	memcpy(&ph, e.b + sizeof(Elf64_Ehdr), sizeof(ph));
	ph.p_memsz = 0x80; /* filesz > memsz */
	memcpy(e.b + sizeof(Elf64_Ehdr), &ph, sizeof(ph));
	expect_error(&e, "bad address or size");
	make_elf(&e, XEN_ELFNOTE_PHYS32_ENTRY);
	memcpy(&ph, e.b + sizeof(Elf64_Ehdr), sizeof(ph));
	ph.p_paddr = 0x1000; /* below 1 MiB */
	memcpy(e.b + sizeof(Elf64_Ehdr), &ph, sizeof(ph));
	expect_error(&e, "low 1 MiB");
	make_elf(&e, XEN_ELFNOTE_PHYS32_ENTRY);
	uint16_t phnum = 1000;
	memcpy(e.b + offsetof(Elf64_Ehdr, e_phnum), &phnum, 2);
	expect_error(&e, "program header");
	make_elf(&e, XEN_ELFNOTE_PHYS32_ENTRY);
	uint32_t far = 0x2000000;
	memcpy(e.b + 0x2000 + 24 + 16, &far, 4); /* entry outside the segments */
	expect_error(&e, "outside the loaded segments");
}

static void start_info(void **state)
{
	(void)state;
	struct guest_mem gm;
	gm_init(&gm, calloc(1, 32u << 20), 32u << 20);
	mc_err err = NULL;
	assert_int_equal(pvh_start_info(&gm, CMDLINE_ADDR, 0x1800000, 4096, 0xe0000, &err), 0);
	struct hvm_start_info *si = (void *)(gm.host + START_INFO_ADDR);
	assert_int_equal(si->magic, HVM_START_MAGIC);
	assert_int_equal(si->version, 1);
	assert_int_equal(si->cmdline_paddr, CMDLINE_ADDR);
	assert_int_equal(si->rsdp_paddr, 0xe0000);
	assert_int_equal(si->nr_modules, 1);
	struct hvm_modlist_entry *m = (void *)(gm.host + si->modlist_paddr);
	assert_int_equal(m->paddr, 0x1800000);
	assert_int_equal(m->size, 4096);
	assert_int_equal(si->memmap_entries, 3);
	struct hvm_memmap_table_entry *mm = (void *)(gm.host + si->memmap_paddr);
	assert_int_equal(mm[2].addr, HIGH_MEM_START);
	assert_int_equal(mm[2].size, (32u << 20) - HIGH_MEM_START);
	assert_int_equal(mm[1].type, 2);
	/* the structures must not overlap each other */
	assert_true(PVH_MODLIST_ADDR >= START_INFO_ADDR + sizeof(*si));
	assert_true(PVH_MEMMAP_ADDR >= PVH_MODLIST_ADDR + sizeof(*m));
	/* no initrd: no module */
	assert_int_equal(pvh_start_info(&gm, CMDLINE_ADDR, 0, 0, 0xe0000, &err), 0);
	assert_int_equal(si->nr_modules, 0);
	free(gm.host);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(parse_and_load),
	    cmocka_unit_test(rejects),
	    cmocka_unit_test(start_info),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
