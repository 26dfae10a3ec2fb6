/* Unit tests for the interrupt layer and the memory-slot table. Without KVM: the routing
 * table (KVM's defaults, GSI allocation, MSI routes) and the slot table's checks. With
 * MINIVM_TEST_KVM=1 (tests/host/vmm_irq.sh) the same code against /dev/kvm: the routing table
 * committed, irqfd into an I/O APIC/PIC pin and into an MSI route, KVM_SIGNAL_MSI, a level
 * line, ioeventfd written by a real-mode guest, dirty logging turned on and off on a slot,
 * conf1's address write coalesced by KVM and replayed before the data access (coalesced.h).
 * Exits 77 when /dev/kvm or one of those capabilities is missing. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/error.h"
#include "vmm/coalesced.h"
#include "vmm/irq.h"
#include "vmm/memslots.h"
#include "vmm/vm.h"

static void default_routes(void **state)
{
	(void)state;
	static struct irq_routes t;
	irq_routes_init(&t);
	assert_int_equal(t.n, 16 * 2 + 8); /* 0-15 on a PIC and the IOAPIC, 16-23 IOAPIC */
	const struct kvm_irq_routing_entry *e = irq_routes_find(&t, 4, KVM_IRQ_ROUTING_IRQCHIP);
	assert_non_null(e);
	unsigned pic = 0, ioapic = 0;
	for (unsigned i = 0; i < t.n; i++) {
		assert_int_equal(t.e[i].type, KVM_IRQ_ROUTING_IRQCHIP);
		if (t.e[i].u.irqchip.irqchip == KVM_IRQCHIP_IOAPIC) {
			assert_int_equal(t.e[i].u.irqchip.pin, t.e[i].gsi);
			ioapic++;
		} else {
			assert_true(t.e[i].gsi < 16);
			assert_int_equal(t.e[i].u.irqchip.irqchip, t.e[i].gsi < 8
								       ? KVM_IRQCHIP_PIC_MASTER
								       : KVM_IRQCHIP_PIC_SLAVE);
			assert_int_equal(t.e[i].u.irqchip.pin, t.e[i].gsi % 8);
			pic++;
		}
	}
	assert_int_equal(pic, 16);
	assert_int_equal(ioapic, 24);
}

static void msi_routes(void **state)
{
	(void)state;
	static struct irq_routes t;
	irq_routes_init(&t);
	mc_err err = NULL;
	/* only allocated GSIs take MSI routes; legacy pins never */
	assert_int_equal(irq_routes_set_msi(&t, 5, 0xfee00000, 0x41, &err), -1);
	mc_error_free(&err);
	assert_int_equal(irq_routes_set_msi(&t, 30, 0xfee00000, 0x41, &err), -1);
	mc_error_free(&err);
	int a = irq_routes_alloc_gsi(&t), b = irq_routes_alloc_gsi(&t);
	assert_int_equal(a, IRQ_FIRST_DYNAMIC_GSI);
	assert_int_equal(b, IRQ_FIRST_DYNAMIC_GSI + 1);
	assert_int_equal(irq_routes_set_msi(&t, (uint32_t)a, 0x1fee01000ull, 0x41, &err), 0);
	assert_int_equal(irq_routes_set_msi(&t, (uint32_t)a, 0xfee02000, 0x42, &err), 0);
	const struct kvm_irq_routing_entry *e =
	    irq_routes_find(&t, (uint32_t)a, KVM_IRQ_ROUTING_MSI);
	assert_non_null(e);
	assert_int_equal(e->u.msi.address_lo, 0xfee02000);
	assert_int_equal(e->u.msi.address_hi, 0);
	assert_int_equal(e->u.msi.data, 0x42);
	assert_int_equal(t.n, 41); /* replaced, not added */
	/* freed GSIs come back first, and lose their route */
	irq_routes_free_gsi(&t, (uint32_t)a);
	assert_null(irq_routes_find(&t, (uint32_t)a, KVM_IRQ_ROUTING_MSI));
	assert_int_equal(t.n, 40);
	assert_int_equal(irq_routes_alloc_gsi(&t), a);
	irq_routes_free_gsi(&t, 3); /* a legacy pin is not freed */
	assert_non_null(irq_routes_find(&t, 3, KVM_IRQ_ROUTING_IRQCHIP));
	irq_routes_free_gsi(&t, 99999); /* out of range: ignored */
	/* exhaustion */
	int n = 0;
	while (irq_routes_alloc_gsi(&t) >= 0)
		n++;
	assert_int_equal(n, IRQ_MAX_GSI - IRQ_FIRST_DYNAMIC_GSI - 2);
	for (uint32_t g = IRQ_FIRST_DYNAMIC_GSI; g < IRQ_MAX_GSI; g++)
		assert_int_equal(irq_routes_set_msi(&t, g, 0xfee00000, g & 0xff, &err), 0);
	assert_int_equal(t.n, 40 + IRQ_MAX_GSI - IRQ_FIRST_DYNAMIC_GSI);
}

