#!/usr/bin/env bash
# minict migrate / receive (docs/checkpoint.md "Migration"). The hosts src and dst, the links
# and the observer come from runtime_migrate_lib.bash.
# The container counts into /tmp/log and serves a UDP echo (tests/tools/udp_echo, which drops
# its socket on SIGUSR1 and takes it back once restored: CRIU 4.1.1 can't dump inet sockets
# here). Checks: stop-and-copy src -> dst continues the count, the observer sees a finite
# downtime; pre-copy says there is no soft-dirty tracking, container untouched (post-copy:
# runtime_migrate_postcopy.sh); no receiver,
# the receiver killed mid-transfer, a corrupted stream (a byte flipped on the way), a stream
# that is not minict's and one with a path out of the rootfs: the source runs on, and the
# destination leaves nothing behind (state, cgroups, work dir). Prints the figures.
set -uo pipefail
source "$(dirname "$0")/runtime_lib.bash"
source "$(dirname "$0")/runtime_migrate_lib.bash"
CRIU=$("$ROOT/scripts/criu.sh" path 2>&1) || skip "no CRIU: $CRIU"
command -v nsenter >/dev/null || skip "no nsenter"
TOOLS=$(dirname "$BIN")/tests/tools
for t in udp_echo udp_observer; do
	[ -x "$TOOLS/$t" ] || skip "no $TOOLS/$t (make test-bins)"
done
mig_setup mc 10.235 10.236
in_ns() { local ns=$1; shift; nsenter --net=/run/netns/$ns "$@"; }
status() { "$@" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])' 2>/dev/null; }
counting() { # FILE: grows by 5 lines
	local n
	n=$(wc -l <"$1")
	wait_secs 10 lines "$1" $((n + 5))
}
dst_leftovers() { # ID: what a failed receive may have left in dst
	[ -e "$T/dst/$1" ] && echo "dst state $1"
	ls -A "$T/dstwork" 2>/dev/null | sed 's/^/dst work dir: /'
	find /sys/fs/cgroup -maxdepth 7 -type d -name "$1-dst" 2>/dev/null | sed 's/^/cgroup /'
	ip -n $DST -o link show 2>/dev/null | grep -F "$(veth_name "$1")" | sed 's/^/dst veth /'
	true
}
receiver() { mig_receiver "$@"; }
# a TCP proxy in src: 127.0.0.1:PORT+1 -> the receiver; FLIP=offset flips that byte,
# HOLD=n stops forwarding after n bytes and touches $T/held
proxy() {
	rm -f "$T/held" "$T/proxy.ready"
	nsenter $(NS $SRC) python3 - $((PORT + 1)) $M.2 $PORT "${FLIP:--1}" "${HOLD:--1}" "$T" 2>"$T/proxy.err" <<'PY' &
import socket, sys, threading, os
lport, host, port, flip, hold, tdir = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", lport)); ls.listen(1)
open(tdir + "/proxy.ready", "w").close()
a, _ = ls.accept()
b = socket.create_connection((host, port))
def back():
    while True:
        d = b.recv(65536)
        if not d:
            break
        a.sendall(d)
    a.close()
threading.Thread(target=back, daemon=True).start()
off = 0
while True:
    d = a.recv(65536)
    if not d:
        break
    d = bytearray(d)
    if 0 <= flip - off < len(d):
        d[flip - off] ^= 0xff
    if hold >= 0 and off + len(d) >= hold:
        b.sendall(d[:hold - off])
        open(tdir + "/held", "w").close()
        b.recv(1)  # until the receiver is gone
        os._exit(0)
    b.sendall(d)
    off += len(d)
b.shutdown(socket.SHUT_WR)
threading.Event().wait(300)
PY
	PPID_=$!
	PIDS+=($PPID_)
	wait_secs 20 test -e "$T/proxy.ready" || die "the proxy does not start"
}

# ---- the container: a counter and the UDP echo, on src's bridge
ID=${P}mig
mig_container $ID 150
cd "$T/b" || die "cd"
mac=$(src exec $ID cat /sys/class/net/eth0/address)
[ "$mac" = "$(printf '02:4d:%02x:%02x:%02x:%02x' ${N//./ } 2)" ] || die "eth0's MAC $mac does not follow its address"

# ---- pre-copy: no soft-dirty here, one line, nothing touched
receiver $ID
src migrate --mode pre-copy $ID tcp:$M.2:$PORT >"$T/out" 2>"$T/err" && die "migrate --mode pre-copy succeeded without soft-dirty tracking"
[ "$(wc -l <"$T/err")" = 1 ] && grep -q 'soft-dirty' "$T/err" || die "pre-copy message: $(cat "$T/err")"
echo "pre-copy here: $(cat "$T/err")"
[ "$(status src state $ID)" = running ] && counting "$R/tmp/log" || die "the container after pre-copy"

