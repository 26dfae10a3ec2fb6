#!/usr/bin/env bash
# OCI config-linux.md "Control groups": cgroupsPath (relative and absolute) and
# linux.resources (memory limit/reservation/swap/swappiness/disableOOMKiller/kernel/kernelTCP,
# cpu shares/quota/period/cpus/mems, pids, blockIO weight and a throttle, hugepageLimits,
# devices, network classID/priorities), plus Docker-style zeros meaning "not set". Each
# container is created, the host's cgroup files of its init are read (the directories come
# from the host's /proc/PID/cgroup), then it is started and ct_probe reads the same knobs
# from the container's own /sys/fs/cgroup view and prints /proc/self/cgroup. Run under minict
# and runc; after delete, every cgroup directory the container had is gone.
#
# Host specifics handled here: hybrid layout (v1 controllers, cgroup2 at
# /sys/fs/cgroup/unified serving only hugetlb); kernels that accept but ignore writes to
# memory.kmem.limit_in_bytes (checked on a scratch cgroup first); no net_cls/net_prio
# hierarchy (create must fail naming the controller).
# checks are shell conditions evaluated later (single quotes on purpose); CONF_EXTRA_CLEANUP
# is read by runtime_conformance.bash
# shellcheck disable=SC2016,SC2034
set -uo pipefail
source "$(dirname "$0")/runtime_conformance.bash"
if [ ! -d /sys/fs/cgroup/memory ] || [ ! -d /sys/fs/cgroup/cpu ]; then
	skip "needs the v1 memory and cpu hierarchies (this test covers the hybrid/v1 layout)"
fi
conf_init cgroups
echo "own cgroups: $(tr '\n' ' ' </proc/self/cgroup)"

# the hierarchy mounted at /sys/fs/cgroup/CTRL (v1) or unified, and this shell's path in it
own_path() { # CTRL ("" = cgroup2)
	local c=$1 n ctrls path
	while IFS=: read -r n ctrls path; do
		if [ -z "$c" ] && [ "$n" = 0 ]; then
			echo "$path"
			return
		fi
		[ -n "$c" ] && [[ ",$ctrls," == *",$c,"* ]] && { echo "$path"; return; }
	done </proc/self/cgroup
}
host_dir() { # CTRL PATH -> the directory on the host
	if [ "$1" = unified ]; then echo "/sys/fs/cgroup/unified${2%/}"; else echo "/sys/fs/cgroup/$1${2%/}"; fi
}
OWN_MEM=$(own_path memory)
OWN_CPU=$(own_path cpu)

# scratch CTRL: make an empty cgroup below ours (to learn the kernel's defaults and what it
# honours) in $d; removed below, or by the EXIT trap (not in a subshell: SCRATCH must see it)
SCRATCH=()
scratch() {
	d=$(host_dir "$1" "$(own_path "$1")")/${P}scratch
	mkdir "$d" || die "mkdir $d"
	SCRATCH+=("$d")
}
# on exit: scratch cgroups and the parents an absolute cgroupsPath made (deepest first)
ABS_MADE=()
CONF_EXTRA_CLEANUP='for d in "${SCRATCH[@]}" "${ABS_MADE[@]}"; do rmdir "$d" 2>/dev/null; done'

scratch cpu
DEF_SHARES=$(cat "$d/cpu.shares")
DEF_QUOTA=$(cat "$d/cpu.cfs_quota_us")
DEF_PERIOD=$(cat "$d/cpu.cfs_period_us")
scratch memory
DEF_MEM=$(cat "$d/memory.limit_in_bytes")
HAVE_MEMSW=
[ -f "$d/memory.memsw.limit_in_bytes" ] && HAVE_MEMSW=1
[ -n "$HAVE_MEMSW" ] || echo "note: no memory.memsw.limit_in_bytes (swap accounting off): memory.swap is not checked"
HAVE_KMEM=
HAVE_KTCP=
if [ -f "$d/memory.kmem.limit_in_bytes" ] && echo 67108864 >"$d/memory.kmem.limit_in_bytes" 2>/dev/null &&
	[ "$(cat "$d/memory.kmem.limit_in_bytes")" = 67108864 ]; then
	HAVE_KMEM=1
