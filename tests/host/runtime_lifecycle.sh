#!/usr/bin/env bash
# minict OCI lifecycle: spec, create, state, start, ps, exec, pause/resume, events, kill,
# delete; run (foreground, exit status) and the short form; nothing left behind.
set -uo pipefail
source "$(dirname "$0")/runtime_lib.bash"
T=$(mktemp -d /tmp/minict-life.XXXXXX)
S=$T/state
trap 'cleanup_state "$S"; rm -rf "$T"' EXIT
mk_bundle "$T/b"
set_args "$T/b" sleep 100
cd "$T/b"
m() { "$MINICT" --root "$S" "$@"; }
status() { m state "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])'; }

m create --pid-file "$T/pid" ${P}c1 || die "create"
[ "$(status ${P}c1)" = created ] || die "status after create: $(status ${P}c1)"
pid=$(cat "$T/pid")
[ -d "/proc/$pid" ] || die "init pid $pid not alive"
m start ${P}c1 || die "start"
[ "$(status ${P}c1)" = running ] || die "status after start: $(status ${P}c1)"
m start ${P}c1 2>"$T/err" && die "start on a running container succeeded"
grep -q 'is running, not created' "$T/err" || die "start twice: $(cat "$T/err")"
m ps --format json ${P}c1 | grep -q "$pid" || die "ps does not list $pid"
out=$(m exec ${P}c1 sh -c 'echo $((6*7)); hostname') || die "exec"
[ "$out" = "$(printf '42\nminict')" ] || die "exec output: $out"
m exec ${P}c1 sh -c 'exit 3'
[ $? -eq 3 ] || die "exec exit status not propagated"
m pause ${P}c1 || die "pause"
[ "$(status ${P}c1)" = paused ] || die "status after pause"
m resume ${P}c1 || die "resume"
[ "$(status ${P}c1)" = running ] || die "status after resume"
m events --stats ${P}c1 | grep -q '"pids":{"current":1' || die "events --stats: $(m events --stats ${P}c1)"
m delete ${P}c1 2>"$T/err" && die "delete of a running container without --force succeeded"
grep -q 'is running' "$T/err" || die "delete message: $(cat "$T/err")"
m kill ${P}c1 KILL || die "kill"
for _ in $(seq 50); do [ "$(status ${P}c1)" = stopped ] && break; sleep 0.1; done
[ "$(status ${P}c1)" = stopped ] || die "status after kill: $(status ${P}c1)"
m delete ${P}c1 || die "delete stopped"
[ -z "$(leftovers ${P}c1 "$S")" ] || die "left behind: $(leftovers ${P}c1 "$S")"

# run (foreground) propagates the exit status
set_args "$T/b" sh -c 'exit 7'
m run ${P}c2
[ $? -eq 7 ] || die "run exit status"
[ -z "$(leftovers ${P}c2 "$S")" ] || die "run left behind: $(leftovers ${P}c2 "$S")"

# run --detach, then delete --force
set_args "$T/b" sleep 100
m run -d ${P}c3 || die "run -d"
[ "$(status ${P}c3)" = running ] || die "run -d status"
m delete --force ${P}c3 || die "delete --force"
[ -z "$(leftovers ${P}c3 "$S")" ] || die "delete -f left behind: $(leftovers ${P}c3 "$S")"

# short form with limits; say where each limit went
out=$(m --debug run --rootfs "$T/b/rootfs" --id ${P}short1 --memory 64M --cpus 0.5 --pids 20 -- \
	sh -c 'echo inside' 2>"$T/dbg") || die "short form run: $(cat "$T/dbg")"
[ "$out" = inside ] || die "short form output: $out"
grep -q 'cgroup: memory -> v' "$T/dbg" || die "no cgroup placement report"
[ -z "$(leftovers ${P}short1 "$S")" ] || die "short form left behind: $(leftovers ${P}short1 "$S")"
# OCI hooks: each runs with the state JSON on stdin, in the right namespace
mkdir -p "$T/hooks"
edit_config "$T/b" "
c['process']['args'] = ['true']
h = lambda name: {'path': '/bin/sh', 'args': ['sh', '-c', 'cat > $T/hooks/' + name]}
c['hooks'] = {'prestart': [h('prestart')], 'createRuntime': [h('createRuntime')],
              'createContainer': [h('createContainer')],
              'startContainer': [{'path': '/bin/sh', 'args': ['sh', '-c', 'cat > /tmp/startContainer; echo >> /tmp/startContainer; hostname >> /tmp/startContainer']}],
              'poststart': [h('poststart')], 'poststop': [h('poststop')]}
"
m create --pid-file "$T/pid-hk" "${P}hk" || die "create with hooks"
for k in prestart createRuntime createContainer; do
	[ -f "$T/hooks/$k" ] || die "hook $k did not run at create"
done
grep -q "\"id\":\"${P}hk\"" "$T/hooks/createRuntime" || die "createRuntime hook got no state: $(cat "$T/hooks/createRuntime")"
[ ! -f "$T/hooks/poststart" ] || die "poststart ran before start"
m start "${P}hk" || die "start with hooks"
[ -f "$T/hooks/poststart" ] || die "poststart did not run"
for _ in $(seq 50); do [ "$(status "${P}hk")" = stopped ] && break; sleep 0.1; done
grep -q '^minict$' "$T/b/rootfs/tmp/startContainer" || die "startContainer did not run inside the container"
grep -q "\"pid\":$(cat "$T/pid-hk")," "$T/b/rootfs/tmp/startContainer" ||
	die "startContainer state lacks the host pid: $(cat "$T/b/rootfs/tmp/startContainer")"
m delete "${P}hk" || die "delete with hooks"
[ -f "$T/hooks/poststop" ] || die "poststop did not run"
grep -q '"status":"stopped"' "$T/hooks/poststop" || die "poststop state: $(cat "$T/hooks/poststop")"
rm -f "$T/b/rootfs/tmp/startContainer"
edit_config "$T/b" "del c['hooks']"
echo "ok: hooks"

# the config's own seccomp profile is loaded (mkdir answers EACCES), user + ambient caps
edit_config "$T/b" "
c['process']['args'] = ['sh', '-c', 'mkdir /tmp/x 2>&1; id -u; grep CapAmb /proc/self/status']
c['process']['user'] = {'uid': 1000, 'gid': 1000}
c['process']['capabilities']['inheritable'] = ['CAP_NET_BIND_SERVICE']
c['process']['capabilities']['ambient'] = ['CAP_NET_BIND_SERVICE']
c['linux']['seccomp'] = {'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': [
    {'names': ['mkdir', 'mkdirat'], 'action': 'SCMP_ACT_ERRNO', 'errnoRet': 13}]}
"
out=$(m run "${P}sc") || die "run with a seccomp profile: $out"
grep -q 'Permission denied' <<<"$out" || die "seccomp profile not applied: $out"
grep -q '^1000$' <<<"$out" || die "process.user not applied: $out"
grep -q 'CapAmb:.*0000000000000400' <<<"$out" || die "ambient capability missing: $out"
edit_config "$T/b" "
del c['linux']['seccomp']; c['process']['user'] = {'uid': 0, 'gid': 0}
del c['process']['capabilities']['ambient']; del c['process']['capabilities']['inheritable']
"
echo "ok: seccomp from the config, user, ambient capabilities"

# --preserve-fds passes fd 3 on; --log --log-format json records errors as JSON
set_args "$T/b" sh -c 'cat <&3'
out=$(echo preserved | (exec 3<&0; m run --preserve-fds 1 "${P}pf" </dev/null)) || die "preserve-fds run"
[ "$out" = preserved ] || die "--preserve-fds: got '$out'"
"$MINICT" --root "$S" --log "$T/log.json" --log-format json state nope 2>/dev/null && die "state nope"
python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' "$T/log.json" ||
	die "log is not JSON lines: $(cat "$T/log.json")"
grep -q 'does not exist' "$T/log.json" || die "error not in the log"
echo "ok: --preserve-fds, --log json"

# short form with a terminal (-t): the process gets a pty as its controlling terminal
if command -v script >/dev/null; then
	out=$(echo 'tty; exit 3' | script -qec "$MINICT --root $S run -t --rootfs $T/b/rootfs --id ${P}tty1 -- sh" /dev/null | tr -d '\r')
	grep -q '^/dev/pts/0$' <<<"$out" || die "-t: no pty: $out"
	[ -z "$(leftovers ${P}tty1 "$S")" ] || die "-t left behind"
fi
m features | python3 -c 'import json,sys; f=json.load(sys.stdin); assert "pid" in f["linux"]["namespaces"]' ||
	die "features JSON"
echo "lifecycle ok"
