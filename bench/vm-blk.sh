#!/usr/bin/env bash
# virtio-blk throughput and latency (issue 9, item 10): fio on one L1 block device, in one run,
#   L1               fio on the device itself (from the benchmark rootfs, chroot in a private
#                    mount namespace);
#   minivm E         the stock kernel + initramfs booted into the rootfs image (--disk IMG,ro,
#                    minivm.root=/dev/vda,ro), the device as its second disk (--disk DEV,direct,
#                    engine=E), for E = uring and threads;
#   QEMU E           the same kernel, initramfs and disks under qemu-system-x86_64 -accel kvm
#                    -M q35, virtio-blk-pci, cache=none, aio=io_uring and aio=threads.
# The device: a loop device over a SIZE MiB file on the lab's /tmp (a tmpfs), filled once
# before the first run. Jobs (libaio, direct, time_based, RAMP s of ramp then TIME s):
# 4k randread and randwrite at iodepth 1 and 32, 1 MiB sequential read and write at iodepth
# 8. Each VM boots once and runs every job RUNS times, round-robin; the summary gives
# min/median/max per job and per configuration, and the medians' ratios to L1 and to QEMU with
# the same engine. 1 vCPU and 512 MiB for each guest. Not a timed test.
#
# Runs in the lab unless this host's /dev/kvm is hardware-backed.
#   bench/vm-blk.sh [--record]   --record: the summary into docs/results.md (section vm-blk)
# env: RUNS (3), TIME (5), RAMP (1), SIZE (512), CONFIGS (default all:
#      "l1 minivm-uring minivm-threads qemu-uring qemu-threads"), BIN (build/bin);
#      BASE_BIN=DIR adds "base-uring base-threads": the minivm in DIR (another build, e.g. the
#      commit before a change) in the same run, for a before/after comparison; JOBS: a subset
#      of "rr1 rr32 rw1 rw32 sr sw".
# minivm runs with MINI_DEBUG=1: the summary gives its device's counters (requests, kicks,
# completion passes, interrupts, passes that held kicks), and for every VM, minivm's and QEMU's
# alike, L1's KVM counters per request between the first and the last job (exits, injected
# interrupts, emulated instructions: kicks are MMIO writes L1 decodes) with the guest's
# interrupts of the disk (kvm_stats_watch, bench/lab-guest.sh).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
RUNS=${RUNS:-3} TIME=${TIME:-5} RAMP=${RAMP:-1} SIZE=${SIZE:-512}
CONFIGS=${CONFIGS:-l1 minivm-uring minivm-threads qemu-uring qemu-threads}
BIN=${BIN:-$ROOT/build/bin} BASE_BIN=${BASE_BIN:-} JOBS=${JOBS:-rr1 rr32 rw1 rw32 sr sw}
if [ -n "$BASE_BIN" ] && [[ " $CONFIGS " != *" base-"* ]]; then
	CONFIGS+=" base-uring base-threads"
fi
TITLE="virtio-blk: fio in minivm vs L1 vs QEMU (issue 9, 10)"

# shellcheck source=bench/lab-guest.sh
. "$ROOT/bench/lab-guest.sh"
lab_dispatch vm-blk "$TITLE" "$ROOT/bench/vm-blk.sh" RUNS TIME RAMP SIZE CONFIGS BIN BASE_BIN JOBS \
	-- "$@"

# ---- in the lab (or on a host with hardware KVM) ----------------------------------------------
lab_guest_init vm-blk fio
export WORK
WORK=$(mktemp -d)
dev=
cleanup() {
	[ -n "$dev" ] && losetup -d "$dev"
	rm -rf "$WORK"
}
trap cleanup EXIT
modprobe loop 2>/dev/null || true
dd if=/dev/zero of="$WORK/disk" bs=1M count="$SIZE" status=none
dev=$(losetup -f --show "$WORK/disk")
log() { echo "vm-blk: $*" >&2; }

