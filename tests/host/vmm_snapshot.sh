#!/usr/bin/env bash
# Snapshot and restore (docs/snapshot.md) with the tiny counting guest (2 vCPUs), both boot
# protocols: a snapshot of a paused guest whose last line was "count L" restores to a guest
# whose first line is "count L+1", and the original goes on after resume; a snapshot of a running
# guest restores to a count between the one before and the one after the request; two restores
# of one snapshot run side by side; a restored guest snapshotted into its own directory (files
# replaced under its mapping) restores again; "stop": true ends the VM; the memory file is
# sparse. Bad snapshots (none, truncated state, a flipped byte, wrong magic or version, a vCPU
# section missing, short memory file) are one error line and exit 125, nothing left behind.
. "$ROOT/tests/lib.sh"
. "$ROOT/tests/guests/lib.sh"

for k in "${KERNELS[@]}"; do
	n=$(basename "$k")
	S=$TMP/$n.sock
	vm_start "$n" --kernel "$k" --cmdline count --cpus 2
	pid=$VM_PID
	wait_until "$n: counting" counted "$TMP/$n.out" 5

	# Paused: the snapshot holds exactly the state after the last printed count.
	api pause "$S" >/dev/null || fail "$n: pause"
	cp "$TMP/$n.out" "$TMP/paused.out"
	L=$(last_count "$TMP/paused.out")
	run_capture out rc api snapshot "$S" "$TMP/$n.snap"
	expect_eq "$n: snapshot exit ($out)" "$rc" 0
	expect_contains "$n: a paused VM stays paused" "$out" '"state":"paused"'
	expect_eq "$n: no output while paused" "$(cat "$TMP/$n.out")" "$(cat "$TMP/paused.out")"
	api resume "$S" >/dev/null || fail "$n: resume"
	wait_until "$n: the original goes on" counted "$TMP/$n.out" $((L + 3))

	vm_start r1 --restore "$TMP/$n.snap"
	p1=$VM_PID
	vm_start r2 --restore "$TMP/$n.snap"
	p2=$VM_PID
	wait_until "$n: restore 1 counts" counted "$TMP/r1.out" $((L + 3))
	wait_until "$n: restore 2 counts" counted "$TMP/r2.out" $((L + 3))
	# What the guest printed before the pause, then after the restore: one unbroken count
	# (a line cut by the pause is finished by the restored guest).
	for r in r1 r2; do
		count_goes_on "$n: $r ($(cat "$TMP/$r.err"))" "$TMP/paused.out" "$TMP/$r.out"
	done
	run_capture out rc api status "$TMP/r1.sock"
	expect_contains "$n: restored status" "$out" "\"restored_from\":\"$TMP/$n.snap\""
	expect_contains "$n: restored vCPUs" "$out" '"vcpus":2'

	# The restored guest saves itself into the directory it runs from, then a restore of that.
	M=$(last_count "$TMP/r1.out")
	run_capture out rc api snapshot "$TMP/r1.sock" "$TMP/$n.snap"
	expect_eq "$n: snapshot over its own snapshot ($out)" "$rc" 0
	wait_until "$n: restore 1 goes on after saving" counted "$TMP/r1.out" $((M + 3))
	stop_vm r1 "$p1"
	stop_vm r2 "$p2"
	vm_start r3 --restore "$TMP/$n.snap"
	p3=$VM_PID
	wait_until "$n: restore 3 counts" counting "$TMP/r3.out"
	f=$(first_count "$TMP/r3.out")
	[ "$f" -gt "$M" ] || fail "$n: restore of the re-saved snapshot starts at $f, not after $M"
	stop_vm r3 "$p3"

	# Running: the restored count lies between the ones around the request.
	B=$(last_count "$TMP/$n.out")
	run_capture out rc api snapshot "$S" "$TMP/$n.run"
	expect_eq "$n: snapshot while running ($out)" "$rc" 0
	expect_contains "$n: running again" "$out" '"state":"running"'
	A=$(last_count "$TMP/$n.out")
	vm_start r4 --restore "$TMP/$n.run"
	p4=$VM_PID
	wait_until "$n: restore 4 counts" counting "$TMP/r4.out"
	f=$(first_count "$TMP/r4.out")
	[ "$f" -gt "$B" ] && [ "$f" -le $((A + 2)) ] ||
		fail "$n: restore of a running snapshot starts at $f, not in ($B, $((A + 2))]"
	stop_vm r4 "$p4"

	# "stop": save and end.
	run_capture out rc api snapshot "$S" --stop "$TMP/$n.last"
	expect_eq "$n: snapshot --stop ($out)" "$rc" 0
	wait "$pid"
	expect_eq "$n: exit status after snapshot --stop" "$?" 0
	[ ! -e "$S" ] || fail "$n: socket left"
	mem=$(stat -c %s "$TMP/$n.last/memory")
	used=$(($(stat -c %b "$TMP/$n.last/memory") * 512))
	expect_eq "$n: memory file size" "$mem" $((256 << 20))
	[ "$used" -lt $((8 << 20)) ] || fail "$n: memory file not sparse ($used bytes used)"
	echo "$n: snapshot paused/running, 2 restores side by side, re-save, stop ok (count $L -> $((L + 1)))"