else
	echo "note: this kernel ignores (or lacks) memory.kmem.limit_in_bytes: memory.kernel's value is not checked"
fi
if [ -f "$d/memory.kmem.tcp.limit_in_bytes" ] && echo 16777216 >"$d/memory.kmem.tcp.limit_in_bytes" 2>/dev/null &&
	[ "$(cat "$d/memory.kmem.tcp.limit_in_bytes")" = 16777216 ]; then
	HAVE_KTCP=1
else
	echo "note: no memory.kmem.tcp.limit_in_bytes here: memory.kernelTCP's value is not checked"
fi
BLKIO_W=
DEF_W=
if [ -d /sys/fs/cgroup/blkio ]; then
	scratch blkio
	for f in blkio.weight blkio.bfq.weight; do
		if [ -f "$d/$f" ]; then
			BLKIO_W=$f
			DEF_W=$(cat "$d/$f")
			break
		fi
	done
fi
[ -n "$BLKIO_W" ] || echo "note: neither blkio.weight nor blkio.bfq.weight exists: blockIO.weight is not checked"
for d in "${SCRATCH[@]}"; do rmdir "$d" || die "rmdir $d"; done
SCRATCH=()

# a real block device for the throttle: the first disk that is not a loop/zram/ram device,
# else any
DEV=
for f in /sys/block/*/dev; do
	[ -f "$f" ] || continue
	case $f in */loop* | */zram* | */ram*) [ -z "$DEV" ] && DEV=$(cat "$f") ;; *)
		DEV=$(cat "$f")
		break
		;;
	esac
done
[ -n "$DEV" ] || echo "note: no block device in /sys/block: the blockIO throttle is not checked"
[ -d /sys/fs/cgroup/blkio ] || DEV=

