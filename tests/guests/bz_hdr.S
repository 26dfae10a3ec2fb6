/* The real-mode part of the test bzImage: a boot sector and one setup sector carrying the
 * setup header of the Linux boot protocol 2.15 (Documentation/arch/x86/boot.rst). */
	.code16
	.section .data
	.org 0x1f1
	.byte 1				/* setup_sects: payload starts at 2 * 512 */
	.word 0				/* root_flags */
	.long 0				/* syssize */
	.word 0, 0xffff, 0		/* ram_size, vid_mode, root_dev */
	.word 0xaa55			/* boot_flag */
	.byte 0xeb, 0x66		/* jump: header ends at 0x202 + 0x66 */
	.ascii "HdrS"			/* 0x202 */
	.word 0x020f			/* 0x206 version 2.15 */
	.long 0				/* realmode_swtch */
	.word 0, 0			/* start_sys_seg, kernel_version */
	.byte 0				/* 0x210 type_of_loader */
	.byte 0x01			/* 0x211 loadflags: LOADED_HIGH */
	.word 0				/* setup_move_size */
	.long 0x1000000			/* 0x214 code32_start */
	.long 0, 0			/* ramdisk_image, ramdisk_size */
	.long 0				/* bootsect_kludge */
	.word 0				/* 0x224 heap_end_ptr */
	.byte 0, 0			/* ext_loader_ver, ext_loader_type */
	.long 0				/* 0x228 cmd_line_ptr */
	.long 0x7fffffff		/* 0x22c initrd_addr_max */
	.long 0x200000			/* 0x230 kernel_alignment */
	.byte 1, 21			/* relocatable_kernel, min_alignment */
	.word 0x1			/* 0x236 xloadflags: XLF_KERNEL_64 */
	.long 2047			/* 0x238 cmdline_size */
	.long 0				/* hardware_subarch */
	.quad 0				/* hardware_subarch_data */
	.long 0, 0			/* payload_offset, payload_length */
	.quad 0				/* 0x250 setup_data */
	.quad 0x1000000			/* 0x258 pref_address */
	.long 0x100000			/* 0x260 init_size */
	.long 0				/* handover_offset */
	.org 0x400
	.section .note.GNU-stack, "", @progbits