done

# Bad snapshots: exit 125, one line, nothing left (no socket).
good=$TMP/pvh-guest.elf.snap
bad_snap() {
	local what=$1 want=$2 out rc
	run_capture out rc "$MINIVM" run --restore "$TMP/bad" --api "$TMP/bad.sock"
	expect_eq "$what: exit ($out)" "$rc" 125
	expect_contains "$what: error" "$out" "$want"
	expect_eq "$what: one line" "$(wc -l <<<"$out")" 1
	[ ! -e "$TMP/bad.sock" ] || fail "$what: socket left"
	rm -rf "$TMP/bad"
	cp -r "$good" "$TMP/bad"
}
cp -r "$good" "$TMP/bad"
rm "$TMP/bad/state"
bad_snap "no state file" "No such file"
head -c 3000 "$good/state" >"$TMP/bad/state"
bad_snap "truncated state" "bytes, only"
head -c 40 "$good/state" >"$TMP/bad/state"
bad_snap "truncated header" "bad magic"
printf 'X' | dd of="$TMP/bad/state" bs=1 seek=5000 conv=notrunc status=none
bad_snap "flipped byte" "checksum mismatch"
printf 'NOTMINIV' | dd of="$TMP/bad/state" bs=1 seek=0 conv=notrunc status=none
bad_snap "wrong magic" "bad magic"
printf '\x02' | dd of="$TMP/bad/state" bs=1 seek=8 conv=notrunc status=none
bad_snap "wrong version" "format version 2"
printf '\x03' | dd of="$TMP/bad/state" bs=1 seek=16 conv=notrunc status=none
bad_snap "vCPU count changed" "header checksum mismatch"
# A consistent header claiming 3 vCPUs (CRC fixed up): vCPU 2 has no sections.
python3 - "$TMP/bad/state" <<'PY'
import struct, sys, zlib
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[16:20] = struct.pack("<I", 3)
b[60:64] = struct.pack("<I", zlib.crc32(bytes(b[:60])))
open(p, "wb").write(b)
PY
bad_snap "vCPU count mismatch" "vCPU 2: no regs section (of 3 vCPUs)"
truncate -s 100M "$TMP/bad/memory"
bad_snap "memory file too small" "the snapshot's guest has"
rm "$TMP/bad/memory"
bad_snap "no memory file" "memory"
run_capture out rc "$MINIVM" run --restore "$good" --cpus 4
expect_eq "--restore with --cpus" "$rc" 125
echo "bad snapshots: exit 125, one line, nothing left ok"
