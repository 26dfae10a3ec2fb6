#!/usr/bin/env bash
# Boot benchmark (issue 3, 6a): minivm (bzImage and PVH) vs QEMU -M microvm and -M pc, same
# stock kernel and initramfs, 1 vCPU, 256 MiB, RUNS (default 10) boots each. Runs in the lab
# unless this host's /dev/kvm is hardware-backed. Usage: bench/boot.sh  (env RUNS=N TOOLS=a,b)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
eval "$(make -s images-env)"
export ROOT MINIVM_KERNEL MINIVM_VMLINUX MINIVM_INITRD
if [ -z "${MINI_IN_LAB:-}" ] && { [ -d /sys/module/kvm_pvm ] || [ ! -c /dev/kvm ]; }; then
	exec build/bin/minilab run -- env MINI_IN_LAB=1 RUNS="${RUNS:-10}" TOOLS="${TOOLS:-}" \
		"$ROOT/bench/boot.sh"
fi
exec python3 "$ROOT/bench/boot_bench.py"
