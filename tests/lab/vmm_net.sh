#!/usr/bin/env bash
# virtio-net with the stock kernel (the lab): in a network namespace this test makes, a
# persistent tap with 10.77.0.1/24; the guest (busybox) brings eth0 up as 10.77.0.2, pings the
# host, the host pings the guest, and 2 MiB go each way over TCP (busybox nc on both sides) with
# a sha256 check; the user-space data path, then vhost-net where /dev/vhost-net exists. Every
# wait is bounded; traffic stays on the namespace's tap.
. "$ROOT/tests/lib.sh"
need_stock_kernel_kvm
[ "$(id -u)" = 0 ] || skip "needs root (a network namespace, a tap)"
[ -c /dev/net/tun ] || skip "no /dev/net/tun"
command -v busybox >/dev/null || skip "no busybox on the host side"
TMP=$(mktemp -d)
NS=minivm-net-$$
cleanup() {
	[ -n "${vm_pid:-}" ] && kill -KILL "$vm_pid" 2>/dev/null
	[ -n "${lis_pid:-}" ] && kill -KILL "$lis_pid" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
ip netns add "$NS" || skip "cannot make a network namespace"
in_ns() { ip netns exec "$NS" "$@"; }
in_ns ip link set lo up
in_ns ip tuntap add dev mvt0 mode tap
in_ns ip addr add 10.77.0.1/24 dev mvt0
in_ns ip link set mvt0 up
head -c $((2 << 20)) /dev/urandom >"$TMP/host.data"
host_sha=$(sha256sum <"$TMP/host.data" | cut -d' ' -f1)

# field NAME FILE: the value the guest printed as NAME:<value>:END
field() { tr -d '\r' <"$2" | grep -ao "$1:[^:]*:END" | head -n 1 | sed "s/^$1:\(.*\):END$/\1/"; }
# wait_field NAME FILE SECS
wait_field() {
	local i
	for i in $(seq $(($3 * 5))); do
		[ -n "$(field "$1" "$2")" ] && return 0
		kill -0 "$vm_pid" 2>/dev/null || return 1
		sleep 0.2
	done
	return 1
}

# shellcheck disable=SC2016 # expanded by the guest's shell
script='ip link set eth0 up && ip addr add 10.77.0.2/24 dev eth0 && echo "UP:$(cat /sys/class/net/eth0/address):END"
ping -c 3 -W 10 10.77.0.1 >/dev/null && echo PING:ok:END
head -c 2097152 /dev/urandom >/tmp/g
echo "GSHA:$(sha256sum /tmp/g | cut -d" " -f1):END"
nc -l -p 5002 </dev/null >/tmp/r &
sleep 1
echo READY:1:END
nc 10.77.0.1 5001 </tmp/g >/dev/null
wait
echo "RSHA:$(sha256sum /tmp/r | cut -d" " -f1):END"
cat /sys/class/net/eth0/statistics/rx_errors /sys/class/net/eth0/statistics/rx_dropped | tr "\n" " " | sed "s/^/RXERR:/;s/ $/:END\n/"'

run_mode() { # LABEL NET-OPTION
	local label=$1 net=$2 out=$TMP/$1.out err=$TMP/$1.err
	: >"$TMP/$label.recv"
	in_ns timeout 240 busybox nc -l -p 5001 </dev/null >"$TMP/$label.recv" &
	lis_pid=$!
	in_ns timeout 300 "$BIN/minivm" run --kernel "$MINIVM_KERNEL" --initrd "$MINIVM_INITRD" \
		--mem 512M --net "$net" -- /bin/sh -c "$script" </dev/null >"$out" 2>"$err" &
	vm_pid=$!
	wait_field UP "$out" 120 || ! grep -q "transport is not there yet" "$err" ||
		skip "--net needs the virtio-pci transport"
	wait_field UP "$out" 1 || fail "$label: eth0 never came up: $(tail -n 20 "$out"; cat "$err")"
	expect_eq "$label: the guest's MAC" "$(field UP "$out")" 52:54:00:aa:bb:01
	wait_field READY "$out" 120 || fail "$label: guest not ready: $(tail -n 20 "$out"; cat "$err")"
	expect_eq "$label: guest pings the host" "$(field PING "$out")" ok
	in_ns ping -c 3 -W 10 10.77.0.2 >/dev/null || fail "$label: the host cannot ping the guest"
	in_ns timeout 120 busybox nc 10.77.0.2 5002 <"$TMP/host.data" >/dev/null ||
		fail "$label: sending to the guest failed"
	wait "$vm_pid"
	local rc=$?
	vm_pid=
	expect_eq "$label: minivm exit status ($(tail -n 5 "$out"); $(cat "$err"))" "$rc" 0
	wait "$lis_pid"
	lis_pid=
	expect_eq "$label: guest -> host sha256" "$(sha256sum <"$TMP/$label.recv" | cut -d' ' -f1)" \
		"$(field GSHA "$out")"
	expect_eq "$label: host -> guest sha256" "$(field RSHA "$out")" "$host_sha"
	expect_eq "$label: guest rx errors/drops" "$(field RXERR "$out")" "0 0"
	echo "$label: ping both ways, 2 MiB each way over TCP, checksums match"
}

run_mode user tap=mvt0,mac=52:54:00:aa:bb:01
if [ -c /dev/vhost-net ]; then
	run_mode vhost tap=mvt0,mac=52:54:00:aa:bb:01,vhost=on
else
	echo "no /dev/vhost-net: vhost mode not tested"
fi
in_ns ip link show mvt0 >/dev/null || fail "the persistent tap was removed"
