#!/usr/bin/env bash
# make demo: the main job end to end. Boots Debian's stock kernel with minivm (in the lab on
# hosts whose /dev/kvm can't run it, directly on VT-x/AMD-V hosts), then the same command in a
# minict container, prints where the time went for each, then runs `minibench all --quick`
# (docs/bench.md) and prints where its report is.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
B=$ROOT/build/bin
out=$ROOT/build/demo
mkdir -p "$out"
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

step "set-up: Debian's stock cloud kernel, the initramfs and the lab (cached in ${MINI_CACHE:-/var/cache/minivm})"
make -s images
make -s lab
eval "$(make -s images-env)"
echo "kernel $MINIVM_KERNEL"
echo "initramfs $MINIVM_INITRD"

step "what this host's /dev/kvm can do (minivm doctor)"
"$B/minivm" doctor || true

runner=()
started_lab=0
if [ -c /dev/kvm ] && [ ! -d /sys/module/kvm_pvm ] && grep -qwE 'vmx|svm' /proc/cpuinfo; then
	where="this host (hardware virtualization)"
else
	where="the lab (this host's /dev/kvm can't run stock kernels; see docs/lab.md)"
	runner=("$B/minilab" run --)
	if ! "$B/minilab" status >/dev/null 2>&1; then
		"$B/minilab" start
		started_lab=1
	fi
fi
cleanup() { [ $started_lab = 1 ] && "$B/minilab" stop >/dev/null 2>&1 || true; }
trap cleanup EXIT

# no double quotes: the kernel command line carries the command to guestinit
guest_cmd='echo guest: $(uname -sr), $(nproc) CPUs, $(grep MemTotal /proc/meminfo)'
step "a VM in $where: minivm boots the stock kernel (PVH entry, 2 vCPUs, 256 MiB) to guestinit"
t0=$(now_ms)
"${runner[@]}" "$B/minivm" run --kernel "$MINIVM_VMLINUX" --initrd "$MINIVM_INITRD" --cpus 2 \
	--mem 256M --console "file:$out/vm-console.log" --timings json -- /bin/sh -c "$guest_cmd" \
	2>"$out/vm-stderr.log" || { cat "$out/vm-stderr.log"; exit 1; }
vm_ms=$(($(now_ms) - t0))
grep '^guest:' "$out/vm-console.log" || true
# --timings json: one JSON line on minivm's stderr (its stdout is the guest console)
python3 - "$out/vm-stderr.log" <<'PY'
import json, sys
t = json.loads([l for l in open(sys.argv[1]) if l.startswith("{")][-1])
names = ["start", "setup", "entry", "init", "ready", "exit", "gone"]
print("minivm milestones (ms since minivm started):")
print("  " + "  ".join("%s %.0f" % (n, t[n]) for n in names if n in t))
print("  exit status of the guest command: %s" % t.get("status"))
PY

step "the same kernel and initramfs under QEMU (-M microvm, KVM) in $where, for comparison"
t0=$(now_ms)
"${runner[@]}" qemu-system-x86_64 -accel kvm -M microvm -cpu host -smp 2 -m 256 -nodefaults \
	-no-user-config -serial "file:$out/qemu-console.log" -display none -no-reboot \
	-kernel "$MINIVM_KERNEL" -initrd "$MINIVM_INITRD" \
	-append "console=ttyS0 quiet panic=-1 -- /bin/sh -c \"$guest_cmd\"" || true
qemu_ms=$(($(now_ms) - t0))
grep '^guest:' "$out/qemu-console.log" || echo "(QEMU printed no guest line; see $out/qemu-console.log)"

step "a container: minict runs the same command in a busybox root filesystem"
rootfs=$out/rootfs
if [ ! -x "$rootfs/bin/busybox" ]; then
	mkdir -p "$rootfs"/{bin,etc,proc,sys,dev,tmp,root}
	cp /bin/busybox "$rootfs/bin/"
	for a in $(/bin/busybox --list); do [ -e "$rootfs/bin/$a" ] || ln -s busybox "$rootfs/bin/$a"; done
	echo 'root:x:0:0:root:/root:/bin/sh' >"$rootfs/etc/passwd"
fi
t0=$(now_ms)
"$B/minict" run --rootfs "$rootfs" -- /bin/sh -c "${guest_cmd/guest:/container:}"
ct_ms=$(($(now_ms) - t0))

step "minibench all --quick: start latency and sysbench density (cpu, fileio, OLTP on MariaDB), minict against crun, runc, native, Docker and podman; VMs where stock kernels boot"
t0=$(now_ms)
bench_ok=1
"$B/minibench" all --quick --out "$out/bench" || bench_ok=0
bench_ms=$(($(now_ms) - t0))
[ $bench_ok = 1 ] || echo "(minibench all failed; see above: what ran is in $out/bench/report.md)"

step "summary (wall time of each command, from this shell)"
printf '  %-52s %8s ms\n' "minivm, stock kernel to guest command and poweroff" "$vm_ms" \
	"QEMU microvm, the same kernel and initramfs" "$qemu_ms" \
	"minict, container run of the same command" "$ct_ms" \
	"minibench all --quick (every experiment, every backend)" "$bench_ms"
[ ${#runner[@]} -gt 0 ] && echo "  (VM figures from the lab: TCG-emulated nested virtualization, compare them side by side only)"
echo "  details: $out/; the benchmark report: $out/bench/report.md"
