#!/usr/bin/env bash
# Live migration of a stock-kernel guest with a disk, a network card and a command between two
# "hosts" on one machine (docs/migration.md, "Devices"): network namespaces S and D, each with
# its own bridge, the tap the guest's card uses and a veth to a common bridge in namespace W,
# where a UDP observer (tests/tools/udp_observer) probes the guest every 1 ms. The migration
# stream goes over TCP from S's bridge address to D's. The guest (the initramfs' busybox) reads
# tests/tools/udp_echo from its disk and serves UDP with it, and writes one numbered 512-byte
# block to the disk with O_DIRECT every 0.2 s, printing W:N for each, until the host writes STOP
# into a control block of the image.
#  1. failure: the destination is killed mid-transfer: `migrate` fails, the source guest goes
#     on writing its disk and answering UDP;
#  2. the real migration while the guest writes and answers: the guest command's output goes
#     on on the destination's stdout (every W:N exactly once across both), the observer gets
#     replies from the destination (the guest's announce moved its MAC in W's bridge), the
#     disk's blocks are exactly what the guest wrote and the guest's own checksum agrees;
#  3. nothing is left: the VMs ended, the namespaces (taps, bridges, veths) go.
# MIGRATE_NET_OPTS=,vhost=on runs the card's data path in vhost-net.
. "$ROOT/tests/lib.sh"
. "$ROOT/tests/lab/devices_guest.bash"
W=mvm-w-$$ S=mvm-s-$$ D=mvm-d-$$
MAC=52:54:00:78:00:02
GUEST=10.78.0.2
# the checks, TMP, the disk and the guest's script (devices_guest.bash), the namespaces
devices_setup "$W" "$S" "$D"
NET_OPTS=${MIGRATE_NET_OPTS:-}
case $NET_OPTS in
*vhost=on*)
	[ -c /dev/vhost-net ] || modprobe vhost_net 2>/dev/null
	[ -c /dev/vhost-net ] || skip "no /dev/vhost-net"
	;;
esac

# ---- the network: W's br0 (10.78.0.1) joins S's and D's bridges (10.78.0.11, .12) ----
ip -n "$W" link add name br0 type bridge
ip -n "$W" addr add 10.78.0.1/24 dev br0
ip -n "$W" link set br0 up
side() { # NS TAP VETH ADDR
	ip -n "$1" link add name sbr type bridge &&
		ip -n "$1" addr add "$4/24" dev sbr &&
		ip -n "$1" link set sbr up &&
		ip -n "$1" tuntap add dev "$2" mode tap &&
		ip -n "$1" link set "$2" master sbr up &&
		ip -n "$1" link add name "$3" type veth peer name "${3}w" netns "$W" &&
		ip -n "$1" link set "$3" master sbr up &&
		ip -n "$W" link set "${3}w" master br0 up || fail "network set-up in $1"
}
side "$S" mts0 vs 10.78.0.11
side "$D" mtd0 vd 10.78.0.12

status_of() { "$BIN/minivm" migrate-status --api "$1" 2>/dev/null; }
sending() { status_of "$TMP/s.sock" | grep -q '"status":"active".*"bytes_sent":[1-9][0-9]\{6\}'; }
obs_field() { grep -o "\"$2\":[^,}]*" "$1" | head -n 1 | cut -d: -f2; }

# ---- the source ----
devices_boot "$S" s "tap=mts0,mac=$MAC$NET_OPTS"
src=$pid
devices_observe "$W" obs0

dest() { # NAME: a destination in D, its pid in $dst
	devices_run "$D" "$1" --incoming tcp:10.78.0.12:7777 --disk "$IMG" \
		--net "tap=mtd0,mac=$MAC$NET_OPTS"
	dst=$pid
	wait_for "$1 listens ($(cat "$TMP/$1.err"))" 30 grep -q "waiting for an incoming" "$TMP/$1.err"
}

