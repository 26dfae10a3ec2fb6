#!/usr/bin/env bash
# Boot benchmark (issue 3, 6a): minivm (bzImage and PVH) vs QEMU -M microvm and -M pc, same
# stock kernel and initramfs, 1 vCPU, 256 MiB, RUNS (default 10) boots each. Runs in the lab
# unless this host's /dev/kvm is hardware-backed; the summary goes to docs/results.md.
# kvmtool joins when LKVM=path is set (docs/boot.md: how to build it).
# Usage: bench/boot.sh  (env RUNS=N TOOLS=a,b RECORD=0 LKVM=path)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
eval "$(make -s images-env)"
export ROOT MINIVM_KERNEL MINIVM_VMLINUX MINIVM_INITRD
if [ -n "${MINI_IN_LAB:-}" ]; then
	exec python3 "$ROOT/bench/boot_bench.py"
fi
. "$ROOT/bench/lib.sh"
run_where_stock_kernels_boot boot-stock "Boot of the stock kernel: minivm vs QEMU (issue 3, 6a)" \
	"$ROOT/bench/boot.sh"