# HOSTFILES: "CTRL/FILE" knobs read on the host between create and start
# cg_run RUNTIME BUNDLE ID PROBE-ARGS...: create; record the host's view of the init's cgroups
# in $HOST ("hostcg CTRL PATH" and "host CTRL/FILE LINE"); start; wait for it to stop; delete;
# check that its cgroup directories are gone. $OUT is the probe's output, $RC create's status.
HOSTFILES=""
cg_run() {
	local r=$1 b=$2 id=$3 bin=$MINICT
	shift 3
	set_args "$b" ct_probe "$@"
	[ "$r" = runc ] && bin=$RUNC
	OUT=$T/out.$r.$id
	ERR=$T/err.$r.$id
	HOST=$T/host.$r.$id
	: >"$HOST"
	timeout -k 5 30 "$bin" --root "$T/state-$r" create --bundle "$b" "$id" >"$OUT" 2>"$ERR" </dev/null
	RC=$?
	if [ "$RC" != 0 ]; then
		# a failed create leaves no cgroup: look for the leaf below this shell's cgroup in
		# every hierarchy
		rt "$r" delete -f "$id" >/dev/null 2>&1
		local leaf h left=""
		leaf=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["linux"].get("cgroupsPath", ""))' "$b/config.json")
		if [ -n "$leaf" ] && [ "${leaf#/}" = "$leaf" ]; then
			for h in /sys/fs/cgroup/*/; do
				h=$(basename "$h")
				[ "$h" = systemd ] && continue
				local own
				own=$(own_path "$([ "$h" = unified ] || echo "$h")")
				[ -d "$(host_dir "$h" "$own")/$leaf" ] && left="$left $(host_dir "$h" "$own")/$leaf"
			done
			check "$r" "$id: a failed create leaves no cgroup" '[ -z "$left" ]'
			for h in $left; do rmdir "$h" 2>/dev/null; done
		fi
		return 0
	fi
	local pid n ctrls path c f dirs=()
	pid=$(state_field "$r" "$id" pid)
	if [ -z "$pid" ] || [ ! -r "/proc/$pid/cgroup" ]; then
		echo "no pid for $r $id" >>"$ERR"
		RC=99
		rt "$r" delete -f "$id" >/dev/null 2>&1
		return 0
	fi
	while IFS=: read -r n ctrls path; do
		[ "$n" = 0 ] && ctrls=unified
		for c in ${ctrls//,/ }; do
			[[ $c == name=* ]] && continue
			echo "hostcg $c $path" >>"$HOST"
			# a directory the container got (not the one this shell is in)
			[ "$path" != "$(own_path "$([ "$c" = unified ] || echo "$c")")" ] && dirs+=("$(host_dir "$c" "$path")")
		done
	done <"/proc/$pid/cgroup"
	for f in $HOSTFILES; do
		c=${f%%/*}
		path=$(awk -v c="$c" '$1 == "hostcg" && $2 == c { print $3 }' "$HOST")
		if [ -z "$path" ]; then
			echo "host $f NOCGROUP" >>"$HOST"
		elif [ -r "$(host_dir "$c" "$path")/${f#*/}" ]; then
			sed "s|^|host $f |" "$(host_dir "$c" "$path")/${f#*/}" >>"$HOST"
		else
			echo "host $f ENOENT" >>"$HOST"
		fi
	done
	rt "$r" start "$id" >>"$ERR" 2>&1 || echo "start failed" >>"$ERR"
	wait_status "$r" "$id" stopped || echo "did not stop" >>"$ERR"
	rt "$r" delete "$id" >>"$ERR" 2>&1 || rt "$r" delete -f "$id" >>"$ERR" 2>&1
	local left=""
	for f in "${dirs[@]}"; do
		[ -d "$f" ] && left="$left $f"
	done
	check "$r" "$id: no cgroup directory left after delete" '[ -z "$left" ]'
	for f in "${dirs[@]}"; do rmdir "$f" 2>/dev/null; done # a failing runtime must not litter
	return 0
}

# hwant RUNTIME WHAT CTRL/FILE VALUE: the host's file has a line equal to VALUE
hwant() {
	local r=$1 what=$2 f=$3 v=$4
	if grep -qxF -- "host $f $v" "$HOST"; then
		result "$r" "$what" 0 ""
	else
		result "$r" "$what" 1 "host $f is '$(grep -F "host $f " "$HOST" | cut -d' ' -f3- | tr '\n' '|')', want '$v' (create exit $RC: $(tail -c 300 "$ERR" | tr '\n' '|'))"
	fi
}
# cwant RUNTIME WHAT PATH VALUE: inside the container, ct_probe read VALUE as a line of PATH
cwant() {
	want "$1" "$2 (container view)" "^file $3 $(sed 's/[][\.*^$/]/\\&/g' <<<"$4")\$"
}
# both: host file CTRL/FILE and the container's /sys/fs/cgroup/CTRL/FILE
both() {
	hwant "$1" "$2" "$3" "$4"
	cwant "$1" "$2" "/sys/fs/cgroup/$3" "$4"
}
where_is() { awk -v c="$1" '$1 == "hostcg" && $2 == c { print $3 }' "$HOST"; }

# 1. memory: limit, reservation, swap, swappiness, disableOOMKiller, kernel, kernelTCP;
# relative cgroupsPath (below this shell's cgroup in each hierarchy)
B=$T/bmem
conf_bundle "$B"
cfg "$B" "c['linux']['resources']['memory'] = {'limit': 67108864, 'reservation': 33554432,
  'swappiness': 10, 'disableOOMKiller': True, 'kernel': 67108864, 'kernelTCP': 16777216}
