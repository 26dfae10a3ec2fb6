#!/usr/bin/env bash
# Live migration over loopback (docs/migration.md) with the tiny test guests:
# - an idle counting guest (2 vCPUs, both boot protocols) goes on at the destination from the
#   next count (one unbroken count across the two outputs), the source exits 0;
# - a guest that filled a region with a different pattern in every page: the region in a
#   snapshot of the destination is byte for byte the one in a snapshot of the source (after
#   two hops: zlib, then raw under a bandwidth cap);
# - a guest rewriting one word per page of a 32 MiB working set converges and counts on;
# - failures before switch-over leave the source counting, running, and able to migrate again:
#   no destination, destination killed mid-stream, cancel;
# - hostile streams (bad magic, version, geometry, pages outside the guest, wrong lengths, bad
#   zlib data, unknown frames, cut short, wrong checksum, a state that is not one): the
#   destination refuses with one error line and exit 125.
. "$ROOT/tests/lib.sh"
. "$ROOT/tests/guests/lib.sh"
. "$ROOT/tests/guests/migrate_lib.sh"

# joined SRC DST: the destination's output continues the source's count
joined() { count_goes_on "$1 -> $2" "$TMP/$1.out" "$TMP/$2.out"; }
mig_active() { api migrate-status "$1" | grep -q '"status":"active"'; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# 1. Idle guests, both boot protocols, 2 vCPUs.
for k in "${KERNELS[@]}"; do
	n=$(basename "$k")
	dst d1
	K=$k src s1 count --cpus 2
	wait_until "$n: counting" counted "$TMP/s1.out" 5
	run_capture out rc api migrate "$TMP/s1.sock" "tcp:127.0.0.1:$dport"
	expect_eq "$n: migrate exit ($out)" "$rc" 0
	report=$out
	for f in status total_ms downtime_ms setup_ms rounds bytes_sent dirty_rate_mibps pages_per_round; do
		expect_contains "$n: report has $f" "$out" "\"$f\":"
	done
	expect_contains "$n: migrated" "$out" '"status":"migrated"'
	wait "$spid"
	expect_eq "$n: source exit status after migrating" "$?" 0
	[ ! -e "$TMP/s1.sock" ] || fail "$n: source socket left"
	wait_until "$n: destination counts" counting "$TMP/d1.out"
	goes_on d1
	joined s1 d1
	run_capture out rc api status "$TMP/d1.sock"
	expect_contains "$n: destination vCPUs" "$out" '"vcpus":2'
	stop_vm d1 "$dpid"
	echo "$n: idle migration ok ($(grep -o '"downtime_ms":[0-9.]*' <<<"$report"))"
done

# 2. A filled region arrives intact, over two hops (zlib, then raw with a bandwidth cap).
src f0 "fillpages 8" --mem 128M
wait_until "fillpages: filled" grep -q '^filled' "$TMP/f0.out"
api snapshot "$TMP/f0.sock" "$TMP/f0.snap" >/dev/null || fail "snapshot of the source"
want=$(region "$TMP/f0.snap/memory" 8)
dst f1
run_capture out rc api migrate "$TMP/f0.sock" --compress "tcp:127.0.0.1:$dport"
expect_eq "fill: migrate --compress ($out)" "$rc" 0
wait "$spid" || fail "fill: source exit status $?"
f1pid=$dpid
goes_on f1
dst f2
run_capture out rc api migrate "$TMP/f1.sock" --bandwidth 200 "tcp:127.0.0.1:$dport"
expect_eq "fill: migrate raw, 200 MiB/s ($out)" "$rc" 0
wait "$f1pid" || fail "fill: first destination's exit status $?"
goes_on f2
joined f1 f2
api snapshot "$TMP/f2.sock" "$TMP/f2.snap" >/dev/null || fail "snapshot of the destination"
expect_eq "fill: the region after two hops" "$(region "$TMP/f2.snap/memory" 8)" "$want"
# the pages themselves: every page's first word is its number
python3 - "$TMP/f2.snap/memory" <<'PY' || fail "fill: page numbers"
import struct, sys
m = open(sys.argv[1], "rb").read()
for p in range(32 << 8, 40 << 8):
    assert struct.unpack_from("<I", m, p * 4096)[0] == p, p
PY
echo "fill: 8 MiB region intact after zlib and raw hops ok"

# 3. Failures before switch-over: the source goes on and can migrate later.
port=$(free_port)
run_capture out rc api migrate "$TMP/f2.sock" "tcp:127.0.0.1:$port"
expect_eq "no destination: exit ($out)" "$rc" 1
expect_contains "no destination: failed" "$out" '"status":"failed"'
expect_contains "no destination: why" "$out" "Connection refused"
goes_on f2
f2pid=$dpid
# killed mid-stream: 1 MiB/s makes the full pass last seconds
dst k1
api migrate "$TMP/f2.sock" --bandwidth 1 "tcp:127.0.0.1:$dport" >"$TMP/k1.mig" &
mpid=$!
wait_until "killed: migration active" mig_active "$TMP/f2.sock"
run_capture out rc api pause "$TMP/f2.sock"
expect_contains "pause refused while migrating" "$out" "migration is in progress"
kill -9 "$dpid"
wait "$dpid" 2>/dev/null
wait "$mpid"
rc=$?
expect_eq "killed: migrate exit ($(cat "$TMP/k1.mig"))" "$rc" 1
expect_contains "killed: failed" "$(cat "$TMP/k1.mig")" '"status":"failed"'
goes_on f2
run_capture out rc api status "$TMP/f2.sock"
expect_contains "killed: source running" "$out" '"state":"running"'
# cancelled
dst c1
api migrate "$TMP/f2.sock" --bandwidth 1 "tcp:127.0.0.1:$dport" >"$TMP/c1.mig" &
mpid=$!
wait_until "cancel: migration active" mig_active "$TMP/f2.sock"
run_capture out rc api migrate-cancel "$TMP/f2.sock"
expect_eq "cancel: exit ($out)" "$rc" 0
wait "$mpid"
rc=$?
expect_eq "cancel: migrate exit ($(cat "$TMP/c1.mig"))" "$rc" 1
expect_contains "cancel: cancelled" "$(cat "$TMP/c1.mig")" '"status":"cancelled"'
wait "$dpid"
expect_eq "cancel: destination exit status" "$?" 125
goes_on f2
run_capture out rc api migrate-cancel "$TMP/f2.sock"
expect_eq "cancel without a migration" "$rc" 1
# and then a migration that works
dst f3
run_capture out rc api migrate "$TMP/f2.sock" "tcp:127.0.0.1:$dport"
expect_eq "after the failures: migrate ($out)" "$rc" 0
wait "$f2pid" || fail "after the failures: source exit status $?"
goes_on f3
joined f2 f3
api snapshot "$TMP/f3.sock" --stop "$TMP/f3.snap" >/dev/null || fail "snapshot f3"
wait "$dpid"
expect_eq "after the failures: the region" "$(region "$TMP/f3.snap/memory" 8)" "$want"
echo "failures: no destination, killed, cancelled: the source goes on, migrates later ok"

# 4. A guest dirtying a 32 MiB working set as fast as it can converges.
dst w1
src w0 "dirty 32 0 2100"
wait_until "dirty: running" counted "$TMP/w0.out" 20
run_capture out rc api migrate "$TMP/w0.sock" "tcp:127.0.0.1:$dport"
expect_eq "dirty: migrate ($out)" "$rc" 0
wait "$spid" || fail "dirty: source exit status $?"
goes_on w1
joined w0 w1
stop_vm w1 "$dpid"
echo "dirty: converged ok ($(grep -o '"rounds":[0-9]*' <<<"$out"), $(grep -o '"downtime_ms":[0-9.]*' <<<"$out"))"

# 5. Hostile streams: one error line, exit 125.
hostile() { # CASE EXPECTED
	local what=$1 want=$2 rc
	dst h
	python3 "$ROOT/tests/host/vmm_migrate_stream.py" "$what" "$dport" || fail "$what: sender"
	wait "$dpid"
	rc=$?
	local err
	err=$(grep -v 'waiting for an incoming migration' "$TMP/h.err")
	expect_eq "$what: exit ($err)" "$rc" 125
	expect_contains "$what: error" "$err" "$want"
	expect_eq "$what: one line" "$(wc -l <<<"$err")" 1
	[ ! -e "$TMP/h.sock" ] || fail "$what: socket left"
}
hostile magic "bad magic"
hostile version "stream version 2"
hostile memsize "not a valid guest size"
hostile first "first frame: type 2"
hostile outside "outside the guest's 4096"
hostile wrap "outside the guest's 4096"
hostile length "bytes of data for 2 pages"
hostile toomany "pages in one frame"
hostile zlib "bad compressed data"
hostile encoding "unknown encoding 7"
hostile unknown "unexpected type 99"
hostile cut "closed the connection"
hostile crc "corrupted in transit"
hostile nostate "without the VM's state"
hostile state "not a minivm snapshot"
hostile bigmeta "meta of 5000 bytes"
echo "hostile streams: refused with one line, exit 125 ok"
