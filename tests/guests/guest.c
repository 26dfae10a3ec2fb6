/* Tiny freestanding test guest for minivm's host tests (tests/host/vmm_*.sh).
 *
 * Built twice from this file: as 32-bit code behind the PVH entry (pvh_head.S, an ELF with the
 * Xen PVH note) and as 64-bit code behind the Linux 64-bit boot protocol entry (bz_head.S, a
 * minimal bzImage). Each head turns what it got (hvm_start_info or boot_params) into a
 * struct boot_view and calls guest_run(), which obeys the first word of the command line:
 *
 *   check MiB      verify the handoff (magic, memory map = MiB of RAM, command line, initrd
 *                  "MINITEST", ACPI RSDP); exit status 0 or the number of the failed check
 *   exit N         exit with status N
 *   hello          print a line on the UART and exit 0
 *   echo           print "ready", read a line from the UART, print "got:<line>", exit with
 *                  its length
 *   ports          port I/O dispatch: unclaimed port reads all ones, UART scratch register
 *                  keeps a value; exit 0 or the failed check
 *   reboot         reset through the i8042;  acpireset: through the FADT reset register
 *   triple         triple fault;  spin: loop forever (for signal tests)
 *   dots           print a '.' every 2^22 TSC cycles, forever (pause tests watch it stop)
 *   count          print "count N" (N = 1, 2, ...) every 2^22 TSC cycles, forever: a snapshot
 *                  restored later goes on from where it was
 *   fill MiB       fill MiB of RAM from 32 MiB up (above both images) with non-zero words,
 *                  print "filled", then count (snapshot benchmarks: memory that is not zero)
 *   fillpages MiB  fill MiB from 32 MiB up with a different non-zero pattern in every page
 *                  (its first word: the page's number), print "filled", then count (migration
 *                  tests compare the region host-side, in snapshots: loops in the guest run
 *                  slowly under PVM, a checksum of a few MiB takes seconds)
 *   dirty MiB RATE MHZ  fill MiB from 32 MiB up, print "filled", then rewrite one word per
 *                  page over that working set, round and round, at RATE MiB of pages per
 *                  second (0: as fast as it goes; MHZ: the TSC's frequency, for the pacing),
 *                  printing "count N" every 2^22 TSC cycles as the heartbeat
 *
 * Milestones go to the debug port like guestinit's (init, ready, exit status), then the
 * guest powers off through ACPI PM1a control (S5).
 */
#include <stdint.h>

#include "../../guestinit/debug_port.h"
#include "../../vmm/layout.h"
#include "guest.h"

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}
static inline uint8_t inb(uint16_t port)
{
	uint8_t v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}
static inline void outw(uint16_t port, uint16_t v)
{
	__asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}
