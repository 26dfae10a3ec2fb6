#!/usr/bin/env bash
# minivm doctor names what /dev/kvm is here, lists the capabilities minivm uses and, on PVM,
# sends stock kernels to the lab.
. "$ROOT/tests/lib.sh"
[ -x "$BIN/minivm" ] || skip "no $BIN/minivm"
run_capture out rc "$BIN/minivm" doctor
kind=$(kvm_kind)
if [ "$kind" = none ]; then
	expect_eq "doctor exit without /dev/kvm" "$rc" 1
	expect_contains "doctor without /dev/kvm" "$out" "missing"
	exit 0
fi
expect_eq "doctor exit status; output: $out" "$rc" 0
expect_contains "doctor names /dev/kvm" "$out" "/dev/kvm: "
expect_contains "doctor lists capabilities" "$out" "KVM_CAP_IRQCHIP"
expect_contains "doctor lists capabilities" "$out" "KVM_CAP_PIT2"
expect_contains "doctor verdict" "$out" "verdict: "
if [ "$kind" = pvm ]; then
	expect_contains "doctor on PVM" "$out" "PVM"
	expect_contains "doctor points to the lab" "$out" "minilab run"
	expect_contains "doctor says why" "$out" "cannot boot on PVM"
elif [ "$kind" = hardware ]; then
	expect_contains "doctor on hardware" "$out" "hardware"
fi
# An unknown subcommand fails.
run_capture out rc "$BIN/minivm" doctorx
[ "$rc" -ne 0 ] || fail "unknown subcommand accepted"
echo "doctor ok"
