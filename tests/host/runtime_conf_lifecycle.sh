#!/usr/bin/env bash
# OCI runtime.md "state", "lifecycle" and "operations": the status `state` reports through
# create (created, with the pid of the blocked process), start (running), exit (stopped),
# delete (gone); the state's ociVersion, id, pid, bundle; and the errors the spec requires:
# state of an unknown id, create with an id in use, start of a running or stopped container,
# delete of a running container (without --force), kill of a stopped container. minict, runc.
set -uo pipefail
source "$(dirname "$0")/runtime_conformance.bash"
conf_init lifecycle
B=$T/b
conf_bundle "$B"
# rt_ok / rt_fails RUNTIME WHAT ARGS...: `RUNTIME ARGS` (output dropped) exits 0 / not 0
rt_ok() { rt "$1" "${@:3}" >/dev/null 2>&1 </dev/null; RC=$?; check "$1" "$2" '[ "$RC" = 0 ]'; }
rt_fails() { rt "$1" "${@:3}" >/dev/null 2>&1 </dev/null; RC=$?; check "$1" "$2" '[ "$RC" != 0 ]'; }
set_args "$B" sh -c 'read x <&0; ct_probe status'
for r in $RUNTIMES; do
	id=${P}l-$r
	OUT=$T/out.$r.$id ERR=$T/err.$r.$id RC=
	rt_fails "$r" "state of an unknown id is an error" state "$id"
	set_args "$B" sleep 1000
	rt "$r" create --bundle "$B" "$id" >"$OUT" 2>"$ERR" </dev/null
	RC=$?
	check "$r" "create" '[ "$RC" = 0 ]'
	st=$(rt "$r" state "$id" 2>/dev/null)
	f() { python3 -c 'import json,sys; print(json.load(sys.stdin).get(sys.argv[1], ""))' "$1" <<<"$st"; }
	check "$r" "state after create: status created" '[ "$(f status)" = created ]'
	check "$r" "state: id" '[ "$(f id)" = "$id" ]'
	check "$r" "state: ociVersion" '[ -n "$(f ociVersion)" ]'
	check "$r" "state: bundle is the absolute bundle path" '[ "$(f bundle)" = "$B" ]'
	pid=$(f pid)
	check "$r" "state: pid of the created container is alive" '[ -n "$pid" ] && [ -d "/proc/$pid" ]'
	check "$r" "created: the user process has not run yet (still the runtime's init)" \
		'! grep -q "^sleep" "/proc/$pid/cmdline" 2>/dev/null'
	rt_fails "$r" "create with an id in use is an error" create --bundle "$B" "$id"
	check "$r" "the failed create left the first container alone" '[ "$(state_field "$r" "$id" status)" = created ]'
	rt_ok "$r" "start" start "$id"
	check "$r" "state after start: running" '[ "$(state_field "$r" "$id" status)" = running ]'
	check "$r" "running: the pid is the same process, now the user program" \
		'[ "$(state_field "$r" "$id" pid)" = "$pid" ] && [ "$(tr "\0" " " <"/proc/$pid/cmdline")" = "sleep 1000 " ]'
	rt_fails "$r" "start of a running container is an error" start "$id"
	rt_fails "$r" "delete of a running container (no --force) is an error" delete "$id"
	check "$r" "the refused delete left it running" '[ "$(state_field "$r" "$id" status)" = running ]'
	rt_ok "$r" "kill of a running container" kill "$id" KILL
	wait_status "$r" "$id" stopped
	check "$r" "state after the process exits: stopped" '[ "$(state_field "$r" "$id" status)" = stopped ]'
	rt_fails "$r" "start of a stopped container is an error" start "$id"
	rt_fails "$r" "kill of a stopped container is an error" kill "$id" KILL
	rt_ok "$r" "delete of a stopped container" delete "$id"
	rt_fails "$r" "state after delete is an error (the container is gone)" state "$id"
	check "$r" "nothing left after delete" '[ -z "$(leftovers "$id" "$T/state-$r")" ]'
	check "$r" "no cgroup left after delete" \
		'[ -z "$(find /sys/fs/cgroup -maxdepth 6 -type d -name "${P}conf-b" 2>/dev/null)" ]'
	rt_fails "$r" "start of an unknown id is an error" start "$id"
done
conf_done
