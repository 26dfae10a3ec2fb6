#!/usr/bin/env bash
# Boot-protocol handoff with the tiny guests: each checks its hvm_start_info (PVH) or zero page
# (bzImage) - magic, memory map size, command line, initrd bytes, ACPI RSDP - and exits with
# 0 or the number of the failed check, which becomes minivm's exit status.
. "$ROOT/tests/lib.sh"
. "$ROOT/tests/guests/lib.sh"
for k in "${KERNELS[@]}"; do
	n=$(basename "$k")
	run_capture out rc guest "$k" "check 256" --initrd "$TMP/initrd" --mem 256M
	expect_eq "$n handoff (256M) exit status; output: $out" "$rc" 0
	for cpus in 2 8; do
		run_capture out rc guest "$k" "check 64" --initrd "$TMP/initrd" --mem 64M --cpus $cpus
		expect_eq "$n handoff (64M, $cpus vCPUs) exit status; output: $out" "$rc" 0
	done
	# Without an initrd the guest must notice (check 23): the checks can fail.
	run_capture out rc guest "$k" "check 256"
	expect_eq "$n without initrd: failed check" "$rc" 23
	# Wrong memory size expectation: check 21.
	run_capture out rc guest "$k" "check 128" --initrd "$TMP/initrd" --mem 256M
	expect_eq "$n memory map size mismatch: failed check" "$rc" 21
	# RAM above the 3 GiB MMIO hole goes to a second slot at 4 GiB.
	if [ "$(awk '/MemTotal/ {print $2}' /proc/meminfo)" -gt $((8 << 20)) ]; then
		run_capture out rc guest "$k" "check 4096" --initrd "$TMP/initrd" --mem 4G
		expect_eq "$n handoff (4G, split around the hole); output: $out" "$rc" 0
	fi
	echo "$n: handoff checks pass"
done
