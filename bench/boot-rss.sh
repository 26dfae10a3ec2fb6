#!/usr/bin/env bash
# minivm's own memory (issue 3, 6c) with the stock kernel: resident set size beyond the guest
# RAM the guest touched, sampled while the guest's command runs. In the lab unless this host's
# /dev/kvm is hardware-backed; the summary goes to docs/results.md. Usage: bench/boot-rss.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
eval "$(make -s images-env)"
if [ -z "${MINI_IN_LAB:-}" ]; then
	. "$ROOT/bench/lib.sh"
	run_where_stock_kernels_boot boot-rss \
		"minivm's own memory with the stock kernel (issue 3, 6c)" "$ROOT/bench/boot-rss.sh"
	exit 0
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for mem in 256 1024; do
	build/bin/minivm run --kernel "$MINIVM_KERNEL" --initrd "$MINIVM_INITRD" --mem "${mem}M" \
		-- /bin/sh -c 'echo RSS-PROBE-UP; sleep 30' </dev/null >"$out" 2>&1 &
	pid=$!
	for _ in $(seq 600); do
		grep -q RSS-PROBE-UP "$out" && break
		sleep 0.2
	done
	split=$(python3 bench/rss_split.py "$pid" $((mem << 20)))
	rss=${split% *} guest=${split#* }
	kill -TERM "$pid"
	wait "$pid" || true
	echo "--mem ${mem}M: minivm resident $rss KiB, guest RAM touched $guest KiB," \
		"minivm itself $((rss - guest)) KiB ($(awk -v k=$((rss - guest)) 'BEGIN {printf "%.1f", k / 1024}') MiB; target <= 5 MiB)"
done