if '$HAVE_MEMSW': c['linux']['resources']['memory']['swap'] = 100663296"
M=/sys/fs/cgroup/memory
HOSTFILES="memory/memory.limit_in_bytes memory/memory.soft_limit_in_bytes memory/memory.memsw.limit_in_bytes
 memory/memory.swappiness memory/memory.oom_control memory/memory.kmem.limit_in_bytes memory/memory.kmem.tcp.limit_in_bytes"
# runc 1.0+ ignores linux.resources.memory.kernel on purpose (kmem accounting is deprecated)
runc_deviates "memory.kernel" "runc 1.1.5 ignores memory.kernel (\"Kernel memory settings are ignored\")"
runc_deviates "memory.kernelTCP" "runc 1.1.5 ignores memory.kernelTCP (\"Kernel memory settings are ignored\")"
runc_deviates "memory.kernelTCP (container view)" "runc 1.1.5 ignores memory.kernelTCP"
runc_deviates "memory.kernel (container view)" "runc 1.1.5 ignores memory.kernel"
for r in $RUNTIMES; do
	cg_run "$r" "$B" "${P}mem-$r" cgroup file $M/memory.limit_in_bytes $M/memory.soft_limit_in_bytes \
		$M/memory.memsw.limit_in_bytes $M/memory.swappiness $M/memory.oom_control \
		$M/memory.kmem.limit_in_bytes $M/memory.kmem.tcp.limit_in_bytes
	check "$r" "memory: create and run" '[ "$RC" = 0 ] && grep -q "^cgroup " "$OUT"'
	both "$r" "memory.limit" memory/memory.limit_in_bytes 67108864
	both "$r" "memory.reservation" memory/memory.soft_limit_in_bytes 33554432
	[ -n "$HAVE_MEMSW" ] && both "$r" "memory.swap (memory+swap)" memory/memory.memsw.limit_in_bytes 100663296
	both "$r" "memory.swappiness" memory/memory.swappiness 10
	both "$r" "memory.disableOOMKiller" memory/memory.oom_control "oom_kill_disable 1"
	[ -n "$HAVE_KMEM" ] && both "$r" "memory.kernel" memory/memory.kmem.limit_in_bytes 67108864
	[ -n "$HAVE_KTCP" ] && both "$r" "memory.kernelTCP" memory/memory.kmem.tcp.limit_in_bytes 16777216
	check "$r" "relative cgroupsPath: memory cgroup below the caller's" \
		'[ "$(where_is memory)" = "${OWN_MEM%/}/${P}conf-bmem" ]'
	check "$r" "relative cgroupsPath: cpu cgroup below the caller's" \
		'[ "$(where_is cpu)" = "${OWN_CPU%/}/${P}conf-bmem" ]'
	want "$r" "cgroup namespace: /proc/self/cgroup shows memory at /" '^cgroup [0-9]+:memory:/$'
done
agree "memory" "${P}mem" "file $M/memory.limit_in_bytes" "file $M/memory.soft_limit_in_bytes" \
	"file $M/memory.swappiness" "file $M/memory.oom_control" "file $M/memory.memsw.limit_in_bytes"

# 2. cpu shares/quota/period, cpuset cpus/mems, pids, blockIO weight + one throttle
B=$T/bcpu
conf_bundle "$B"
cfg "$B" "c['linux']['resources']['cpu'] = {'shares': 512, 'quota': 20000, 'period': 50000, 'cpus': '0', 'mems': '0'}
c['linux']['resources']['pids'] = {'limit': 16}
bio = {}
if '$BLKIO_W': bio['weight'] = 500
if '$DEV': bio['throttleReadBpsDevice'] = [{'major': int('$DEV'.split(':')[0]), 'minor': int('$DEV'.split(':')[1]), 'rate': 1048576}]
if bio: c['linux']['resources']['blockIO'] = bio"
HOSTFILES="cpu/cpu.shares cpu/cpu.cfs_quota_us cpu/cpu.cfs_period_us cpuset/cpuset.cpus cpuset/cpuset.mems
 pids/pids.max blkio/$BLKIO_W blkio/blkio.throttle.read_bps_device"
