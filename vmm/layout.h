/* Guest physical memory layout shared by the boot protocols, ACPI and the VM (docs/boot.md). */
#ifndef MINIVM_LAYOUT_H
#define MINIVM_LAYOUT_H

#define GDT_ADDR	 0x0500ull /* boot GDT: null, null, code 0x10, data 0x18, TSS 0x20 */
#define START_INFO_ADDR	 0x6000ull /* PVH hvm_start_info */
#define PVH_MODLIST_ADDR 0x6040ull /* PVH module list (the initrd) */
#define PVH_MEMMAP_ADDR	 0x6100ull /* PVH memory map */
#define BOOT_PARAMS_ADDR 0x7000ull /* Linux zero page */
#define PML4_ADDR	 0x9000ull /* identity map of the first 4 GiB for 64-bit entry */
#define PDPT_ADDR	 0xa000ull
#define PD_ADDR		 0xb000ull  /* four page directories of 2 MiB pages */
#define CMDLINE_ADDR	 0x20000ull /* kernel command line */
#define CMDLINE_MAX	 0x10000ull
#define EBDA_START	 0x9fc00ull /* end of usable low memory */
#define ACPI_ADDR	 0xe0000ull /* RSDP (16-byte aligned, in the BIOS scan area), then tables */
#define ACPI_MAX	 0x10000ull
#define HIGH_MEM_START	 0x100000ull   /* 1 MiB */
#define MMIO_HOLE_START	 0xc0000000ull /* 3 GiB: RAM above goes to 4 GiB and beyond */
#define MMIO_HOLE_END	 0x100000000ull
#define IOAPIC_ADDR	 0xfec00000ull
#define LAPIC_ADDR	 0xfee00000ull
#define TSS_KVM_ADDR	 0xfffbd000ull /* KVM_SET_TSS_ADDR (three pages, Intel real mode) */

/* PCI (hw/pci.c): BARs go in [PCI_MMIO_START, PCI_MMIO_END), the host bridge's 32-bit window
 * in its _CRS; config space by ECAM at PCI_ECAM_ADDR, bus 0 only (32 devices x 8 functions x
 * 4 KiB), described by the MCFG table and reserved by a PNP0C02 device. */
#define PCI_MMIO_START 0xc0000000ull
#define PCI_MMIO_END   0xe0000000ull
#define PCI_ECAM_ADDR  0xe0000000ull
#define PCI_ECAM_SIZE  0x100000ull

#define BOOT_CS	 0x10
#define BOOT_DS	 0x18
#define BOOT_TSS 0x20

/* Legacy devices */
#define COM1_PORT      0x3f8
#define COM1_IRQ       4
#define I8042_CMD_PORT 0x64
#define PCI_CONF1_PORT 0xcf8 /* address 0xcf8, data 0xcfc-0xcff */
#define CMOS_PORT      0x70
/* ACPI fixed hardware (not hardware-reduced: that mode drops the legacy PIC and so the ISA IRQs
 * the 8250 UART needs): PM1a event and control blocks, and the FADT reset register. */
#define ACPI_PM1A_EVT_PORT 0x600 /* status (2 bytes) + enable (2 bytes) */
#define ACPI_PM1A_CNT_PORT 0x604 /* control (2 bytes): SCI_EN, SLP_TYP (bits 10-12), SLP_EN */
#define ACPI_PM1_SCI_EN	   0x0001
#define ACPI_PM1_SLP_EN	   0x2000
#define ACPI_SCI_IRQ	   9
#define ACPI_RESET_PORT	   0x608 /* write ACPI_RESET_VALUE */
#define ACPI_RESET_VALUE   0x01
#define ACPI_S5_SLP_TYP	   5 /* the value \_S5 in our DSDT tells the guest to use */

#endif
