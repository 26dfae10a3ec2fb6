#!/usr/bin/env bash
# Snapshot and restore of a stock-kernel guest with a disk, a network card and a command
# (docs/snapshot.md): in a network namespace, a tap with 10.79.0.1/24; the guest reads
# tests/tools/udp_echo from its disk and serves UDP on 10.79.0.2, and writes one numbered
# 512-byte block with O_DIRECT every 0.2 s, printing W:N, until the host writes STOP into the
# image's control block. `snapshot --stop` while it writes and answers; a restore without the
# disk is refused naming virtio-blk0; the restore with the same --disk and --net goes on: the
# next W:N on the restored minivm's stdout (each exactly once across both), UDP answered again,
# the image's blocks are the ones the guest wrote and its own checksum agrees.
. "$ROOT/tests/lib.sh"
. "$ROOT/tests/lab/devices_guest.bash"
need_stock_kernel_kvm
[ "$(id -u)" = 0 ] || skip "needs root (a network namespace, a tap)"
[ -c /dev/net/tun ] || modprobe tun 2>/dev/null
[ -c /dev/net/tun ] || skip "no /dev/net/tun"
for t in udp_echo udp_observer; do
	[ -x "$TOOLS/$t" ] || fail "no $TOOLS/$t (make test-bins)"
done
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
TMP=$(mktemp -d)
NS=mvm-snap-$$
MAC=52:54:00:79:00:02
GUEST=10.79.0.2
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill -KILL "$p" 2>/dev/null
	done
	wait 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
ip netns add "$NS" || skip "cannot make a network namespace"
ip -n "$NS" link set lo up
ip -n "$NS" tuntap add dev mvs0 mode tap
ip -n "$NS" addr add 10.79.0.1/24 dev mvs0
ip -n "$NS" link set mvs0 up

IMG=$TMP/disk.img
devices_image "$IMG"
script=$(devices_script)
probe() { # NAME SECS: replies in SECS seconds
	ip netns exec "$NS" "$TOOLS/udp_observer" "$GUEST" 9000 "$2" >"$TMP/$1" 2>"$TMP/$1.err"
	grep -o '"replies":[0-9]*' "$TMP/$1" | cut -d: -f2
}
# answered NAME: an observer until the guest's first reply (up to 120 s: ARP, a slow lab)
answered() {
	ip netns exec "$NS" "$TOOLS/udp_observer" "$GUEST" 9000 600 >"$TMP/$1" 2>"$TMP/$1.err" &
	local o=$!
	pids+=("$o")
	wait_for "a UDP reply ($1)" 120 grep -q "first reply" "$TMP/$1.err"
	kill -TERM "$o"
	wait "$o"
}

ip netns exec "$NS" "$BIN/minivm" run --kernel "$MINIVM_KERNEL" --initrd "$MINIVM_INITRD" \
	--mem 256M --disk "$IMG" --net "tap=mvs0,mac=$MAC" --api "$TMP/a.sock" \
	--console-log "$TMP/a.con" -- /bin/sh -c "$script" </dev/null >"$TMP/a.out" 2>"$TMP/a.err" &
pid=$!
pids+=("$pid")
wait_for "the guest's eth0 ($(tail -n 5 "$TMP/a.err"))" 300 has_field UP "$TMP/a.out"
wait_for "the guest writes its disk" 60 grew "$TMP/a.out" 3
answered p0
run_capture out rc "$BIN/minivm" snapshot --api "$TMP/a.sock" --stop "$TMP/snap"
expect_eq "snapshot --stop ($out)" "$rc" 0
wait "$pid"
rc=$?
expect_eq "exit after snapshot --stop ($(tail -n 3 "$TMP/a.err"))" "$rc" 0
n=$(lastw "$TMP/a.out")

run_capture out rc ip netns exec "$NS" "$BIN/minivm" run --restore "$TMP/snap" \
	--net "tap=mvs0,mac=$MAC"
expect_eq "restore without --disk: exit ($out)" "$rc" 125
expect_contains "restore without --disk names it" "$out" "device virtio-blk0 is in the snapshot"

ip netns exec "$NS" "$BIN/minivm" run --restore "$TMP/snap" --disk "$IMG" \
	--net "tap=mvs0,mac=$MAC" --api "$TMP/b.sock" --console-log "$TMP/b.con" \
	</dev/null >"$TMP/b.out" 2>"$TMP/b.err" &
pid=$!
pids+=("$pid")
wait_for "the restored guest writes on ($(tail -n 3 "$TMP/b.err"))" 120 grew "$TMP/b.out" $((n + 3))
expect_eq "the restored command's first line" "$(tr -d '\r' <"$TMP/b.out" | grep -ao '^W:[0-9]*' | head -n 1)" "W:$((n + 1))"
answered p1
r=$(probe p2 3)
devices_stop "$IMG"
wait_for "the guest's end" 120 has_field GSHA "$TMP/b.out"
wait "$pid"
rc=$?
expect_eq "the restored VM's exit ($(tail -n 3 "$TMP/b.err"))" "$rc" 0
pids=()
devices_check "$IMG" "$TMP/a.out" "$TMP/b.out"
echo "snapshot with a disk and a card: stopped at W:$n, restore without --disk refused, restored from W:$((n + 1)) to W:$((done_n - 1)), UDP answered before ($(grep -o "\"replies\":[0-9]*" "$TMP/p0")) and after ($(grep -o "\"replies\":[0-9]*" "$TMP/p1"), then $r in 3 s), $done_n blocks match"
