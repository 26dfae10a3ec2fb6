#!/usr/bin/env bash
# OCI config.md "POSIX-platform hooks" and runtime.md "lifecycle": every hook kind runs at its
# step, in order (prestart, createRuntime, createContainer at create; startContainer, then
# poststart after the process started, at start; poststop at delete), each with the state on
# stdin (ociVersion, id, status, pid, bundle); hook args and env are passed; a failing
# prestart makes create fail and leaves nothing; a failing poststart or poststop only warns;
# a hook that does not read its stdin is fine. minict and runc.
set -uo pipefail
source "$(dirname "$0")/runtime_conformance.bash"
conf_init hooks
B=$T/b
conf_bundle "$B"
H=$T/hooks
mkdir -p "$H"
# hook.sh KIND: appends "KIND" to $H/order.$RT and saves its stdin, args and env
cat >"$T/hook.sh" <<'SH'
#!/bin/sh
d=$1 kind=$2
shift 2
echo "$kind" >>"$d/order"
cat >"$d/$kind.json"
echo "$*" >"$d/$kind.args"
echo "$HOOK_ENV" >"$d/$kind.env"
SH
chmod 755 "$T/hook.sh"
cp "$T/hook.sh" "$B/rootfs/bin/hook.sh"

# runc 1.1.5 runs poststart hooks inside `create` (libcontainer's Start), before the process
# was started, and gives the createContainer hooks the container's pid as seen in its own
# pid namespace (1) instead of the host's ("the ID of the container process, as seen by the
# host").
runc_deviates "create runs prestart, createRuntime, createContainer in order" "runc 1.1.5 also runs poststart at create"
runc_deviates "createContainer: state on stdin (id, pid, bundle, ociVersion)" "runc 1.1.5 gives pid 1 (the namespaced pid)"
runc_deviates "poststart: state on stdin, status running (the process has started)" "runc 1.1.5 runs poststart at create, status creating"
for r in $RUNTIMES; do
	id=${P}h-$r
	d=$H/$r
	mkdir -p "$d" "$B/rootfs/hooks-$r"
	cfg "$B" "D, ID, HS = '$d', '/hooks-$r', '$T/hook.sh'
"'
h = lambda kind: {"path": "/bin/sh", "args": ["sh", HS, D, kind, "a1", "a2"], "env": ["HOOK_ENV=" + kind]}
c["hooks"] = {k: [h(k)] for k in ("prestart", "createRuntime", "createContainer", "poststart", "poststop")}
c["hooks"]["startContainer"] = [{"path": "/bin/sh", "args": ["sh", "/bin/hook.sh", ID, "startContainer", "a1", "a2"],
                                 "env": ["HOOK_ENV=startContainer"]}]
c["process"]["args"] = ["sh", "-c", "echo process >> /hooks-'$r'/order; sleep 1000"]
'
	OUT=$T/out.$r.$id ERR=$T/err.$r.$id
	rt "$r" create --bundle "$B" "$id" >"$OUT" 2>"$ERR" </dev/null
	RC=$?
	check "$r" "create with every hook" '[ "$RC" = 0 ]'
	pid=$(state_field "$r" "$id" pid)
	check "$r" "create runs prestart, createRuntime, createContainer in order" \
		'[ "$(tr "\n" " " <"$d/order")" = "prestart createRuntime createContainer " ]'
	for k in prestart createRuntime createContainer; do
		j=$d/$k.json
		check "$r" "$k: state on stdin (id, pid, bundle, ociVersion)" \
			'python3 -c "import json,sys; s=json.load(open(sys.argv[1])); assert s[\"id\"]==sys.argv[2] and s[\"pid\"]==int(sys.argv[3]) and s[\"bundle\"]==sys.argv[4] and s[\"ociVersion\"]" "$j" "$id" "$pid" "$B"'
		check "$r" "$k: state status creating" 'grep -q "\"status\": *\"creating\"" "$j"'
		check "$r" "$k: args passed" '[ "$(cat "$d/$k.args")" = "a1 a2" ]'
		check "$r" "$k: env passed" '[ "$(cat "$d/$k.env")" = "$k" ]'
	done
	rt "$r" start "$id" >>"$OUT" 2>>"$ERR"
	RC=$?
	check "$r" "start" '[ "$RC" = 0 ]'
	for _ in $(seq 50); do [ -s "$d/poststart.json" ] && grep -q process "$B/rootfs/hooks-$r/order" 2>/dev/null && break; sleep 0.1; done
	check "$r" "startContainer runs inside the container before the process" \
		'[ "$(tr "\n" " " <"$B/rootfs/hooks-$r/order")" = "startContainer process " ]'
	check "$r" "startContainer: state on stdin" 'grep -q "\"id\": *\"$id\"" "$B/rootfs/hooks-$r/startContainer.json"'
	check "$r" "poststart runs after start" '[ "$(tail -n 1 "$d/order")" = poststart ]'
	check "$r" "poststart: state on stdin, status running (the process has started)" \
		'grep -q "\"status\": *\"running\"" "$d/poststart.json" && grep -q "\"pid\": *$pid" "$d/poststart.json"'
	rt "$r" kill "$id" KILL >/dev/null 2>&1
	wait_status "$r" "$id" stopped
	rt "$r" delete "$id" >/dev/null 2>>"$ERR"
	check "$r" "poststop runs at delete" '[ "$(tail -n 1 "$d/order")" = poststop ]'
	check "$r" "poststop: state on stdin (id, status stopped)" \
		'grep -q "\"id\": *\"$id\"" "$d/poststop.json" && grep -q "\"status\": *\"stopped\"" "$d/poststop.json"'
