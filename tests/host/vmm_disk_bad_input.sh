#!/usr/bin/env bash
# --disk bad input: one clear error line naming the problem, exit status 125, nothing left
# running and no file descriptor of the image left open (the check opens it and closes it).
. "$ROOT/tests/lib.sh"
. "$ROOT/tests/guests/lib.sh"
PVH=${KERNELS[0]}
# bad WHAT NEEDLE ARGS...: minivm ARGS must fail with status 125 and one line containing NEEDLE
bad() {
	local what=$1 needle=$2
	shift 2
	local err rc
	err=$(timeout 30 "$MINIVM" "$@" 2>&1 >/dev/null </dev/null)
	rc=$?
	expect_eq "$what: exit status" "$rc" 125
	expect_contains "$what" "$err" "$needle"
	[ "$(printf '%s\n' "$err" | grep -c .)" -eq 1 ] || fail "$what: more than one line: $err"
}
truncate -s 1M "$TMP/ok.img"
: >"$TMP/empty.img"
truncate -s 1000 "$TMP/odd.img"
mkdir "$TMP/dir"
bad "missing image" "open \`$TMP/nope.img\`: No such file" run --kernel "$PVH" --disk "$TMP/nope.img"
bad "image is a directory" "Is a directory" run --kernel "$PVH" --disk "$TMP/dir"
bad "read-only directory" "not a regular file or a block device" run --kernel "$PVH" --disk "$TMP/dir,ro"
bad "image is a character device" "not a regular file or a block device" run --kernel "$PVH" --disk /dev/null
bad "empty image" "is empty" run --kernel "$PVH" --disk "$TMP/empty.img"
bad "size not whole sectors" "size 1000 bytes is not a multiple of 512" run --kernel "$PVH" --disk "$TMP/odd.img"
bad "unknown disk option" "unknown option \`cache=none\`" run --kernel "$PVH" --disk "$TMP/ok.img,cache=none"
bad "bad engine" "engine \`aio\`: expected uring or threads" run --kernel "$PVH" --disk "$TMP/ok.img,engine=aio"
bad "no path" "missing PATH" run --kernel "$PVH" --disk ",ro"
bad "missing value" "needs a value" run --kernel "$PVH" --disk
bad "second disk bad" "open \`$TMP/nope.img\`" run --kernel "$PVH" --disk "$TMP/ok.img" --disk "$TMP/nope.img"
many=()
for i in $(seq 17); do many+=(--disk "$TMP/ok.img,ro"); done
bad "too many disks" "more than 16 --disk" run --kernel "$PVH" "${many[@]}"
# Not writable: a read-write disk fails, ro works up to the point of the (bad) kernel.
if [ "$(id -u)" -ne 0 ]; then
	chmod 0444 "$TMP/ok.img"
	bad "read-only file as a read-write disk" "Permission denied" run --kernel "$PVH" --disk "$TMP/ok.img"
	chmod 0644 "$TMP/ok.img"
fi
# Good disks get past the option checks (the console, checked next, is what fails here).
bad "good disks, bad console" "--console" run --kernel "$PVH" --disk "$TMP/ok.img" --disk "$TMP/ok.img,ro,direct,engine=threads" --console tty
[ -z "$(pids_matching "$TMP/")" ] || fail "a minivm is left running"
echo "ok"
