#!/usr/bin/env bash
# A created container (init waiting on exec.fifo) ends the way runc's does: `kill ID TERM`
# (INT, HUP, USR1; KILL of course) stops it, although the init is PID 1 of its namespace and
# the kernel drops signals PID 1 has no handler for; `delete` (with or without --force) kills
# it; a `create` killed after its init was ready takes the init with it. Each time: no process,
# state, cgroup or mount left. The program itself still starts with default dispositions (a
# `sleep` as PID 1 ignores TERM, as under runc). runc, where installed, is the baseline for
# the created-then-TERM case.
set -uo pipefail
source "$(dirname "$0")/runtime_lib.bash"
source "$(dirname "$0")/runtime_clients.bash"
T=$(mktemp -d /tmp/minict-ckill.XXXXXX)
S=$T/state
RS=$T/runc-state
PIDS=() # every init this test made, for the trap
trap 'cleanup_state "$S"; for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	runc_ok && for d in "$RS"/*/; do [ -d "$d" ] && runc --root "$RS" delete -f "$(basename "$d")"; done >/dev/null 2>&1
	rm -rf "$T"' EXIT
mk_bundle "$T/b"
set_args "$T/b" sleep 100
cd "$T/b"
m() { "$MINICT" --root "$S" "$@"; }
status() { m state "$1" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])'; }
is_stopped() { [ "$(status "$1")" = stopped ]; }
gone() { [ ! -e "/proc/$1" ] || grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
nothing_left() { # WHAT ID PID
	local l
	l=$(leftovers "$2" "$S")
	gone "$3" || l+=" process $3 ($(tr '\0' ' ' <"/proc/$3/cmdline" 2>/dev/null))"
	[ -z "$l" ] && echo "ok: $1: nothing left" || bad "$1: left behind: $l"
}
create() { # ID: create, check it is created, print the init's pid. The init gets /dev/null
	# for stdio: the pipe of a $(...) would keep the substitution waiting as long as it lives
	m create --pid-file "$T/$1.pid" "$1" </dev/null >/dev/null 2>"$T/err" ||
		{ bad "create $1: $(cat "$T/err")"; return 1; }
	local pid
	pid=$(cat "$T/$1.pid")
	PIDS+=("$pid")
	[ "$(status "$1")" = created ] || bad "$1: status after create: $(status "$1")"
	echo "$pid"
}

# --- kill SIGNAL on a created container stops it; then delete
for sig in TERM INT HUP USR1 KILL; do
	id=${P}k$sig
	pid=$(create "$id") || continue
	m kill "$id" "$sig" || bad "kill $id $sig: exit $?"
	if wait_secs 3 is_stopped "$id"; then
		echo "ok: kill $sig stops a created container"
	else
		bad "kill $sig of a created container: still $(status "$id") after 3 s (init $pid)"
		m kill "$id" KILL
	fi
	m delete "$id" || bad "delete $id after kill $sig"
	wait_secs 2 gone "$pid"
	nothing_left "kill $sig, delete" "$id" "$pid"
done

# --- the same under runc (the baseline: its Go init dies of TERM)
if runc_ok; then
	runc --root "$RS" create --bundle "$T/b" ${P}r1 </dev/null >/dev/null 2>&1 &&
		runc --root "$RS" kill ${P}r1 TERM &&
		wait_secs 3 sh -c "runc --root '$RS' state ${P}r1 | grep -q '\"stopped\"'" &&
		echo "ok: runc: kill TERM stops a created container too" ||
		echo "note: runc baseline: kill TERM on a created container did not stop it"
	runc --root "$RS" delete -f ${P}r1 >/dev/null 2>&1
fi

# --- a process.user other than root: the uid change clears the death signal, not the handlers
cp -r "$T/b" "$T/u"
edit_config "$T/u" 'c["process"]["user"] = {"uid": 1000, "gid": 1000}; c["root"]["path"] = "'"$T"'/b/rootfs"'
id=${P}u
pid=$(cd "$T/u" && create "$id") && {
	m kill "$id" TERM || bad "kill $id TERM"
	wait_secs 3 is_stopped "$id" && echo "ok: kill TERM stops a created container of uid 1000" ||
		bad "kill TERM, uid 1000: still $(status "$id")"
	m delete -f "$id" || bad "delete -f $id"
	nothing_left "uid 1000: kill TERM, delete" "$id" "$pid"
}

# --- delete of a created container kills its init, with or without --force
for f in "" "--force"; do
	id=${P}d${f#--}
	pid=$(create "$id") || continue
	m delete $f "$id" || bad "delete $f of a created container: exit $?"
	wait_secs 2 gone "$pid" || bad "delete $f: init $pid still there"
	nothing_left "delete ${f:-(no --force)} of a created container" "$id" "$pid"
done

# --- once started, the program has the dispositions it would have had: `sleep` as PID 1
# catches nothing, and TERM does not stop it (runc: the same); KILL does
id=${P}s
pid=$(create "$id") && {
	m start "$id" || bad "start $id"
	cgt=$(awk '/^SigCgt:/ {print $2}' "/proc/$pid/status")
	[ "$cgt" = 0000000000000000 ] && echo "ok: the started program catches no signal" ||
		bad "the started program has handlers: SigCgt $cgt"
	m kill "$id" TERM
	sleep 0.3
	[ "$(status "$id")" = running ] && echo "ok: TERM to a started sleep (PID 1, no handler) is ignored" ||
		bad "TERM to a started sleep: $(status "$id")"
	m kill "$id" KILL
	wait_secs 3 is_stopped "$id" || bad "KILL of a running container: $(status "$id")"
	m delete "$id" || bad "delete $id"
	nothing_left "start, TERM, KILL, delete" "$id" "$pid"
}

# --- a create killed after its init said READY (it blocks writing the pid file, here a FIFO
# nobody reads) takes the init with it: no init is left waiting on exec.fifo for a `start`
# that never comes; delete cleans up what create had recorded
id=${P}x
mkfifo "$T/x.pid.tmp"
"$MINICT" --root "$S" create --pid-file "$T/x.pid" "$id" </dev/null >/dev/null 2>&1 &
cpid=$!
if wait_secs 5 test -e "$S/$id/state.json"; then
	ipid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pid"])' "$S/$id/state.json")
	PIDS+=("$ipid")
	kill -9 $cpid
	wait $cpid 2>/dev/null
	if wait_secs 3 gone "$ipid"; then
		echo "ok: the init of a killed create exits by itself"
	else
		bad "create killed after READY: init $ipid still there ($(cat "/proc/$ipid/wchan" 2>/dev/null))"
	fi
	[ "$(status "$id")" = stopped ] || bad "killed create: status $(status "$id"), want stopped"
	m delete "$id" || bad "delete after a killed create"
	nothing_left "killed create, delete" "$id" "$ipid"
else
	bad "create with a FIFO pid file never wrote state.json"
	kill -9 $cpid 2>/dev/null
fi
rm -f "$T/x.pid.tmp"

# --- a create killed earlier, while a createRuntime hook runs (before the init is ready and
# before the final state.json): the init goes with it, and `delete` (no --force: the create's
# process is gone) removes the cgroups and the state directory it had made
cp -r "$T/b" "$T/h"
edit_config "$T/h" 'c["root"]["path"] = "'"$T"'/b/rootfs"; c["hooks"] = {"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", "echo $$ > '"$T"'/hook.pid; exec sleep 30"]}]}'
id=${P}y
(cd "$T/h" && exec "$MINICT" --root "$S" create "$id" </dev/null >/dev/null 2>&1) &
cpid=$!
if wait_secs 5 test -s "$T/hook.pid"; then
	hpid=$(cat "$T/hook.pid")
	st=$(status "$id")
	[ "$st" = creating ] || bad "create in its hook: status $st, want creating"
	m delete "$id" 2>"$T/err" && bad "delete of a container being created succeeded"
	grep -q 'being created' "$T/err" || bad "delete while creating: $(cat "$T/err")"
	ipids=$(ps -o pid= --ppid $cpid)
	kill -9 $cpid
	wait $cpid 2>/dev/null
	kill "$hpid" 2>/dev/null
	for p in $ipids; do
		wait_secs 3 gone "$p" || bad "create killed in its hook: its child $p is still there"
	done
	m delete "$id" || bad "delete after a create killed in its hook: exit $?"
	nothing_left "create killed in a hook, delete" "$id" "${ipids:-0}"
else
	bad "the createRuntime hook never ran"
	kill -9 $cpid 2>/dev/null
fi
# a state directory with no state at all (killed before the cgroups): delete --force removes it
mkdir -p "$S/${P}z"
m delete --force ${P}z || bad "delete --force of a state directory without state.json"
[ -e "$S/${P}z" ] && bad "delete --force left the state directory of ${P}z" ||
	echo "ok: delete --force removes a state directory without state.json"
finish