# ---- stop-and-copy with the observer watching
mig_observe 120
# the echo drops its socket right before the freeze (migrate --pre-freeze), after the rootfs's
# first pass
mig_quiesce $ID
src migrate --pre-freeze "$QUIESCE" $ID tcp:$M.2:$PORT >"$T/mig.json" 2>"$T/err" || die "migrate: $(cat "$T/err"); receiver: $(cat "$T/rcv.err")"
wait $RPID || die "receive failed: $(cat "$T/rcv.err")"
grep -q '"status":"ok"' "$T/mig.json" || die "migrate printed $(cat "$T/mig.json")"
grep -q '"status":"restored"' "$T/rcv.out" || die "receive printed $(cat "$T/rcv.out")"
src state $ID >/dev/null 2>&1 && die "the container is still in src"
[ -z "$(leftovers $ID "$T/src")" ] || die "src left behind: $(leftovers $ID "$T/src")"
[ "$(status dst state $ID)" = running ] || die "the container does not run in dst"
DR=$T/dstwork/$ID/bundle/rootfs
[ -d "$T/dstwork/$ID/images" ] && die "the images are still in dst's work dir"
n0=$(wc -l <"$DR/tmp/log")
wait_secs 10 lines "$DR/tmp/log" $((n0 + 10)) || die "the migrated container does not count"
continuous "$DR/tmp/log" || die "the count restarted or jumped: $(tr '\n' ' ' <"$DR/tmp/log" | cut -c1-400)"
grep -q "$N.2/24" <(dst exec $ID ip -o -4 addr show eth0) || die "the container lost its address"
wait_secs 20 is_state "$DR/tmp/echo.state" open || die "the echo does not come back after the restore"
wait_secs 30 has "$T/obs.err" "reply after a gap" || die "the observer gets no reply after the migration: $(cat "$T/obs.err")"
kill -TERM $OPID
wait $OPID
python3 - "$T/obs.json" <<'PY' || die "observer: $(cat "$T/obs.json")"
import json, sys
o = json.load(open(sys.argv[1]))
assert o["downtime_ms"] is not None and 0 < o["downtime_ms"] < 60000, o
assert o["total_ms"] >= o["downtime_ms"] * 0.5, o
PY
echo "stop-and-copy: migrate $(cat "$T/mig.json")"
echo "stop-and-copy: receive $(cat "$T/rcv.out" | tail -n 1)"
echo "stop-and-copy: observer $(cat "$T/obs.json")"
dst delete -f $ID || die "delete the migrated container"
rm -rf "$T/dstwork/$ID"

