#!/usr/bin/env bash
# The lab end to end, in a lab of its own: it boots with a pure cgroup2 hierarchy and the stock
# kernel, its nested /dev/kvm runs a guest (tests/tools/kvm_smoke), files go in and come out
# through the checkout, stdio and exit status cross, and stop leaves nothing running. Then a
# one-shot `minilab run` with no lab started boots and stops a lab by itself.
. "$ROOT/tests/lib.sh"
ML=$BIN/minilab
state=$(mktemp -d "$ROOT/build/lab-foundation.XXXXXX")
xfer=$(mktemp -d "$ROOT/build/lab-xfer.XXXXXX")
trap 'MINILAB_STATE=$state $ML stop >/dev/null 2>&1; rm -rf "$state" "$xfer"' EXIT
export MINILAB_STATE=$state
eval "$(grep -E '^LAB_KVER' "$ROOT/build/lab.env")"

run_capture out rc "$ML" start
expect_eq "start ($out)" "$rc" 0
expect_contains "start message" "$out" "lab ready in"
echo "$out"
run_capture out rc "$ML" status
expect_eq "status while running" "$rc" 0

run_capture out rc "$ML" run -- uname -r
expect_eq "uname in the lab" "$out" "$LAB_KVER"
run_capture out rc "$ML" run -- cat /sys/fs/cgroup/cgroup.controllers
expect_contains "pure cgroup2 with memory" "$out" "memory"
expect_contains "pure cgroup2 with pids" "$out" "pids"
run_capture out rc "$ML" run -- grep -c -w svm /proc/cpuinfo
[ "${out:-0}" -ge 1 ] || fail "no svm flag in the lab's CPU: $out"

run_capture out rc "$ML" run -- "$TOOLS/kvm_smoke"
expect_eq "kvm_smoke in the lab ($out)" "$rc" 0

echo "from the host $$" >"$xfer/in"
run_capture out rc "$ML" run -- sh -c "cat '$xfer/in'; echo 'from the lab' >'$xfer/out'"
expect_eq "file into the lab" "$out" "from the host $$"
expect_eq "file out of the lab" "$(cat "$xfer/out")" "from the lab"

run_capture out rc "$ML" run -- sh -c 'exit 7'
expect_eq "exit status" "$rc" 7
run_capture out rc "$ML" run -- sh -c 'kill -TERM $$'
expect_eq "death by signal" "$rc" $((128 + 15))
out=$("$ML" run -- sh -c 'echo to-out; echo to-err >&2' 2>/dev/null)
expect_eq "stdout alone" "$out" "to-out"
out=$(echo "piped in" | "$ML" run -- sh -c 'read l; echo "got $l"')
expect_eq "stdin" "$out" "got piped in"
run_capture out rc "$ML" run -- /nonexistent/command
expect_eq "missing command" "$rc" 127
out=$(cd "$xfer" && "$ML" run -- pwd)
expect_eq "working directory" "$out" "$xfer"

# stdin the command ignores while it fills stdout: neither side may wedge
out=$(head -c 3000000 /dev/zero | timeout 300 "$ML" run -- sh -c 'seq 300000; cat >/dev/null; echo done' | tail -n 2 | tr '\n' ' ')
expect_eq "big stdin and stdout at once" "$out" "300000 done "
# a reader that goes away early ends the run (like SIGPIPE)
t0=$SECONDS
timeout 120 "$ML" run -- yes | head -n 1 >/dev/null
[ $((SECONDS - t0)) -lt 60 ] || fail "run -- yes | head did not end promptly"
# a signal reaches a command that closed its outputs
t0=$SECONDS
run_capture out rc timeout --preserve-status -s INT 4 "$ML" run -- sh -c 'exec >/dev/null 2>&1; sleep 60'
expect_eq "SIGINT to a command without outputs" "$rc" 130
[ $((SECONDS - t0)) -lt 30 ] || fail "SIGINT took $((SECONDS - t0)) s"
# a background job holding stdout does not hold the exit status
t0=$SECONDS
run_capture out rc "$ML" run -- sh -c 'sleep 30 & echo hi'
expect_eq "background job output" "$out" "hi"
[ $((SECONDS - t0)) -lt 20 ] || fail "exit status waited for a background job"
# an orphan exiting 42 (once the agent's poweroff code) leaves the lab running
"$ML" run -- sh -c 'setsid sh -c "sleep 0.5; exit 42" </dev/null >/dev/null 2>&1 &' >/dev/null
sleep 2
run_capture out rc "$ML" run -- echo still-here
expect_eq "lab after an orphan's exit 42" "$out" "still-here"

# a quiet command outlives the dead-lab timeout: the agent's heartbeats keep the client waiting
run_capture out rc env MINILAB_DEAD_SECONDS=3 "$ML" run -- sh -c 'sleep 7; echo quiet-ok'
expect_eq "quiet command past the dead-lab timeout ($out)" "$rc" 0

qemu_pid=$(pids_matching "$state" | head -n 1)
run_capture out rc "$ML" stop
expect_eq "stop" "$rc" 0
expect_eq "processes after stop" "$(pids_matching "$state")" ""
[ ! -e "$state/state" ] || fail "state file left after stop"
grep -q "reboot: Power down" "$state/console.log" || fail "the lab did not power off by itself"
[ -z "$qemu_pid" ] || [ ! -d "/proc/$qemu_pid" ] || grep -q '^State:.*Z' "/proc/$qemu_pid/status" ||
	fail "qemu $qemu_pid still there"

# one-shot: no lab running, run starts one and stops it again
run_capture out rc "$ML" run -- sh -c 'echo once; exit 3'
expect_eq "one-shot run status" "$rc" 3
expect_eq "one-shot run output" "$out" "once"
expect_eq "processes after one-shot run" "$(pids_matching "$state")" ""
# a lab that stops answering (here: the agent serving this run is stopped) ends the run with
# exit 125 and a clear message instead of hanging; its CPU state and console are kept (a one-shot
# lab's state folder goes away, so they land in the shared one) and the lab is stopped
t0=$SECONDS
run_capture out rc env MINILAB_DEAD_SECONDS=3 "$ML" run -- sh -c 'kill -STOP $PPID; sleep 60'
expect_eq "run in a lab that stopped answering" "$rc" 125
expect_contains "dead-lab message" "$out" "the lab stopped answering"
expect_contains "dead-lab CPU dump" "$out" "its CPU state is in $state/hung-cpus-"
dump=$(sed -n 's/.*its CPU state is in \(.*hung-cpus-[0-9]*\.txt\).*/\1/p' <<<"$out")
grep -q "RIP=" "$dump" || fail "no registers in the CPU dump $dump: $(head -c 300 "$dump")"
grep -q "^CPU#0 RIP [0-9a-f]* = [a-z_]" "$dump" ||
	fail "the CPU dump $dump names no kernel function: $(tail -c 300 "$dump")"
expect_contains "dead-lab console kept" "$out" "console: $state/lab-console-"
console=$(sed -n 's/.*console: \([^;)]*lab-console-[0-9]*\.log\).*/\1/p' <<<"$out")
[ -s "$console" ] || fail "the kept console $console is missing or empty"
[ $((SECONDS - t0)) -lt 60 ] || fail "the dead lab took $((SECONDS - t0)) s to give up"
expect_eq "processes after a dead lab" "$(pids_matching "$state")" ""
expect_eq "one-shot state after a dead lab" "$(ls -d "$state".run-* 2>/dev/null)" ""
echo "lab foundation checks pass"
