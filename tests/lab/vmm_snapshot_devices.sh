#!/usr/bin/env bash
# Snapshot and restore of a stock-kernel guest with a disk, a network card and a command
# (docs/snapshot.md): in a network namespace, a tap with 10.79.0.1/24; the guest reads
# tests/tools/udp_echo from its disk and serves UDP on 10.79.0.2, and writes one numbered
# 512-byte block with O_DIRECT every 0.2 s, printing W:N, until the host writes STOP into the
# image's control block. `snapshot --stop` while it writes and answers; a restore without the
# disk is refused naming virtio-blk0; the restore with the same --disk and --net goes on: the
# next W:N on the restored minivm's stdout (each exactly once across both), UDP answered again,
# the image's blocks are the ones the guest wrote and its own checksum agrees.
. "$ROOT/tests/lib.sh"
need_stock_kernel_kvm
[ "$(id -u)" = 0 ] || skip "needs root (a network namespace, a tap)"
[ -c /dev/net/tun ] || modprobe tun 2>/dev/null
[ -c /dev/net/tun ] || skip "no /dev/net/tun"
for t in udp_echo udp_observer; do
	[ -x "$TOOLS/$t" ] || fail "no $TOOLS/$t (make test-bins)"
done
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
TMP=$(mktemp -d)
NS=mvm-snap-$$
MAC=52:54:00:79:00:02
GUEST=10.79.0.2
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill -KILL "$p" 2>/dev/null
	done
	wait 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
ip netns add "$NS" || skip "cannot make a network namespace"
ip -n "$NS" link set lo up
ip -n "$NS" tuntap add dev mvs0 mode tap
ip -n "$NS" addr add 10.79.0.1/24 dev mvs0
ip -n "$NS" link set mvs0 up

IMG=$TMP/disk.img
truncate -s 64M "$IMG"
dd if="$TOOLS/udp_echo" of="$IMG" conv=notrunc status=none
ue_size=$(stat -c %s "$TOOLS/udp_echo")
CTL=8192 DATA=16384
# shellcheck disable=SC2016 # expanded by the guest's shell
script='ip link set eth0 up && ip addr add '$GUEST'/24 dev eth0
dd if=/dev/vda of=/tmp/ue bs=4096 count='$(((ue_size + 4095) / 4096))' 2>/dev/null
head -c '$ue_size' /tmp/ue >/tmp/udp_echo && chmod +x /tmp/udp_echo
/tmp/udp_echo 9000 /tmp/ue.state 100000 &
echo "UP:$(tr : - </sys/class/net/eth0/address):END"
i=0
while :; do
	echo "blk $i" | dd of=/dev/vda bs=512 count=1 seek=$(('$DATA'+i)) conv=sync,notrunc oflag=direct 2>/dev/null || echo "WERR:$i:END"
	echo "W:$i"
	i=$((i+1))
	dd if=/dev/vda bs=512 skip='$CTL' count=1 iflag=direct 2>/dev/null | grep -q STOP && break
	sleep 0.2
done
echo "DONE:$i:END"
echo "GSHA:$(dd if=/dev/vda bs=512 skip='$DATA' count=$i iflag=direct 2>/dev/null | sha256sum | cut -d" " -f1):END"'

field() { tr -d '\r' <"$2" | grep -ao "$1:[^:]*:END" | head -n 1 | sed "s/^$1:\(.*\):END$/\1/"; }
lastw() { tr -d '\r' <"$1" | grep -ao '^W:[0-9]*' | tail -n 1 | cut -d: -f2; }
wait_for() { # DESC SECS CMD...
	local desc=$1 secs=$2 n=$(($2 * 5))
	shift 2
	while [ "$n" -gt 0 ]; do
		"$@" && return 0
		sleep 0.2
		n=$((n - 1))
	done
	fail "timed out ($secs s) waiting for: $desc"
}
grew() { [ "$(lastw "$1")" -ge "$2" ] 2>/dev/null; }
has_field() { [ -n "$(field "$1" "$2")" ]; }
probe() { # NAME SECS: replies in SECS seconds
	ip netns exec "$NS" "$TOOLS/udp_observer" "$GUEST" 9000 "$2" >"$TMP/$1" 2>"$TMP/$1.err"
	grep -o '"replies":[0-9]*' "$TMP/$1" | cut -d: -f2
}
# answered NAME: an observer until the guest's first reply (up to 120 s: ARP, a slow lab)
answered() {
	ip netns exec "$NS" "$TOOLS/udp_observer" "$GUEST" 9000 600 >"$TMP/$1" 2>"$TMP/$1.err" &
	local o=$!
	pids+=("$o")
	wait_for "a UDP reply ($1)" 120 grep -q "first reply" "$TMP/$1.err"
	kill -TERM "$o"
	wait "$o"
}

