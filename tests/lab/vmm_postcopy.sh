#!/usr/bin/env bash
# Post-copy live migration of Debian's stock kernel (docs/migration.md "Post-copy"), 2 vCPUs,
# 256 MiB, a guest command counting on the virtio console and writing one numbered 4 KiB block
# per count to a virtio disk with O_DIRECT: with --postcopy=now every page the guest had comes
# after the switch-over, so the kernel's first touches (vCPUs in KVM) and the devices' threads
# (the console reading the guest's output buffers, the disk its write buffers) all fault through
# userfaultfd at the destination. The command's output goes on at the destination from the next
# count, every page arrives (the destination says so), the disk holds every block the guest
# wrote in order, and both VMs end. Then the same guest goes on by plain pre-copy to a third
# minivm, the baseline for the downtime in the same run.
. "$ROOT/tests/lib.sh"
need_stock_kernel_kvm
TMP=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$TMP"' EXIT
lines() { grep -c '^n=' "$1" 2>/dev/null || true; }
has_lines() { [ "$(lines "$1")" -ge "$2" ]; }
IMG=$TMP/disk.img
truncate -s 64M "$IMG"
loop='i=0; while :; do i=$((i+1)); printf "%-4095s\n" "block $i" | dd of=/dev/vda bs=4096 seek=$i oflag=direct conv=notrunc 2>/dev/null; echo n=$i; sleep 0.2; done'
"$BIN/minivm" run --kernel "$MINIVM_KERNEL" --initrd "$MINIVM_INITRD" --cpus 2 --mem 256M \
	--disk "$IMG" --api "$TMP/s.sock" -- /bin/sh -c "$loop" </dev/null >"$TMP/s.out" \
	2>"$TMP/s.err" &
src=$!
pids+=("$src")
wait_for "the source counts ($(tail -n 3 "$TMP/s.err"))" 300 has_lines "$TMP/s.out" 5
"$BIN/minivm" run --incoming tcp:127.0.0.1:0 --disk "$IMG" --api "$TMP/d.sock" </dev/null \
	>"$TMP/d.out" 2>"$TMP/d.err" &
dst=$!
pids+=("$dst")
wait_for "the destination listens" 30 grep -q 'waiting for an incoming' "$TMP/d.err"
port=$(grep -o 'tcp:127.0.0.1:[0-9]*' "$TMP/d.err" | cut -d: -f3)
run_capture out rc "$BIN/minivm" migrate --api "$TMP/s.sock" --postcopy=now "tcp:127.0.0.1:$port"
expect_eq "migrate --postcopy=now ($out)" "$rc" 0
expect_contains "migrated" "$out" '"status":"migrated"'
wait "$src"
expect_eq "source exit status ($(tail -n 3 "$TMP/s.err"))" "$?" 0
wait_for "every page at the destination ($(tail -n 3 "$TMP/d.err"))" 120 \
	grep -q 'post-copy: every page is here' "$TMP/d.err"
last=$(grep '^n=' "$TMP/s.out" | tail -n 1 | tr -d '\r')
wait_for "the destination counts on" 120 has_lines "$TMP/d.out" 5
first=$(grep -m1 '^n=' "$TMP/d.out" | tr -d '\r')
expect_eq "the count goes on at the destination" "${first#n=}" "$((${last#n=} + 1))"
# the baseline: pre-copy from there to a third minivm
"$BIN/minivm" run --incoming tcp:127.0.0.1:0 --disk "$IMG" --api "$TMP/e.sock" </dev/null \
	>"$TMP/e.out" 2>"$TMP/e.err" &
dst2=$!
pids+=("$dst2")
wait_for "the third minivm listens" 30 grep -q 'waiting for an incoming' "$TMP/e.err"
port=$(grep -o 'tcp:127.0.0.1:[0-9]*' "$TMP/e.err" | cut -d: -f3)
run_capture pre rc "$BIN/minivm" migrate --api "$TMP/d.sock" "tcp:127.0.0.1:$port"
expect_eq "migrate (pre-copy) ($pre)" "$rc" 0
wait "$dst"
expect_eq "destination exit status ($(tail -n 3 "$TMP/d.err"))" "$?" 0
wait_for "the third minivm counts on" 120 has_lines "$TMP/e.out" 3
"$BIN/minivm" stop --api "$TMP/e.sock" >/dev/null || fail "stop the third minivm"
wait "$dst2"
expect_eq "third minivm exit status ($(tail -n 3 "$TMP/e.err"))" "$?" 0
n=$(grep '^n=' "$TMP/e.out" | tail -n 1 | tr -d '\r')
n=${n#n=}
run_capture res rc "$PY" - "$IMG" "$n" <<'PY'
import sys
img, n = sys.argv[1], int(sys.argv[2])
with open(img, "rb") as f:
    for i in range(1, n + 1):
        f.seek(i * 4096)
        b = f.read(4096)
        want = ("%-4095s\n" % f"block {i}").encode()
        if b != want:
            sys.exit(f"block {i} of {n}: {b[:20]!r}")
print(f"{n} blocks in order")
PY
expect_eq "the disk ($res)" "$rc" 0
echo "stock kernel post-copy ok: $(grep -o '"downtime_ms":[^,]*' <<<"$out"), $(grep -o '"total_ms":[^,]*' <<<"$out"), $(grep -o '"postcopy_pages":[^,]*' <<<"$out"), $(grep -o '"postcopy_ms":[^,]*' <<<"$out"), counted on from ${last#n=}; $(grep 'every page' "$TMP/d.err" | cut -d: -f3-); then pre-copy in the same run: $(grep -o '"downtime_ms":[^,]*' <<<"$pre"), $(grep -o '"total_ms":[^,]*' <<<"$pre"); $res"
