#!/usr/bin/env bash
# The interrupt layer and the memory-slot table against this host's /dev/kvm (the unit test
# binary's KVM group): KVM_SET_GSI_ROUTING with an MSI route, irqfd into an MSI and into a
# PIC/IOAPIC pin, KVM_SIGNAL_MSI, KVM_IRQ_LINE levels, ioeventfd (with datamatch) written by a
# real-mode guest, dirty logging switched on a slot, conf1 address writes coalesced by KVM and
# replayed before the data access. Skips when /dev/kvm or a capability is
# missing (the binary exits 77).
. "$ROOT/tests/lib.sh"
t=$(dirname "$BIN")/tests/unit/vmm_irq
[ -x "$t" ] || t=$ROOT/build/san/tests/unit/vmm_irq
[ -x "$t" ] || skip "no $t (make SAN=1 BUILD=build/san test-bins)"
[ -c /dev/kvm ] || skip "no /dev/kvm on this host"
MINIVM_TEST_KVM=1 "$t"
rc=$?
[ "$rc" = 77 ] && exit 77
expect_eq "vmm_irq KVM group" "$rc" 0
echo "irq layer on /dev/kvm ok"
