#!/usr/bin/env bash
# Bad input: one clear error line naming the problem, a non-zero exit, nothing left running.
. "$ROOT/tests/lib.sh"
. "$ROOT/tests/guests/lib.sh"
PVH=${KERNELS[0]} BZ=${KERNELS[1]}
# bad WHAT NEEDLE ARGS...: minivm ARGS must fail with one line on stderr containing NEEDLE
bad() {
	local what=$1 needle=$2
	shift 2
	local err rc
	err=$(timeout 30 "$MINIVM" "$@" 2>&1 >/dev/null </dev/null)
	rc=$?
	[ "$rc" -ne 0 ] || fail "$what: exit status 0"
	[ "$rc" -ne 124 ] || fail "$what: hung"
	expect_contains "$what" "$err" "$needle"
	[ "$(printf '%s\n' "$err" | grep -c .)" -eq 1 ] || fail "$what: more than one line: $err"
}
head -c 700 "$BZ" >"$TMP/short.bin"
head -c 40 "$PVH" >"$TMP/short.elf"
dd if=/dev/zero of="$TMP/big.img" bs=1M count=20 status=none
cp "$BZ" "$TMP/oldproto.bin" && printf '\x00\x02' | dd of="$TMP/oldproto.bin" bs=1 seek=$((0x206)) conv=notrunc status=none

bad "missing kernel" "No such file" run --kernel "$TMP/nope"
bad "not a kernel" "neither a bzImage nor an ELF" run --kernel /etc/hostname
bad "truncated bzImage" "bzImage" run --kernel "$TMP/short.bin"
bad "truncated ELF" "ELF" run --kernel "$TMP/short.elf"
bad "old boot protocol" "too old" run --kernel "$TMP/oldproto.bin"
bad "ELF without PVH note" "no PVH entry note" run --kernel /bin/true
bad "kernel is a directory" "not a regular file" run --kernel /
bad "kernel is a device" "not a regular file" run --kernel /dev/null
: >"$TMP/empty"
bad "empty kernel" "is empty" run --kernel "$TMP/empty"
bad "initrd does not fit" "does not fit" run --kernel "$PVH" --initrd "$TMP/big.img" --mem 16M
bad "missing initrd" "initrd" run --kernel "$PVH" --initrd "$TMP/nope"
bad "mem too small" "too small" run --kernel "$PVH" --mem 1M
bad "mem too large" "more than this host" run --kernel "$PVH" --mem 100T
bad "mem junk" "--mem" run --kernel "$PVH" --mem lots
bad "cpus 0" "--cpus 0 is out of range" run --kernel "$PVH" --cpus 0
bad "cpus too many" "out of range" run --kernel "$PVH" --cpus 1000
bad "unknown flag" "unknown option" run --kernel "$PVH" --frobnicate
bad "missing value" "needs a value" run --kernel
bad "missing --kernel" "missing --kernel" run
bad "bad console" "--console" run --kernel "$PVH" --console tty
bad "bad timings" "--timings" run --kernel "$PVH" --timings xml
bad "command line too long" "command line longer" run --kernel "$PVH" --cmdline "$(head -c 3000 /dev/zero | tr '\0' x)"
# The guest command and environment travel in an archive appended to the initrd.
printf 'MINITEST' >"$TMP/small.img"
printf '# comment\n\nA=1\nNOEQUALS\n' >"$TMP/bad.env"
head -c $((15 << 20)) /dev/zero | tr '\0' x | sed 's/^/BIG=/' >"$TMP/big.env"
bad "command without initrd" "needs --initrd" run --kernel "$PVH" -- echo 'a"b'
bad "env without =" "--env \`NOEQUALS\`: expected NAME=VALUE" run --kernel "$PVH" --initrd "$TMP/small.img" --env NOEQUALS
bad "env without name" "expected NAME=VALUE" run --kernel "$PVH" --initrd "$TMP/small.img" --env =x
bad "env-file missing" "--env-file: open" run --kernel "$PVH" --initrd "$TMP/small.img" --env-file "$TMP/nope"
bad "env-file bad line" "line 4: \`NOEQUALS\` is not NAME=VALUE" run --kernel "$PVH" --initrd "$TMP/small.img" --env-file "$TMP/bad.env"
bad "arguments do not fit" "with the command's arguments and environment) does not fit" run --kernel "$PVH" --initrd "$TMP/small.img" --mem 16M --env-file "$TMP/big.env" -- true
bad "unknown subcommand" "unknown command" frob
# A guest crash (triple fault, or PVM's emulation failure on the way there) is reported with RIP.
bad "guest crash" "RIP 0x" run --kernel "$PVH" --cmdline triple
bad "guest crash (bzImage)" "RIP 0x" run --kernel "$BZ" --cmdline triple
# No /dev/kvm: hide it in a private mount namespace.
if unshare -m true 2>/dev/null; then
	err=$(unshare -m sh -c 'mount -t tmpfs none /dev && exec "$0" run --kernel "$1"' \
		"$MINIVM" "$PVH" 2>&1 </dev/null)
	rc=$?
	[ "$rc" -ne 0 ] || fail "no /dev/kvm: exit 0"
	expect_contains "no /dev/kvm" "$err" "open \`/dev/kvm\` (no KVM here"
fi
# No permission on /dev/kvm: an unprivileged user (when it can reach our binary at all).
nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups)
if [ "$(stat -c %a /dev/kvm)" != 666 ] && "${nobody[@]}" test -x "$MINIVM"; then
	run_capture err rc "${nobody[@]}" "$MINIVM" run --kernel "$PVH" </dev/null
	expect_eq "no permission on /dev/kvm: status" "$rc" 125
	expect_contains "no permission on /dev/kvm" "$err" "no permission: join the kvm group"
fi
# SIGTERM while the guest spins: exit 143, no minivm left behind.
"$MINIVM" run --kernel "$PVH" --cmdline spin </dev/null >/dev/null 2>"$TMP/sig.err" &
pid=$!
sleep 0.5
kill -TERM "$pid"
wait "$pid"
expect_eq "SIGTERM exit status" "$?" 143
[ -d "/proc/$pid" ] && fail "minivm $pid still running"
echo "bad input handled"
