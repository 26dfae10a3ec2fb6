#!/usr/bin/env bash
# A stock kernel's poweroff (ACPI S5 through PM1a) and reboot (ACPI reset register) end minivm
# cleanly, with the right end reason, and nothing is left running.
. "$ROOT/tests/lib.sh"
need_stock_kernel_kvm
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
power() { # NAME KERNEL CMD WANT_END
	local name=$1 kernel=$2 cmd=$3 want=$4
	timeout 300 "$BIN/minivm" run --kernel "$kernel" --initrd "$MINIVM_INITRD" --timings json \
		-- /bin/sh -c "$cmd" </dev/null >"$TMP/$name.out" 2>"$TMP/$name.json"
	local rc=$?
	expect_eq "$name: exit status ($(cat "$TMP/$name.json"))" "$rc" 0
	expect_contains "$name: end reason" "$(cat "$TMP/$name.json")" "\"end\":\"$want\""
	[ -z "$(pids_matching "$TMP")" ] || fail "$name: processes left behind"
	echo "$name: ok"
}
power reboot-bzimage "$MINIVM_KERNEL" "reboot -f" reboot
power poweroff-pvh "$MINIVM_VMLINUX" "poweroff -f" poweroff
