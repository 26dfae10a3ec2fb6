#!/usr/bin/env bash
# Where lab tests run (inside the lab here, on the host where it has VT-x/AMD-V), /dev/kvm has
# hardware-virtualization semantics and runs a guest built by our tree.
. "$ROOT/tests/lib.sh"
kind=$(kvm_kind)
[ "$kind" = hardware ] || fail "this /dev/kvm is '$kind' (kvm_kind in tests/lib.sh), not hardware: lab tests must run in the lab"
[ -d /sys/module/kvm_amd ] || [ -d /sys/module/kvm_intel ] || fail "neither kvm_amd nor kvm_intel is loaded"
"$TOOLS/kvm_smoke" || fail "kvm_smoke failed"
echo "kvm works here ($(uname -r), in lab: ${MINI_IN_LAB:-0})"
