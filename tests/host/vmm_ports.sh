#!/usr/bin/env bash
# Port I/O dispatch through the one trap table: unclaimed ports read all ones (byte and dword),
# a device register (UART scratch) keeps what the guest wrote.
. "$ROOT/tests/lib.sh"
. "$ROOT/tests/guests/lib.sh"
for k in "${KERNELS[@]}"; do
	run_capture out rc guest "$k" ports </dev/null
	expect_eq "$(basename "$k") port dispatch checks; output: $out" "$rc" 0
done
# And the guest can tell a failure: an unknown command exits 98.
run_capture out rc guest "${KERNELS[0]}" "no-such-command" </dev/null
expect_eq "unknown guest command" "$rc" 98
echo "port dispatch ok"
