#!/usr/bin/env bash
# minict migrate --mode pre-copy in the lab (its Debian 6.1 kernel has soft-dirty tracking,
# which this project's hosts lack; docs/checkpoint.md "Migration"). The hosts src and dst, the
# links and the observer come from tests/host/runtime_migrate_lib.bash. The container counts
# into /tmp/log: after pre-dump rounds while it runs and the final dump, it counts on in dst
# without a restart or a gap. Prints the rounds and the downtime.
# MIG_MODE=post-copy runs the same with lazy pages (the container restored in dst before its
# memory is there; tests/host/runtime_migrate_postcopy.sh is the full test), MIB=N adds N MiB of
# touched memory (tests/tools/ct_memhold, its checksum compared after the migration).
# No python: the lab's CPU is emulated and slow (minutes for this test).
set -uo pipefail
source "$ROOT/tests/host/runtime_lib.bash"
source "$ROOT/tests/host/runtime_migrate_lib.bash"
CRIU=$("$ROOT/scripts/criu.sh" path 2>&1) || skip "no CRIU: $CRIU"
MODE=${MIG_MODE:-pre-copy}
MIB=${MIB:-0}
if [ "$MODE" = pre-copy ]; then
	"$CRIU" check --feature mem_dirty_track >/dev/null 2>&1 || skip "no soft-dirty tracking here"
else
	"$CRIU" check --feature uffd-noncoop >/dev/null 2>&1 || skip "no lazy pages here"
fi
command -v nsenter >/dev/null || skip "no nsenter"
TOOLS=${TOOLS:-$ROOT/build/san/tests/tools}
for t in udp_echo udp_observer ct_memhold; do
	[ -x "$TOOLS/$t" ] || skip "no $TOOLS/$t (make test-bins)"
done
mig_setup mp 10.237 10.238
# CRIU's deadline, and how long the receiver waits for the source's dump: the lab is slow
export MINICT_CRIU_TIMEOUT=${MINICT_CRIU_TIMEOUT:-900}

# the bundle: a few applets, the echo, the counter (or ct_memhold, which counts too)
ID=${P}pre
echo "running the container..." >&2
mkdir -p "$T/b"
mk_rootfs "$T/b/rootfs" sh usleep echo cat kill
cp "$TOOLS/ct_memhold" "$T/b/rootfs/bin/ct_memhold" || die "copy ct_memhold"
if [ "$MIB" -gt 0 ]; then
	mig_container $ID 60000 "exec ct_memhold $MIB /tmp"
else
	mig_container $ID 60000
fi
mig_receiver $ID 60
mig_observe 600
mig_quiesce $ID
echo "migrating ($MODE)..." >&2
setsid -w nsenter $(NS $SRC) "$MINICT" --root "$T/src" migrate --mode $MODE --pre-freeze "$QUIESCE" $ID tcp:$M.2:$PORT \
	>"$T/mig.json" 2>"$T/err" || die "migrate: $(cat "$T/err"); receiver: $(cat "$T/rcv.err")"
wait $RPID || die "receive failed: $(cat "$T/rcv.err")"
grep -q '"status":"ok"' "$T/mig.json" || die "migrate printed $(cat "$T/mig.json")"
[ "$MODE" != pre-copy ] || grep -q '"rounds":\[{' "$T/mig.json" || die "no pre-dump round: $(cat "$T/mig.json")"
src state $ID >/dev/null 2>&1 && die "the container is still in src"
dst state $ID | grep -q '"status":"running"' || die "the container does not run in dst"
[ "$MODE" != post-copy ] || grep -q '"status":"complete"' "$T/rcv.out" || die "post-copy not complete: $(cat "$T/rcv.out")"
mig_check_dst $ID 300
echo "$MODE: migrate $(cat "$T/mig.json")"
echo "$MODE: receive $(tr '\n' ' ' <"$T/rcv.out")"
echo "$MODE: observer $(cat "$T/obs.json")"
dst delete -f $ID || die "delete the migrated container"
[ -z "$(leftovers $ID "$T/src")" ] || die "src left behind: $(leftovers $ID "$T/src")"
echo "ok"
