/* 64-bit entry of the test bzImage: long mode, identity paging, %rsi = boot_params. The
 * image is bz_hdr.bin (setup header) followed by this code linked at 0x1000000, entry +0x200. */
	.section .text.head, "ax"
	.code64
	.globl bz_load
bz_load:
	.space 0x200, 0xcc	/* 32-bit entry area, unused (would trap) */
	.globl bz_start64
bz_start64:
	cli
	leaq stack_top(%rip), %rsp
	movq %rsi, %rdi
	call bz_main
1:	hlt
	jmp 1b

	.bss
	.balign 16
	.space 8192
stack_top:
	.section .note.GNU-stack, "", @progbits