C=/sys/fs/cgroup
for r in $RUNTIMES; do
	cg_run "$r" "$B" "${P}cpu-$r" cgroup file $C/cpu/cpu.shares $C/cpu/cpu.cfs_quota_us \
		$C/cpu/cpu.cfs_period_us $C/cpuset/cpuset.cpus $C/cpuset/cpuset.mems $C/pids/pids.max \
		$C/blkio/$BLKIO_W $C/blkio/blkio.throttle.read_bps_device
	check "$r" "cpu/cpuset/pids/blockIO: create and run" '[ "$RC" = 0 ] && grep -q "^cgroup " "$OUT"'
	both "$r" "cpu.shares" cpu/cpu.shares 512
	both "$r" "cpu.quota" cpu/cpu.cfs_quota_us 20000
	both "$r" "cpu.period" cpu/cpu.cfs_period_us 50000
	both "$r" "cpu.cpus" cpuset/cpuset.cpus 0
	both "$r" "cpu.mems" cpuset/cpuset.mems 0
	both "$r" "pids.limit" pids/pids.max 16
	[ -n "$BLKIO_W" ] && both "$r" "blockIO.weight ($BLKIO_W)" "blkio/$BLKIO_W" 500
	[ -n "$DEV" ] && both "$r" "blockIO.throttleReadBpsDevice $DEV" blkio/blkio.throttle.read_bps_device "$DEV 1048576"
done
agree "cpu" "${P}cpu" "file $C/cpu/cpu.shares" "file $C/cpu/cpu.cfs_quota_us" "file $C/cpuset/cpuset.cpus" \
	"file $C/pids/pids.max" "file $C/blkio/$BLKIO_W" "file $C/blkio/blkio.throttle.read_bps_device"

# 3. Docker-style zeros mean "not set": the cgroup keeps the kernel's defaults (learnt from a
# scratch cgroup above)
B=$T/bzero
conf_bundle "$B"
cfg "$B" "c['linux']['resources']['cpu'] = {'shares': 0, 'quota': 0, 'period': 0}
c['linux']['resources']['memory'] = {'limit': 0, 'reservation': 0, 'swap': 0}
if '$BLKIO_W': c['linux']['resources']['blockIO'] = {'weight': 0}"
HOSTFILES="cpu/cpu.shares cpu/cpu.cfs_quota_us cpu/cpu.cfs_period_us memory/memory.limit_in_bytes blkio/$BLKIO_W"
for r in $RUNTIMES; do
	cg_run "$r" "$B" "${P}zero-$r" cgroup
	check "$r" "zeros: create accepts cpu shares/quota/period 0, memory 0, blockIO.weight 0" '[ "$RC" = 0 ]'
	hwant "$r" "zeros: cpu.shares 0 = unset" cpu/cpu.shares "$DEF_SHARES"
	hwant "$r" "zeros: cpu.quota 0 = unset" cpu/cpu.cfs_quota_us "$DEF_QUOTA"
	hwant "$r" "zeros: cpu.period 0 = unset" cpu/cpu.cfs_period_us "$DEF_PERIOD"
	hwant "$r" "zeros: memory.limit 0 = unset" memory/memory.limit_in_bytes "$DEF_MEM"
	# minict makes no blkio cgroup when nothing in it is set (the init stays in the caller's);
	# runc makes one, which must keep the default weight
	if [ -n "$BLKIO_W" ] && [ "$(where_is blkio)" != "$(own_path blkio)" ]; then
		hwant "$r" "zeros: blockIO.weight 0 = unset" "blkio/$BLKIO_W" "$DEF_W"
	fi
done

