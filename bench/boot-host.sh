#!/usr/bin/env bash
# Host boot benchmark (issue 3, 6b and 6c) with the tiny PVH test guest: minivm vs QEMU
# microvm (and kvmtool when installed), process start to first guest port write and to exit,
# plus minivm's own RSS; the summary goes to docs/results.md.
# Usage: bench/boot-host.sh  (env RUNS=N, default 20; RECORD=0; MINIVM_BASE=an older minivm
# binary, timed beside this one)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
make -s build/bin/minivm build/tests/tools/kvm_floor guests >/dev/null
export ROOT
out=$(mktemp)
trap 'rm -f "$out"' EXIT
python3 "$ROOT/bench/boot_host.py" >"$out"
cat "$out"
bench/record.py boot-tiny "Start and exit with a tiny guest: minivm vs QEMU (issue 3, 6b, 6c)" \
	"bench/boot-host.sh" "on this host" <"$out"
