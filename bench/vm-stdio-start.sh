#!/usr/bin/env bash
# Start-up cost of the guest command's stdio (issue 12): the stock kernel booted by minivm,
# with and without a command, this checkout's build (and older ones, BASES=), alternating run
# by run so every case sees the same lab load:
#   cmd    printf stdin-ok | minivm run ... -- /bin/sh -c 'echo MARK; cat' (a virtio-console
#          device, its ports; stdin through to stdout checked on every run)
#   nocmd  the same command on the kernel command line (`--cmdline "... -- /bin/sh -c ..."`):
#          no command archive, no console device, the output on the serial console
# minivm's own milestones (--timings json, debug-port writes by guestinit): min/median/max of
# init -> ready (loading the modules, probing the devices, opening the ports) and of ready
# (process start -> the command about to run), the ratio of medians to the first build, and
# per build cmd's median over nocmd's (what the console device costs, in the same run).
# Where L1's tracefs has the kvm events (the lab), the exits of each boot between init and
# ready are counted too (kvm_exit: all of them, kvm_userspace_exit: those minivm handled;
# ftrace instance of our own, only our processes): a count the lab's load does not move.
# BASES="NAME:DIR[:CASES] ..." names older builds (optional): DIR holds an older `minivm` and
# the `initrd.cpio` made with its guestinit (keep a copy before changing either); CASES
# (cmd,nocmd) limits what runs with it. `new` is this checkout's build/bin/minivm and
# $MINIVM_INITRD. Run it where a stock kernel boots (the lab):
#   build/bin/minilab run -- env [BASES=base:DIR] $(make -s images-env | tr '\n' ' ') \
#       MINI_IN_LAB=1 bash bench/vm-stdio-start.sh [--record]
# env: RUNS (default 9), BIN (default build/bin), CASES (default "cmd nocmd"), EXITS=0: no
# exit counts, NOTE: a line for the recorded section (the load, what the builds are)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
RUNS=${RUNS:-9} BIN=${BIN:-$ROOT/build/bin} CASES=${CASES:-cmd nocmd}
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
NAMES+=(new)
CASE_OF[new]=""
[ -n "${MINIVM_KERNEL:-}" ] || eval "$(scripts/images.sh env)"
TMP=$(mktemp -d)
TR='' # our ftrace instance
cleanup() {
	[ -z "$TR" ] || { echo 0 >"$TR/tracing_on" && rmdir "$TR"; } 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT
CMDLINE="console=ttyS0 quiet panic=-1 no_timer_check"

# An instance of our own (others' traces untouched) with the exits and the debug port's writes
# (the milestones) of this script's processes and their children, minivm's vCPU threads too.
if [ "${EXITS:-1}" != 0 ]; then
	T=/sys/kernel/tracing
	mountpoint -q $T 2>/dev/null || mount -t tracefs nodev $T 2>/dev/null || true
	if [ -d $T/events/kvm/kvm_exit ] && mkdir "$T/instances/vm-stdio-start.$$" 2>/dev/null; then
		TR=$T/instances/vm-stdio-start.$$
		echo 8192 >"$TR/buffer_size_kb"
		echo 1 >"$TR/options/event-fork"
		echo $$ >"$TR/set_event_pid"
		echo 'port == 0xee0' >"$TR/events/kvm/kvm_pio/filter"
		for e in kvm_exit kvm_userspace_exit kvm_pio; do
			echo 1 >"$TR/events/kvm/$e/enable"
		done
		echo 1 >"$TR/tracing_on"
	else
		echo "vm-stdio-start: no kvm trace events here: no exit counts" >&2
	fi
fi

# "exits N uexits N" between the init and ready milestones of the boot just traced (the
# debug port's values 0x01000000 and 0x02000000).
count_exits() {
	[ -n "$TR" ] || return 0
	awk '/kvm_pio: pio_write at 0xee0 .*val 0x1000000( |$)/ { on = 1; e = u = 0; next }
	     /kvm_pio: pio_write at 0xee0 .*val 0x2000000( |$)/ { if (on) n = 1; on = 0 }
	     on && /kvm_exit:/ { e++ }
	     on && /kvm_userspace_exit:/ { u++ }
	     END { if (n) printf " exits %d uexits %d", e, u }' "$TR/trace"
}

one() { # BUILD CASE: appends "BUILD CASE init ready" to $TMP/results
	local build=$1 case=$2 vm initrd
	if [ "$build" != new ]; then vm=${DIR[$build]}/minivm initrd=${DIR[$build]}/initrd.cpio; else
		vm=$BIN/minivm initrd=$MINIVM_INITRD; fi
	local args=(run --kernel "$MINIVM_KERNEL" --initrd "$initrd" --cpus 1 --mem 256M --timings json)
	[ -z "$TR" ] || echo >"$TR/trace"
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
	local t x
	t=$(grep '^{.*"ready"' "$TMP/err" | tail -1)
	x=$(count_exits)
	echo "$build $case$x $t" >>"$TMP/results"
	echo "$build $case$x $t" >&2 # kept by whoever runs it, should the run be cut short
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
    pre, j = l.split(" {", 1)
    f = pre.split()
    ex = dict(zip(f[2::2], map(int, f[3::2])))
    rows.append((f[0], f[1], json.loads("{" + j), ex))
runs, head, names = sys.argv[2], sys.argv[3], sys.argv[4:]
def mmm(v):
    v = sorted(v)
    return v[0], statistics.median(v), v[-1]
def fmt(t, p=0):
    return " / ".join(f"{x:.{p}f}" for x in t)
olds = ", ".join("`" + n + "`" for n in names[:-1])
print(f"stock kernel, 1 vCPU, 256 MiB, {runs} alternating runs each; minivm's --timings "
      f"(ms): min / median / max, ratio of medians to `{names[0]}`; "
      + (f"{olds}: older builds, " if olds else "") + f"`new`: {head} and its changes. "
      "Exits between init and ready (L1's kvm_exit; those to minivm: kvm_userspace_exit): "
      "min / median / max")
print()
have_ex = any(ex for *_, ex in rows)
print("| case | build | init -> ready | ratio | ready | ratio |"
      + (" exits | to minivm |" if have_ex else ""))
print("|---|---|---|---|---|---|" + ("---|---|" if have_ex else ""))
med = {}
for case in ("cmd", "nocmd"):
    base = None
    for b in names:
        sel = [(j, ex) for bb, cc, j, ex in rows if bb == b and cc == case]
        if not sel:
            continue
        d = mmm([j["ready"] - j["init"] for j, _ in sel])
        r = mmm([j["ready"] for j, _ in sel])
        med[b, case] = (d[1], r[1])
        if base is None:
            base = (d, r)
        rd = f"{d[1] / base[0][1]:.2f}" if base[0][1] else "-"
        rr = f"{r[1] / base[1][1]:.2f}" if base[1][1] else "-"
        line = f"| {case} | {b} | {fmt(d)} | {rd} | {fmt(r)} | {rr} |"
        if have_ex:
            e = [ex["exits"] for _, ex in sel if "exits" in ex]
            u = [ex["uexits"] for _, ex in sel if "uexits" in ex]
            line += f" {fmt(mmm(e)) if e else '-'} | {fmt(mmm(u)) if u else '-'} |"
        print(line)
pairs = [b for b in names if (b, "cmd") in med and (b, "nocmd") in med]
if pairs:
    print()
    print("cmd over nocmd, same build, same run (ratio of medians): "
          + "; ".join(f"`{b}` init -> ready {med[b, 'cmd'][0] / med[b, 'nocmd'][0]:.2f}, "
                      f"ready {med[b, 'cmd'][1] / med[b, 'nocmd'][1]:.2f}" for b in pairs))
PY
[ -z "${NOTE:-}" ] || printf '\n%s\n' "$NOTE" >>"$TMP/summary"
cat "$TMP/summary"
if [ "$record" = 1 ]; then
	/usr/bin/python3 "$ROOT/bench/record.py" vm-stdio-start \
		"Start-up with a guest command (virtio-console stdio) against the command on the kernel command line (issue 12)" \
		"bench/vm-stdio-start.sh --record ([BASES=NAME:DIR] an older build beside this one)" "in the lab" <"$TMP/summary"
fi
