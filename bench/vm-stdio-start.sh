#!/usr/bin/env bash
# Start-up cost of the guest command's stdio (issue 12): the stock kernel booted by minivm,
# BASE's build against this checkout's, alternating run by run so both see the same lab load:
#   cmd    printf stdin-ok | minivm run ... -- /bin/sh -c 'echo MARK; cat' (a virtio-console
#          device, its ports; stdin through to stdout checked on every run)
#   nocmd  the same command on the kernel command line (`--cmdline "... -- /bin/sh -c ..."`):
#          no command archive, no console device, the output on the serial console
# minivm's own milestones (--timings json, debug-port writes by guestinit): min/median/max of
# init -> ready (loading the modules, probing the devices, opening the ports) and of ready
# (process start -> the command about to run), and the ratio of medians to the first older
# build.
# BASES="NAME:DIR[:CASES] ..." names older builds: DIR holds an older `minivm` and the
# `initrd.cpio` made with its guestinit (keep a copy before changing either); CASES (cmd,nocmd)
# limits what runs with it. `new` is this checkout's build/bin/minivm and $MINIVM_INITRD.
# Run it where a stock kernel boots (the lab):
#   build/bin/minilab run -- env BASES=base:DIR $(make -s images-env | tr '\n' ' ') \
#       MINI_IN_LAB=1 bash bench/vm-stdio-start.sh [--record]
# env: RUNS (default 7), BIN (default build/bin), CASES (default "cmd nocmd")
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
RUNS=${RUNS:-7} BIN=${BIN:-$ROOT/build/bin} CASES=${CASES:-cmd nocmd}
record=0
[ "${1:-}" = --record ] && record=1
declare -A DIR CASE_OF
NAMES=()
for b in ${BASES:-}; do
	IFS=: read -r n d cs <<<"$b"
	[ -n "$n" ] && [ "$n" != new ] && [ -x "$d/minivm" ] && [ -f "$d/initrd.cpio" ] || {
		echo "vm-stdio-start: BASES entry '$b': want NAME:DIR[:CASES], DIR with minivm and initrd.cpio" >&2
		exit 2
	}
	NAMES+=("$n")
	DIR[$n]=$d
	CASE_OF[$n]=${cs//,/ }
done
[ ${#NAMES[@]} -gt 0 ] || {
	echo "vm-stdio-start: BASES=NAME:DIR (an older build to compare with) is needed" >&2
	exit 2
}
NAMES+=(new)
CASE_OF[new]=""
[ -n "${MINIVM_KERNEL:-}" ] || eval "$(scripts/images.sh env)"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
CMDLINE="console=ttyS0 quiet panic=-1 no_timer_check"

one() { # BUILD CASE: appends "BUILD CASE init ready" to $TMP/results
	local build=$1 case=$2 vm initrd
	if [ "$build" != new ]; then vm=${DIR[$build]}/minivm initrd=${DIR[$build]}/initrd.cpio; else
		vm=$BIN/minivm initrd=$MINIVM_INITRD; fi
	local args=(run --kernel "$MINIVM_KERNEL" --initrd "$initrd" --cpus 1 --mem 256M --timings json)
	if [ "$case" = cmd ]; then
		printf stdin-ok | "$vm" "${args[@]}" -- /bin/sh -c 'echo MINIBENCH-READY; cat' \
			>"$TMP/out" 2>"$TMP/err"
		[ "$(cat "$TMP/out")" = "MINIBENCH-READY
stdin-ok" ] || {
			echo "$build $case: stdout '$(head -c 200 "$TMP/out")': $(tail -c 400 "$TMP/err")" >&2
			exit 1
		}
	else
		"$vm" "${args[@]}" --console stdio --cmdline "$CMDLINE -- /bin/sh -c \"echo MINIBENCH-READY\"" \
			>"$TMP/out" 2>"$TMP/err" </dev/null
	fi
	grep -q MINIBENCH-READY "$TMP/out" || {
		echo "$build $case: no marker on stdout: $(tail -c 400 "$TMP/err")" >&2
		exit 1
	}
	local t
	t=$(grep '^{.*"ready"' "$TMP/err" | tail -1)
	echo "$build $case $t" >>"$TMP/results"
	echo "$build $case $t" >&2 # kept by whoever runs it, should the run be cut short"
}
for r in $(seq "$RUNS"); do
	for c in $CASES; do
		for b in "${NAMES[@]}"; do
			[ -z "${CASE_OF[$b]}" ] || [[ " ${CASE_OF[$b]} " == *" $c "* ]] || continue
			one "$b" "$c"
		done
	done
	echo "run $r/$RUNS done" >&2
done
/usr/bin/python3 - "$TMP/results" "$RUNS" "$(git rev-parse --short HEAD)" "${NAMES[@]}" >"$TMP/summary" <<'PY'
import json, statistics, sys
rows = []
for l in open(sys.argv[1]):
    b, c, j = l.split(" ", 2)
    rows.append((b, c, json.loads(j)))
runs, head, names = sys.argv[2], sys.argv[3], sys.argv[4:]
def mmm(v):
    v = sorted(v)
    return v[0], statistics.median(v), v[-1]
print(f"stock kernel, 1 vCPU, 256 MiB, {runs} alternating runs each; minivm's --timings "
      f"(ms): min / median / max, ratio of medians to `{names[0]}`; "
      f"{', '.join('`' + n + '`' for n in names[:-1])}: older builds, `new`: {head} and its changes")
print()
print("| case | build | init -> ready | ratio | ready | ratio |")
print("|---|---|---|---|---|---|")
for case in ("cmd", "nocmd"):
    base = None
    for b in names:
        sel = [j for bb, cc, j in rows if bb == b and cc == case]
        if not sel:
            continue
        d = mmm([j["ready"] - j["init"] for j in sel])
        r = mmm([j["ready"] for j in sel])
        if base is None:
            base = (d, r)
        rd = f"{d[1] / base[0][1]:.2f}" if base[0][1] else "-"
        rr = f"{r[1] / base[1][1]:.2f}" if base[1][1] else "-"
        print(f"| {case} | {b} | {d[0]:.0f} / {d[1]:.0f} / {d[2]:.0f} | {rd} "
              f"| {r[0]:.0f} / {r[1]:.0f} / {r[2]:.0f} | {rr} |")
PY
cat "$TMP/summary"
if [ "$record" = 1 ]; then
	/usr/bin/python3 "$ROOT/bench/record.py" vm-stdio-start \
		"Start-up with a guest command (virtio-console stdio): an older build vs this one (issue 12)" \
		"bench/vm-stdio-start.sh --record (BASE=older build)" "in the lab" <"$TMP/summary"
fi
