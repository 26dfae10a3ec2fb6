#!/usr/bin/env bash
# runtime.md's lifecycle: `create` does everything up to the exec (so it fails when a late step
# such as a capability or the seccomp filter fails), `start` only releases it and returns once
# the user's program runs: a signal sent right after `start` reaches the program, and the
# poststart hooks see it running.
set -uo pipefail
source "$(dirname "$0")/runtime_lib.bash"
T=$(mktemp -d /tmp/minict-startexec.XXXXXX)
S=$T/state
trap 'cleanup_state "$S"; rm -rf "$T"' EXIT
B=$T/b
mk_bundle "$B" >/dev/null
M=("$MINICT" --root "$S")
fails=0
bad() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

# 1. after start, the init is the program, not minict (10 tries: the window was a race)
edit_config "$B" 'c["process"]["args"]=["sleep","100"]; c["process"]["terminal"]=False'
for i in $(seq 10); do
	"${M[@]}" create --bundle "$B" ${P}x$i || { bad "create $i"; continue; }
	pid=$("${M[@]}" state ${P}x$i | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
	"${M[@]}" start ${P}x$i || bad "start $i"
	# the link shows the path inside the container's root: busybox, not minict
	exe=$(readlink /proc/$pid/exe)
	[ "$exe" = /bin/busybox ] || bad "after start the init runs '$exe', not the program"
	"${M[@]}" delete -f ${P}x$i
done
echo "ok: start returns once the program runs"

# 2. a signal right after start is delivered to the program (no pid namespace: SIGTERM's
#    default action applies to a process that is not a namespace's init)
edit_config "$B" 'c["linux"]["namespaces"]=[n for n in c["linux"]["namespaces"] if n["type"]!="pid"]'
for i in $(seq 5); do
	"${M[@]}" create --bundle "$B" ${P}s$i || { bad "create s$i"; continue; }
	"${M[@]}" start ${P}s$i && "${M[@]}" kill ${P}s$i TERM || bad "start+kill $i"
	for _ in $(seq 100); do
		st=$("${M[@]}" state ${P}s$i 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')
		[ "$st" = stopped ] && break
		sleep 0.05
	done
	[ "$st" = stopped ] || bad "SIGTERM right after start was lost (status $st)"
	"${M[@]}" delete -f ${P}s$i
done
echo "ok: a signal right after start is not lost"

# 3. a failing late step fails create, not start: an inheritable capability outside the
#    bounding set (capset refuses it)
edit_config "$B" 'c["process"]["capabilities"]={"bounding":[],"inheritable":["CAP_SYS_ADMIN"]}'
if "${M[@]}" create --bundle "$B" ${P}c 2>"$T/err"; then
	bad "create succeeded although the capabilities cannot be set"
else
	grep -q capabilities "$T/err" || bad "create's error does not name the step: $(cat "$T/err")"
fi
[ -e "$S/${P}c" ] && bad "state left after a failed create"
echo "ok: a capability failure fails create"

# 4. poststart runs after the program started: it sees the init's exe as the program
edit_config "$B" 'c["process"]["capabilities"]={"bounding":["CAP_KILL"],"effective":["CAP_KILL"],"permitted":["CAP_KILL"]}; c["process"]["user"]={"uid":0,"gid":0}'
cat >"$T/hook.sh" <<HOOK
#!/bin/sh
pid=\$(sed 's/.*"pid": *\([0-9]*\).*/\1/')
readlink /proc/\$pid/exe > $T/hook.out
HOOK
chmod +x "$T/hook.sh"
edit_config "$B" "c['hooks']={'poststart':[{'path':'$T/hook.sh'}]}"
"${M[@]}" create --bundle "$B" ${P}h && "${M[@]}" start ${P}h || bad "create/start with a poststart hook"
[ "$(cat "$T/hook.out" 2>/dev/null)" = /bin/busybox ] ||
	bad "poststart ran before the program: it saw '$(cat "$T/hook.out" 2>/dev/null)'"
"${M[@]}" delete -f ${P}h
echo "ok: poststart after the program started"

[ $fails -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }
echo "all ok"