# ---- failures, with the counter alone (the echo would take its socket back after each thaw)
edit_config "$T/b" "
c['process']['args'] = ['sh', '-c', 'i=0; while :; do i=\$((i+1)); echo \$i >> /tmp/log; usleep 20000; done']
"
rm -f "$R/tmp/log"
src run -d $ID </dev/null >/dev/null 2>"$T/err" || die "run again: $(cat "$T/err")"
wait_secs 10 lines "$R/tmp/log" 5 || die "the container does not count"
runs_on() { # what: the source container is running, counting, and dst has nothing
	[ "$(status src state $ID)" = running ] || die "$1: the source container is not running"
	counting "$R/tmp/log" || die "$1: the source container does not count"
	[ -z "$(dst_leftovers $ID)" ] || die "$1: dst left behind: $(dst_leftovers $ID)"
}
# nobody listening
src migrate $ID tcp:$M.2:$PORT >/dev/null 2>"$T/err" && die "migrate without a receiver succeeded"
[ "$(wc -l <"$T/err")" = 1 ] && grep -q 'connect' "$T/err" || die "no-receiver message: $(cat "$T/err")"
runs_on "no receiver"
# the receiver killed mid-transfer (after 1 MB)
receiver $ID
HOLD=1000000 proxy
nsenter $(NS $SRC) "$MINICT" --root "$T/src" migrate $ID tcp:127.0.0.1:$((PORT + 1)) >/dev/null 2>"$T/err" &
MPID=$!
PIDS+=($MPID)
wait_secs 30 test -e "$T/held" || die "the transfer does not reach 1 MB"
kill -9 $RPID
wait $RPID 2>/dev/null
wait $MPID && die "migrate succeeded with its receiver killed"
[ "$(wc -l <"$T/err")" = 1 ] && grep -q 'runs on here' "$T/err" || die "killed receiver: migrate said $(cat "$T/err")"
echo "receiver killed: $(cat "$T/err")"
# SIGKILL: no chance to clean up; the container's frame made early (the id, its cgroups) goes
# with delete -f (its state names them), the veth went with its namespace
dst delete -f $ID || die "receiver killed: delete -f what it left"
rm -rf "${T:?}/dstwork/$ID"
runs_on "receiver killed"
# a corrupted stream: one byte flipped at 1 MB
receiver $ID
FLIP=1000000 proxy
nsenter $(NS $SRC) "$MINICT" --root "$T/src" migrate $ID tcp:127.0.0.1:$((PORT + 1)) >/dev/null 2>"$T/err" && die "migrate of a corrupted stream succeeded"
wait $RPID && die "receive accepted a corrupted stream"
[ "$(wc -l <"$T/rcv.err")" = 1 ] && grep -q '^minict: receive: ' "$T/rcv.err" || die "corrupted stream: receive said $(cat "$T/rcv.err")"
grep -q 'destination failed: receive: .*runs on here' "$T/err" || die "corrupted stream: migrate said $(cat "$T/err")"
echo "corrupted stream: $(cat "$T/rcv.err")"
runs_on "corrupted stream"
# not a minict stream; a path out of the rootfs
receiver $ID
printf 'GET / HTTP/1.0\r\n\r\n' | in_ns $SRC timeout 20 busybox nc $M.2 $PORT >/dev/null
wait $RPID && die "receive accepted HTTP"
grep -q 'not a minict migration stream' "$T/rcv.err" || die "bad magic: $(cat "$T/rcv.err")"
runs_on "bad magic"
receiver $ID
python3 - $ID "$T/b/config.json" >"$T/evil" <<'PY'
import json, struct, sys, zlib
def frame(t, meta, data):
    return struct.pack("<IIQ", t, len(meta), len(data)) + meta + data
def entry(kind, path, data=b""):
    p = path.encode()
    return frame(2, struct.pack("<IIIIqII", kind, 0o644, 0, 0, 0, 0, len(p)) + p, data)
s = b"MCTMIGR\n" + struct.pack("<I", 2)
s += frame(1, b"", json.dumps({"id": sys.argv[1], "config": json.load(open(sys.argv[2]))}).encode())
s += entry(1, "etc") + entry(2, "etc/../../../escaped", b"x")
s += frame(0, b"", struct.pack("<II", zlib.crc32(s), 3))
sys.stdout.buffer.write(s)
PY
in_ns $SRC timeout 20 busybox nc $M.2 $PORT <"$T/evil" >/dev/null
wait $RPID && die "receive accepted a path with .."
grep -q 'bad path (a .. component)' "$T/rcv.err" || die "path traversal: $(cat "$T/rcv.err")"
[ -e "$T/escaped" ] || [ -e "$T/dstwork/escaped" ] && die "a file escaped the rootfs"
runs_on "path traversal"
# --direct-pages: the final dump's pages straight to a page server of the destination's
src migrate --mode post-copy --direct-pages $ID tcp:$M.2:$PORT 2>"$T/err" && die "--direct-pages with post-copy"
[ "$(wc -l <"$T/err")" = 1 ] && grep -q 'direct-pages is for stop-and-copy' "$T/err" || die "--direct-pages message: $(cat "$T/err")"
receiver $ID
src migrate --direct-pages $ID tcp:$M.2:$PORT >"$T/mig.json" 2>"$T/err" || die "migrate --direct-pages: $(cat "$T/err"); receiver: $(cat "$T/rcv.err")"
wait $RPID || die "receive (--direct-pages) failed: $(cat "$T/rcv.err")"
src state $ID >/dev/null 2>&1 && die "--direct-pages: the container is still in src"
[ "$(status dst state $ID)" = running ] || die "--direct-pages: the container does not run in dst"
DR=$T/dstwork/$ID/bundle/rootfs
n0=$(wc -l <"$DR/tmp/log")
wait_secs 10 lines "$DR/tmp/log" $((n0 + 10)) || die "--direct-pages: the migrated container does not count"
continuous "$DR/tmp/log" || die "--direct-pages: the count restarted or jumped"
echo "stop-and-copy --direct-pages: migrate $(cat "$T/mig.json")"
dst delete -f $ID || die "delete the migrated container"
[ -z "$(leftovers $ID "$T/src")" ] || die "left behind: $(leftovers $ID "$T/src")"
echo "ok"
