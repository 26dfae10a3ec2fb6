#!/usr/bin/env bash
# minict on a pure cgroup v2 host (the lab): every controller on v2, memory.max OOM-kills,
# pids.max refuses forks, cpu.max throttles, pause freezes via cgroup.freeze, kill --all and
# delete -f use cgroup.kill; nothing left behind.
set -uo pipefail
source "$ROOT/tests/host/runtime_lib.bash"
[ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ] || skip "not a pure cgroup v2 host"
for c in memory pids cpu; do
	grep -qw $c /sys/fs/cgroup/cgroup.controllers || skip "cgroup2 lacks the $c controller"
done
T=$(mktemp -d /tmp/minict-cg2.XXXXXX)
S=$T/state
trap '"$MINICT" --root "$S" delete -f ${P}v2a >/dev/null 2>&1; rm -rf "$T"' EXIT
mk_bundle "$T/b"
m() { "$MINICT" --root "$S" "$@"; }
edit_config "$T/b" '
c["process"]["args"] = ["sleep", "1000"]
c["linux"]["resources"]["memory"] = {"limit": 16777216, "swap": 16777216}
c["linux"]["resources"]["pids"] = {"limit": 8}
c["linux"]["resources"]["cpu"] = {"quota": 10000, "period": 100000, "shares": 512}
'
m run -d --bundle "$T/b" ${P}v2a || die "create"
state=$(m state ${P}v2a)
where() { python3 -c 'import json,sys; print(json.load(sys.stdin)["cgroups"].get(sys.argv[1], ""))' "$1" <<<"$state"; }
[ "$(where layout)" = v2 ] || die "layout $(where layout)"
dir=$(where memory)
[[ $dir == v2:* ]] || die "memory not on v2: $dir"
dir=${dir#v2:}
for c in pids cpu; do [ "$(where $c)" = "v2:$dir" ] || die "$c not in $dir"; done
[ "$(cat "$dir/memory.max")" = 16777216 ] || die "memory.max $(cat "$dir/memory.max")"
[ "$(cat "$dir/memory.swap.max" 2>/dev/null || echo 0)" = 0 ] || die "memory.swap.max"
[ "$(cat "$dir/pids.max")" = 8 ] || die "pids.max"
[ "$(cat "$dir/cpu.max")" = "10000 100000" ] || die "cpu.max $(cat "$dir/cpu.max")"
[ "$(cat "$dir/cpu.weight")" = 20 ] || die "cpu.weight $(cat "$dir/cpu.weight")"
echo "ok: limits on v2 in $dir"

out=$(m exec ${P}v2a sh -c 'for i in 1 2 3 4 5 6 7 8 9 10; do sleep 30 </dev/null >/dev/null 2>&1 & done 2>&1; true' 2>&1)
grep -qi "fork\|resource temporarily" <<<"$out" || die "pids.max did not refuse forks: $out"
# kill the sleepers (every process in the container's cgroup but its init)
init=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])' <<<"$state")
for p in $(cat "$dir/cgroup.procs"); do [ "$p" = "$init" ] || kill -9 "$p"; done
for _ in $(seq 100); do [ "$(cat "$dir/pids.current")" -le 1 ] && break; sleep 0.1; done
echo "ok: pids.max"

m exec ${P}v2a tail /dev/zero
rc=$?
[ $rc -eq 137 ] || die "not OOM-killed (exit $rc)"
grep -q 'oom_kill [1-9]' "$dir/memory.events" || die "memory.events: $(cat "$dir/memory.events")"
echo "ok: memory.max OOM kill"

m exec -d ${P}v2a sh -c 'while :; do :; done' || die "busy loop"
sleep 2
thr=$(awk '/^nr_throttled/ {print $2}' "$dir/cpu.stat")
[ "${thr:-0}" -gt 0 ] || die "cpu.max did not throttle: $(cat "$dir/cpu.stat")"
m events --stats ${P}v2a | grep -q '"nr_throttled":[1-9]' || die "events --stats lacks throttling"
echo "ok: cpu.max throttles ($thr periods)"

m pause ${P}v2a || die "pause"
grep -q 'frozen 1' "$dir/cgroup.events" || die "cgroup.events not frozen"
m state ${P}v2a | grep -q '"paused"' || die "state not paused"
m resume ${P}v2a || die "resume"
grep -q 'frozen 0' "$dir/cgroup.events" || die "still frozen"
echo "ok: cgroup.freeze"

m kill --all ${P}v2a KILL || die "kill --all"
for _ in $(seq 100); do m state ${P}v2a | grep -q '"stopped"' && break; sleep 0.1; done
m state ${P}v2a | grep -q '"stopped"' || die "kill --all left the container running"
[ "$(cat "$dir/cgroup.procs" 2>/dev/null | wc -l)" = 0 ] || die "processes left in $dir"
m delete ${P}v2a || die "delete"
[ ! -d "$dir" ] || die "cgroup $dir left"
[ -z "$(leftovers ${P}v2a "$S")" ] || die "left behind: $(leftovers ${P}v2a "$S")"
echo "cgroup2 ok"
