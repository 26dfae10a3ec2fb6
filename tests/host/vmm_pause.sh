#!/usr/bin/env bash
# The VM state machine through its test trigger, SIGUSR2 (pause a running VM, resume a paused
# one): while paused every vCPU thread sleeps outside KVM_RUN and the guest makes no progress
# (its dots stop), after resume it goes on; many quick toggles leave it running; SIGTERM ends a
# paused VM (status 143); console input sent during a pause reaches the guest after resume.
# No timing is asserted: waits are bounded only so a broken build fails instead of hanging.
. "$ROOT/tests/lib.sh"
. "$ROOT/tests/guests/lib.sh"

size() { stat -c %s "$1"; }
grew() { [ "$(size "$1")" -gt "$2" ]; }
count() { grep -c "$2" "$1" 2>/dev/null || true; }
has() { [ "$(count "$1" "$2")" -ge "$3" ]; }
# vcpu_states PID: the state letter of each vcpuN thread
vcpu_states() {
	local t
	for t in /proc/"$1"/task/*; do
		case $(cat "$t/comm" 2>/dev/null) in
		vcpu*) awk '{print $3}' "$t/stat" ;;
		esac
	done | sort | tr -d '\n'
}

for k in "${KERNELS[@]}"; do
	n=$(basename "$k")
	out=$TMP/$n.out err=$TMP/$n.err
	"$MINIVM" run --kernel "$k" --cmdline dots --cpus 2 </dev/null >"$out" 2>"$err" &
	pid=$!
	wait_until "$n: first dots" grew "$out" 3
	expect_eq "$n: vCPU threads ($(cat "$err"))" "$(vcpu_states "$pid" | wc -c)" 2

	kill -USR2 "$pid"
	wait_until "$n: paused" has "$err" "paused in" 1
	expect_eq "$n: vCPU threads while paused" "$(vcpu_states "$pid")" "SS"
	s1=$(size "$out")
	sleep 0.5
	expect_eq "$n: no guest progress while paused" "$(size "$out")" "$s1"
	expect_eq "$n: vCPU threads still parked" "$(vcpu_states "$pid")" "SS"

	kill -USR2 "$pid"
	wait_until "$n: resumed" has "$err" "resumed in" 1
	wait_until "$n: dots again after resume" grew "$out" "$s1"

	# 10 back-to-back toggles: each waits only for the previous one to be taken, since a
	# second SIGUSR2 arriving before the first is handled merges with it (standard signals
	# don't queue) and the count would depend on the host's load
	for i in 2 3 4 5 6; do
		kill -USR2 "$pid"
		wait_until "$n: quick toggle, pause $i" has "$err" "paused in" "$i"
		kill -USR2 "$pid"
		wait_until "$n: quick toggle, resume $i" has "$err" "resumed in" "$i"
	done
	s2=$(size "$out")
	wait_until "$n: running after the toggles" grew "$out" "$s2"

	kill -USR2 "$pid"
	wait_until "$n: paused again" has "$err" "paused in" 7
	kill -TERM "$pid"
	wait "$pid"
	rc=$?
	expect_eq "$n: SIGTERM while paused: status ($(cat "$err"))" "$rc" 143
	expect_contains "$n: end reason" "$(cat "$err")" "signal 15"
	echo "$n: pause, resume, toggles, SIGTERM while paused ok ($(grep -m1 'paused in' "$err"))"
done

# Input sent while paused waits, and reaches the guest after resume.
k=${KERNELS[0]}
mkfifo "$TMP/in"
"$MINIVM" run --kernel "$k" --cmdline echo <"$TMP/in" >"$TMP/echo.out" 2>"$TMP/echo.err" &
pid=$!
exec 3>"$TMP/in"
wait_until "echo guest ready" grep -q ready "$TMP/echo.out"
kill -USR2 "$pid"
wait_until "echo guest paused" has "$TMP/echo.err" "paused in" 1
echo "during-pause" >&3
sleep 0.3
case $(cat "$TMP/echo.out") in *got:*) fail "the paused guest read input" ;; esac
kill -USR2 "$pid"
wait "$pid"
rc=$?
exec 3>&-
expect_contains "echo after resume" "$(cat "$TMP/echo.out")" "got:during-pause"
expect_eq "echo exit status (line length)" "$rc" 12
echo "console input across a pause ok"
