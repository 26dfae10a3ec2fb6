#!/usr/bin/env bash
# The 16550 UART in both directions, and --console none|stdio|file:PATH.
. "$ROOT/tests/lib.sh"
. "$ROOT/tests/guests/lib.sh"
for k in "${KERNELS[@]}"; do
	n=$(basename "$k")
	out=$(guest "$k" hello </dev/null)
	expect_eq "$n hello exit" "$?" 0
	expect_contains "$n console output" "$out" "hello from the"
	out=$(echo "ping-123" | guest "$k" echo)
	rc=$?
	expect_contains "$n console input echoed" "$out" "got:ping-123"
	expect_eq "$n echo exit status (line length)" "$rc" 8
	out=$(guest "$k" hello --console none </dev/null)
	expect_eq "$n --console none exit" "$?" 0
	expect_eq "$n --console none prints nothing" "$out" ""
	out=$(guest "$k" hello --console "file:$TMP/console.txt" </dev/null)
	expect_eq "$n --console file exit" "$?" 0
	expect_eq "$n --console file leaves stdout empty" "$out" ""
	expect_contains "$n --console file content" "$(cat "$TMP/console.txt")" "hello from the"
	# A reader that goes away only loses the output; the guest still finishes.
	guest "$k" hello </dev/null | true
	expect_eq "$n closed stdout: exit status" "${PIPESTATUS[0]}" 0
	echo "$n: console ok"
done