ip netns exec "$NS" "$BIN/minivm" run --kernel "$MINIVM_KERNEL" --initrd "$MINIVM_INITRD" \
	--mem 256M --disk "$IMG" --net "tap=mvs0,mac=$MAC" --api "$TMP/a.sock" \
	--console-log "$TMP/a.con" -- /bin/sh -c "$script" </dev/null >"$TMP/a.out" 2>"$TMP/a.err" &
pid=$!
pids+=("$pid")
wait_for "the guest's eth0 ($(tail -n 5 "$TMP/a.err"))" 300 has_field UP "$TMP/a.out"
wait_for "the guest writes its disk" 60 grew "$TMP/a.out" 3
answered p0
run_capture out rc "$BIN/minivm" snapshot --api "$TMP/a.sock" --stop "$TMP/snap"
expect_eq "snapshot --stop ($out)" "$rc" 0
wait "$pid"
rc=$?
expect_eq "exit after snapshot --stop ($(tail -n 3 "$TMP/a.err"))" "$rc" 0
n=$(lastw "$TMP/a.out")

run_capture out rc ip netns exec "$NS" "$BIN/minivm" run --restore "$TMP/snap" \
	--net "tap=mvs0,mac=$MAC"
expect_eq "restore without --disk: exit ($out)" "$rc" 125
expect_contains "restore without --disk names it" "$out" "device virtio-blk0 is in the snapshot"

ip netns exec "$NS" "$BIN/minivm" run --restore "$TMP/snap" --disk "$IMG" \
	--net "tap=mvs0,mac=$MAC" --api "$TMP/b.sock" --console-log "$TMP/b.con" \
	</dev/null >"$TMP/b.out" 2>"$TMP/b.err" &
pid=$!
pids+=("$pid")
wait_for "the restored guest writes on ($(tail -n 3 "$TMP/b.err"))" 120 grew "$TMP/b.out" $((n + 3))
expect_eq "the restored command's first line" "$(tr -d '\r' <"$TMP/b.out" | grep -ao '^W:[0-9]*' | head -n 1)" "W:$((n + 1))"
answered p1
r=$(probe p2 3)
printf 'STOP' | dd of="$IMG" bs=512 seek=$CTL conv=notrunc,sync status=none
wait_for "the guest's end" 120 has_field GSHA "$TMP/b.out"
wait "$pid"
rc=$?
expect_eq "the restored VM's exit ($(tail -n 3 "$TMP/b.err"))" "$rc" 0
pids=()
done_n=$(field DONE "$TMP/b.out")
cat "$TMP/a.out" "$TMP/b.out" | tr -d '\r' | grep -ao '^W:[0-9]*' | cut -d: -f2 >"$TMP/w.all"
expect_eq "W:0..W:$((done_n - 1)) each once across both" \
	"$(sort -n "$TMP/w.all" | uniq | wc -l) $(wc -l <"$TMP/w.all")" "$done_n $done_n"
want=$("$PY" -c 'import sys,hashlib
h=hashlib.sha256()
for i in range(int(sys.argv[1])):
    b=("blk %d\n" % i).encode(); h.update(b+bytes(512-len(b)))
print(h.hexdigest())' "$done_n")
got=$(dd if="$IMG" bs=512 skip=$DATA count="$done_n" status=none | sha256sum | cut -d' ' -f1)
expect_eq "the image holds every block the guest wrote" "$got" "$want"
expect_eq "the guest's own checksum" "$(field GSHA "$TMP/b.out")" "$want"
echo "snapshot with a disk and a card: stopped at W:$n, restore without --disk refused, restored from W:$((n + 1)) to W:$((done_n - 1)), UDP answered before ($(grep -o "\"replies\":[0-9]*" "$TMP/p0")) and after ($(grep -o "\"replies\":[0-9]*" "$TMP/p1"), then $r in 3 s), $done_n blocks match"