# 4. hugepageLimits 2MB: hugetlb.2MB.max on cgroup2 when cgroup2 offers hugetlb (this host),
# else hugetlb.2MB.limit_in_bytes in a v1 hierarchy
HUGE=
if [ ! -d /sys/kernel/mm/hugepages/hugepages-2048kB ]; then
	echo "note: no 2MB huge pages: hugepageLimits not checked"
elif [ -f /sys/fs/cgroup/unified/cgroup.controllers ] && grep -qw hugetlb /sys/fs/cgroup/unified/cgroup.controllers; then
	HUGE=unified/hugetlb.2MB.max
elif [ -d /sys/fs/cgroup/hugetlb ]; then
	HUGE=hugetlb/hugetlb.2MB.limit_in_bytes
else
	echo "note: no hugetlb controller: hugepageLimits not checked"
fi
if [ -n "$HUGE" ]; then
	B=$T/bhuge
	conf_bundle "$B"
	cfg "$B" "c['linux']['resources']['hugepageLimits'] = [{'pageSize': '2MB', 'limit': 4194304}]"
	HOSTFILES=$HUGE
	[ "${HUGE%%/*}" = unified ] && runc_deviates "hugepageLimits: create and run" \
		"runc 1.1.5 looks for hugetlb only among the v1 hierarchies and fails create on a hybrid host (cannot set hugetlb limit)"
	for r in $RUNTIMES; do
		cg_run "$r" "$B" "${P}huge-$r" cgroup file "/sys/fs/cgroup/$HUGE"
		check "$r" "hugepageLimits: create and run" '[ "$RC" = 0 ]'
		[ "$RC" = 0 ] && both "$r" "hugepageLimits 2MB" "$HUGE" 4194304
	done
fi

# 5. devices: deny all, allow /dev/null; a node created with linux.devices (1:11, kmsg) is
# there but can't be opened
B=$T/bdev
conf_bundle "$B"
cfg "$B" "c['linux']['resources']['devices'] = [{'allow': False, 'access': 'rwm'},
  {'allow': True, 'type': 'c', 'major': 1, 'minor': 3, 'access': 'rwm'}]
c['linux']['devices'] = [{'path': '/dev/ctkmsg', 'type': 'c', 'major': 1, 'minor': 11, 'fileMode': 0o644, 'uid': 0, 'gid': 0}]"
HOSTFILES="devices/devices.list"
for r in $RUNTIMES; do
	cg_run "$r" "$B" "${P}dev-$r" stat /dev/ctkmsg read /dev/null read /dev/ctkmsg file /sys/fs/cgroup/devices/devices.list
	check "$r" "devices: create and run" '[ "$RC" = 0 ]'
	want "$r" "devices: the created node exists" '^stat /dev/ctkmsg char 1:11 0644 0 0$'
	want "$r" "devices: allowed /dev/null reads" '^read /dev/null ok 0$'
	want "$r" "devices: the created node is denied" '^read /dev/ctkmsg EPERM$'
	hwant "$r" "devices: host devices.list allows c 1:3" devices/devices.list "c 1:3 rwm"
	check "$r" "devices: host devices.list is not allow-all and has no 1:11" \
		'! grep -qE "^host devices/devices.list (a \*:\* rwm|c 1:11 )" "$HOST"'
	cwant "$r" "devices: devices.list allows c 1:3" /sys/fs/cgroup/devices/devices.list "c 1:3 rwm"
done
agree "devices" "${P}dev" "stat /dev/ctkmsg" "read /dev/null" "read /dev/ctkmsg"