static void slot_table(void **state)
{
	(void)state;
	struct memslots m;
	memslots_init(&m, -1);
	mc_err err = NULL;
	uint32_t id;
	void *host = (void *)(uintptr_t)0x10000000;
	assert_int_equal(memslots_add(&m, 0, 0x100000, host, 0, &id, &err), 0);
	assert_int_equal(id, 0);
	assert_int_equal(memslots_add(&m, 0x80000, 0x100000, host, 0, &id, &err), -1);
	assert_non_null(strstr(err->msg, "overlaps slot 0"));
	mc_error_free(&err);
	assert_int_equal(memslots_add(&m, 0x100001, 0x1000, host, 0, &id, &err),
			 -1); /* unaligned */
	mc_error_free(&err);
	assert_int_equal(memslots_add(&m, 0x200000, 0, host, 0, &id, &err), -1);
	mc_error_free(&err);
	assert_int_equal(memslots_add(&m, 0x200000, 0x1000, host, 0x80, &id, &err), -1);
	mc_error_free(&err);
	assert_int_equal(
	    memslots_add(&m, 0x100000000ull, 0x200000, host, KVM_MEM_LOG_DIRTY_PAGES, &id, &err),
	    0);
	assert_int_equal(id, 1);
	const struct memslot *s = memslots_find(&m, 0x1001ff000ull);
	assert_non_null(s);
	assert_int_equal(s->flags, KVM_MEM_LOG_DIRTY_PAGES);
	assert_null(memslots_find(&m, 0x100200000ull));
	assert_null(memslots_find(&m, 0x100000));
	assert_int_equal(memslots_set_flags(&m, 1, 0, &err), 0);
	assert_int_equal(memslots_find(&m, 0x100000000ull)->flags, 0);
	assert_int_equal(memslots_set_flags(&m, 7, 0, &err), -1);
	mc_error_free(&err);
	assert_int_equal(memslots_remove(&m, 0, &err), 0);
	assert_null(memslots_find(&m, 0));
	assert_int_equal(memslots_add(&m, 0, 0x1000, host, 0, &id, &err), 0);
	assert_int_equal(id, 0); /* the free number is reused */
	for (unsigned i = 2; i < MEMSLOTS_MAX; i++)
		assert_int_equal(
		    memslots_add(&m, 0x200000000ull + i * 0x1000, 0x1000, host, 0, &id, &err), 0);
	assert_int_equal(memslots_add(&m, 0x300000000ull, 0x1000, host, 0, &id, &err), -1);
	assert_non_null(strstr(err->msg, "all 32 in use"));
	mc_error_free(&err);
}

/* ---- against /dev/kvm ---------------------------------------------------------------------- */

