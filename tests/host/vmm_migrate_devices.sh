#!/usr/bin/env bash
# Migration and snapshots of VMs with virtio devices, on the host with the tiny counting guest
# (its kernel never drives the devices; tests/lab/vmm_migrate_devices.sh migrates a stock kernel
# that does): the device manifest (docs/migration.md, "Devices").
# - a source with a disk (and a network card where this host can make taps): a destination
#   without the disk, with a disk of another size, with another MAC, or with -t is refused
#   before any memory moves, with one line naming the device; the source goes on counting;
# - the same options migrate: the count goes on at the destination;
# - a snapshot of it: --restore without the disk is refused naming virtio-blk0, with it the
#   count goes on.
. "$ROOT/tests/lib.sh"
. "$ROOT/tests/guests/lib.sh"
. "$ROOT/tests/guests/migrate_lib.sh"

truncate -s 64M "$TMP/a.img"
truncate -s 32M "$TMP/small.img"
NET=()
NET_D=()
if [ "$(id -u)" = 0 ] && [ -c /dev/net/tun ]; then
	# taps minivm makes (and removes): one per side, as on two hosts, one MAC
	NET=(--net "tap=mvms$$,mac=52:54:00:99:00:01")
	NET_D=(--net "tap=mvmd$$,mac=52:54:00:99:00:01")
fi

# refused NAME NEEDLE [options]: a destination with these options is refused naming NEEDLE
refused() {
	local n=$1 needle=$2
	shift 2
	dst "$n" "$@"
	run_capture out rc api migrate "$TMP/s.sock" "tcp:127.0.0.1:$dport"
	expect_eq "$n: migrate fails ($out; $(cat "$TMP/$n.err"))" "$rc" 1
	expect_contains "$n: the source's report names it" "$out" "$needle"
	wait "$dpid"
	local drc=$?
	expect_eq "$n: destination exit" "$drc" 125
	expect_eq "$n: one error line ($(cat "$TMP/$n.err"))" \
		"$(grep -vc 'waiting for an incoming' "$TMP/$n.err")" 1
	expect_contains "$n: the destination names it" "$(cat "$TMP/$n.err")" "$needle"
	[ ! -e "$TMP/$n.sock" ] || fail "$n: API socket left"
	goes_on s
}

vm_start s --kernel "$GUESTS/pvh-guest.elf" --cmdline count --disk "$TMP/a.img" "${NET[@]}"
spid=$VM_PID
wait_until "counting" counted "$TMP/s.out" 3
# the API's status describes the devices (the tiny guest drives none: not started)
run_capture out rc api status "$TMP/s.sock"
expect_contains "status names the disk" "$out" '"virtio-blk0":"status 0, not started"'

refused d0 "device virtio-blk0 is in the source" "${NET_D[@]}"
refused d1 "device virtio-blk0 differs" --disk "$TMP/small.img" "${NET_D[@]}"
refused d2 "-t: the source's command has no console" -t --disk "$TMP/a.img" "${NET_D[@]}"
if [ ${#NET[@]} -gt 0 ]; then
	refused d3 "device virtio-net0 differs" --disk "$TMP/a.img" \
		--net "tap=mvmd$$,mac=52:54:00:99:00:02"
	refused d4 "device virtio-net0 is in the source" --disk "$TMP/a.img"
fi

dst d --disk "$TMP/a.img" "${NET_D[@]}"
run_capture out rc api migrate "$TMP/s.sock" "tcp:127.0.0.1:$dport"
expect_eq "migrate with the same devices ($out)" "$rc" 0
wait "$spid"
rc=$?
expect_eq "source exit after migrating" "$rc" 0
wait_until "the destination counts" grep -q '^count' "$TMP/d.out"
goes_on d
count_goes_on "s -> d" "$TMP/s.out" "$TMP/d.out"
devs="virtio-blk0${NET[*]:+ and virtio-net0}"
echo "migration with $devs: refused with a different set (named), goes on with the same"

# snapshot and restore with the disk
run_capture out rc api snapshot "$TMP/d.sock" --stop "$TMP/snap"
expect_eq "snapshot --stop ($out)" "$rc" 0
wait "$dpid"
run_capture out rc "$MINIVM" run --restore "$TMP/snap" "${NET_D[@]}"
expect_eq "restore without --disk: exit ($out)" "$rc" 125
expect_contains "restore without --disk names the device" "$out" "device virtio-blk0 is in the snapshot"
expect_eq "restore without --disk: one line ($out)" "$(grep -c . <<<"$out")" 1
vm_start r --restore "$TMP/snap" --disk "$TMP/a.img" "${NET_D[@]}"
rpid=$VM_PID
wait_until "the restored guest counts" grep -q '^count' "$TMP/r.out"
goes_on r
stop_vm r "$rpid"
echo "snapshot with devices: restore refused without the disk (named), counts on with it"
