#!/usr/bin/env bash
# minict migrate --mode pre-copy in the lab (its Debian 6.1 kernel has soft-dirty tracking,
# which this project's hosts lack; docs/checkpoint.md "Migration"). Two network namespaces are
# the hosts, src and dst, their bridges joined by a veth (one L2 segment, the container keeps
# its address), a second veth carries the stream and the page servers' connections, the
# observer (tests/tools/udp_observer) probes the container's UDP echo from a third namespace.
# The container counts into /tmp/log: after pre-dump rounds while it runs and the final dump,
# it counts on in dst without a restart or a gap. Prints the rounds and the downtime.
# MIG_MODE=post-copy runs the same with lazy pages (experimental: MINICT_POSTCOPY=1).
# No python: the lab's CPU is emulated and slow (minutes for this test).
set -uo pipefail
source "$ROOT/tests/host/runtime_lib.bash"
CRIU=$("$ROOT/scripts/criu.sh" path 2>&1) || skip "no CRIU: $CRIU"
MODE=${MIG_MODE:-pre-copy}
if [ "$MODE" = pre-copy ]; then
	"$CRIU" check --feature mem_dirty_track >/dev/null 2>&1 || skip "no soft-dirty tracking here"
else
	"$CRIU" check --feature uffd-noncoop >/dev/null 2>&1 || skip "no lazy pages here"
	export MINICT_POSTCOPY=1
fi
command -v nsenter >/dev/null || skip "no nsenter"
TOOLS=${TOOLS:-$ROOT/build/san/tests/tools}
for t in udp_echo udp_observer; do
	[ -x "$TOOLS/$t" ] || skip "no $TOOLS/$t (make test-bins)"
done
T=$(mktemp -d /tmp/minict-pre.XXXXXX)
SRC=mps$$ DST=mpd$$ OBS=mpo$$
N=10.237.$(($$ % 250))
M=10.238.$(($$ % 250))
PORT=$((20000 + $$ % 20000))
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	nsenter --net=/run/netns/$SRC true 2>/dev/null && cleanup_state "$T/src"
	nsenter --net=/run/netns/$DST true 2>/dev/null && cleanup_state "$T/dst"
	ip netns del $SRC 2>/dev/null
	ip netns del $DST 2>/dev/null
	ip netns del $OBS 2>/dev/null
	grep -q cgyard /proc/self/mountinfo || rm -rf "$T"
}
trap cleanup EXIT
NS() { echo "--net=/run/netns/$1"; }
src() { nsenter $(NS $SRC) "$MINICT" --root "$T/src" "$@"; }
dst() { nsenter $(NS $DST) "$MINICT" --root "$T/dst" "$@"; }
has() { grep -q "$2" "$1" 2>/dev/null; }
is_state() { [ "$(cat "$1" 2>/dev/null)" = "$2" ]; }
field() { sed -n "s/.*\"$1\":\\([^,}]*\\).*/\\1/p" "$2" | head -n 1; }

ip netns add $SRC && ip netns add $DST && ip netns add $OBS || die "ip netns add"
for ns in $SRC $DST; do
	ip -n $ns link set lo up &&
		ip -n $ns link add br0 type bridge &&
		ip -n $ns addr add $N.1/24 dev br0 &&
		ip -n $ns link set br0 up || die "bridge in $ns"
done
ip link add lk netns $SRC type veth peer name lk netns $DST &&
	ip -n $SRC link set lk master br0 up && ip -n $DST link set lk master br0 up || die "bridge link"
ip link add ob netns $OBS type veth peer name ob netns $SRC &&
	ip -n $SRC link set ob master br0 up && ip -n $OBS addr add $N.200/24 dev ob &&
	ip -n $OBS link set ob up && ip -n $OBS link set lo up || die "observer link"
ip link add mg netns $SRC type veth peer name mg netns $DST &&
	ip -n $SRC addr add $M.1/30 dev mg && ip -n $DST addr add $M.2/30 dev mg &&
	ip -n $SRC link set mg up && ip -n $DST link set mg up || die "migration link"

