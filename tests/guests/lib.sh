# Helpers for minivm host tests with the tiny test guests (sourced after tests/lib.sh).
GUESTS=$(dirname "$BIN")/tests/guests
[ -f "$GUESTS/pvh-guest.elf" ] || GUESTS=$ROOT/build/tests/guests
MINIVM=$BIN/minivm
[ -x "$MINIVM" ] || skip "no $MINIVM (make SAN=1 BUILD=build/san all test-bins)"
[ -f "$GUESTS/pvh-guest.elf" ] && [ -f "$GUESTS/bz-guest.bin" ] || fail "test guests not built (make guests)"
[ -c /dev/kvm ] || skip "no /dev/kvm on this host"
[ -r /dev/kvm ] && [ -w /dev/kvm ] || skip "no permission on /dev/kvm"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
printf MINITEST >"$TMP/initrd"
# Both boot protocols: the PVH ELF and the bzImage.
KERNELS=("$GUESTS/pvh-guest.elf" "$GUESTS/bz-guest.bin")
# guest KERNEL CMDLINE [minivm options...]: run a test guest, console on stdout
guest() {
	local k=$1 c=$2
	shift 2
	timeout 30 "$MINIVM" run --kernel "$k" --cmdline "$c" "$@"
}
