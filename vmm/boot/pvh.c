#include "pvh.h"

#include <elf.h>
#include <string.h>

#include "layout.h"

/* Search one PT_NOTE segment for the Xen PHYS32_ENTRY note. Returns 1 found, 0 not, -1 bad. */
static int find_entry_note(const uint8_t *p, size_t len, uint32_t *entry, mc_err *err)
{
	size_t off = 0;
	while (len - off >= sizeof(Elf64_Nhdr)) {
		Elf64_Nhdr nh;
		memcpy(&nh, p + off, sizeof(nh));
		off += sizeof(nh);
		size_t namesz = ((size_t)nh.n_namesz + 3) & ~(size_t)3;
		size_t descsz = ((size_t)nh.n_descsz + 3) & ~(size_t)3;
		if (namesz > len - off || descsz > len - off - namesz)
			return mc_errorf(err, 0, "ELF: truncated note");
		const uint8_t *name = p + off, *desc = p + off + namesz;
		off += namesz + descsz;
		if (nh.n_type != XEN_ELFNOTE_PHYS32_ENTRY || nh.n_namesz != 4 ||
		    memcmp(name, "Xen", 4) != 0)
			continue;
		if (nh.n_descsz == 4) {
			memcpy(entry, desc, 4);
		} else if (nh.n_descsz == 8) {
			uint64_t e;
			memcpy(&e, desc, 8);
			if (e > UINT32_MAX)
				return mc_errorf(err, 0, "ELF: PVH entry 0x%llx above 4 GiB",
						 (unsigned long long)e);
			*entry = (uint32_t)e;
		} else {
			return mc_errorf(err, 0, "ELF: PVH entry note has size %u", nh.n_descsz);
		}
		return 1;
	}
	return 0;
}

int pvh_parse(const uint8_t *img, size_t len, struct pvh_info *info, mc_err *err)
{
	memset(info, 0, sizeof(*info));
	Elf64_Ehdr eh;
	if (len < sizeof(eh) || memcmp(img, ELFMAG, SELFMAG) != 0)
		return mc_errorf(err, 0, "ELF: not an ELF file");
	memcpy(&eh, img, sizeof(eh));
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh.e_machine != EM_X86_64)
		return mc_errorf(err, 0, "ELF: not a little-endian x86-64 ELF64 image");
	if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 || eh.e_phoff > len ||
	    (size_t)eh.e_phnum * sizeof(Elf64_Phdr) > len - eh.e_phoff)
		return mc_errorf(err, 0, "ELF: bad program header table");
	int found = 0;
	info->lo = UINT64_MAX;
	for (size_t i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		memcpy(&ph, img + eh.e_phoff + i * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_LOAD && ph.p_type != PT_NOTE)
			continue;
		if (ph.p_offset > len || ph.p_filesz > len - ph.p_offset)
			return mc_errorf(err, 0, "ELF: segment %zu lies outside the file", i);
		if (ph.p_type == PT_NOTE) {
			if (!found) {
				found = find_entry_note(img + ph.p_offset, ph.p_filesz,
							&info->entry, err);
				if (found < 0)
					return -1;
			}
			continue;
		}
		if (ph.p_memsz == 0)
			continue;
		if (ph.p_filesz > ph.p_memsz || ph.p_paddr > MMIO_HOLE_START ||
		    ph.p_memsz > MMIO_HOLE_START - ph.p_paddr)
			return mc_errorf(err, 0, "ELF: segment %zu has a bad address or size", i);
		if (info->nseg == PVH_MAX_SEGMENTS)
			return mc_errorf(err, 0, "ELF: more than %d loadable segments",
					 PVH_MAX_SEGMENTS);
		info->seg[info->nseg++] =
		    (struct pvh_segment){ph.p_offset, ph.p_paddr, ph.p_filesz, ph.p_memsz};
		if (ph.p_paddr < info->lo)
			info->lo = ph.p_paddr;
		if (ph.p_paddr + ph.p_memsz > info->hi)
			info->hi = ph.p_paddr + ph.p_memsz;
	}
	if (!found)
		return mc_errorf(err, 0,
				 "ELF: no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY); "
				 "the kernel needs CONFIG_PVH=y");
	if (info->nseg == 0)
		return mc_errorf(err, 0, "ELF: no loadable segments");
	if (info->lo < HIGH_MEM_START)
		return mc_errorf(err, 0, "ELF: segment at 0x%llx overlaps the low 1 MiB",
				 (unsigned long long)info->lo);
	if (info->entry < info->lo || info->entry >= info->hi)
		return mc_errorf(err, 0, "ELF: PVH entry 0x%x outside the loaded segments",
				 info->entry);
	return 0;
}

int pvh_load(const struct pvh_info *info, const uint8_t *img, struct guest_mem *gm, mc_err *err)
{
	for (size_t i = 0; i < info->nseg; i++) {
		const struct pvh_segment *s = &info->seg[i];
		uint8_t *dst = gm_ptr(gm, s->paddr, s->memsz);
		if (!dst)
			return mc_errorf(err, 0,
					 "guest memory (%llu MiB) too small for this kernel: it "
					 "loads up to 0x%llx",
					 (unsigned long long)(gm->size >> 20),
					 (unsigned long long)(s->paddr + s->memsz));
		memcpy(dst, img + s->offset, s->filesz);
		memset(dst + s->filesz, 0, s->memsz - s->filesz);
	}
	return 0;
}

int pvh_start_info(struct guest_mem *gm, uint64_t cmdline_gpa, uint64_t initrd_gpa,
		   uint64_t initrd_size, uint64_t rsdp, mc_err *err)
{
	struct mem_range map[8];
	size_t n = gm_memory_map(gm, map, 8);
	struct hvm_start_info *si = gm_ptr(gm, START_INFO_ADDR, sizeof(*si));
	struct hvm_modlist_entry *mod = gm_ptr(gm, PVH_MODLIST_ADDR, sizeof(*mod));
	struct hvm_memmap_table_entry *mm = gm_ptr(gm, PVH_MEMMAP_ADDR, n * sizeof(*mm));
	if (!si || !mod || !mm)
		return mc_errorf(err, 0, "start_info: guest memory too small");
	memset(si, 0, sizeof(*si));
	si->magic = HVM_START_MAGIC;
	si->version = 1;
	si->cmdline_paddr = cmdline_gpa;
	si->rsdp_paddr = rsdp;
	si->memmap_paddr = PVH_MEMMAP_ADDR;
	si->memmap_entries = (uint32_t)n;
	for (size_t i = 0; i < n; i++)
		mm[i] = (struct hvm_memmap_table_entry){map[i].addr, map[i].size, map[i].type, 0};
	if (initrd_size) {
		*mod = (struct hvm_modlist_entry){initrd_gpa, initrd_size, 0, 0};
		si->nr_modules = 1;
		si->modlist_paddr = PVH_MODLIST_ADDR;
	}
	return 0;
}
