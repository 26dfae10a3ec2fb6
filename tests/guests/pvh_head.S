/* PVH entry of the test guest: 32-bit protected mode, paging off, %ebx = hvm_start_info. */
	.section .note.Xen, "a", @note
	.balign 4
	.long 4, 4, 18		/* namesz, descsz, XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.long pvh_start

	.text
	.code32
	.globl pvh_start
pvh_start:
	cli
	movl $stack_top, %esp
	pushl %ebx
	call pvh_main
1:	hlt
	jmp 1b

	.bss
	.balign 16
	.space 8192
stack_top:
	.section .note.GNU-stack, "", @progbits