done

# a failing prestart: create fails, the container is stopped and gone (runtime.md lifecycle
# step 12); the hooks after it do not run
for r in $RUNTIMES; do
	id=${P}pf-$r
	d=$H/pf-$r
	mkdir -p "$d"
	cfg "$B" "D, HS = '$d', '$T/hook.sh'
"'
c["hooks"] = {"prestart": [{"path": "/bin/sh", "args": ["sh", "-c", "exit 3"]}],
              "createRuntime": [{"path": "/bin/sh", "args": ["sh", HS, D, "createRuntime"]}]}
c["process"]["args"] = ["sleep", "1000"]
'
	rt "$r" create --bundle "$B" "$id" >"$T/out" 2>"$T/err" </dev/null
	RC=$? OUT=$T/out ERR=$T/err
	check "$r" "a failing prestart hook fails create" '[ "$RC" != 0 ]'
	check "$r" "after a failing prestart the container is gone" '[ -z "$(state_field "$r" "$id" status)" ]'
	check "$r" "after a failing prestart createRuntime did not run" '[ ! -e "$d/order" ]'
	rt "$r" delete -f "$id" >/dev/null 2>&1
done

# failing poststart and poststop hooks only warn: start and delete succeed, the later hooks
# of the same kind still run; a hook that never reads its stdin does not break anything
# (its stdin is a pipe the runtime writes the state into: no SIGPIPE/EPIPE failure)
big='"big": "'$(head -c 200000 /dev/zero | tr '\0' x)'"'
for r in $RUNTIMES; do
	id=${P}pp-$r
	d=$H/pp-$r
	mkdir -p "$d"
	cfg "$B" "D, HS = '$d', '$T/hook.sh'
"'
h = lambda kind: {"path": "/bin/sh", "args": ["sh", HS, D, kind]}
fail = {"path": "/bin/sh", "args": ["sh", "-c", "exit 5"]}

noread = {"path": "/bin/true"}
c["hooks"] = {"createRuntime": [noread, h("createRuntime")]}
c["annotations"] = {"big": "x" * 300000}
c["process"]["args"] = ["sleep", "1000"]
'
	rt "$r" create --bundle "$B" "$id" >"$T/out" 2>"$T/err" </dev/null
	RC=$? OUT=$T/out ERR=$T/err
	check "$r" "a hook that does not read a large state on stdin: create succeeds" '[ "$RC" = 0 ]'
	check "$r" "the hook after the non-reading one ran" 'grep -q createRuntime "$d/order" 2>/dev/null'
	rt "$r" delete -f "$id" >/dev/null 2>&1
	cfg "$B" "D, HS = '$d', '$T/hook.sh'
"'
h = lambda kind: {"path": "/bin/sh", "args": ["sh", HS, D, kind]}
fail = {"path": "/bin/sh", "args": ["sh", "-c", "exit 5"]}
c["hooks"] = {"poststart": [fail, h("poststart")], "poststop": [fail, h("poststop")]}
del c["annotations"]'
	runc_deviates "with a failing poststart hook, create succeeds" "runc 1.1.5 runs poststart at create and fails it"
	rt "$r" create --bundle "$B" "$id" >"$T/out" 2>"$T/err" </dev/null
	RC=$?
	check "$r" "with a failing poststart hook, create succeeds" '[ "$RC" = 0 ]'
	rt "$r" start "$id" >"$T/out" 2>"$T/err"
	RC=$?
	# runc 1.1.5 treats a failing poststart hook as fatal: start fails and it kills the
	# container, while config.md says "the runtime MUST log a warning, but the remaining hooks
	# and lifecycle continue"
	runc_deviates "a failing poststart hook: start still succeeds" "runc 1.1.5 fails start and kills the container"
	runc_deviates "after a failing poststart the next poststart hook runs" "runc 1.1.5 stops at the failing poststart hook"
	runc_deviates "after a failing poststart the container is running" "runc 1.1.5 kills it"
	runc_deviates "after a failing poststop the next poststop hook runs" "runc 1.1.5 never created the container (its poststart failed create)"
	check "$r" "a failing poststart hook: start still succeeds" '[ "$RC" = 0 ]'
	check "$r" "after a failing poststart the next poststart hook runs" 'grep -q poststart "$d/order"'
	check "$r" "after a failing poststart the container is running" '[ "$(state_field "$r" "$id" status)" = running ]'
	rt "$r" delete -f "$id" >"$T/out" 2>"$T/err"
	RC=$?
	check "$r" "a failing poststop hook: delete still succeeds" '[ "$RC" = 0 ]'
	check "$r" "after a failing poststop the next poststop hook runs" 'grep -q poststop "$d/order"'
	check "$r" "after a failing poststop the container is gone" '[ -z "$(state_field "$r" "$id" status)" ]'
	rt "$r" delete -f "$id" >/dev/null 2>&1
done
[ -n "${CONF_KEEP:-}" ] && { trap - EXIT; echo "kept $T"; }
conf_done
