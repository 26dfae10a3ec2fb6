#!/usr/bin/env bash
# virtio-net with the stock kernel (the lab): in a network namespace this test makes, a
# persistent tap with 10.77.0.1/24; the guest (busybox) brings eth0 up as 10.77.0.2, pings the
# host, the host pings the guest, then 2 MiB go each way over TCP at the same time (the guest
# listens on both ports, the host connects once the guest says it is ready) with a sha256
# check, and minivm is paused and resumed (SIGUSR2 twice) while they run; the user-space data
# path, then vhost-net where /dev/vhost-net exists. Every wait is bounded; traffic stays on the
# namespace's tap.
. "$ROOT/tests/lib.sh"
need_stock_kernel_kvm
[ "$(id -u)" = 0 ] || skip "needs root (a network namespace, a tap)"
# the lab loads its modules on demand
[ -c /dev/net/tun ] || modprobe tun 2>/dev/null
[ -c /dev/vhost-net ] || modprobe vhost_net 2>/dev/null
[ -c /dev/net/tun ] || skip "no /dev/net/tun"
command -v busybox >/dev/null || skip "no busybox on the host side"
TMP=$(mktemp -d)
NS=minivm-net-$$
cleanup() {
	[ -n "${vm_pid:-}" ] && kill -KILL "$vm_pid" 2>/dev/null
	[ -n "${fetch_pid:-}" ] && kill -KILL "$fetch_pid" 2>/dev/null
	[ -n "${send_pid:-}" ] && kill -KILL "$send_pid" 2>/dev/null
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

# field NAME FILE: the value the guest printed as NAME:<value>:END (no colon in the value).
# Bash builtins, not tr|grep|head|sed: wait_field polls it while the guest boots, and four
# execs every 0.2 s took the lab's emulated CPU from the booting guest.
field() {
	local s re="$1:([^:"$'\n'"]*):END"
	{ s=$(<"$2"); } 2>/dev/null # NUL bytes dropped, and bash's warning about them
	s=${s//$'\r'/}
	[[ $s =~ $re ]] && echo "${BASH_REMATCH[1]}"
	return 0
}
# wait_field NAME FILE SECS
wait_field() {
	local i
	for ((i = 0; i < $3 * 5; i++)); do
		[ -n "$(field "$1" "$2")" ] && return 0
		kill -0 "$vm_pid" 2>/dev/null || return 1
		sleep 0.2
	done
	return 1
}

# shellcheck disable=SC2016 # expanded by the guest's shell
script='ip link set eth0 up && ip addr add 10.77.0.2/24 dev eth0 && echo "UP:$(tr : - </sys/class/net/eth0/address):END"
ping -c 3 -W 10 10.77.0.1 >/dev/null && echo PING:ok:END
head -c 2097152 /dev/urandom >/tmp/g
echo "GSHA:$(sha256sum /tmp/g | cut -d" " -f1):END"
nc -l -p 5001 </tmp/g >/dev/null &
nc -l -p 5002 </dev/null >/tmp/r &
sleep 1
echo READY:1:END
wait
echo "RSHA:$(sha256sum /tmp/r | cut -d" " -f1):END"
cat /sys/class/net/eth0/statistics/rx_errors /sys/class/net/eth0/statistics/rx_dropped | tr "\n" " " | sed "s/^/RXERR:/;s/ $/:END\n/"'

# The host's side of the transfers, always the connecting side: the guest's listeners are up
# when it prints READY, so neither side races the other's start (the guest's nc connecting
# before the host's listener was up ended the first runs with 0 bytes received). busybox nc
# neither half-closes nor waits for the peer, hence python: fetch exactly SIZE bytes from
# HOST:PORT into FILE; send FILE to HOST:PORT, half-close, wait for EOF. $PY (tests/lib.sh):
# the system's python3 (a pyenv shim first in PATH takes 15 s to start in the lab).
py_fetch='import socket, sys
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=120)
want, got = int(sys.argv[3]), bytearray()
while len(got) < want:
    b = c.recv(65536)
    if not b:
        break
    got += b
open(sys.argv[4], "wb").write(got)'
py_send='import socket, sys
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=120)
c.sendall(open(sys.argv[3], "rb").read()); c.shutdown(socket.SHUT_WR)
while c.recv(65536):
    pass'

