# Helpers for minivm host tests with the tiny test guests (sourced after tests/lib.sh).
GUESTS=$(dirname "$BIN")/tests/guests
[ -f "$GUESTS/pvh-guest.elf" ] || GUESTS=$ROOT/build/tests/guests
MINIVM=$BIN/minivm
[ -x "$MINIVM" ] || skip "no $MINIVM (make SAN=1 BUILD=build/san all test-bins)"
[ -f "$GUESTS/pvh-guest.elf" ] && [ -f "$GUESTS/bz-guest.bin" ] || fail "test guests not built (make guests)"
[ -c /dev/kvm ] || skip "no /dev/kvm on this host"
[ -r /dev/kvm ] && [ -w /dev/kvm ] || skip "no permission on /dev/kvm"
TMP=$(mktemp -d)
# Every VM started with vm_start (below) is killed when the test ends, also when a check fails.
VM_PIDS=()
trap 'for p in "${VM_PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$TMP"' EXIT
printf MINITEST >"$TMP/initrd"
# Both boot protocols: the PVH ELF and the bzImage.
KERNELS=("$GUESTS/pvh-guest.elf" "$GUESTS/bz-guest.bin")
# guest KERNEL CMDLINE [minivm options...]: run a test guest, console on stdout
guest() {
	local k=$1 c=$2
	shift 2
	timeout 30 "$MINIVM" run --kernel "$k" --cmdline "$c" "$@"
}

# ---- VMs in the background, driven through the control API (docs/api.md) ------------------
# vm_start NAME [minivm run options...]: minivm in the background with its API socket at
# $TMP/NAME.sock, no stdin, the console in $TMP/NAME.out, stderr in $TMP/NAME.err; PID in $VM_PID
vm_start() {
	local n=$1
	shift
	"$MINIVM" run --api "$TMP/$n.sock" "$@" </dev/null >"$TMP/$n.out" 2>"$TMP/$n.err" &
	VM_PID=$!
	VM_PIDS+=("$VM_PID")
}
# api VERB SOCKET [ARGS...]: a client verb against the VM serving SOCKET
api() { "$MINIVM" "$1" --api "$2" "${@:3}"; }
# stop_vm NAME PID: stop through the API; the VM must exit with status 0
stop_vm() {
	api stop "$TMP/$1.sock" >/dev/null || fail "stop $1"
	wait "$2"
	local rc=$?
	[ "$rc" = 0 ] || fail "$1: exit status $rc after stop ($(tail -n 3 "$TMP/$1.err"))"
}
# wait_until DESC CMD...: tests/lib.sh
# The counting guest (--cmdline count) prints "count N" lines; the UART writes a byte at a time,
# so the last line may be partial: last_count reads complete lines only.
counted() { grep -q "^count $2\$" "$1"; }
last_count() { head -n -1 "$1" | grep '^count ' | tail -n 1 | cut -d' ' -f2; }
first_count() { head -n -1 "$1" | grep -m1 '^count ' | cut -d' ' -f2; }
# counting FILE: the guest has printed a complete "count N" line (wait for this, not for a
# "count" prefix: first_count and last_count would read nothing or a cut number)
counting() { [ -n "$(first_count "$1")" ]; }
# count_goes_on WHAT BEFORE AFTER: the count in file AFTER goes on from the last complete one in
# BEFORE (L): joined, the line after "count L" is "count L+1" (a line cut at the switch is
# finished by the guest that goes on)
count_goes_on() {
	local L
	L=$(last_count "$2")
	cat "$2" "$3" >"$TMP/joined"
	expect_eq "$1: goes on from count $L" \
		"$(grep -A1 "^count $L\$" "$TMP/joined" | sed -n 2p)" "count $((L + 1))"
}
