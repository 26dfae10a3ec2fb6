#!/usr/bin/env bash
# --net on this host with the tiny test guests (the devices are made even where the guest has no
# driver), inside a network namespace of its own: a missing tap is created, up while minivm
# runs, and gone after a normal exit and after SIGKILL (a non-persistent tap goes with its last
# fd); an existing persistent tap is used and left alone; bad input is one line, exit 125, and
# leaves no tap behind.
. "$ROOT/tests/lib.sh"
if [ "${MINI_NET_NS:-}" != 1 ]; then
	[ "$(id -u)" = 0 ] || skip "needs root (a network namespace, taps)"
	[ -c /dev/net/tun ] || skip "no /dev/net/tun"
	unshare -n true 2>/dev/null || skip "cannot make a network namespace"
	MINI_NET_NS=1 exec unshare -n bash "$0" "$@"
fi
. "$ROOT/tests/guests/lib.sh"
PVH=${KERNELS[0]}
ip link set lo up
case $("$MINIVM" run --kernel "$PVH" --cmdline hello --net tap=mvprobe0 2>&1 </dev/null) in
*"transport is not there yet"*) skip "--net needs the virtio-pci transport" ;;
esac

# no_link NAME WHAT: NAME must not exist (within 3 s: minivm's release helper may hold the fd a
# moment after minivm's own exit)
no_link() {
	local i
	for i in $(seq 30); do
		ip link show "$1" >/dev/null 2>&1 || return 0
		sleep 0.1
	done
	fail "$2: link $1 is still there: $(ip -o link show "$1")"
}
# wait_link NAME: NAME appears within 10 s
wait_link() {
	local i
	for i in $(seq 100); do
		ip link show "$1" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	fail "link $1 never appeared"
}
# bad WHAT NEEDLE ARGS...: exit 125, one line containing NEEDLE
bad() {
	local what=$1 needle=$2 err rc
	shift 2
	err=$(timeout 30 "$MINIVM" run --kernel "$PVH" --cmdline hello "$@" 2>&1 >/dev/null </dev/null)
	rc=$?
	expect_eq "$what: exit status" "$rc" 125
	expect_contains "$what" "$err" "$needle"
	[ "$(printf '%s\n' "$err" | grep -c .)" -eq 1 ] || fail "$what: more than one line: $err"
}

bad "tap name too long" "name too long" --net tap=abcdefghijklmnop
bad "tap name with /" "not allowed" --net tap=a/b
bad "bad MAC" "mac \`01:00:00:00:00:01\`: a multicast address" --net tap=mvt0,mac=01:00:00:00:00:01
bad "short MAC" "expected six hex pairs" --net tap=mvt0,mac=02:00:00:00:01
bad "unknown option" "unknown option \`queues\`" --net tap=mvt0,queues=4
bad "no tap" "missing tap=NAME" --net mac=02:00:00:00:00:01
bad "vhost junk" "vhost=\`yes\`" --net tap=mvt0,vhost=yes
bad "same tap twice" "given twice" --net tap=mvt0 --net tap=mvt0
ip link add mvd0 type bridge
bad "not a tap" "exists but is not a tap" --net tap=mvd0
ip link del mvd0
# The second card fails: the first card's new tap goes too.
bad "second card fails" "not allowed" --net tap=mvt0 --net tap=b:c
if [ ! -c /dev/vhost-net ]; then
	bad "vhost without /dev/vhost-net" "/dev/vhost-net" --net tap=mvt0,vhost=on
fi
# No /dev/net/tun: hide it in a private mount namespace.
# shellcheck disable=SC2016 # expanded by the inner sh
err=$(unshare -m sh -c 'mount -t tmpfs none /dev/net && exec "$0" run --kernel "$1" --cmdline hello --net tap=mvt0' \
	"$MINIVM" "$PVH" 2>&1 </dev/null)
rc=$?
expect_eq "no /dev/net/tun: exit status" "$rc" 125
expect_contains "no /dev/net/tun" "$err" "open /dev/net/tun: No such file"
no_link mvt0 "after the bad input"
echo "bad input: one line, exit 125, no tap left"

# A tap minivm creates: there (up) while the guest runs, gone after a normal exit.
mkfifo "$TMP/in"
"$MINIVM" run --kernel "$PVH" --cmdline echo --net tap=mvt0 <"$TMP/in" >"$TMP/out" 2>"$TMP/err" &
pid=$!
exec 7>"$TMP/in"
for _ in $(seq 100); do
	grep -q ready "$TMP/out" && break
	sleep 0.1
done
grep -q ready "$TMP/out" || fail "the guest never said ready: $(cat "$TMP/out" "$TMP/err")"
link=$(ip -o link show mvt0) || fail "tap mvt0 missing while minivm runs"
expect_contains "the tap is up" "$link" ",UP"
expect_contains "the tap's kind" "$(ip -d -o link show mvt0)" "tun type tap"
echo "line" >&7
exec 7>&-
wait "$pid"
expect_eq "echo guest exit status" "$?" 4
no_link mvt0 "after a normal exit"
echo "created tap: up while running, gone after exit"

# ... and after SIGKILL.
"$MINIVM" run --kernel "$PVH" --cmdline spin --net tap=mvt1,mac=02:11:22:33:44:55 </dev/null >/dev/null 2>&1 &
pid=$!
wait_link mvt1
kill -KILL "$pid"
{ wait "$pid"; } 2>/dev/null
expect_eq "killed minivm" "$?" 137
no_link mvt1 "after SIGKILL"
echo "created tap: gone after SIGKILL"

# A persistent tap that exists is used and left as it was (down, its address kept).
ip tuntap add dev mvp0 mode tap
ip addr add 192.0.2.1/24 dev mvp0
out=$(guest "$PVH" hello --net tap=mvp0 </dev/null 2>&1)
expect_eq "persistent tap: exit status" "$?" 0
link=$(ip -o link show mvp0) || fail "persistent tap mvp0 was removed"
case $link in *",UP"*) fail "persistent tap mvp0 was brought up: $link" ;; esac
expect_contains "persistent tap keeps its address" "$(ip -o addr show dev mvp0)" "192.0.2.1/24"
# Two cards on two taps.
out=$(guest "$PVH" hello --net tap=mvp0 --net tap=mvt2 </dev/null 2>&1)
expect_eq "two cards: exit status" "$?" 0
ip link show mvp0 >/dev/null 2>&1 || fail "persistent tap mvp0 was removed"
no_link mvt2 "two cards"
ip tuntap del dev mvp0 mode tap
echo "persistent tap: used and left alone"