# the bundle: a few applets, the echo, the counter (config.json edited with sed)
mkdir -p "$T/b"
mk_rootfs "$T/b/rootfs" sh usleep echo cat kill
R=$T/b/rootfs
cp "$TOOLS/udp_echo" "$R/bin/udp_echo"
(cd "$T/b" && "$MINICT" spec) || die "minict spec"
script='udp_echo 7 /tmp/echo.state 60000 \& echo $! > /tmp/echo.pid; i=0; while :; do i=$((i+1)); echo $i >> /tmp/log; usleep 20000; done'
sed -i -e "0,/^ *\"sh\"\$/s||      \"sh\", \"-c\", \"$script\"|" \
	-e "s|^  \"ociVersion\":\"\\([^\"]*\\)\",|&\\n  \"minict\":{\"netBridge\":\"br0\",\"netAddress\":\"$N.2/24\"},|" \
	"$T/b/config.json"
grep -q '"netBridge":"br0"' "$T/b/config.json" && grep -q 'udp_echo 7' "$T/b/config.json" ||
	die "config.json: $(head -20 "$T/b/config.json")"
ID=${P}pre
echo "running the container..." >&2
(cd "$T/b" && src run -d $ID </dev/null >/dev/null 2>>"$T/err") || die "run in src: $(cat "$T/err")"
wait_secs 60 lines "$R/tmp/log" 5 || die "the container does not count"
wait_secs 60 is_state "$R/tmp/echo.state" open || die "the echo does not serve"

setsid nsenter $(NS $DST) "$MINICT" --root "$T/dst" receive --listen $M.2:$PORT --work-dir "$T/dstwork" \
	--cgroups-path "minict/$ID-dst" </dev/null >"$T/rcv.out" 2>"$T/rcv.err" &
RPID=$!
PIDS+=($RPID)
wait_secs 60 has "$T/rcv.out" listening || die "the receiver does not listen: $(cat "$T/rcv.err")"
nsenter $(NS $OBS) "$TOOLS/udp_observer" $N.2 7 600 >"$T/obs.json" 2>"$T/obs.err" &
OPID=$!
PIDS+=($OPID)
wait_secs 60 has "$T/obs.err" "first reply" || die "the observer gets no reply from the container"
kill -USR1 $OPID
INIT=$(sed -n 's/.*"pid":\([0-9]*\).*/\1/p' <<<"$(src state $ID)")
EPID=$(pgrep -P "$INIT" -x udp_echo | head -n 1)
[ -n "$EPID" ] || die "no udp_echo process"
QUIESCE="kill -USR1 $EPID && i=0 && while [ \"\$(cat $R/tmp/echo.state)\" != closed ]; do sleep 0.01; i=\$((i+1)); [ \$i -lt 6000 ] || exit 1; done"
echo "migrating ($MODE)..." >&2
MINICT_CRIU_TIMEOUT=600 setsid -w nsenter $(NS $SRC) "$MINICT" --root "$T/src" migrate --mode $MODE --pre-freeze "$QUIESCE" $ID tcp:$M.2:$PORT \
	>"$T/mig.json" 2>"$T/err" || die "migrate: $(cat "$T/err"); receiver: $(cat "$T/rcv.err")"
wait $RPID || die "receive failed: $(cat "$T/rcv.err")"
grep -q '"status":"ok"' "$T/mig.json" || die "migrate printed $(cat "$T/mig.json")"
[ "$MODE" != pre-copy ] || grep -q '"rounds":\[{' "$T/mig.json" || die "no pre-dump round: $(cat "$T/mig.json")"
src state $ID >/dev/null 2>&1 && die "the container is still in src"
dst state $ID | grep -q '"status":"running"' || die "the container does not run in dst"
DR=$T/dstwork/$ID/bundle/rootfs
n0=$(wc -l <"$DR/tmp/log")
wait_secs 120 lines "$DR/tmp/log" $((n0 + 10)) || die "the migrated container does not count"
continuous "$DR/tmp/log" || die "the count restarted or jumped: $(tr '\n' ' ' <"$DR/tmp/log" | cut -c1-400)"
wait_secs 120 is_state "$DR/tmp/echo.state" open || die "the echo does not come back"
wait_secs 120 has "$T/obs.err" "reply after a gap" || die "no reply after the migration: $(cat "$T/obs.err")"
kill -TERM $OPID
wait $OPID
d=$(field downtime_ms "$T/obs.json")
[ -n "$d" ] && [ "$d" != null ] || die "observer: $(cat "$T/obs.json")"
echo "$MODE: migrate $(cat "$T/mig.json")"
echo "$MODE: receive $(tail -n 1 "$T/rcv.out")"
echo "$MODE: observer $(cat "$T/obs.json")"
dst delete -f $ID || die "delete the migrated container"
[ -z "$(leftovers $ID "$T/src")" ] || die "src left behind: $(leftovers $ID "$T/src")"
echo "ok"
