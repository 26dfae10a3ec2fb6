#!/usr/bin/env bash
# Pause and resume cost of a running VM with 2 vCPUs (issue 9): SIGUSR2 toggles the pause,
# minivm prints how long each took (pause: request to every vCPU parked outside KVM_RUN and
# the devices quiesced; resume: request to every vCPU out of its parking place). Prints
# min/median/max of each. Not recorded in docs/results.md.
#   bench/vm-pause.sh            the tiny test guest (dots), on this host's /dev/kvm
#   STOCK=1 bench/vm-pause.sh    Debian's stock kernel (images-env), e.g. in the lab:
#                                build/bin/minilab run -- env STOCK=1 bench/vm-pause.sh
# env: RUNS (toggle pairs, default 20), CPUS (default 2), BIN (default build/bin)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
RUNS=${RUNS:-20} CPUS=${CPUS:-2} BIN=${BIN:-$ROOT/build/bin}
TMP=$(mktemp -d)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
if [ "${STOCK:-0}" = 1 ]; then
	eval "$(scripts/images.sh env)"
	what="stock kernel $(basename "$MINIVM_KERNEL"), $CPUS vCPUs"
	"$BIN/minivm" run --kernel "$MINIVM_KERNEL" --initrd "$MINIVM_INITRD" --cpus "$CPUS" \
		-- /bin/sh -c 'echo guest-up; while :; do sleep 1; done' </dev/null \
		>"$TMP/out" 2>"$TMP/err" &
	pid=$!
	ready() { grep -q guest-up "$TMP/out"; }
else
	make -s "$BIN/minivm" guests >/dev/null 2>&1 || true
	what="tiny PVH test guest (dots), $CPUS vCPUs"
	"$BIN/minivm" run --kernel "$ROOT/build/tests/guests/pvh-guest.elf" --cmdline dots \
		--cpus "$CPUS" </dev/null >"$TMP/out" 2>"$TMP/err" &
	pid=$!
	ready() { [ "$(stat -c %s "$TMP/out")" -gt 3 ]; }
fi
for _ in $(seq 3000); do
	ready && break
	kill -0 "$pid" 2>/dev/null || { cat "$TMP/err" >&2; exit 1; }
	sleep 0.1
done
ready || { echo "guest not up after 300 s" >&2; exit 1; }
for i in $(seq $((RUNS * 2))); do
	kill -USR2 "$pid"
	for _ in $(seq 100); do # the answer line, before the next toggle
		[ "$(grep -cE '(paused|resumed) in' "$TMP/err")" -ge "$i" ] && break
		sleep 0.01
	done
	sleep 0.1
done
kill -TERM "$pid"
wait "$pid" 2>/dev/null || true
pid=
python3 - "$TMP/err" "$what" <<'PY'
import re, statistics, sys
text = open(sys.argv[1]).read()
print(f"pause/resume of a running VM: {sys.argv[2]}, {open('/proc/cpuinfo').read().count('processor')} host CPUs")
for what in ("paused", "resumed"):
    v = sorted(float(x) for x in re.findall(rf"{what} in ([0-9.]+) ms", text))
    if not v:
        sys.exit(f"no '{what}' lines")
    print(f"  {what:8s} n={len(v):3d}  min {v[0]:.3f} ms  median {statistics.median(v):.3f} ms  max {v[-1]:.3f} ms")
PY
