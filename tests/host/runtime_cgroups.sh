#!/usr/bin/env bash
# minict cgroups on this host's layout (hybrid here: v1 memory/cpu/pids, cgroup2 for freeze):
# the placement is reported per controller, memory.limit OOM-kills, pids.limit refuses
# forks, the cpu quota is written, pause freezes every process, kill --all reaches them all,
# and only minict's own cgroup directories are created and removed.
set -uo pipefail
source "$(dirname "$0")/runtime_lib.bash"
[ -d /sys/fs/cgroup ] || skip "no /sys/fs/cgroup"
T=$(mktemp -d /tmp/minict-cg.XXXXXX)
S=$T/state
trap 'cleanup_state "$S"; rm -rf "$T"' EXIT
mk_bundle "$T/b"
# a real block device for the io throttle (the root filesystem's disk)
read -r MAJ MIN < <(lsblk -dno MAJ:MIN "$(findmnt -no SOURCE / | sed 's/[0-9]*$//')" 2>/dev/null | tr : ' ')
[ -n "${MAJ:-}" ] || { MAJ=7; MIN=0; }
m() { "$MINICT" --root "$S" "$@"; }
edit_config "$T/b" "MAJ, MIN = $MAJ, $MIN
"'
c["process"]["args"] = ["sleep", "1000"]
c["linux"]["resources"]["memory"] = {"limit": 33554432, "swap": 33554432}
c["linux"]["resources"]["pids"] = {"limit": 8}
c["linux"]["resources"]["cpu"] = {"quota": 20000, "period": 100000, "shares": 512, "cpus": "0"}
c["linux"]["resources"]["blockIO"] = {"throttleReadBpsDevice": [{"major": MAJ, "minor": MIN, "rate": 1048576}]}
'
m run -d --bundle "$T/b" ${P}cg1 || die "create"
state=$(m state ${P}cg1)
layout=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["cgroups"]["layout"])' <<<"$state")
echo "layout: $layout"
where() { python3 -c 'import json,sys; print(json.load(sys.stdin)["cgroups"].get(sys.argv[1], ""))' "$1" <<<"$state"; }
for c in memory pids cpu; do
	w=$(where $c)
	echo "$c -> $w"
	[ -n "$w" ] || die "no cgroup for $c"
	case $layout in
	hybrid) # v2 only when cgroup2 offers the controller
		if grep -qw "$c" /sys/fs/cgroup/unified/cgroup.controllers; then
			[[ $w == v2:* ]] || die "$c should be on v2"
		else
			[[ $w == v1:* ]] || die "$c should be on v1"
		fi ;;
	v2) [[ $w == v2:* ]] || die "$c should be on v2" ;;
	v1) [[ $w == v1:* ]] || die "$c should be on v1" ;;
	esac