static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}
static inline uint32_t inl(uint16_t port)
{
	uint32_t v;
	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

static void uart_putc(char c)
{
	while (!(inb(COM1_PORT + 5) & 0x20))
		;
	outb(COM1_PORT, (uint8_t)c);
}
static void uart_puts(const char *s)
{
	while (*s)
		uart_putc(*s++);
}
static char uart_getc(void)
{
	while (!(inb(COM1_PORT + 5) & 0x01))
		;
	return (char)inb(COM1_PORT);
}

static void uart_putu(unsigned long n)
{
	char d[24];
	int i = 0;
	do
		d[i++] = (char)('0' + n % 10);
	while ((n /= 10) && i < 24);
	while (i > 0)
		uart_putc(d[--i]);
}

__attribute__((noreturn)) static void count(void)
{
	for (unsigned long n = 1;; n++) {
		uint64_t t0 = rdtsc();
		while (rdtsc() - t0 < (1u << 22))
			__asm__ volatile("pause");
		uart_puts("count ");
		uart_putu(n);
		uart_putc('\n');
	}
}

#define REGION_START (32ul << 20)

static void fill_pages(unsigned long mib, int per_page)
{
	/* One string instruction per MiB or page: under PVM a plain store loop into fresh memory
	 * runs ~1000x slower (each store traps). */
	uintptr_t p = REGION_START;
	unsigned long step = per_page ? 4096 : 1ul << 20;
	for (uintptr_t end = p + (mib << 20); p < end; p += step) {
		void *d = (void *)p;
		unsigned long n = step / 4;
		uint32_t v = per_page ? (uint32_t)(p >> 12) * 2246822519u + 0x9e3779b9u
				      : (uint32_t)(p >> 20) * 2654435761u | 1;
		__asm__ volatile("rep stosl" : "+D"(d), "+c"(n) : "a"(v | 1) : "memory");
		if (per_page)
			*(volatile uint32_t *)p = (uint32_t)(p >> 12); /* the page's own number */
	}
}

__attribute__((noreturn)) static void dirty(unsigned long mib, unsigned long rate,
					    unsigned long mhz)
{
	fill_pages(mib, 0);
	uart_puts("filled\n");
	unsigned long pages = mib << 8, page = 0;
	/* TSC cycles per page written (0: no pacing) */
	uint32_t cpp = rate && mhz ? (uint32_t)(mhz * 1000000u) / (uint32_t)(rate * 256) : 0;
	uint64_t t0 = rdtsc(), beat = t0, written = 0;
	uint32_t gen = 0;
	for (unsigned long n = 1;;) {
		uint64_t now = rdtsc();
		if (now - beat >= (1u << 22)) {
			beat = now;
			uart_puts("count ");
			uart_putu(n++);
			uart_putc('\n');
		}
		for (int k = 0; k < 64; k++) {
			if (cpp && written * cpp > now - t0)
				break;
			volatile uint32_t *w = (volatile uint32_t *)(REGION_START + (page << 12));
			*w = ++gen;
			written++;
			if (++page == pages)
				page = 0;
		}
	}
}

static int mem_eq(const void *a, const void *b, unsigned long n)
{
	const uint8_t *x = a, *y = b;
	for (unsigned long i = 0; i < n; i++)
		if (x[i] != y[i])
			return 0;
	return 1;
}

/* Does the command line start with word w (followed by a space or its end)? */
static const char *word(const char *s, const char *w)
{
	while (*w)
		if (*s++ != *w++)
			return 0;
	if (*s && *s != ' ')
		return 0;
	while (*s == ' ')
		s++;
	return s;
}

static unsigned long number(const char *s)
{
	unsigned long n = 0;
	while (*s >= '0' && *s <= '9')
		n = n * 10 + (unsigned long)(*s++ - '0');
	return n;
}

__attribute__((noreturn)) static void power_off(unsigned status)
{
	outl(MINI_DEBUG_PORT, MINI_DBG_VALUE(MINI_DBG_EXIT, status));
	outw(ACPI_PM1A_CNT_PORT, ACPI_S5_SLP_TYP << 10 | ACPI_PM1_SLP_EN);
	for (;;)
		__asm__ volatile("pause");
}

static unsigned check(const struct boot_view *bv, const char *arg)
{
	if (bv->failed)
		return bv->failed; /* the protocol-specific checks in the head */
	if (!bv->cmdline || !word(bv->cmdline, "check"))
		return 20;
	/* minivm's map: all of --mem is RAM except the legacy hole 0x9fc00-0x100000. */
	if (bv->ram_bytes + (0x100000 - 0x9fc00) != (uint64_t)number(arg) << 20) {
		outl(MINI_DEBUG_PORT,
		     MINI_DBG_VALUE(MINI_DBG_NOTE, (uint32_t)(bv->ram_bytes >> 20)));
		return 21;
	}
	if (bv->map_entries < 3)
		return 22;
	if (!bv->initrd || bv->initrd_size != 8 || !mem_eq(bv->initrd, "MINITEST", 8))
		return 23;
	if (!bv->rsdp || !mem_eq(bv->rsdp, "RSD PTR ", 8))
		return 24;
	return 0;
}

static unsigned ports(void)
{
	if (inb(0x1234) != 0xff || inl(0x1230) != 0xffffffffu)
		return 1; /* nobody claims these ports */
	outb(COM1_PORT + 7, 0x5a);
	if (inb(COM1_PORT + 7) != 0x5a)
		return 2; /* the UART scratch register keeps what we wrote */
	outb(COM1_PORT + 7, 0xa5);
	if (inb(COM1_PORT + 7) != 0xa5)
		return 3;
	if (!(inb(COM1_PORT + 5) & 0x20))
		return 4; /* transmitter empty */
	return 0;
}

__attribute__((noreturn)) void guest_run(const struct boot_view *bv)
{
	outl(MINI_DEBUG_PORT, MINI_DBG_VALUE(MINI_DBG_INIT, 0));
	const char *cmd = bv->cmdline ? bv->cmdline : "";
	const char *arg;
	outl(MINI_DEBUG_PORT, MINI_DBG_VALUE(MINI_DBG_READY, 0));
	if ((arg = word(cmd, "check")))
		power_off(check(bv, arg));
	if ((arg = word(cmd, "exit")))
		power_off((unsigned)number(arg));
	if (word(cmd, "hello")) {
		uart_puts("hello from the ");
		uart_puts(bv->protocol);
		uart_puts(" test guest\n");
		power_off(0);
	}
	if (word(cmd, "echo")) {
		char line[64];
		unsigned n = 0;
		uart_puts("ready\n");
		for (char c; (c = uart_getc()) != '\n' && c != '\r';)
			if (n < sizeof(line) - 1)
				line[n++] = c;
		line[n] = 0;
		uart_puts("got:");
		uart_puts(line);
		uart_puts("\n");
		power_off(n);
	}
	if (word(cmd, "ports"))
		power_off(ports());
	if (word(cmd, "reboot")) {
		outb(I8042_CMD_PORT, 0xfe);
		power_off(99);
	}
	if (word(cmd, "acpireset")) {
		outb(ACPI_RESET_PORT, ACPI_RESET_VALUE);
		power_off(99);
	}
	if (word(cmd, "triple")) {
		struct __attribute__((packed)) {
			uint16_t limit;
			uintptr_t base;
		} idt = {0, 0};
		__asm__ volatile("lidt %0; int $0x80" : : "m"(idt));
	}
	if (word(cmd, "spin"))
		for (;;)
			__asm__ volatile("pause");
	if (word(cmd, "dots"))
		for (;;) {
			uint64_t t0 = rdtsc();
			while (rdtsc() - t0 < (1u << 22))
				__asm__ volatile("pause");
			uart_putc('.');
		}
	if (word(cmd, "count"))
		count();
	if ((arg = word(cmd, "fill"))) {
		fill_pages(number(arg), 0);
		uart_puts("filled\n");
		count();
	}
	if ((arg = word(cmd, "fillpages"))) {
		fill_pages(number(arg), 1);
		uart_puts("filled\n");
		count();
	}
	if ((arg = word(cmd, "dirty"))) {
		unsigned long mib = number(arg);
		while (*arg >= '0' && *arg <= '9')
			arg++;
		while (*arg == ' ')
			arg++;
		unsigned long rate = number(arg);
		while (*arg >= '0' && *arg <= '9')
			arg++;
		while (*arg == ' ')
			arg++;
		dirty(mib, rate, number(arg));
	}
	uart_puts("unknown test guest command\n");
	power_off(98);
}