run_mode() { # LABEL NET-OPTION
	local label=$1 net=$2 out=$TMP/$1.out err=$TMP/$1.err
	: >"$TMP/$label.recv"
	in_ns timeout 300 "$BIN/minivm" run --kernel "$MINIVM_KERNEL" --initrd "$MINIVM_INITRD" \
		--mem 512M --net "$net" -- /bin/sh -c "$script" </dev/null >"$out" 2>"$err" &
	vm_pid=$!
	wait_field UP "$out" 280 || ! grep -q "transport is not there yet" "$err" ||
		skip "--net needs the virtio-pci transport"
	wait_field UP "$out" 1 || fail "$label: eth0 never came up: $(tail -n 20 "$out"; cat "$err")"
	expect_eq "$label: the guest's MAC" "$(field UP "$out")" 52-54-00-aa-bb-01
	wait_field READY "$out" 120 || fail "$label: guest not ready: $(tail -n 20 "$out"; cat "$err")"
	expect_eq "$label: guest pings the host" "$(field PING "$out")" ok
	in_ns busybox ping -c 3 -W 10 10.77.0.2 >/dev/null || fail "$label: the host cannot ping the guest"
	# both directions at once, minivm paused and resumed in the middle (SIGUSR2 toggles)
	in_ns timeout 240 "$PY" -c "$py_fetch" 10.77.0.2 5001 $((2 << 20)) "$TMP/$label.recv" &
	fetch_pid=$!
	in_ns timeout 240 "$PY" -c "$py_send" 10.77.0.2 5002 "$TMP/host.data" &
	send_pid=$!
	sleep 1
	local during=no
	kill -0 "$fetch_pid" 2>/dev/null && kill -0 "$send_pid" 2>/dev/null && during=yes
	# minivm itself: $vm_pid is the subshell running in_ns, then come ip/timeout (which
	# SIGUSR2 would end), then minivm
	local mv=$vm_pid _
	for _ in 1 2 3 4; do
		[ "$(readlink "/proc/$mv/exe")" = "$BIN/minivm" ] && break
		mv=$(tr -d ' ' <"/proc/$mv/task/$mv/children" 2>/dev/null)
	done
	[ -n "$mv" ] && [ "$(readlink "/proc/$mv/exe")" = "$BIN/minivm" ] ||
		fail "$label: minivm's pid not found below $vm_pid"
	kill -USR2 "$mv"
	sleep 2
	kill -USR2 "$mv"
	wait "$send_pid" || fail "$label: sending to the guest failed ($(cat "$err"))"
	wait "$fetch_pid" || fail "$label: fetching from the guest failed ($(cat "$err"))"
	fetch_pid='' send_pid=''
	wait "$vm_pid"
	local rc=$?
	vm_pid=
	expect_eq "$label: minivm exit status ($(tail -n 5 "$out"); $(cat "$err"))" "$rc" 0
	expect_eq "$label: paused and resumed once each ($(cat "$err"))" \
		"$(grep -c "minivm: paused in" "$err") $(grep -c "minivm: resumed in" "$err")" "1 1"
	expect_eq "$label: guest -> host sha256 ($(stat -c %s "$TMP/$label.recv") bytes received)" \
		"$(sha256sum <"$TMP/$label.recv" | cut -d' ' -f1)" "$(field GSHA "$out")"
	expect_eq "$label: host -> guest sha256" "$(field RSHA "$out")" "$host_sha"
	expect_eq "$label: guest rx errors/drops" "$(field RXERR "$out")" "0 0"
	echo "$label: ping both ways, 2 MiB each way over TCP with a pause and resume (both transfers running at the pause: $during), checksums match"
}

run_mode user tap=mvt0,mac=52:54:00:aa:bb:01
if [ -c /dev/vhost-net ]; then
	run_mode vhost tap=mvt0,mac=52:54:00:aa:bb:01,vhost=on
else
	echo "no /dev/vhost-net: vhost mode not tested"
fi
in_ns ip link show mvt0 >/dev/null || fail "the persistent tap was removed"
