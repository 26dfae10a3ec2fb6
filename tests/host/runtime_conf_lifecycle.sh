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
set_args "$B" sh -c 'read x <&0; ct_probe status'
for r in $RUNTIMES; do
	id=${P}l-$r
	OUT=$T/out.$r.$id ERR=$T/err.$r.$id RC=
	rt "$r" state "$id" >/dev/null 2>&1
	RC=$?
	check "$r" "state of an unknown id is an error" '[ "$RC" != 0 ]'
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
	rt "$r" create --bundle "$B" "$id" >/dev/null 2>&1 </dev/null
	RC=$?
	check "$r" "create with an id in use is an error" '[ "$RC" != 0 ]'
	check "$r" "the failed create left the first container alone" '[ "$(state_field "$r" "$id" status)" = created ]'
	rt "$r" start "$id" >/dev/null 2>&1
	RC=$?
	check "$r" "start" '[ "$RC" = 0 ]'
	check "$r" "state after start: running" '[ "$(state_field "$r" "$id" status)" = running ]'
	check "$r" "running: the pid is the same process, now the user program" \
		'[ "$(state_field "$r" "$id" pid)" = "$pid" ] && [ "$(tr "\0" " " <"/proc/$pid/cmdline")" = "sleep 1000 " ]'
	rt "$r" start "$id" >/dev/null 2>&1
	RC=$?
	check "$r" "start of a running container is an error" '[ "$RC" != 0 ]'
	rt "$r" delete "$id" >/dev/null 2>&1
	RC=$?
	check "$r" "delete of a running container (no --force) is an error" '[ "$RC" != 0 ]'
	check "$r" "the refused delete left it running" '[ "$(state_field "$r" "$id" status)" = running ]'
	rt "$r" kill "$id" KILL >/dev/null 2>&1
	RC=$?
	check "$r" "kill of a running container" '[ "$RC" = 0 ]'
	wait_status "$r" "$id" stopped
	check "$r" "state after the process exits: stopped" '[ "$(state_field "$r" "$id" status)" = stopped ]'
	rt "$r" start "$id" >/dev/null 2>&1
	RC=$?
	check "$r" "start of a stopped container is an error" '[ "$RC" != 0 ]'
	rt "$r" kill "$id" KILL >/dev/null 2>&1
	RC=$?
	check "$r" "kill of a stopped container is an error" '[ "$RC" != 0 ]'
	rt "$r" delete "$id" >/dev/null 2>&1
	RC=$?
	check "$r" "delete of a stopped container" '[ "$RC" = 0 ]'
	rt "$r" state "$id" >/dev/null 2>&1
	RC=$?
	check "$r" "state after delete is an error (the container is gone)" '[ "$RC" != 0 ]'
	check "$r" "nothing left after delete" '[ -z "$(leftovers "$id" "$T/state-$r")" ]'
	check "$r" "no cgroup left after delete" \
		'[ -z "$(find /sys/fs/cgroup -maxdepth 6 -type d -name "${P}conf-b" 2>/dev/null)" ]'
	rt "$r" start "$id" >/dev/null 2>&1
	RC=$?
	check "$r" "start of an unknown id is an error" '[ "$RC" != 0 ]'
done
conf_done