static int kvm_fd = -1, vm_fd = -1, vcpu_fd = -1;
static struct kvm_run *run;
static size_t run_size;
static uint8_t *ram;
static struct irq_chip chip;
static struct memslots slots;
#define RAM_SIZE (1u << 20)

static void pause_ms(int ms)
{
	struct timespec ts = {0, ms * 1000000L};
	nanosleep(&ts, NULL);
}

/* Is vector vec pending in vCPU 0's local APIC (its IRR)? */
static bool lapic_irr(unsigned vec)
{
	struct kvm_lapic_state la;
	assert_int_equal(ioctl(vcpu_fd, KVM_GET_LAPIC, &la), 0);
	uint32_t irr;
	memcpy(&irr, la.regs + 0x200 + (vec / 32) * 0x10, 4);
	return irr >> (vec % 32) & 1;
}
static bool pic_irr(unsigned pin)
{
	struct kvm_irqchip c = {.chip_id = KVM_IRQCHIP_PIC_MASTER};
	assert_int_equal(ioctl(vm_fd, KVM_GET_IRQCHIP, &c), 0);
	return c.chip.pic.irr >> pin & 1;
}
/* irqfd injection runs in a kernel worker: wait for it, a bounded number of times. */
static bool wait_for(bool (*pending)(unsigned), unsigned what)
{
	for (int i = 0; i < 500; i++) {
		if (pending(what))
			return true;
		pause_ms(2);
	}
	return false;
}

static int kvm_setup(void **state)
{
	(void)state;
	mc_err err = NULL;
	vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	assert_true(vm_fd >= 0);
	ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(ram != MAP_FAILED);
	memslots_init(&slots, vm_fd);
	assert_int_equal(memslots_add(&slots, 0, RAM_SIZE, ram, 0, NULL, &err), 0);
	assert_int_equal(ioctl(vm_fd, KVM_CREATE_IRQCHIP, 0), 0);
	assert_int_equal(irq_chip_init(&chip, kvm_fd, vm_fd, &err), 0);
	vcpu_fd = ioctl(vm_fd, KVM_CREATE_VCPU, 0);
	assert_true(vcpu_fd >= 0);
	int sz = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	run_size = (size_t)sz;
	run = mmap(NULL, (size_t)sz, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu_fd, 0);
	assert_true(run != MAP_FAILED);
	/* software-enable the local APIC, or it takes no fixed interrupts */
	struct kvm_lapic_state la;
	assert_int_equal(ioctl(vcpu_fd, KVM_GET_LAPIC, &la), 0);
	uint32_t svr = 0x1ff;
	memcpy(la.regs + 0xf0, &svr, 4);
	assert_int_equal(ioctl(vcpu_fd, KVM_SET_LAPIC, &la), 0);
	return 0;
}

static void kvm_msi_irqfd(void **state)
{
	(void)state;
	mc_err err = NULL;
	uint32_t gsi;
	unsigned commits = chip.commits;
	assert_int_equal(irq_msi_alloc(&chip, 0xfee00000, 0x45, false, &gsi, &err), 0);
	assert_int_equal(chip.commits, commits + 1);
	assert_int_equal(gsi, IRQ_FIRST_DYNAMIC_GSI);
	int fd = eventfd(0, EFD_CLOEXEC);
	assert_int_equal(irq_irqfd_assign(&chip, fd, gsi, -1, &err), 0);
	assert_false(lapic_irr(0x45));
	uint64_t one = 1;
	assert_int_equal(write(fd, &one, 8), 8);
	assert_true(wait_for(lapic_irr, 0x45));
	/* the route moves to another vector: the same eventfd now raises that one */
	assert_int_equal(irq_msi_update(&chip, gsi, 0xfee00000, 0x47, false, &err), 0);
	assert_int_equal(write(fd, &one, 8), 8);
	assert_true(wait_for(lapic_irr, 0x47));
	assert_int_equal(irq_irqfd_deassign(&chip, fd, gsi, &err), 0);
	assert_int_equal(irq_msi_free(&chip, gsi, &err), 0);
	close(fd);
	/* KVM_SIGNAL_MSI: straight in */
	assert_true(irq_msi_signal(&chip, 0xfee00000, 0x46, &err) > 0);
	assert_true(lapic_irr(0x46));
}

