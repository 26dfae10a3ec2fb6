#!/usr/bin/env bash
# minivm's own memory (issue 3, 6c) with the stock kernel: resident set size beyond the guest
# RAM the guest touched, sampled while the guest's command runs. In the lab unless this host's
# /dev/kvm is hardware-backed. Usage: bench/boot-rss.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
eval "$(make -s images-env)"
if [ -d /sys/module/kvm_pvm ] || [ ! -c /dev/kvm ]; then
	exec build/bin/minilab run -- env MINIVM_KERNEL="$MINIVM_KERNEL" \
		MINIVM_INITRD="$MINIVM_INITRD" "$ROOT/bench/boot-rss.sh"
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
	rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
	# Rss of the guest-RAM mapping (exactly --mem bytes long)
	guest=$(python3 - "$pid" $((mem << 20)) <<'PY'
import sys
size, cur, rss = int(sys.argv[2]), 0, 0
for line in open(f"/proc/{sys.argv[1]}/smaps"):
    f = line.split()
    if "-" in f[0] and len(f) >= 5:
        lo, hi = (int(x, 16) for x in f[0].split("-"))
        cur = hi - lo
    elif f[0] == "Rss:" and cur == size:
        rss += int(f[1])
print(rss)
PY
)
	kill -TERM "$pid"
	wait "$pid" || true
	echo "--mem ${mem}M: minivm VmRSS $rss KiB, guest RAM touched $guest KiB," \
		"minivm itself $((rss - guest)) KiB ($(awk -v k=$((rss - guest)) 'BEGIN {printf "%.1f", k / 1024}') MiB; target <= 5 MiB)"
done
