#!/usr/bin/env bash
# minict migrate --mode post-copy (docs/checkpoint.md "Post-copy"): the container is restored
# at the destination before its memory is there, and the destination's `criu lazy-pages`
# fetches the pages from CRIU's lazy page server at the source. Hosts, links and observer as in
# runtime_migrate.sh (runtime_migrate_lib.bash). Checks: without CAP_SYS_RESOURCE and with
# fs.pipe-max-size < 4 MiB, post-copy is refused in one line before anything is touched; a
# container holding 256 MiB of touched memory (tests/tools/ct_memhold) migrates, its checksum
# is the same at the destination and its count goes on without a restart or a gap, nothing stays
# at the source and the destination keeps no images; with the link throttled, the destination
# killed after the switch-over (mid-transfer) gives one line at the source saying the container
# is lost (its copy there stays frozen: it cannot resume once the destination ran it). Prints the
# figures. Needs userfaultfd (skips without: `criu check --feature uffd-noncoop`).
set -uo pipefail
source "$(dirname "$0")/runtime_lib.bash"
source "$(dirname "$0")/runtime_migrate_lib.bash"
CRIU=$("$ROOT/scripts/criu.sh" path 2>&1) || skip "no CRIU: $CRIU"
"$CRIU" check --feature uffd-noncoop >/dev/null 2>&1 || skip "no lazy pages here (userfaultfd)"
command -v nsenter >/dev/null || skip "no nsenter"
TOOLS=${TOOLS:-$(dirname "$BIN")/tests/tools}
for t in udp_echo udp_observer ct_memhold; do
	[ -x "$TOOLS/$t" ] || skip "no $TOOLS/$t (make test-bins)"
done
MIB=${MIB:-256}

mig_setup mcp 10.243 10.244
PIPE_MAX=$(cat /proc/sys/fs/pipe-max-size)
trap '[ "$(cat /proc/sys/fs/pipe-max-size)" = 4194304 ] && echo "$PIPE_MAX" >/proc/sys/fs/pipe-max-size; mig_cleanup' EXIT
ID=${P}pc
status() { "$@" 2>/dev/null | sed -n 's/.*"status":"\([a-z]*\)".*/\1/p'; }
mkdir -p "$T/b"
mk_rootfs "$T/b/rootfs"
cp "$TOOLS/ct_memhold" "$T/b/rootfs/bin/ct_memhold" || die "copy ct_memhold"
mig_container $ID 150 "exec ct_memhold $MIB /tmp"
[ -s "$R/tmp/sum1" ] || die "no checksum from ct_memhold"

# ---- CRIU's lazy page server needs a 4 MiB pipe: refused in one line where it can't have one
if [ $((0x$(awk '/^CapEff/ {print $2}' /proc/self/status) >> 24 & 1)) = 0 ]; then # CAP_SYS_RESOURCE
	if [ "$PIPE_MAX" -lt 4194304 ]; then
		src migrate --mode post-copy $ID tcp:$M.2:$PORT >/dev/null 2>"$T/err" && die "post-copy succeeded with a 1 MiB pipe limit"
		[ "$(wc -l <"$T/err")" = 1 ] && grep -q 'fs.pipe-max-size' "$T/err" || die "pipe limit message: $(cat "$T/err")"
		echo "pipe limit: $(cat "$T/err")"
		[ "$(status src state $ID)" = running ] || die "the container after the refusal"
	fi
	echo 4194304 >/proc/sys/fs/pipe-max-size || skip "can't raise fs.pipe-max-size"
fi

# ---- post-copy with the observer watching
mig_receiver $ID
mig_observe 120
mig_quiesce $ID
src migrate --mode post-copy --pre-freeze "$QUIESCE" $ID tcp:$M.2:$PORT >"$T/mig.json" 2>"$T/err" ||
	die "migrate: $(cat "$T/err"); receiver: $(cat "$T/rcv.err")"
wait $RPID || die "receive failed: $(cat "$T/rcv.err")"
grep -q '"status":"ok"' "$T/mig.json" || die "migrate printed $(cat "$T/mig.json")"
grep -q '"status":"restored"' "$T/rcv.out" && grep -q '"status":"complete"' "$T/rcv.out" ||
	die "receive printed $(cat "$T/rcv.out")"
src state $ID >/dev/null 2>&1 && die "the container is still in src"
[ -z "$(leftovers $ID "$T/src")" ] || die "src left behind: $(leftovers $ID "$T/src")"
[ "$(status dst state $ID)" = running ] || die "the container does not run in dst"
[ -d "$T/dstwork/$ID/images" ] && die "the images are still in dst's work dir"
mig_check_dst $ID 60
echo "post-copy $MIB MiB: migrate $(cat "$T/mig.json")"
echo "post-copy $MIB MiB: receive $(tr '\n' ' ' <"$T/rcv.out")"
echo "post-copy $MIB MiB: observer $(cat "$T/obs.json")"
dst delete -f $ID || die "delete the migrated container"
rm -rf --one-file-system "${T:?}/dstwork/$ID"

# ---- the destination killed mid-transfer, after the switch-over: the link throttled to
# 100 Mbit/s (256 MiB take ~20 s), the receiver and its lazy-pages daemon killed once the
# container runs there
(cd "$T/b" && src run -d $ID </dev/null >/dev/null 2>"$T/err") || die "run again: $(cat "$T/err")"
rm -f "$R/tmp/log"
wait_secs 60 lines "$R/tmp/log" 5 || die "the container does not count"
tc -n $SRC qdisc add dev mg root tbf rate 100mbit burst 64kb latency 500ms || skip "no tc tbf"
mig_receiver $ID
mig_quiesce $ID
nsenter $(NS $SRC) "$MINICT" --root "$T/src" migrate --mode post-copy --pre-freeze "$QUIESCE" $ID tcp:$M.2:$PORT >/dev/null 2>"$T/err" &
MPID=$!
PIDS+=($MPID)
wait_secs 60 has "$T/rcv.out" '"status":"restored"' || die "no switch-over: $(cat "$T/rcv.err"); migrate: $(cat "$T/err")"
grep -q '"status":"complete"' "$T/rcv.out" && die "the transfer was done before the kill: throttle more"
kill -9 -- -$RPID
wait $RPID 2>/dev/null
wait $MPID && die "migrate succeeded with its destination killed mid-transfer"
[ "$(wc -l <"$T/err")" = 1 ] && grep -q 'after the switch-over' "$T/err" && grep -q 'container is lost' "$T/err" ||
	die "destination killed: migrate said $(cat "$T/err")"
echo "destination killed mid-transfer: $(cat "$T/err")"
[ "$(status src state $ID)" = paused ] || die "the source's copy is not left frozen: $(src state $ID)"
n0=$(wc -l <"$R/tmp/log")
sleep 0.5
[ "$(wc -l <"$R/tmp/log")" = "$n0" ] || die "the source's copy runs again"
src delete -f $ID || die "delete the source's copy"
dst delete -f $ID || die "delete what the killed destination left"
[ -z "$(leftovers $ID "$T/src")" ] || die "src left behind: $(leftovers $ID "$T/src")"
echo "ok"