/* Two vectors set up deferred: no KVM_SET_GSI_ROUTING until the commit, one for both, and an
 * irqfd bound before the commit injects through the committed route. */
static void kvm_msi_deferred(void **state)
{
	(void)state;
	mc_err err = NULL;
	uint32_t g1, g2;
	unsigned commits = chip.commits;
	assert_int_equal(irq_msi_alloc(&chip, 0xfee00000, 0x0, true, &g1, &err), 0);
	assert_int_equal(irq_msi_alloc(&chip, 0xfee00000, 0x0, true, &g2, &err), 0);
	int fd = eventfd(0, EFD_CLOEXEC);
	assert_int_equal(irq_irqfd_assign(&chip, fd, g1, -1, &err), 0);
	assert_int_equal(irq_msi_update(&chip, g1, 0xfee00000, 0x52, true, &err), 0);
	assert_int_equal(irq_msi_update(&chip, g2, 0xfee00000, 0x53, true, &err), 0);
	assert_int_equal(chip.commits, commits);
	assert_int_equal(irq_commit(&chip, &err), 0);
	assert_int_equal(chip.commits, commits + 1);
	assert_int_equal(irq_commit(&chip, &err), 0); /* nothing changed: no call */
	assert_int_equal(chip.commits, commits + 1);
	uint64_t one = 1;
	assert_int_equal(write(fd, &one, 8), 8);
	assert_true(wait_for(lapic_irr, 0x52));
	assert_int_equal(irq_irqfd_deassign(&chip, fd, g1, &err), 0);
	assert_int_equal(irq_msi_free(&chip, g1, &err), 0);
	assert_int_equal(irq_msi_free(&chip, g2, &err), 0);
	close(fd);
}

static void kvm_pin_irqfd_and_lines(void **state)
{
	(void)state;
	mc_err err = NULL;
	int fd = eventfd(0, EFD_CLOEXEC);
	assert_false(pic_irr(5));
	assert_int_equal(irq_irqfd_assign(&chip, fd, 5, -1, &err), 0);
	uint64_t one = 1;
	assert_int_equal(write(fd, &one, 8), 8);
	assert_true(wait_for(pic_irr, 5));
	assert_int_equal(irq_irqfd_deassign(&chip, fd, 5, &err), 0);
	close(fd);
	/* a level line: high shows in the PIC's IRR (an edge-mode pin latches it until acked) */
	struct irq_line l;
	irq_line_init(&l, &chip, 3, true);
	assert_int_equal(irq_line_set(&l, 1, &err), 0);
	assert_true(pic_irr(3));
	assert_int_equal(irq_line_set(&l, 1, &err), 0); /* unchanged: no ioctl */
	assert_int_equal(irq_line_set(&l, 0, &err), 0);
	assert_int_equal(l.level, 0);
	/* an edge line pulses: IRR latched, line low again */
	irq_line_init(&l, &chip, 6, false);
	assert_int_equal(irq_line_set(&l, 1, &err), 0);
	assert_true(pic_irr(6));
	/* a bad GSI is an error value, not a crash */
	irq_line_init(&l, &chip, 5000, true);
	assert_int_equal(irq_line_set(&l, 1, &err), -1);
	assert_non_null(strstr(err->msg, "GSI 5000 out of range"));
	mc_error_free(&err);
}

/* A real-mode guest at 0x1000: out 0x510 (our ioeventfd, handled in the kernel), out 0x511
 * with 7 (an exit to us), out 0x510 with 2 (datamatch 1 only: an exit), then spins. */
