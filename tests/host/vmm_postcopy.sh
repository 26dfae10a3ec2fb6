#!/usr/bin/env bash
# Post-copy live migration (docs/migration.md "Post-copy") over loopback with the tiny test
# guests:
# - a guest rewriting one word per page of a 32 MiB working set faster than a 12 MiB/s link
#   does not converge in 3 rounds; with --postcopy the destination resumes at once (downtime far
#   under the expected stop-and-copy), pulls the rest through userfaultfd, counts on from the next
#   number, and its working set, snapshotted once every page is in, is consistent (every page
#   keeps its fill, word 0 counts down by one from the last page written: a page that came
#   stale, or zero, breaks it);
# - --postcopy=now (no pre-copy pass) of a guest whose 8 MiB region holds a different pattern in
#   every page: the region is byte for byte the one in a snapshot of the source, and as written;
# - the source killed during post-copy: the destination says why in one line and exits 125,
#   its API socket gone, no minivm left;
# - the destination killed during post-copy: `minivm migrate` fails saying the guest is lost,
#   the source stays paused (not resumed: the guest ran on at the destination), refuses
#   `resume`, and stops cleanly.
. "$ROOT/tests/lib.sh"
. "$ROOT/tests/guests/lib.sh"
. "$ROOT/tests/guests/migrate_lib.sh"
in_postcopy() { api migrate-status "$1" | grep -q '"status":"postcopy"'; }
all_in() { grep -q 'post-copy: every page is here' "$1"; }

# 1. Not converging: post-copy after 3 rounds.
dst d1
src s1 "dirty 32 0 2100"
wait_until "s1 dirtying" counted "$TMP/s1.out" 20
run_capture out rc api migrate "$TMP/s1.sock" --bandwidth 12 --max-rounds 3 --postcopy \
	"tcp:127.0.0.1:$dport"
expect_eq "postcopy: migrate ($out)" "$rc" 0
expect_contains "postcopy: migrated" "$out" '"status":"migrated"'
expect_contains "postcopy: report" "$out" '"postcopy":true'
pages=$(field postcopy_pages "$out")
[ "$pages" -gt 1000 ] || fail "postcopy: only $pages pages after the switch-over ($out)"
down=$(field downtime_ms "$out")
expd=$(field expected_downtime_ms "$out")
python3 -c "import sys; sys.exit(0 if $down * 4 < $expd else 1)" ||
	fail "postcopy: downtime $down ms is not far under the stop-and-copy's $expd ms"
wait "$spid" || fail "postcopy: source exit status $?"
wait_until "d1: every page in" all_in "$TMP/d1.err"
api snapshot "$TMP/d1.sock" --stop "$TMP/d1.snap" >/dev/null || fail "postcopy: snapshot"
wait "$dpid" || fail "postcopy: destination exit status $?"
count_goes_on "postcopy: s1 -> d1" "$TMP/s1.out" "$TMP/d1.out"
run_capture ws rc workset "$TMP/d1.snap/memory" 32
expect_eq "postcopy: the working set at the destination ($ws)" "$rc" 0
echo "postcopy after 3 rounds ok (downtime $down ms vs $expd ms expected for stop-and-copy, $pages pages after, $(field postcopy_requests "$out") requests, post-copy $(field postcopy_ms "$out") ms; $ws)"

# 2. --postcopy=now: every page after the switch-over, byte for byte.
dst d2
src s2 "fillpages 8" --mem 128M
wait_until "s2 filled" grep -q '^filled' "$TMP/s2.out"
api snapshot "$TMP/s2.sock" "$TMP/s2.snap" >/dev/null || fail "now: snapshot of the source"
run_capture out rc api migrate "$TMP/s2.sock" --postcopy=now "tcp:127.0.0.1:$dport"
expect_eq "now: migrate ($out)" "$rc" 0
expect_contains "now: report" "$out" '"postcopy":"now"'
expect_contains "now: no pre-copy pass" "$out" '"pages_per_round":[0,'
expect_eq "now: every page after the switch-over" \
	"$(($(field data_pages "$out") + $(field zero_pages "$out")))" "$(field postcopy_pages "$out")"
wait "$spid" || fail "now: source exit status $?"
wait_until "d2: every page in" all_in "$TMP/d2.err"
wait_until "d2 counts" counting "$TMP/d2.out"
api snapshot "$TMP/d2.sock" --stop "$TMP/d2.snap" >/dev/null || fail "now: snapshot"
wait "$dpid" || fail "now: destination exit status $?"
expect_eq "now: the region, source and destination" "$(region "$TMP/d2.snap/memory" 8)" \
	"$(region "$TMP/s2.snap/memory" 8)"
run_capture res rc fillpages "$TMP/d2.snap/memory" 8
expect_eq "now: the filled region ($res)" "$rc" 0
echo "postcopy=now ok ($(field postcopy_pages "$out") pages, downtime $(field downtime_ms "$out") ms, region identical)"

# 3. The source killed during post-copy (4 MiB/s: 32 MiB take 8 s).
dst d3
src s3 "dirty 32 0 2100"
wait_until "s3 dirtying" counted "$TMP/s3.out" 20
api migrate "$TMP/s3.sock" --bandwidth 4 --postcopy=now "tcp:127.0.0.1:$dport" \
	>"$TMP/m3.out" 2>&1 &
mpid=$!
wait_until "s3 in post-copy" in_postcopy "$TMP/s3.sock"
sleep 0.5
kill -9 "$spid"
t0=$(date +%s%N)
wait "$dpid"
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
wait "$mpid"
expect_eq "source killed: destination exit status" "$rc" 125
expect_contains "source killed: the destination says why" "$(cat "$TMP/d3.err")" \
	"post-copy failed after the guest resumed here"
[ "$ms" -lt 10000 ] || fail "source killed: the destination took $ms ms to end"
[ ! -e "$TMP/d3.sock" ] || fail "source killed: the destination's API socket is left"
kill -0 "$dpid" 2>/dev/null && fail "source killed: the destination still runs"
echo "source killed during post-copy: destination ended in $ms ms with: $(grep -m1 'post-copy failed' "$TMP/d3.err")"

# 4. The destination killed during post-copy: the source stays paused and says so.
dst d4
src s4 "dirty 32 0 2100"
wait_until "s4 dirtying" counted "$TMP/s4.out" 20
api migrate "$TMP/s4.sock" --bandwidth 4 --postcopy=now "tcp:127.0.0.1:$dport" \
	>"$TMP/m4.out" 2>&1 &
mpid=$!
wait_until "s4 in post-copy" in_postcopy "$TMP/s4.sock"
sleep 0.5
kill -9 "$dpid"
wait "$dpid"
wait "$mpid"
expect_eq "destination killed: migrate exit status" "$?" 1
expect_contains "destination killed: failed" "$(cat "$TMP/m4.out")" '"status":"failed"'
expect_contains "destination killed: the guest is lost" "$(cat "$TMP/m4.out")" \
	"stays paused here"
expect_contains "destination killed: source paused" "$(api status "$TMP/s4.sock")" paused
run_capture out rc api resume "$TMP/s4.sock"
expect_eq "destination killed: resume refused" "$rc" 1
expect_contains "destination killed: resume says why" "$out" "this copy is stale"
c0=$(last_count "$TMP/s4.out")
sleep 1
expect_eq "destination killed: the source does not count on" "$(last_count "$TMP/s4.out")" "$c0"
stop_vm s4 "$spid"
echo "destination killed during post-copy: source paused, $(grep -o '"error":"[^"]*' "$TMP/m4.out" | cut -c10-)"
