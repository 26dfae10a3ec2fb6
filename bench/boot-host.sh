#!/usr/bin/env bash
# Host boot benchmark (issue 3, 6b and 6c) with the tiny PVH test guest: minivm vs QEMU
# microvm (and kvmtool when installed), process start to first guest port write and to exit,
# plus minivm's own RSS. Usage: bench/boot-host.sh  (env RUNS=N, default 20)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
make -s build/bin/minivm guests >/dev/null
export ROOT
exec python3 "$ROOT/bench/boot_host.py"