done
memdir=$(where memory); memdir=${memdir#v?:}
pidsdir=$(where pids); pidsdir=${pidsdir#v?:}
cpudir=$(where cpu); cpudir=${cpudir#v?:}
if [ -f "$memdir/memory.limit_in_bytes" ]; then
	[ "$(cat "$memdir/memory.limit_in_bytes")" = 33554432 ] || die "memory.limit_in_bytes"
	[ "$(cat "$cpudir/cpu.cfs_quota_us")" = 20000 ] || die "cpu.cfs_quota_us"
	[ "$(cat "$cpudir/cpu.shares")" = 512 ] || die "cpu.shares"
else
	[ "$(cat "$memdir/memory.max")" = 33554432 ] || die "memory.max"
	[ "$(cat "$cpudir/cpu.max")" = "20000 100000" ] || die "cpu.max"
fi
[ "$(cat "$pidsdir/pids.max")" = 8 ] || die "pids.max"
setdir=$(where cpuset); setdir=${setdir#v?:}
[ "$(cat "$setdir/cpuset.cpus" 2>/dev/null || cat "$setdir/cpuset.cpus.effective")" = 0 ] || die "cpuset.cpus"
iodir=$(where io); iodir=${iodir#v?:}
if [ -f "$iodir/blkio.throttle.read_bps_device" ]; then
	grep -q "^$MAJ:$MIN 1048576$" "$iodir/blkio.throttle.read_bps_device" || die "blkio throttle: $(cat "$iodir/blkio.throttle.read_bps_device")"
else
	grep -q "^$MAJ:$MIN rbps=1048576" "$iodir/io.max" || die "io.max: $(cat "$iodir/io.max")"
fi
echo "ok: limits written (memory, cpu, cpuset, pids, io)"

# device rules (default spec: deny all, then the default nodes): a process placed in the
# container's devices cgroup reads /dev/zero but not /dev/kmsg
devdir=$(where devices); devdir=${devdir#v?:}
[ -n "$devdir" ] || die "no devices cgroup"
sh -c "echo \$\$ > $devdir/cgroup.procs && head -c1 /dev/zero >/dev/null" || die "default node denied"
out=$(sh -c "echo \$\$ > $devdir/cgroup.procs && dd if=/dev/kmsg of=/dev/null bs=8192 count=1 status=none" 2>&1) &&
	die "device rules let /dev/kmsg through"
grep -q "not permitted" <<<"$out" || die "/dev/kmsg failed for another reason: $out"
echo "ok: device rules ($(where devices | cut -d: -f1))"

# pids.max refuses forks
out=$(m exec ${P}cg1 sh -c 'for i in 1 2 3 4 5 6 7 8 9 10; do sleep 30 </dev/null >/dev/null 2>&1 & done 2>&1; true' 2>&1)
grep -qi 'resource temporarily unavailable\|can.t fork\|fork' <<<"$out" || die "pids limit did not refuse forks: $out"
m kill --all ${P}cg1 KILL 2>/dev/null # also kills init; restart for the next checks
for _ in $(seq 50); do m state ${P}cg1 | grep -q '"stopped"' && break; sleep 0.1; done
m delete ${P}cg1 || die "delete after kill --all"
[ -z "$(leftovers ${P}cg1 "$S")" ] || die "left behind: $(leftovers ${P}cg1 "$S")"
echo "ok: pids.max and kill --all"

# memory limit: allocating beyond it gets the process OOM-killed
m run -d --bundle "$T/b" ${P}cg1 || die "create 2"
m exec ${P}cg1 tail /dev/zero
rc=$?
[ $rc -eq 137 ] || die "memory hog was not OOM-killed (exit $rc)"
echo "ok: OOM kill at memory.limit"

# pause freezes, resume thaws
m exec -d ${P}cg1 sh -c 'while :; do :; done' || die "exec -d"
m pause ${P}cg1 || die "pause"
m state ${P}cg1 | grep -q '"paused"' || die "not paused"
for p in $(m ps --format json ${P}cg1 | tr -d '[]' | tr , ' '); do
	s=$(awk '{print $3}' "/proc/$p/stat")
	# frozen tasks sleep in the freezer (D or S), never R
	[ "$s" != R ] || die "pid $p still running while paused"
done
m resume ${P}cg1 || die "resume"
m state ${P}cg1 | grep -q '"running"' || die "not running after resume"
echo "ok: pause/resume"
m delete -f ${P}cg1 || die "delete -f"
[ -z "$(leftovers ${P}cg1 "$S")" ] || die "left behind: $(leftovers ${P}cg1 "$S")"
# the default parent ("minict" under our own cgroup) goes with the last container, in every
# hierarchy the container was placed in (name=systemd, cpuset, blkio... too), also when that
# container did not make it (the first one did, and went first); a parent that still has
# subdirectories belongs to containers someone else runs now
m run -d --bundle "$T/b" ${P}dp1 && m run -d --bundle "$T/b" ${P}dp2 || die "two containers"
m delete -f ${P}dp1 && m delete -f ${P}dp2 || die "delete the two"
while IFS=: read -r _ ctrls path; do
	h=${ctrls#name=}
	[ -z "$h" ] && h=unified
	d=/sys/fs/cgroup/$h${path%/}/minict
	[ -d "$d" ] || continue
	[ -n "$(find "$d" -mindepth 1 -maxdepth 1 -type d)" ] || die "empty default parent left: $d"
done </proc/self/cgroup
echo "ok: no empty default parent left"
echo "cgroups ok"