static void kvm_ioeventfd(void **state)
{
	(void)state;
	mc_err err = NULL;
	static const uint8_t code[] = {
	    0xb0, 0x01, 0xba, 0x10, 0x05, 0xee, /* mov al,1; mov dx,0x510; out dx,al */
	    0xb0, 0x07, 0x42, 0xee,		/* mov al,7; inc dx; out dx,al */
	    0xb0, 0x02, 0x4a, 0xee,		/* mov al,2; dec dx; out dx,al */
	    0xeb, 0xfe,				/* jmp $ */
	};
	memcpy(ram + 0x1000, code, sizeof(code));
	struct kvm_sregs sr;
	assert_int_equal(ioctl(vcpu_fd, KVM_GET_SREGS, &sr), 0);
	sr.cs.base = 0;
	sr.cs.selector = 0;
	assert_int_equal(ioctl(vcpu_fd, KVM_SET_SREGS, &sr), 0);
	struct kvm_regs r = {.rip = 0x1000, .rflags = 2};
	assert_int_equal(ioctl(vcpu_fd, KVM_SET_REGS, &r), 0);
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	const uint64_t match = 1;
	struct ioeventfd io = {.addr = 0x510, .len = 1, .pio = true, .match = &match, .fd = fd};
	assert_int_equal(irq_ioeventfd_assign(&chip, &io, &err), 0);
	assert_int_equal(ioctl(vcpu_fd, KVM_RUN, 0), 0);
	assert_int_equal(run->exit_reason, KVM_EXIT_IO);
	assert_int_equal(run->io.port, 0x511); /* 0x510 never came to us */
	uint64_t v = 0;
	assert_int_equal(read(fd, &v, 8), 8);
	assert_int_equal(v, 1);
	assert_int_equal(ioctl(vcpu_fd, KVM_RUN, 0), 0);
	assert_int_equal(run->exit_reason, KVM_EXIT_IO);
	assert_int_equal(run->io.port, 0x510); /* value 2 does not match */
	assert_int_equal(read(fd, &v, 8), -1);
	assert_int_equal(irq_ioeventfd_deassign(&chip, &io, &err), 0);
	io.len = 3;
	assert_int_equal(irq_ioeventfd_assign(&chip, &io, &err), -1);
	mc_error_free(&err);
	close(fd);
}

static uint32_t conf1_seen[4];
static unsigned conf1_writes;
static void conf1_port(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	(void)opaque;
	if (is_write && len == 4 && off == 0 && conf1_writes < 4)
		memcpy(&conf1_seen[conf1_writes++], data, 4);
	else if (!is_write)
		memset(data, 0, len);
}

/* A real-mode guest writes 0xcf8 twice (KVM queues both: no exit), then reads 0xcfc (an
 * exit): replayed in order before that exit is handled. */
