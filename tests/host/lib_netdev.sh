#!/usr/bin/env bash
# lib/netdev.h through tests/tools/netdev_ctl (one call per run), in two network namespaces made
# here (removed on exit): a bridge, veth pairs with the peer put into the other namespace by
# path and by pid, addresses (IPv4 and IPv6) and a default route, checked with `ip -j`, pings
# across the veth both ways; rename, MAC, MTU, ifindex, detaching, moving a link; taps with a
# virtio-net header (made by us and gone with the fd, or persistent and left alone, multi-queue);
# everything deleted and nothing left. Bad input (a name too long, a missing link, a veth that is
# not a bridge, an address without prefix...) gives one line naming the link and the operation.
set -uo pipefail
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
TOOLS=${TOOLS:-$ROOT/build/san/tests/tools}
[ -x "$TOOLS/netdev_ctl" ] || TOOLS=$ROOT/build/tests/tools
CTL=$TOOLS/netdev_ctl
skip() { echo "$*"; exit 77; }
die() { echo "FAIL: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || skip "needs root"
[ -x "$CTL" ] || skip "no netdev_ctl (make test-bins)"
command -v ip >/dev/null || skip "no iproute2"
command -v jq >/dev/null || skip "no jq"
[ -x /bin/busybox ] || skip "busybox-static is not installed (ping)"
[ -c /dev/net/tun ] || skip "no /dev/net/tun"

A=mcnd-$$-a
B=mcnd-$$-b
holder=
cleanup() {
	[ -n "$holder" ] && kill "$holder" 2>/dev/null && wait "$holder" 2>/dev/null
	ip netns del $A 2>/dev/null
	ip netns del $B 2>/dev/null
}
trap cleanup EXIT
ip netns add $A || die "ip netns add $A"
ip netns add $B || die "ip netns add $B"

a() { ip netns exec $A "$CTL" "$@"; }
b() { ip netns exec $B "$CTL" "$@"; }
# ok CMD...: must succeed; its stdout in $out
ok() {
	out=$("$@" 2>/tmp/netdev-$$.err) || die "$*: $(cat /tmp/netdev-$$.err)"
	rm -f /tmp/netdev-$$.err
}
# bad PATTERN CMD...: must fail with exit 1 and one line on stderr that says PATTERN
bad() {
	local pat=$1 err rc
	shift
	err=$("$@" 2>&1 >/dev/null)
	rc=$?
	[ $rc = 1 ] || die "$*: exit $rc, want 1 ($err)"
	[ "$(wc -l <<<"$err")" = 1 ] || die "$*: want one line, got: $err"
	grep -q -- "$pat" <<<"$err" || die "$*: '$err' does not say '$pat'"
	echo "  bad input: $err"
}
# jqn NS FILTER ARGS...: `ip -j ARGS` in NS through jq -e FILTER
jqn() {
	local ns=$1 f=$2
	shift 2
	ip -n "$ns" -j "$@" | jq -e "$f" >/dev/null
}

# 1. a bridge: created once, then found
ok a bridge-add br0
[ "$out" = created=1 ] || die "bridge-add: $out"
ok a bridge-add br0
[ "$out" = created=0 ] || die "bridge-add again: $out"
ok a ifindex br0
jqn $A ".[0].ifindex == $out" link show br0 || die "ifindex $out is not br0's"

# 2. veth va <-> vb, vb made directly in B (by the namespace's path), with a MAC
ok a veth va vb --peer-netns /run/netns/$B --peer-mac 02:4d:0a:4d:00:02
ok a exists vb
[ "$out" = 0 ] || die "vb is in $A"
jqn $B '.[0].address == "02:4d:0a:4d:00:02"' link show vb || die "vb: not in $B or wrong MAC"
ok a master va br0
jqn $A '.[0].master == "br0"' link show va || die "va not on br0"

# 3. addresses, links up, a default route
ok a addr br0 10.77.0.1/24
ok a addr br0 10.77.0.1/24 # already there: fine
ok a addr br0 fd77::1/64
ok a up br0
ok a up va
ok b up lo
ok b addr vb 10.77.0.2/24
ok b up vb
ok b route vb 10.77.0.1
jqn $A '[.[0].addr_info[] | "\(.local)/\(.prefixlen)"] | index("10.77.0.1/24") != null and
	index("fd77::1/64") != null' addr show br0 || die "br0 addresses: $(ip -n $A -j addr show br0)"
jqn $B '[.[0].addr_info[] | "\(.local)/\(.prefixlen)"] | index("10.77.0.2/24") != null' \
	addr show vb || die "vb addresses: $(ip -n $B -j addr show vb)"
jqn $B '.[0].gateway == "10.77.0.1" and .[0].dev == "vb"' route show default ||
	die "default route: $(ip -n $B route)"
jqn $A '(.[0].flags | index("UP")) != null' link show va || die "va is not up"

# 4. across the veth and the bridge, both ways (bounded)
timeout 15 ip netns exec $B busybox ping -c 2 -W 3 10.77.0.1 >/dev/null || die "ping $B -> $A"
timeout 15 ip netns exec $A busybox ping -c 2 -W 3 10.77.0.2 >/dev/null || die "ping $A -> $B"
echo "  ping across the veth: ok"

# 5. the peer put into a process's namespace (B) by its pid
ip netns exec $B sleep 60 &
holder=$!
want=$(ip netns exec $B readlink /proc/self/ns/net)
for _ in $(seq 100); do [ "$(readlink /proc/$holder/ns/net)" = "$want" ] && break; sleep 0.05; done
ok a veth vc vd --peer-pid $holder --mac 02:4d:00:00:00:0c
jqn $B '.[0].ifname == "vd"' link show vd || die "vd not in $B"
jqn $A '.[0].address == "02:4d:00:00:00:0c"' link show vc || die "vc MAC"
kill $holder && wait $holder 2>/dev/null
holder=

# 6. rename (down), MAC, MTU, detach from the bridge, move to another namespace
ok a rename vc vc2
ok a mtu vc2 1400
ok a mac vc2 02:11:22:33:44:55
jqn $A '.[0].mtu == 1400 and .[0].address == "02:11:22:33:44:55"' link show vc2 ||
	die "vc2: $(ip -n $A -j link show vc2)"
ok a exists vc
[ "$out" = 0 ] || die "vc still there after the rename"
ok a master vc2 br0
ok a master vc2 -
jqn $A '.[0].master == null' link show vc2 || die "vc2 still on a bridge"
ok a veth ve vf
ok a netns vf /run/netns/$B
jqn $B '.[0].ifname == "vf"' link show vf || die "vf not moved to $B"
ok a down va
jqn $A '(.[0].flags | index("UP")) == null' link show va || die "va still up"

# 7. taps
ok a tap-features
if [ "$out" = vnet_hdr=1 ]; then
	# made here: a tap with the virtio-net header, on the bridge while held, gone after
	chk='ip -j -d link show t0 | jq -e ".[0].linkinfo.info_data | .type == \"tap\" and
		.vnet_hdr == true and .pi == false and .persist == false" >/dev/null &&
		"$CTL" master t0 br0 && ip -j link show t0 | jq -e ".[0].master == \"br0\"" >/dev/null'
	ok a tap t0 --vnet-hdr --offload -- "CTL=$CTL; $chk"
	[ "$out" = "created=1 name=t0 vnet_hdr_sz=12 fd_cloexec=1" ] || die "tap t0: $out"
	ok a exists t0
	[ "$out" = 0 ] || die "t0 left after its fd closed"
	# persistent, made by someone else: used, not made, left alone
	ip -n $A tuntap add dev t1 mode tap || die "ip tuntap add"
	ok a tap t1 --vnet-hdr -- 'ip -j -d link show t1 | grep -q "\"vnet_hdr\":true"'
	[ "$out" = "created=0 name=t1 vnet_hdr_sz=12 fd_cloexec=1" ] || die "tap t1: $out"
	jqn $A '.[0].linkinfo.info_data.persist == true' -d link show t1 || die "t1 gone"
	ok a del t1
	# multi-queue: a second queue while the first is held
	ok a tap t2 --multi-queue -- "\"$CTL\" tap t2 --multi-queue"
	[ "$(head -n 1 <<<"$out")" = "created=1 name=t2 vnet_hdr_sz=0 fd_cloexec=1" ] &&
		[ "$(tail -n 1 <<<"$out")" = "created=0 name=t2 vnet_hdr_sz=0 fd_cloexec=1" ] ||
		die "multi-queue tap: $out"
	echo "  taps: ok"
else
	echo "  taps: no IFF_VNET_HDR here ($out), not tested"
fi

# 8. bad input: one line, naming the link and the operation
bad 'bridge `averyveryverylongname`: create: name too long (21 bytes, at most 15)' \
	a bridge-add averyveryverylongname
bad 'veth peer `averyveryverylongname`: create: name too long' a veth vx averyveryverylongname
bad 'tap `averyveryverylongname`: open: name too long' a tap averyveryverylongname
bad 'link `nosuchlink0`: set up: No such device' a up nosuchlink0
bad 'link `nosuchlink0`: delete: No such device' a del nosuchlink0
ok a del nosuchlink0 --missing-ok
bad 'bridge `va`: delete: not a bridge' a bridge-del va
bad 'bridge `va`: create: a link of type veth has that name' a bridge-add va
bad 'veth `va` (peer `vz`): create: File exists' a veth va vz
bad 'link `br0`: add address "10.77.0.9" (want A.B.C.D/N' a addr br0 10.77.0.9
bad 'link `va`: rename to `vc2`: File exists' a rename va vc2
bad 'link `vc2`: attach to bridge `nosuchbr`: the bridge is missing: No such device' a master vc2 nosuchbr
bad 'tap `br0`: attach (TUNSETIFF): it exists but is not a tap' a tap br0
bad 'interface name `a/b`' a check-name a/b

# 9. delete everything: nothing left but lo
ok a del va # vb goes with it
ok a del vc2
ok a del ve # and vf in B
ok a bridge-del br0
jqn $A 'map(.ifname) == ["lo"]' link || die "left in $A: $(ip -n $A -br link)"
jqn $B 'map(.ifname) == ["lo"]' link || die "left in $B: $(ip -n $B -br link)"
echo "netdev ok"