# The jobs: one fio per run (fio's start costs seconds under the lab's TCG), each job after the
# one before (stonewall). One shell line without double quotes: it goes on QEMU's -append as
# one argument. DEV is replaced per configuration. In a guest, ks TAG prints KVMSTAT:TAG with
# the disk's /sys/block/vdb/stat and then its lines of /proc/interrupts, and gives
# kvm_stats_watch a second to take L1's counters for the VM: the summary's exits per request.
ks="ks() { :; };"
# shellcheck disable=SC2016 # expanded by the guest's shell
ksvm='ks() { echo KVMSTAT:$1 $(cat /sys/block/vdb/stat); grep $(basename $(readlink /sys/block/vdb/device))- /proc/interrupts; sleep 1; };'
script="echo DISK-\$(blockdev --getsize64 DEV); ks begin; for r in \$(seq $RUNS); do fio --filename=DEV"
script+=" --direct=1 --ioengine=libaio --time_based --runtime=$TIME --ramp_time=$RAMP"
script+=" --randrepeat=0 --output-format=terse --terse-version=3"
for j in rr1,randread,4k,1 rr32,randread,4k,32 rw1,randwrite,4k,1 rw32,randwrite,4k,32 \
	sr,read,1M,8 sw,write,1M,8; do
	IFS=, read -r n rw bs qd <<<"$j"
	[[ " $JOBS " == *" $n "* ]] || continue
	script+=" --name=$n --stonewall --rw=$rw --bs=$bs --iodepth=$qd"
done
script+=" | sed s/^/FIO:/; done; ks end; echo FIO-END"

tmo=$((600 + RUNS * 6 * (TIME + RAMP + 5) * 3))
for c in $CONFIGS; do
	log "$c ($(date +%T), load $(cut -d' ' -f1 /proc/loadavg))"
	case $c in
	l1)
		"${L1_ROOTFS[@]}" /bin/sh -c "$ks ${script//DEV/$dev}" >"$WORK/$c.out" 2>&1 || true
		;;
	minivm-* | base-*)
		# The results on the serial console (--console-log), as under QEMU: a command's
		# stdout is a virtio-console port in minivm.
		s="exec >/dev/ttyS0 2>&1; $ksvm ${script//DEV//dev/vdb}"
		mv=$BIN/minivm
		[ "${c%%-*}" = base ] && mv=$BASE_BIN/minivm
		: >"$WORK/$c.out"
		MINI_DEBUG=1 timeout "$tmo" "$mv" run "${MV_ARGS[@]}" --console-log "$WORK/$c.out" \
			--disk "$dev,direct,engine=${c#*-}" -- /bin/sh -c "$s" </dev/null \
			>"$WORK/$c.stdout" 2>"$WORK/$c.err" &
		vm=$!
		kvm_stats_watch "$vm" "$WORK/$c.out" "$WORK/$c.kvm"
		wait "$vm" || true
		wait "$KVMW_PID" || true
		grep -h "virtio-blk1: .* requests" "$WORK/$c.err" >>"$WORK/$c.out" || true
		;;
	qemu-*)
		aio=${c#qemu-}
		[ "$aio" = uring ] && aio=io_uring
		qemu_guest_args "$ksvm ${script//DEV//dev/vdb}" \
			-drive file="$dev",if=none,id=d,format=raw,cache=none,aio="$aio" \
			-device virtio-blk-pci,drive=d
		: >"$WORK/$c.out"
		timeout "$tmo" qemu-system-x86_64 "${QEMU_ARGS[@]}" </dev/null >"$WORK/$c.out" 2>&1 &
		vm=$!
		kvm_stats_watch "$vm" "$WORK/$c.out" "$WORK/$c.kvm"
		wait "$vm" || true
		wait "$KVMW_PID" || true
		;;
	*) echo "vm-blk: unknown configuration $c" >&2 && exit 2 ;;
	esac
	grep -q FIO-END "$WORK/$c.out" || {
		log "$c did not finish: $(tail -n 15 "$WORK/$c.out")"
		exit 1
	}
done

export JOBS CONFIGS RUNS TIME RAMP SIZE DEV=$dev KERNEL=$MINIVM_KERNEL BENCH=$ROOT/bench
python3 - <<'PY'
import os, statistics, sys
sys.path.insert(0, os.environ["BENCH"])
import kvmstat

W, CONFIGS = os.environ["WORK"], os.environ["CONFIGS"].split()
size = int(os.environ["SIZE"]) << 20
JOBS = [("rr1", "4k randread QD1"), ("rr32", "4k randread QD32"), ("rw1", "4k randwrite QD1"),
        ("rw32", "4k randwrite QD32"), ("sr", "1M seq read QD8"), ("sw", "1M seq write QD8")]
JOBS = [(j, t) for j, t in JOBS if j in os.environ["JOBS"].split()]
NAMES = {"l1": "L1", "minivm-uring": "minivm io_uring", "minivm-threads": "minivm threads",
         "qemu-uring": "QEMU io_uring", "qemu-threads": "QEMU threads",
         "base-uring": "base io_uring", "base-threads": "base threads"}