static void kvm_coalesced_conf1(void **state)
{
	(void)state;
	mc_err err = NULL;
	static struct vm vm; /* the parts coalesced.c uses */
	vm.kvm_fd = kvm_fd;
	vm.vm_fd = vm_fd;
	pthread_mutex_init(&vm.coal_lock, NULL);
	assert_int_equal(bus_init(&vm.pio, "port", &err), 0);
	assert_int_equal(bus_add(&vm.pio, 0xcf8, 8, conf1_port, NULL, "conf1", &err), 0);
	coalesced_init(&vm);
	if (!vm.coal_pio) {
		printf("this KVM has no coalesced port writes: skipped\n");
		skip();
	}
	struct vcpu v = {.vm = &vm, .id = 0, .fd = vcpu_fd, .run = run, .run_size = run_size};
	assert_int_equal(coalesced_map(&vm, &v, &err), 0);
	assert_int_equal(coalesced_add(&vm, 0xcf8, 4, true, &err), 1);
	static const uint8_t code[] = {
	    0x66, 0xb8, 0x10, 0x00, 0x00, 0x80, /* mov eax,0x80000010 */
	    0xba, 0xf8, 0x0c,			/* mov dx,0xcf8 */
	    0x66, 0xef,				/* out dx,eax */
	    0x66, 0x40,				/* inc eax */
	    0x66, 0xef,				/* out dx,eax */
	    0xb2, 0xfc,				/* mov dl,0xfc */
	    0x66, 0xed,				/* in eax,dx */
	    0xeb, 0xfe,				/* jmp $ */
	};
	memcpy(ram + 0x2000, code, sizeof(code));
	struct kvm_sregs sr;
	assert_int_equal(ioctl(vcpu_fd, KVM_GET_SREGS, &sr), 0);
	sr.cs.base = 0;
	sr.cs.selector = 0;
	assert_int_equal(ioctl(vcpu_fd, KVM_SET_SREGS, &sr), 0);
	struct kvm_regs r = {.rip = 0x2000, .rflags = 2};
	assert_int_equal(ioctl(vcpu_fd, KVM_SET_REGS, &r), 0);
	assert_int_equal(ioctl(vcpu_fd, KVM_RUN, 0), 0);
	assert_int_equal(run->exit_reason, KVM_EXIT_IO);
	assert_int_equal(run->io.port, 0xcfc); /* the two writes did not exit */
	assert_int_equal(conf1_writes, 0);
	coalesced_drain(&vm, 0);
	assert_int_equal(conf1_writes, 2);
	assert_int_equal(conf1_seen[0], 0x80000010u);
	assert_int_equal(conf1_seen[1], 0x80000011u);
	assert_int_equal(coalesced_count(&vm), 2);
	coalesced_drain(&vm, 0); /* nothing left */
	assert_int_equal(conf1_writes, 2);
	bus_destroy(&vm.pio);
	pthread_mutex_destroy(&vm.coal_lock);
}

static void kvm_dirty_flag(void **state)
{
	(void)state;
	mc_err err = NULL;
	assert_int_equal(memslots_set_flags(&slots, 0, KVM_MEM_LOG_DIRTY_PAGES, &err), 0);
	static uint64_t bitmap[RAM_SIZE / 4096 / 64];
	struct kvm_dirty_log log = {.slot = 0, .dirty_bitmap = bitmap};
	assert_int_equal(ioctl(vm_fd, KVM_GET_DIRTY_LOG, &log), 0);
	assert_int_equal(memslots_set_flags(&slots, 0, 0, &err), 0);
	assert_int_equal(ioctl(vm_fd, KVM_GET_DIRTY_LOG, &log), -1); /* logging off again */
}

static int kvm_group(void)
{
	kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm_fd < 0) {
		printf("no usable /dev/kvm: %s\n", strerror(errno));
		return 77;
	}
	static const long caps[] = {KVM_CAP_IRQCHIP, KVM_CAP_IRQ_ROUTING, KVM_CAP_IRQFD,
				    KVM_CAP_IOEVENTFD, KVM_CAP_SIGNAL_MSI};
	static const char *const names[] = {"IRQCHIP", "IRQ_ROUTING", "IRQFD", "IOEVENTFD",
					    "SIGNAL_MSI"};
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, caps[i]) <= 0) {
			printf("this KVM lacks KVM_CAP_%s\n", names[i]);
			return 77;
		}
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(kvm_msi_irqfd),	       cmocka_unit_test(kvm_msi_deferred),
	    cmocka_unit_test(kvm_pin_irqfd_and_lines), cmocka_unit_test(kvm_ioeventfd),
	    cmocka_unit_test(kvm_dirty_flag),	       cmocka_unit_test(kvm_coalesced_conf1),
	};
	return cmocka_run_group_tests(tests, kvm_setup, NULL);
}

int main(void)
{
	if (getenv("MINIVM_TEST_KVM"))
		return kvm_group();
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(default_routes),
	    cmocka_unit_test(msi_routes),
	    cmocka_unit_test(slot_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
