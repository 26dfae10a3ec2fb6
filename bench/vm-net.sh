#!/usr/bin/env bash
# virtio-net throughput (issue 9, item 10): iperf3 between a guest and L1 through a tap in a
# network namespace the benchmark makes (10.78.0.1/24 on L1's side, the guest 10.78.0.2), in
# one run, for
#   minivm user    --net tap=T (the data path on minivm's I/O threads)
#   minivm vhost   --net tap=T,vhost=on (the kernel's vhost-net)
#   QEMU user      qemu-system-x86_64 -accel kvm -M q35, -netdev tap,vhost=off + virtio-net-pci
#   QEMU vhost     the same with vhost=on
# Every guest: the stock kernel + initramfs booted into the benchmark rootfs image (--disk
# IMG,ro, minivm.root=/dev/vda,ro), 1 vCPU, 512 MiB. L1's iperf3 server runs from the rootfs
# directory (chroot) inside the namespace. Each guest boots once and runs RUNS rounds of
# `iperf3 -c` (guest -> L1) and `iperf3 -c -R` (L1 -> guest), TIME s each; the summary gives
# min/median/max Mbit/s (iperf3's receiver figure) per direction and configuration, and the
# medians' ratio to QEMU in the same mode. Not a timed test.
#
# Runs in the lab unless this host's /dev/kvm is hardware-backed.
#   bench/vm-net.sh [--record]   --record: the summary into docs/results.md (section vm-net)
# env: RUNS (3), TIME (5), CONFIGS (default all, each next to its QEMU peer so that both see
#      about the same load: "minivm-user qemu-user minivm-vhost qemu-vhost"), BIN (build/bin)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
RUNS=${RUNS:-3} TIME=${TIME:-5}
CONFIGS=${CONFIGS:-minivm-user qemu-user minivm-vhost qemu-vhost}
BIN=${BIN:-$ROOT/build/bin}
TITLE="virtio-net: iperf3 guest <-> L1 in minivm vs QEMU, user space and vhost (issue 9, 10)"

if [ -z "${MINI_IN_LAB:-}" ]; then
	record=0
	for a in "$@"; do
		case $a in
		--record) record=1 ;;
		*) echo "usage: bench/vm-net.sh [--record]" >&2 && exit 2 ;;
		esac
	done
	envs=(MINI_IN_LAB=1 RUNS="$RUNS" TIME="$TIME" CONFIGS="$CONFIGS" BIN="$BIN")
	out=$(mktemp)
	trap 'rm -f "$out"' EXIT
	if [ -d /sys/module/kvm_pvm ] || [ ! -c /dev/kvm ]; then
		where="in the lab"
		"$BIN/minilab" status >/dev/null || "$BIN/minilab" start
		"$BIN/minilab" run -- env "${envs[@]}" "$ROOT/bench/vm-net.sh" >"$out"
	else
		where="on this host"
		env "${envs[@]}" "$ROOT/bench/vm-net.sh" >"$out"
	fi
	cat "$out"
	if [ "$record" = 1 ]; then
		"$ROOT/bench/record.py" vm-net "$TITLE" "bench/vm-net.sh --record" "$where" <"$out"
	fi
	exit 0
fi

# ---- in the lab (or on a host with hardware KVM) ----------------------------------------------
eval "$(make -s images-env)"
R=${MINIVM_ROOTFS_DIR:-}
[ -f "${MINIVM_ROOTFS_IMG:-}" ] && [ -x "$R/usr/bin/iperf3" ] ||
	{ echo "vm-net: no benchmark rootfs with iperf3 (make images)" >&2 && exit 1; }
[ -c /dev/net/tun ] || modprobe tun
[ -c /dev/vhost-net ] || modprobe vhost_net 2>/dev/null || true
export WORK
WORK=$(mktemp -d)
NS=minivm-bench-net-$$
srv=
cleanup() {
	set +e
	[ -n "$srv" ] && kill "$srv" 2>/dev/null && wait "$srv" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	rm -rf "$WORK"
	return 0
}
trap cleanup EXIT
log() { echo "vm-net: $*" >&2; }
ip netns add "$NS"
in_ns() { ip netns exec "$NS" "$@"; }
in_ns ip link set lo up
in_ns ip tuntap add dev mvb0 mode tap
in_ns ip addr add 10.78.0.1/24 dev mvb0
in_ns ip link set mvb0 up
# L1's iperf3 server, from the rootfs (its libraries) in the namespace, for the whole run; ip,
# unshare, sh and chroot each exec the next, so $! is iperf3 itself
ip netns exec "$NS" unshare -m sh -c "mount --bind /dev '$R/dev' && mount -t proc proc '$R/proc' &&
	exec chroot '$R' /usr/bin/iperf3 -s -B 10.78.0.1" >"$WORK/server.log" 2>&1 &
srv=$!

# What each guest runs (one line without double quotes: it goes on QEMU's -append): the
# address, a wait for L1's server, RUNS rounds of both directions. IPERF:<dir>:<Mbit/s>. A
# client that has not finished TIME + 30 s after it started is stopped (its run is missing from
# the summary, which says so).
script="ip link set eth0 up && ip addr add 10.78.0.2/24 dev eth0 &&"
script+=" for i in \$(seq 30); do iperf3 -c 10.78.0.1 -t 1 >/dev/null 2>&1 && break; sleep 1; done;"
script+=" for r in \$(seq $RUNS); do for d in tx rx; do f=; [ \$d = rx ] && f=-R;"
script+=" timeout $((TIME + 30)) iperf3 -c 10.78.0.1 -t $TIME -f m \$f | awk -v d=\$d '/receiver/{print d, \$(NF-2)}' |"
script+=" while read a b; do echo IPERF:\$a:\$b; done;"
script+=" done; done; echo IPERF-END"

