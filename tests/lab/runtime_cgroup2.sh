#!/usr/bin/env bash
# minict on a pure cgroup v2 host (the lab): every controller on v2, memory.max OOM-kills,
# pids.max refuses forks, cpu.max throttles, pause freezes via cgroup.freeze, kill --all uses
# cgroup.kill; nothing left behind. No python here: the lab's CPU is emulated and slow. Reads
# of cgroup files and the polls are bash builtins, not cat/grep/sed/seq: every exec costs
# 0.3-1 s in a quiet lab (5-13 s in a busy one), and they were most of the test's time.
set -uo pipefail
source "$ROOT/tests/host/runtime_lib.bash"
# a cgroup2 mount has cgroup.controllers at its root; a hybrid host has it in unified/ only
[ -f /sys/fs/cgroup/cgroup.controllers ] || skip "not a pure cgroup v2 host"
read -r ctrls </sys/fs/cgroup/cgroup.controllers
for c in memory pids cpu; do
	[[ " $ctrls " == *" $c "* ]] || skip "cgroup2 lacks the $c controller"
done
T=$(mktemp -d /tmp/minict-cg2.XXXXXX)
S=$T/state
ID=${P}v2a
m() { "$MINICT" --root "$S" "$@"; }
trap 'm kill --all $ID KILL >/dev/null 2>&1; wait; rm -rf "$T"' EXIT
mk_rootfs "$T/rootfs" sh sleep tail true cat
m run --rootfs "$T/rootfs" --id "$ID" --memory 16M --cpus 0.1 --pids 8 -- sleep 1000 &
runpid=$!
for ((i = 0; i < 300; i++)); do [[ $(m state "$ID" 2>/dev/null) == *'"running"'* ]] && break; sleep 0.2; done
state=$(m state "$ID") || die "no state"
# field KEY: the first "KEY":VALUE of the state, without the quotes
field() { [[ $state =~ \"$1\":\"?([^\",]*) ]] && echo "${BASH_REMATCH[1]}"; }
# val FILE: its first line
val() { local v && read -r v <"$1" && echo "$v"; }
[ "$(field layout)" = v2 ] || die "layout $(field layout): $state"
mem=$(field memory)
[[ $mem == v2:* ]] || die "memory not on v2: $mem"
dir=${mem#v2:}
for c in pids cpu; do [ "$(field $c)" = "v2:$dir" ] || die "$c not in $dir"; done
[ "$(val "$dir/memory.max")" = 16777216 ] || die "memory.max $(val "$dir/memory.max")"
[ "$(val "$dir/pids.max")" = 8 ] || die "pids.max $(val "$dir/pids.max")"
[ "$(val "$dir/cpu.max")" = "10000 100000" ] || die "cpu.max $(val "$dir/cpu.max")"
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
[[ ${out,,} == *fork* || ${out,,} == *"resource temporarily"* ]] || die "pids.max did not refuse forks: $out"
init=$(field pid)
# Kill every process but the init until cgroup.procs lists the init alone: some show up only
# after the first read (seen in the lab: three that would have run their `sleep 30` out). Not
# until pids.current <= 1: the killed ones stay zombies of the container's init, `sleep`,
# which never reaps them, and count there; that wait ran out its 100 rounds every time.
for ((i = 0; i < 100; i++)); do
	left=0
	while read -r p; do
		[ "$p" = "$init" ] || { kill -9 "$p" 2>/dev/null; left=1; }
	done <"$dir/cgroup.procs"
	[ $left = 0 ] && break
	sleep 0.1
done
[ $left = 0 ] || die "processes left in the container after kill -9: $(<"$dir/cgroup.procs")"
echo "ok: pids.max"

m exec "$ID" tail /dev/zero
rc=$?
[ $rc -eq 137 ] || die "not OOM-killed (exit $rc)"
events=$(<"$dir/memory.events")
[[ $events =~ oom_kill\ [1-9] ]] || die "memory.events: $events"
echo "ok: memory.max OOM kill"

m exec -d "$ID" sh -c 'while :; do :; done' || die "busy loop"
# 10 ms a 100 ms period: throttled within the first periods; polled, up to 30 s
for ((i = 0; i < 300; i++)); do
	thr=0
	while read -r k v; do [ "$k" = nr_throttled ] && thr=$v; done <"$dir/cpu.stat"
	[ "$thr" -gt 0 ] && break
	sleep 0.1
done
[ "$thr" -gt 0 ] || die "cpu.max did not throttle: $(<"$dir/cpu.stat")"
[[ $(m events --stats "$ID") =~ \"nr_throttled\":[1-9] ]] || die "events --stats lacks throttling"
echo "ok: cpu.max throttles ($thr periods)"

m pause "$ID" || die "pause"
[[ $(<"$dir/cgroup.events") == *'frozen 1'* ]] || die "cgroup.events not frozen"
[[ $(m state "$ID") == *'"paused"'* ]] || die "state not paused"
m resume "$ID" || die "resume"
[[ $(<"$dir/cgroup.events") == *'frozen 0'* ]] || die "still frozen"
echo "ok: cgroup.freeze"

m kill --all "$ID" KILL || die "kill --all"
wait $runpid
rc=$?
[ $rc -eq 137 ] || die "run exited $rc after kill --all"
[ ! -d "$dir" ] || die "cgroup $dir left"
[ ! -e "$S/$ID" ] || die "state dir left"
echo "cgroup2 ok"
