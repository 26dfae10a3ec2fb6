#!/usr/bin/env bash
# Copy-storage live migration of a stock-kernel guest that writes its disk while it moves
# (docs/migration.md, "Copy-storage"; issue 14 items 4 and 9): source and destination on
# loopback, each with its own image (the destination's a fresh sparse file of the same size).
# The 256 MiB image holds 24 MiB of random data and holes; the guest (the initramfs' busybox)
# writes one numbered 512-byte block with O_DIRECT every 0.1 s (tests/lab/devices_guest.bash's
# numbering, printing W:N) until the host writes STOP into a control block of the image.
#  1. `migrate --copy-storage` while the guest writes: it succeeds, the source ends, the guest
#     writes on at the destination (every W:N exactly once across both outputs);
#  2. after the host stops it: the destination's image holds every block the guest wrote (the
#     numbering, and the guest's own checksum), and differs from the source's frozen image only
#     in the blocks written after the switch-over and the control block: the bulk data, the
#     holes and the blocks written before and during the migration all arrived.
. "$ROOT/tests/lib.sh"
. "$ROOT/tests/lab/devices_guest.bash"
need_stock_kernel_kvm
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
TMP=$(mktemp -d)
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill -KILL "$p" 2>/dev/null
	done
	wait 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

SRC=$TMP/src.img DST=$TMP/dst.img
truncate -s 256M "$SRC"
head -c 24M /dev/urandom | dd of="$SRC" bs=1M seek=32 conv=notrunc status=none
truncate -s 256M "$DST"
script=$(devices_writer 0.1)

"$BIN/minivm" run --kernel "$MINIVM_KERNEL" --initrd "$MINIVM_INITRD" --mem 256M \
	--disk "$SRC" --api "$TMP/s.sock" --console-log "$TMP/s.con" -- /bin/sh -c "$script" \
	</dev/null >"$TMP/s.out" 2>"$TMP/s.err" &
src=$!
pids+=("$src")
wait_for "the guest writes its disk ($(tail -n 5 "$TMP/s.err"))" 300 grew "$TMP/s.out" 3

"$BIN/minivm" run --incoming tcp:127.0.0.1:0 --disk "$DST" --api "$TMP/d.sock" \
	--console-log "$TMP/d.con" </dev/null >"$TMP/d.out" 2>"$TMP/d.err" &
dst=$!
pids+=("$dst")
wait_for "the destination listens" 30 grep -q "waiting for an incoming" "$TMP/d.err"
port=$(grep -o 'tcp:127.0.0.1:[0-9]*' "$TMP/d.err" | cut -d: -f3)

n0=$(lastw "$TMP/s.out")
"$BIN/minivm" migrate --api "$TMP/s.sock" --copy-storage "tcp:127.0.0.1:$port" >"$TMP/m.json" 2>&1
rc=$?
expect_eq "migrate --copy-storage ($(cat "$TMP/m.json"); $(tail -n 3 "$TMP/d.err"))" "$rc" 0
wait "$src"
rc=$?
expect_eq "the source's exit after the migration ($(tail -n 3 "$TMP/s.err"))" "$rc" 0
src_last=$(lastw "$TMP/s.out")
[ "$src_last" -gt "$n0" ] || fail "the guest wrote nothing during the migration (W:$n0 -> W:$src_last)"
wait_for "the guest writes on at the destination ($(tail -n 3 "$TMP/d.err"))" 120 \
	grew "$TMP/d.out" $((src_last + 10))
devices_end "$DST" "$TMP/d.out" "$TMP/d.err" "$dst" "the destination"

# ---- the checks ----
devices_check "$DST" "$TMP/s.out" "$TMP/d.out"
# the source's image is as the guest left it at the switch-over: the destination's differs
# only in the blocks written there (W:src_last+1 ..) and the control block
# (cmp in C: a Python loop over 256 MiB took minutes in the lab's TCG)
bad=$(cmp -l "$SRC" "$DST" | awk -v lo=$((DATA + src_last + 1)) -v hi=$((DATA + done_n)) -v ctl=$CTL \
	'{ s = int(($1 - 1) / 512); if (!((s >= lo && s < hi) || s == ctl)) print s }' | uniq | head -n 8)
expect_eq "sectors that differ from the source's image outside the blocks written after the switch-over" \
	"$bad" ""
bulk_s=$(dd if="$SRC" bs=1M skip=32 count=24 status=none | sha256sum | cut -d' ' -f1)
bulk_d=$(dd if="$DST" bs=1M skip=32 count=24 status=none | sha256sum | cut -d' ' -f1)
expect_eq "the 24 MiB of bulk data" "$bulk_d" "$bulk_s"
j() { grep -o "\"$1\":[^,}]*" "$TMP/m.json" | head -n 1 | cut -d: -f2; }
for p in "${pids[@]}"; do
	kill -0 "$p" 2>/dev/null && fail "process $p still runs"
done
pids=()
echo "copy-storage while the guest writes: W:$n0 at the start, source's last W:$src_last, stopped at W:$((done_n - 1)) on the destination; $done_n blocks match, the rest of the 256 MiB image equal; minivm's report: total $(j total_ms) ms, downtime $(j downtime_ms) ms, $(j rounds) rounds, bytes_sent $(j bytes_sent), disk_bytes $(j disk_bytes), disk_zero_bytes $(j disk_zero_bytes), $(grep -o '"disk_bytes_per_round":\[[^]]*\]' "$TMP/m.json" | tr -d '"')"
