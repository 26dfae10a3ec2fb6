#!/usr/bin/env bash
# Snapshot and restore of a stock-kernel guest with a disk, a network card and a command
# (docs/snapshot.md): in a network namespace, a tap with 10.79.0.1/24; the guest reads
# tests/tools/udp_echo from its disk and serves UDP on 10.79.0.2, and writes one numbered
# 512-byte block with O_DIRECT every 0.2 s, printing W:N, until the host writes STOP into the
# image's control block. `snapshot --stop` while it writes and answers an observer that probes
# it every 1 ms (so the card's queues are busy when they are saved); a restore without the disk
# is refused naming virtio-blk0; the restore with the same --disk and --net goes on: the next
# W:N on the restored minivm's stdout (each exactly once across both), UDP answered again, the
# image's blocks are the ones the guest wrote and its own checksum agrees. A failed check
# describes the VMs (devices_guest.bash's devices_diag, docs/snapshot.md "When a restored guest
# stalls").
. "$ROOT/tests/lib.sh"
. "$ROOT/tests/lab/devices_guest.bash"
NS=mvm-snap-$$
MAC=52:54:00:79:00:02
GUEST=10.79.0.2
devices_setup "$NS"
ip -n "$NS" tuntap add dev mvs0 mode tap
ip -n "$NS" addr add 10.79.0.1/24 dev mvs0
ip -n "$NS" link set mvs0 up

devices_boot "$NS" a "tap=mvs0,mac=$MAC"
# probing every 1 ms across the snapshot: the card's queues are busy when they are saved
devices_observe "$NS" p0
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

t0=$(date +%s%N)
devices_run "$NS" b --restore "$TMP/snap" --disk "$IMG" --net "tap=mvs0,mac=$MAC"
wait_for "the restored guest writes on ($(tail -n 3 "$TMP/b.err"))" 300 grew "$TMP/b.out" $((n + 3))
t1=$(date +%s%N)
expect_eq "the restored command's first line" "$(tr -d '\r' <"$TMP/b.out" | grep -ao '^W:[0-9]*' | head -n 1)" "W:$((n + 1))"
kill -TERM "$obs"
wait "$obs"
devices_observe "$NS" p1
kill -TERM "$obs"
wait "$obs"
r=$(devices_probe "$NS" p2 3)
devices_end "$IMG" "$TMP/b.out" "$TMP/b.err" "$pid" "the restored VM"
pids=()
devices_check "$IMG" "$TMP/a.out" "$TMP/b.out"
echo "snapshot with a disk and a card: stopped at W:$n, restore without --disk refused, restored from W:$((n + 1)) to W:$((done_n - 1)) (3 blocks $(((t1 - t0) / 1000000)) ms after the restore began), UDP answered before ($(grep -o "\"replies\":[0-9]*" "$TMP/p0")) and after ($(grep -o "\"replies\":[0-9]*" "$TMP/p1"), then $r in 3 s), $done_n blocks match"
