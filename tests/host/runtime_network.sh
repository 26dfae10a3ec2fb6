#!/usr/bin/env bash
# minict --net bridge=NAME,ip=CIDR: veth pair with eth0 in the container (address, route,
# lo up), host end on the bridge (created if missing); the container reaches the bridge
# address and a second container; the veth is gone after exit.
set -uo pipefail
source "$(dirname "$0")/runtime_lib.bash"
command -v ip >/dev/null || skip "no iproute2"
T=$(mktemp -d /tmp/minict-net.XXXXXX)
S=$T/state
BR=mctnt$(($$ % 100000))
N=10.231.$(($$ % 250))
PORT=$((17000 + $$ % 1000))
trap 'cleanup_state "$S"; ip link del $BR 2>/dev/null; rm -rf "$T"' EXIT
mk_rootfs "$T/rootfs"
ip link del $BR 2>/dev/null
out=$("$MINICT" --root "$S" run --rootfs "$T/rootfs" --id ${P}net0 --net bridge=$BR,ip=$N.2/24 -- \
	sh -c 'ip -o -4 addr show eth0; ip route; ip link show lo') ||
	die "run with --net: $out"
echo "$out"
grep -q "inet $N.2/24" <<<"$out" || die "no address on eth0"
grep -q "default via $N.1" <<<"$out" || die "no default route"
grep -q 'LOOPBACK,UP' <<<"$out" || die "lo not up"
ip -o link show $BR >/dev/null || die "bridge not created"
ip -o -4 addr show $BR | grep -q $N.1/24 || die "bridge has no gateway address"
# container -> host over the bridge
# a listener whose stdin is at EOF shuts its side down at once, and busybox nc's client then
# quits before it sent anything: keep the listeners' stdin open
sleep 10 | busybox nc -l -p $PORT >"$T/got" &
ncpid=$!
sleep 0.3
"$MINICT" --root "$S" run --rootfs "$T/rootfs" --id ${P}net0 --net bridge=$BR,ip=$N.2/24 -- \
	sh -c "echo over-the-bridge | nc -w 2 $N.1 $PORT" || die "nc to host"
wait $ncpid
[ "$(cat "$T/got")" = over-the-bridge ] || die "host did not receive: $(cat "$T/got")"
ip link show "$(veth_name ${P}net0)" >/dev/null 2>&1 && die "veth left after exit"

# two containers on the bridge talk to each other
mkdir -p "$T/b"
ln -s "$T/rootfs" "$T/b/rootfs"
"$MINICT" --root "$S" run --rootfs "$T/rootfs" --id ${P}net1 --net bridge=$BR,ip=$N.3/24 -- \
	sh -c 'sleep 5 | nc -l -p 7777 > /tmp/got; cat /tmp/got; sleep 30' >"$T/got1" &
runpid=$!
for _ in $(seq 50); do "$MINICT" --root "$S" state ${P}net1 2>/dev/null | grep -q running && break; sleep 0.1; done
ip -o link show master $BR | grep -q "$(veth_name ${P}net1)" || die "veth not on the bridge"
"$MINICT" --root "$S" run --rootfs "$T/rootfs" --id ${P}net2 --net bridge=$BR,ip=$N.4/24 -- \
	sh -c "echo c2c | nc -w 2 $N.3 7777" || die "container to container"
# the listener prints what it got; give a loaded machine time before stopping it
# (the shell prints it once its `sleep 5 |` ends too)
for _ in $(seq 200); do [ -s "$T/got1" ] && break; sleep 0.1; done
"$MINICT" --root "$S" kill ${P}net1 KILL
wait $runpid
[ "$(cat "$T/got1")" = c2c ] || die "container to container: got '$(cat "$T/got1")'"
ip link show "$(veth_name ${P}net1)" >/dev/null 2>&1 && die "veth of ${P}net1 left"
[ -z "$(leftovers ${P}net1 "$S")$(leftovers ${P}net2 "$S")" ] || die "left behind"
echo "network ok"
