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
# medians' ratio to QEMU in the same mode, and per MB moved L1's KVM counters for the VM (exits,
# injected interrupts, emulated instructions) and the guest's interrupts of the card, between
# the first and the last iperf3 (kvm_stats_watch, bench/lab-guest.sh). Not a timed test.
#
# Runs in the lab unless this host's /dev/kvm is hardware-backed.
#   bench/vm-net.sh [--record]   --record: the summary into docs/results.md (section vm-net)
# env: RUNS (3), TIME (5), CONFIGS (default all, each next to its QEMU peer so that both see
#      about the same load: "minivm-user qemu-user minivm-vhost qemu-vhost"), BIN (build/bin),
#      TMO (seconds a guest may take in all; default 300 + 30 per iperf3 run: a loaded lab
#      needs more)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
RUNS=${RUNS:-3} TIME=${TIME:-5}
CONFIGS=${CONFIGS:-minivm-user qemu-user minivm-vhost qemu-vhost}
BIN=${BIN:-$ROOT/build/bin}
TITLE="virtio-net: iperf3 guest <-> L1 in minivm vs QEMU, user space and vhost (issue 9, 10)"

# shellcheck source=bench/lab-guest.sh
. "$ROOT/bench/lab-guest.sh"
lab_dispatch vm-net "$TITLE" "$ROOT/bench/vm-net.sh" RUNS TIME CONFIGS BIN TMO -- "$@"

# ---- in the lab (or on a host with hardware KVM) ----------------------------------------------
lab_guest_init vm-net iperf3
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
# L1's iperf3 server, from the rootfs (its libraries) in the namespace, for the whole run; ip
# and L1_ROOTFS exec, so $! is iperf3 itself
ip netns exec "$NS" "${L1_ROOTFS[@]}" /usr/bin/iperf3 -s -B 10.78.0.1 >"$WORK/server.log" 2>&1 &
srv=$!

# What each guest runs (one line without double quotes: it goes on QEMU's -append): the
# address, a wait for L1's server, RUNS rounds of both directions. IPERF:<dir>:<Mbit/s>. A
# client that has not finished TIME + 30 s after it started is stopped (its run is missing from
# the summary, which says so).
# ks TAG: KVMSTAT:TAG and the card's lines of /proc/interrupts, then a second for
# kvm_stats_watch to take L1's counters for the VM (the summary's exits per MB).
# shellcheck disable=SC2016 # expanded by the guest's shell
script='ks() { echo KVMSTAT:$1; grep $(basename $(readlink /sys/class/net/eth0/device))- /proc/interrupts; sleep 1; };'
script+=" ip link set eth0 up && ip addr add 10.78.0.2/24 dev eth0 &&"
script+=" for i in \$(seq 30); do iperf3 -c 10.78.0.1 -t 1 >/dev/null 2>&1 && break; sleep 1; done; ks begin;"
script+=" for r in \$(seq $RUNS); do for d in tx rx; do f=; [ \$d = rx ] && f=-R;"
script+=" timeout $((TIME + 30)) iperf3 -c 10.78.0.1 -t $TIME -f m \$f | awk -v d=\$d '/receiver/{print d, \$(NF-2)}' |"
script+=" while read a b; do echo IPERF:\$a:\$b; done;"
script+=" done; done; ks end; echo IPERF-END"

mac=52:54:00:aa:bb:02
tmo=${TMO:-$((300 + RUNS * 2 * (TIME + 5) * 3))}
for c in $CONFIGS; do
	log "$c ($(date +%T), load $(cut -d' ' -f1 /proc/loadavg))"
	cut -d' ' -f1 /proc/loadavg >"$WORK/$c.load"
	mode=${c#*-}
	[ "$mode" = vhost ] && [ ! -c /dev/vhost-net ] && { log "no /dev/vhost-net: $c skipped" && continue; }
	case $c in
	minivm-*)
		net=tap=mvb0,mac=$mac
		[ "$mode" = vhost ] && net+=,vhost=on
		: >"$WORK/$c.out"
		in_ns timeout "$tmo" "$BIN/minivm" run "${MV_ARGS[@]}" --net "$net" \
			-- /bin/sh -c "$script" </dev/null >"$WORK/$c.out" 2>&1 &
		;;
	qemu-*)
		vh=off
		[ "$mode" = vhost ] && vh=on
		qemu_guest_args "$script" -netdev tap,id=n,ifname=mvb0,script=no,downscript=no,vhost=$vh \
			-device virtio-net-pci,netdev=n,mac=$mac
		: >"$WORK/$c.out"
		in_ns timeout "$tmo" qemu-system-x86_64 "${QEMU_ARGS[@]}" </dev/null >"$WORK/$c.out" 2>&1 &
		;;
	*) echo "vm-net: unknown configuration $c" >&2 && exit 2 ;;
	esac
	vm=$!
	kvm_stats_watch "$vm" "$WORK/$c.out" "$WORK/$c.kvm"
	wait "$vm" || true
	wait "$KVMW_PID" || true
	grep -q IPERF-END "$WORK/$c.out" ||
		log "$c did not finish (the summary has what it measured): $(tail -n 15 "$WORK/$c.out")"
done

export CONFIGS RUNS TIME KERNEL=$MINIVM_KERNEL BENCH=$ROOT/bench
python3 - <<'PY'
import os, re, statistics, sys
sys.path.insert(0, os.environ["BENCH"])
import kvmstat

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

def mb(c):
    return sum(v for d, _ in DIRS for v in res[c][d]) * int(os.environ["TIME"]) / 8

kvmstat.table("per MB moved, both directions (L1's KVM counters for the VM between the guest's first and "
              "last iperf3; the guest's interrupts of the card)", "MB", "card",
              [(NAMES[c], mb(c), kvmstat.read(W, c)) for c in CONFIGS if c in res], 13)
print("target (issue 9): throughput >= QEMU's in both modes, both directions")
PY