# ---- 1. the destination killed mid-transfer: the source goes on ----
dest d1
"$BIN/minivm" migrate --api "$TMP/s.sock" --bandwidth 8 tcp:10.78.0.12:7777 >"$TMP/m1.json" 2>&1 &
mig=$!
pids+=("$mig")
wait_for "pages moving to d1 ($(status_of "$TMP/s.sock"))" 60 sending
kill -KILL "$dst"
wait "$dst" 2>/dev/null
wait "$mig"
rc=$?
expect_eq "migrate to a killed destination fails ($(cat "$TMP/m1.json"))" "$rc" 1
expect_contains "the failure report" "$(cat "$TMP/m1.json")" '"status":"failed"'
n1=$(lastw "$TMP/s.out")
wait_for "the source guest writes on after the failure" 60 grew "$TMP/s.out" $((n1 + 5))
kill -0 "$src" || fail "the source ended after the failed migration: $(cat "$TMP/s.err")"
kill -TERM "$obs"
wait "$obs"
after=$(devices_probe "$W" obs0b 3)
[ "${after:-0}" -gt 0 ] || fail "the source guest does not answer UDP after the failed migration ($(cat "$TMP/obs0b"))"
echo "failure: destination killed after $(grep -o '"bytes_sent":[0-9]*' "$TMP/m1.json"): the source goes on (W:$n1 -> W:$(lastw "$TMP/s.out")); UDP across it: $(cat "$TMP/obs0"); after it: $after replies in 3 s"

# ---- 2. the migration, while the guest writes and answers ----
dest d2
devices_observe "$W" obs1
sleep 1
n2=$(lastw "$TMP/s.out")
kill -USR1 "$obs"
"$BIN/minivm" migrate --api "$TMP/s.sock" tcp:10.78.0.12:7777 >"$TMP/m2.json" 2>&1
rc=$?
expect_eq "migrate ($(cat "$TMP/m2.json"))" "$rc" 0
wait "$src"
rc=$?
expect_eq "the source's exit after the migration ($(tail -n 3 "$TMP/s.err"))" "$rc" 0
src_last=$(lastw "$TMP/s.out")
wait_for "the guest writes on at the destination ($(tail -n 3 "$TMP/d2.err"))" 120 \
	grew "$TMP/d2.out" $((src_last + 5))
wait_for "UDP replies from the destination" 60 grep -q "reply after a gap" "$TMP/obs1.err"
kill -TERM "$obs"
wait "$obs"
fdb=$(ip netns exec "$W" bridge fdb show br br0 | grep -i "$MAC")
expect_contains "W's bridge learnt the guest's MAC on D's side" "$fdb" "dev vdw"
after=$(devices_probe "$W" obs2 3)
[ "${after:-0}" -gt 0 ] || fail "no UDP replies from the destination ($(cat "$TMP/obs2"))"
devices_end "$IMG" "$TMP/d2.out" "$TMP/d2.err" "$dst" "the destination"

# ---- the checks ----
devices_check "$IMG" "$TMP/s.out" "$TMP/d2.out"
down=$(obs_field "$TMP/obs1" downtime_ms)
total=$(obs_field "$TMP/obs1" total_ms)
rep_down=$(grep -o '"downtime_ms":[0-9.]*' "$TMP/m2.json" | cut -d: -f2)
rep_total=$(grep -o '"total_ms":[0-9.]*' "$TMP/m2.json" | cut -d: -f2)
rounds=$(grep -o '"rounds":[0-9]*' "$TMP/m2.json" | cut -d: -f2)

# ---- 3. nothing left ----
for p in "${pids[@]}"; do
	kill -0 "$p" 2>/dev/null && fail "process $p still runs"
done
pids=()
for n in "$S" "$D" "$W"; do
	ip netns del "$n" || fail "delete namespace $n"
done
left=$(ip netns list | grep -c -- "-$$\b" || true)
expect_eq "namespaces left" "$left" 0
echo "migration${NET_OPTS:+ ($NET_OPTS)}: W:$n2 at the start, source's last W:$src_last, guest stopped at W:$((done_n - 1)) on the destination; $done_n blocks on disk match; UDP observer: downtime $down ms, total $total ms ($(obs_field "$TMP/obs1" replies)/$(obs_field "$TMP/obs1" sent) answered, $after in 3 s after it); minivm's report: downtime $rep_down ms, total $rep_total ms, $rounds rounds"
