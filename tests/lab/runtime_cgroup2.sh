#!/usr/bin/env bash
# minict on a pure cgroup v2 host (the lab): every controller on v2, memory.max OOM-kills,
# pids.max refuses forks, cpu.max throttles, pause freezes via cgroup.freeze, kill --all uses
# cgroup.kill; nothing left behind. No python here: the lab's CPU is emulated and slow.
set -uo pipefail
source "$ROOT/tests/host/runtime_lib.bash"
[ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ] || skip "not a pure cgroup v2 host"
for c in memory pids cpu; do
	grep -qw $c /sys/fs/cgroup/cgroup.controllers || skip "cgroup2 lacks the $c controller"
done
T=$(mktemp -d /tmp/minict-cg2.XXXXXX)
S=$T/state
ID=${P}v2a
m() { "$MINICT" --root "$S" "$@"; }
trap 'm kill --all $ID KILL >/dev/null 2>&1; wait; rm -rf "$T"' EXIT
mk_rootfs "$T/rootfs" sh sleep tail true cat
m run --rootfs "$T/rootfs" --id "$ID" --memory 16M --cpus 0.1 --pids 8 -- sleep 1000 &
runpid=$!
for _ in $(seq 300); do m state "$ID" 2>/dev/null | grep -q '"running"' && break; sleep 0.2; done
state=$(m state "$ID") || die "no state"
field() { sed -n "s/.*\"$1\":\"\\{0,1\\}\\([^\",]*\\).*/\\1/p" <<<"$state" | head -n1; }
[ "$(field layout)" = v2 ] || die "layout $(field layout): $state"
mem=$(field memory)
[[ $mem == v2:* ]] || die "memory not on v2: $mem"
dir=${mem#v2:}
for c in pids cpu; do [ "$(field $c)" = "v2:$dir" ] || die "$c not in $dir"; done
[ "$(cat "$dir/memory.max")" = 16777216 ] || die "memory.max $(cat "$dir/memory.max")"
[ "$(cat "$dir/pids.max")" = 8 ] || die "pids.max"
[ "$(cat "$dir/cpu.max")" = "10000 100000" ] || die "cpu.max $(cat "$dir/cpu.max")"
echo "ok: limits on v2 in $dir"

# device rules: an eBPF filter on the container's cgroup; a process placed there may read
# /dev/zero (a default node) but not /dev/kmsg
dd if=/dev/kmsg of=/dev/null bs=8192 count=1 status=none 2>/dev/null || skip "cannot read /dev/kmsg even outside"
sh -c "echo \$\$ > $dir/cgroup.procs && head -c1 /dev/zero >/dev/null" || die "default node denied"
out=$(sh -c "echo \$\$ > $dir/cgroup.procs && dd if=/dev/kmsg of=/dev/null bs=8192 count=1 status=none" 2>&1) &&
	die "device filter let /dev/kmsg through"
grep -q "not permitted" <<<"$out" || die "/dev/kmsg failed for another reason: $out"
echo "ok: eBPF device filter"

out=$(m exec "$ID" sh -c 'for i in 1 2 3 4 5 6 7 8 9 10; do sleep 30 </dev/null >/dev/null 2>&1 & done 2>&1; true' 2>&1)
grep -qi "fork\|resource temporarily" <<<"$out" || die "pids.max did not refuse forks: $out"
init=$(field pid)
for p in $(cat "$dir/cgroup.procs"); do [ "$p" = "$init" ] || kill -9 "$p"; done
for _ in $(seq 100); do [ "$(cat "$dir/pids.current")" -le 1 ] && break; sleep 0.1; done
echo "ok: pids.max"

m exec "$ID" tail /dev/zero
rc=$?
[ $rc -eq 137 ] || die "not OOM-killed (exit $rc)"
grep -q 'oom_kill [1-9]' "$dir/memory.events" || die "memory.events: $(cat "$dir/memory.events")"
echo "ok: memory.max OOM kill"

m exec -d "$ID" sh -c 'while :; do :; done' || die "busy loop"
# 10 ms a 100 ms period: throttled within the first periods; polled, up to 30 s
for _ in $(seq 300); do
	thr=$(sed -n 's/^nr_throttled //p' "$dir/cpu.stat")
	[ "${thr:-0}" -gt 0 ] && break
	sleep 0.1
done
[ "${thr:-0}" -gt 0 ] || die "cpu.max did not throttle: $(cat "$dir/cpu.stat")"
m events --stats "$ID" | grep -q '"nr_throttled":[1-9]' || die "events --stats lacks throttling"
echo "ok: cpu.max throttles ($thr periods)"

m pause "$ID" || die "pause"
grep -q 'frozen 1' "$dir/cgroup.events" || die "cgroup.events not frozen"
m state "$ID" | grep -q '"paused"' || die "state not paused"
m resume "$ID" || die "resume"
grep -q 'frozen 0' "$dir/cgroup.events" || die "still frozen"
echo "ok: cgroup.freeze"

m kill --all "$ID" KILL || die "kill --all"
wait $runpid
rc=$?
[ $rc -eq 137 ] || die "run exited $rc after kill --all"
[ ! -d "$dir" ] || die "cgroup $dir left"
[ ! -e "$S/$ID" ] || die "state dir left"
echo "cgroup2 ok"