# 6. network classID / priorities: without a net_cls / net_prio hierarchy, create must fail
# and say which controller is missing
for ctl in net_cls net_prio; do
	if grep -q " - cgroup .*[ ,]$ctl\(,\|$\)" /proc/self/mountinfo; then
		echo "note: this host has a $ctl hierarchy: the refusal is not checked"
		continue
	fi
	B=$T/b$ctl
	conf_bundle "$B"
	if [ $ctl = net_cls ]; then
		cfg "$B" "c['linux']['resources']['network'] = {'classID': 1048577}"
	else
		cfg "$B" "c['linux']['resources']['network'] = {'priorities': [{'name': 'eth0', 'priority': 5}]}"
	fi
	runc_deviates "network ($ctl): error names $ctl" "runc 1.1.5 says only 'cannot set $ctl limit: container could not join or create cgroup'"
	for r in $RUNTIMES; do
		cg_run "$r" "$B" "${P}$ctl-$r" cgroup
		check "$r" "network ($ctl) without a $ctl hierarchy: create fails" '[ "$RC" != 0 ]'
		check "$r" "network ($ctl): error names $ctl" 'grep -q "$ctl" "$ERR" && ! grep -q "could not join" "$ERR"'
		[ "$RC" != 0 ] && echo "  $r says: $(tr '\n' ' ' <"$ERR" | tail -c 300)"
		rt "$r" delete -f "${P}$ctl-$r" >/dev/null 2>&1
	done
done

# 7. absolute cgroupsPath: from each hierarchy's root. The path is this shell's memory cgroup
# + a leaf, so memory stays under the supervisor's limits and relative placement would give
# a different path; in the other hierarchies its parents may not exist yet (they must be made
# and, by minict, removed again; runc 1.1.5 leaves them, they are removed here)
HIER=()
for h in /sys/fs/cgroup/*/; do
	h=$(basename "$h")
	[ "$h" = memory ] || HIER+=("$h")
done
B=$T/babs
conf_bundle "$B"
HOSTFILES=""
for r in $RUNTIMES; do
	ABS=${OWN_MEM%/}/${P}abs-$r
	cfg "$B" "c['linux']['cgroupsPath'] = '$ABS'"
	pre=()
	for h in "${HIER[@]}"; do # the parents that already exist
		p=$ABS
		while p=${p%/*}; [ -n "$p" ]; do [ -d "/sys/fs/cgroup/$h$p" ] && pre+=("/sys/fs/cgroup/$h$p"); done
	done
	# the parents this run may make, for the EXIT trap should the runtime hang or the test die
	for h in "${HIER[@]}"; do
		p=$ABS
		while p=${p%/*}; [ -n "$p" ]; do
			[[ " ${pre[*]} " == *" /sys/fs/cgroup/$h$p "* ]] || ABS_MADE+=("/sys/fs/cgroup/$h$p")
		done
	done
	cg_run "$r" "$B" "${P}abs-$r" cgroup
	check "$r" "absolute cgroupsPath: create and run" '[ "$RC" = 0 ]'
	check "$r" "absolute cgroupsPath: memory at $ABS" '[ "$(where_is memory)" = "$ABS" ]'
	check "$r" "absolute cgroupsPath: cpu at $ABS" '[ "$(where_is cpu)" = "$ABS" ]'
	want "$r" "absolute cgroupsPath: /proc/self/cgroup shows cpu at /" '^cgroup [0-9]+:cpu:/$'
	# the parents the runtime made (runc leaves them; they are removed here either way)
	made=()
	for h in "${HIER[@]}"; do
		p=$ABS
		while p=${p%/*}; [ -n "$p" ]; do
			d=/sys/fs/cgroup/$h$p
			[[ " ${pre[*]} " == *" $d "* ]] || { [ -d "$d" ] && made+=("$d") && ABS_MADE+=("$d"); }
		done
	done
	if [ ${#made[@]} -gt 0 ]; then
		if [ "$r" = runc ]; then
			echo "note: runc leaves the parent cgroups it made: ${made[*]}"
		else
			check "$r" "absolute cgroupsPath: the parents minict made are removed" 'false'
		fi
		for d in "${made[@]}"; do rmdir "$d" 2>/dev/null; done
	fi
done

conf_done