base=$("$BIN/minivm" run --help 2>&1 | sed -n 's/.*replaces the default `\(.*\)`.*/\1/p')
[ -n "$base" ] || base="console=ttyS0 quiet panic=-1 no_timer_check"
mac=52:54:00:aa:bb:02
tmo=$((300 + RUNS * 2 * (TIME + 5) * 3))
for c in $CONFIGS; do
	log "$c ($(date +%T), load $(cut -d' ' -f1 /proc/loadavg))"
	cut -d' ' -f1 /proc/loadavg >"$WORK/$c.load"
	mode=${c#*-}
	[ "$mode" = vhost ] && [ ! -c /dev/vhost-net ] && { log "no /dev/vhost-net: $c skipped" && continue; }
	case $c in
	minivm-*)
		net=tap=mvb0,mac=$mac
		[ "$mode" = vhost ] && net+=,vhost=on
		in_ns timeout "$tmo" "$BIN/minivm" run --kernel "$MINIVM_KERNEL" --initrd "$MINIVM_INITRD" \
			--mem 512M --disk "$MINIVM_ROOTFS_IMG,ro" --net "$net" \
			--cmdline "$base minivm.root=/dev/vda,ro" -- /bin/sh -c "$script" </dev/null \
			>"$WORK/$c.out" 2>&1 || true
		;;
	qemu-*)
		vh=off
		[ "$mode" = vhost ] && vh=on
		in_ns timeout "$tmo" qemu-system-x86_64 -accel kvm -M q35 -cpu host -smp 1 -m 512 \
			-nodefaults -no-user-config -display none -serial stdio -no-reboot \
			-kernel "$MINIVM_KERNEL" -initrd "$MINIVM_INITRD" \
			-drive file="$MINIVM_ROOTFS_IMG",if=none,id=r,format=raw,readonly=on \
			-device virtio-blk-pci,drive=r \
			-netdev tap,id=n,ifname=mvb0,script=no,downscript=no,vhost=$vh \
			-device virtio-net-pci,netdev=n,mac=$mac \
			-append "$base minivm.root=/dev/vda,ro -- /bin/sh -c \"$script\"" </dev/null \
			>"$WORK/$c.out" 2>&1 || true
		;;
	*) echo "vm-net: unknown configuration $c" >&2 && exit 2 ;;
	esac
	grep -q IPERF-END "$WORK/$c.out" ||
		log "$c did not finish (the summary has what it measured): $(tail -n 15 "$WORK/$c.out")"
done

export CONFIGS RUNS TIME KERNEL=$MINIVM_KERNEL
python3 - <<'PY'
import os, re, statistics

W, CONFIGS, RUNS = os.environ["WORK"], os.environ["CONFIGS"].split(), int(os.environ["RUNS"])
NAMES = {"minivm-user": "minivm user", "minivm-vhost": "minivm vhost",
         "qemu-user": "QEMU user", "qemu-vhost": "QEMU vhost"}
DIRS = [("tx", "guest -> L1"), ("rx", "L1 -> guest")]
res = {}
for c in CONFIGS:
    path = f"{W}/{c}.out"
    if not os.path.exists(path):
        continue  # skipped (no vhost-net)
    got = {d: [] for d, _ in DIRS}
    for m in re.finditer(r"IPERF:(tx|rx):([0-9.]+)", open(path, errors="replace").read()):
        got[m.group(1)].append(float(m.group(2)))
    if any(got[d] for d, _ in DIRS):
        res[c] = got

print(f"iperf3 (TCP, one stream, {os.environ['TIME']} s, receiver's Mbit/s) between the guest and L1 "
      f"through a tap in a netns, {RUNS} runs each direction")
print(f"guests: {os.path.basename(os.environ['KERNEL'])}, 1 vCPU, 512 MiB, root = the rootfs image; "
      f"{os.cpu_count()} L1 CPUs, load {os.getloadavg()[0]:.1f} at the end")
print("L1 load (1 min) when each guest started: " + ", ".join(
    f"{NAMES[c]} {open(f'{W}/{c}.load').read().strip()}" for c in CONFIGS if c in res))
print(f"{'direction':12s} {'where':13s} {'min':>8s} {'median':>8s} {'max':>8s}  {'/QEMU':>5s}")
for d, title in DIRS:
    for c in CONFIGS:
        if c not in res:
            continue
        v = sorted(res[c][d])
        if not v:
            print(f"{title:12s} {NAMES[c]:13s} no result")
            continue
        m = statistics.median(v)
        p = "qemu-" + c.split("-", 1)[1] if c.startswith("minivm-") else None
        r = f"{m / statistics.median(res[p][d]):5.2f}" if p in res and res[p][d] else ""
        n = f"  ({len(v)} of {RUNS} runs)" if len(v) != RUNS else ""
        print(f"{title:12s} {NAMES[c]:13s} {v[0]:8.1f} {m:8.1f} {v[-1]:8.1f}  {r:>5s}{n}")
print("target (issue 9): throughput >= QEMU's in both modes, both directions")
PY