counters = {}
# per config, per job: lists of (IOPS, MB/s, mean latency us)
res = {}
for c in CONFIGS:
    got = {j: [] for j, _ in JOBS}
    for line in open(f"{W}/{c}.out", errors="replace"):
        line = line.strip().replace("\r", "")
        if line.startswith("DISK-") and int(line[5:]) != size:
            raise SystemExit(f"{c}: the test disk has {line[5:]} bytes, not {size}")
        if "virtio-blk1: " in line and " requests, " in line:
            counters[c] = line[line.find("virtio-blk1: ") + 13:]
        i = line.find("FIO:3;")
        if i < 0:
            continue
        f = line[i + 4:].split(";")
        if len(f) < 82 or f[4] != "0":
            raise SystemExit(f"{c}: bad fio line: {line[:200]}")
        name = f[2]
        w = name.startswith("rw") or name == "sw"
        bw, iops, lat = (f[47], f[48], f[80]) if w else (f[6], f[7], f[39])
        got[name].append((float(iops), float(bw) * 1024 / 1e6, float(lat)))
    for j, _ in JOBS:
        if len(got[j]) != int(os.environ["RUNS"]):
            raise SystemExit(f"{c}: {len(got[j])} results for {j}")
    res[c] = got

def med(c, j, k):
    return statistics.median(v[k] for v in res[c][j]) if c in res else None

def peer(c):
    if c.startswith("minivm-") or c.startswith("base-"):
        return "qemu-" + c.split("-", 1)[1]
    return None

print(f"fio on one L1 block device ({os.environ['DEV']}: a loop device over a {os.environ['SIZE']} MiB "
      f"file on the lab's tmpfs), libaio, direct, {os.environ['RAMP']} s ramp + {os.environ['TIME']} s, "
      f"{os.environ['RUNS']} runs each")
print(f"guests: {os.path.basename(os.environ['KERNEL'])}, 1 vCPU, 512 MiB, root = the rootfs image "
      f"(read-only), the device = /dev/vdb; {os.cpu_count()} L1 CPUs, load {os.getloadavg()[0]:.1f} at the end")
print(f"{'job':18s} {'where':16s} {'unit':5s} {'min':>9s} {'median':>9s} {'max':>9s}  {'/L1':>5s} {'/QEMU':>5s}")
for j, title in JOBS:
    seq = j in ("sr", "sw")
    metrics = [(1, "MB/s")] if seq else [(0, "IOPS")] + ([(2, "us")] if j.endswith("1") else [])
    for k, unit in metrics:
        for c in CONFIGS:
            v = sorted(x[k] for x in res[c][j])
            m = statistics.median(v)
            r1 = f"{m / med('l1', j, k):5.2f}" if c != "l1" and "l1" in res else ""
            p = peer(c)
            rq = f"{m / med(p, j, k):5.2f}" if p in res else ""
            print(f"{title:18s} {NAMES[c]:16s} {unit:5s} {v[0]:9.1f} {m:9.1f} {v[-1]:9.1f}  {r1:>5s} {rq:>5s}")
for c in CONFIGS:
    if c in counters:
        print(f"  {NAMES[c]:16s} device counters over the whole boot: {counters[c]}")

def work(c):
    r = kvmstat.read(W, c)  # the guest's /sys/block/vdb/stat: reads and writes completed
    return (r[3][0] + r[3][4] - r[2][0] - r[2][4] if r and len(r[2]) > 4 and len(r[3]) > 4 else None), r

kvmstat.table("per request over all jobs (L1's KVM counters for the VM between the guest's first and last "
              "job; the guest's completed requests and interrupts of the disk)", "requests", "disk",
              [(NAMES[c], *work(c)) for c in CONFIGS if c != "l1"], 16)
print("targets (issue 9): 4k randread QD32 IOPS >= 0.80 x L1 and >= QEMU; QD1 latency <= QEMU")
for c in CONFIGS:
    p = peer(c)
    if not p or p not in res or "l1" not in res or "rr1" not in res[c] or "rr32" not in res[c]:
        continue
    a = med(c, "rr32", 0) / med("l1", "rr32", 0)
    b = med(c, "rr32", 0) / med(p, "rr32", 0)
    l = med(c, "rr1", 2) / med(p, "rr1", 2)
    ok = lambda x: "met" if x else "MISSED"
    print(f"  {NAMES[c]:16s} randread QD32 {a:.2f} x L1 ({ok(a >= 0.8)}), {b:.2f} x {NAMES[p]} "
          f"({ok(b >= 1)}); randread QD1 latency {l:.2f} x {NAMES[p]} ({ok(l <= 1)})")
PY
