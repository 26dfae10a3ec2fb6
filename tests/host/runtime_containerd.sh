#!/usr/bin/env bash
# containerd drives minict. The test starts its own containerd (its own config file: root,
# state, grpc/ttrpc sockets under a temp dir, no CRI, the native snapshotter), imports an OCI
# image tarball built here from a busybox rootfs (no registry, no docker), then:
#  - the runc shim v2 (io.containerd.runc.v2) with BinaryName = minict, which is what
#    `ctr run --runc-binary $MINICT --runc-root DIR` sends: output, exit status, `task exec` (output and
#    exit status), `task kill` (KILL, and a trapped USR1 reaching the process)
#  - the v1 shim (io.containerd.runtime.v1.linux) with `runtime = $MINICT` in the private
#    config file: output and exit status. (A config-file `BinaryName` for the v2 shim exists
#    only in the CRI plugin's runtimes table, which ctr does not use.)
#  - a default container's capability sets, NoNewPrivs and seccomp mode, without and with
#    --seccomp, equal those of the same container under runc
# At the end containerd is stopped by pid and nothing may be left: no process started from
# its roots, no mount under them, no cgroup named after one of its containers.
set -uo pipefail
source "$(dirname "$0")/runtime_lib.bash"
source "$(dirname "$0")/runtime_clients.bash"
for b in containerd ctr containerd-shim-runc-v2; do
	command -v $b >/dev/null || skip "$b is not installed (containerd)"
done
runc_ok || skip "runc is not installed (the baseline of this test)"
RUNC=$(command -v runc)
T=$(mktemp -d /tmp/minict-ctrd.XXXXXX)
NS=${P}ns
CG=${P}ctrd # cgroup parent of the containers, relative: under this test's own cgroup
IMG=localhost/minict-test-busybox:latest
cpid=
had_run=0
[ -e /run/containerd ] && had_run=1
C() { ctr --address "$T/c.sock" --namespace "$NS" "$@"; }

stop_containerd() {
	[ -n "$cpid" ] || return 0
	local i
	kill -TERM "$cpid" 2>/dev/null
	for ((i = 0; i < 150; i++)); do kill -0 "$cpid" 2>/dev/null || break; sleep 0.2; done
	kill -0 "$cpid" 2>/dev/null && { bad "containerd ignored TERM"; kill -KILL "$cpid"; }
	wait "$cpid" 2>/dev/null
	cpid=
}
remove_all() { # every task and container of our namespace, then the image
	local c
	for c in $(C container ls -q 2>/dev/null); do
		C task kill -s KILL "$c" >/dev/null 2>&1
		wait_for 50 sh -c "! ctr --address '$T/c.sock' -n '$NS' task ls -q | grep -qx '$c'" ||
			C task delete -f "$c" >/dev/null 2>&1
		C task delete "$c" >/dev/null 2>&1
		C container delete "$c" >/dev/null 2>&1
	done
	C image rm "$IMG" >/dev/null 2>&1
}
cleanup() {
	if [ -n "$cpid" ]; then
		remove_all
		stop_containerd
	fi
	local p m d
	for p in $(procs_mentioning "$T/" | awk '{print $1}'); do kill -KILL "$p" 2>/dev/null; done
	for m in $(mounts_under "$T" | sort -r); do umount -l "$m" 2>/dev/null; done
	for d in $(find /sys/fs/cgroup -mindepth 1 -maxdepth 6 -type d -name "$CG" 2>/dev/null); do
		find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
	done
	# the shims' sockets live in /run/containerd/s whatever the state root
	[ $had_run = 0 ] && rmdir /run/containerd/s /run/containerd/fifo /run/containerd 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

cat >"$T/config.toml" <<EOF
version = 2
root = "$T/root"
state = "$T/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "$T/c.sock"
[ttrpc]
  address = "$T/c.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$T/opt"
[plugins."io.containerd.runtime.v1.linux"]
  shim = "containerd-shim"
  runtime = "$MINICT"
  runtime_root = "$T/v1-runtime"
EOF
containerd --config "$T/config.toml" >"$T/containerd.log" 2>&1 &
cpid=$!
wait_for 150 C version || die "containerd did not come up: $(tail -n 20 "$T/containerd.log")"
export CONTAINERD_SNAPSHOTTER=native

mk_rootfs_tar "$T/rootfs" "$T/rootfs.tar"
mk_oci_archive "$T/rootfs.tar" "$T/image.tar" "$IMG" sh
C image import "$T/image.tar" >"$T/import.log" 2>&1 || die "ctr image import: $(cat "$T/import.log")"
C image ls -q | grep -qx "$IMG" || die "the imported image is not listed: $(C image ls)"
echo "ok: private containerd $(C version | awk '/Server:/ {s=1} s && /Version:/ {print $2; exit}'), image imported"

ids=()
n=0
next_id() { # a new container id in $id, in the current shell (not a $(...) subshell)
	n=$((n + 1))
	id=${P}c$n
	ids+=("$id")
}
# ctr run --rm, container $id, with runtime RT (a binary for the v2 shim's BinaryName, or
# "v1"), ctr-run options, then ARGS
ctr_run() {
	local rt=$1
	shift
	if [ "$rt" = v1 ]; then
		C run --rm --runtime io.containerd.runtime.v1.linux --cgroup "$CG/$id" "$@" "$IMG" "$id" "${ARGS[@]}"
	else
		C run --rm --runc-binary "$rt" --runc-root "$T/runc-root" --cgroup "$CG/$id" "$@" "$IMG" "$id" "${ARGS[@]}"
	fi
}
# check NAME WANT RT [ctr-run-options] -- args...
check() {
	local name=$1 want=$2 rt=$3 got rc opts=()
	shift 3
	while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
	shift
	ARGS=("$@")
	next_id
	got=$(ctr_run "$rt" "${opts[@]}" 2>"$T/err")
	rc=$?
	if [ "$want" = "rc=$rc" ]; then
		echo "ok: $name"
	elif [[ "$want" == rc=* ]]; then
		bad "$name: exit $rc, want ${want#rc=}: $(tr '\n' ' ' <"$T/err")"
	elif [ $rc -ne 0 ]; then
		bad "$name: exit $rc: $(tr '\n' ' ' <"$T/err")"
	elif [ "$got" != "$want" ]; then
		bad "$name: got '$got', want '$want'"
	else
		echo "ok: $name"
	fi
}
# sec RT [options]: the status lines of a container's process, in $out
sec() {
	local rt=$1
	shift
	ARGS=(sh -c "$SEC_CMD")
	next_id
	# a failure never equals another: the message names the container
	out=$(ctr_run "$rt" "$@" 2>"$T/err") || out="(container $id failed: $(tr '\n' ' ' <"$T/err"))"
}

# --- a default container, and with containerd's default seccomp profile, against runc
sec "$RUNC"
r=$out
grep -q '^CapEff:' <<<"$r" || bad "runc default container: $r"
sec "$MINICT"
same_as_runc "shim v2 + minict, default container: capabilities, NoNewPrivs, Seccomp" "$out" "$r"
sec v1
same_as_runc "shim v1 + minict (config runtime), default container: capabilities, NoNewPrivs, Seccomp" \
	"$out" "$r"
sec "$RUNC" --seccomp
r=$out
grep -qx 'Seccomp:	2' <<<"$r" || bad "runc with --seccomp: $r"
sec "$MINICT" --seccomp
same_as_runc "shim v2 + minict, --seccomp: capabilities, NoNewPrivs, Seccomp" "$out" "$r"
# every capability of containerd's default set dropped (ctr 1.6 has no ALL)
drop=()
for c in CHOWN DAC_OVERRIDE FSETID FOWNER MKNOD NET_RAW SETGID SETUID SETFCAP SETPCAP \
	NET_BIND_SERVICE SYS_CHROOT KILL AUDIT_WRITE; do
	drop+=(--cap-drop "CAP_$c")
done
sec "$RUNC" "${drop[@]}"
r=$out
grep -qx 'CapBnd:	0000000000000000' <<<"$r" || bad "runc with every capability dropped: $r"
sec "$MINICT" "${drop[@]}"
same_as_runc "shim v2 + minict, every capability dropped: capabilities, NoNewPrivs, Seccomp" "$out" "$r"

# --- run: output, exit status, options
check "shim v2: output" "hi from ctr" "$MINICT" -- echo hi from ctr
check "shim v2: exit status 7" rc=7 "$MINICT" -- sh -c 'exit 7'
check "shim v2: id" "uid=0(root) gid=0(root) groups=0(root)" "$MINICT" -- id
check "shim v2: --cap-drop CAP_CHOWN" denied "$MINICT" --cap-drop CAP_CHOWN -- sh -c \
	'chown 1 /tmp 2>/dev/null && echo allowed || echo denied'
check "shim v2: --env" "bar" "$MINICT" --env FOO=bar -- sh -c 'echo $FOO'
check "shim v1 (config runtime = minict): output" "hi from v1" v1 -- echo hi from v1
check "shim v1 (config runtime = minict): exit status 5" rc=5 v1 -- sh -c 'exit 5'

# --- a long-running task: exec, memory limit, pause/resume, kill
e=0
texec() { # texec ID args...: ctr task exec with a fresh exec id
	local id=$1
	shift
	C task exec --exec-id "x$((++e))" "$id" "$@"
}
task_status() { C task ls 2>/dev/null | awk -v id="$1" '$1 == id {print $3}'; }
stopped() { [ "$(task_status "$1")" = STOPPED ]; }
# attached ID [ctr-run-options] -- args...: `ctr run --rm` in the background (its exit status
# is the task's), pid in $bg
attached() {
	local id=$1 opts=()
	shift
	while [ "$1" != -- ]; do opts+=("$1"); shift; done
	shift
	ids+=("$id")
	C run --rm --runc-binary "$MINICT" --runc-root "$T/runc-root" --cgroup "$CG/$id" "${opts[@]}" "$IMG" "$id" "$@" \
		>"$T/$id.out" 2>"$T/$id.err" &
	bg=$!
}
running() { [ "$(task_status "$1")" = RUNNING ]; }
# the container's cgroup directory for CONTROLLER (v1) on the host
host_cgroup() {
	local pid
	pid=$(C task ls | awk -v id="$1" '$1 == id {print $2}')
	echo "/sys/fs/cgroup/$2$(awk -F: -v c="$2" '$2 == c {print $3}' "/proc/$pid/cgroup" 2>/dev/null)"
}
D1=${P}d1
attached $D1 --memory-limit 50331648 -- sleep 1000
if wait_for 100 running $D1; then
	got=$(texec $D1 echo in the container 2>"$T/err")
	[ "$got" = "in the container" ] && echo "ok: task exec: output" || bad "task exec: got '$got': $(cat "$T/err")"
	texec $D1 sh -c 'exit 4' 2>"$T/err"
	rc=$?
	[ $rc = 4 ] && echo "ok: task exec: exit status 4" || bad "task exec: exit $rc, want 4: $(cat "$T/err")"
	# the task is minict's: its state is in minict's format, under the root the shim gave it
	st=$("$MINICT" --root "$T/runc-root/$NS" state $D1 2>&1)
	pid=$(C task ls | awk -v id=$D1 '$1 == id {print $2}')
	grep -q "\"pid\": *$pid\b" <<<"$st" && echo "ok: minict state knows the task (pid $pid)" ||
		bad "minict --root $T/runc-root/$NS state $D1: $st"
	f=$(host_cgroup $D1 memory)
	[[ "$f" == */$CG/$D1 ]] && echo "ok: the task is in its cgroup $f" || bad "the task's memory cgroup is '$f', want .../$CG/$D1"
	got=$(cat "$f/memory.limit_in_bytes" 2>/dev/null)
	[ "$got" = 50331648 ] && echo "ok: --memory-limit on the host" || bad "--memory-limit 48 MiB: $f has '$got'"
	C task pause $D1 2>"$T/err" || bad "task pause: $(cat "$T/err")"
	[ "$(task_status $D1)" = PAUSED ] && echo "ok: task pause" || bad "task pause: status $(task_status $D1)"
	C task resume $D1 2>"$T/err" || bad "task resume: $(cat "$T/err")"
	[ "$(task_status $D1)" = RUNNING ] && echo "ok: task resume" || bad "task resume: status $(task_status $D1)"
	got=$(texec $D1 echo resumed 2>&1)
	[ "$got" = resumed ] || bad "task exec after resume: '$got'"
	C task kill -s KILL $D1 2>"$T/err" || bad "task kill: $(cat "$T/err")"
else
	bad "ctr run $D1 never ran: $(tr '\n' ' ' <"$T/$D1.err")"
	C task kill -s KILL $D1 >/dev/null 2>&1
fi
wait $bg
rc=$?
[ $rc = 137 ] && echo "ok: task kill -s KILL: exit status 137" || bad "task kill -s KILL: ctr run exited $rc, want 137"

D2=${P}d2
attached $D2 -- sh -c 'trap "exit 43" USR1; touch /tmp/ready; sleep 1000 & wait'
if wait_for 100 texec $D2 test -e /tmp/ready; then
	C task kill -s USR1 $D2 2>"$T/err" || bad "task kill -s USR1: $(cat "$T/err")"
else
	bad "the trapping task never became ready: $(tr '\n' ' ' <"$T/$D2.err")"
	C task kill -s KILL $D2 >/dev/null 2>&1
fi
wait $bg
rc=$?
[ $rc = 43 ] && echo "ok: task kill -s USR1 ran the trap (exit 43)" || bad "task kill -s USR1: ctr run exited $rc, want 43"

# --- stopped: nothing may be left
remove_all
stop_containerd
left=$(procs_mentioning "$T/")
[ -z "$left" ] || bad "processes left after containerd stopped: $left"
left=$(mounts_under "$T")
[ -z "$left" ] || bad "mounts left under $T: $left"
for c in "${ids[@]}"; do
	left=$(find /sys/fs/cgroup -maxdepth 8 -type d -name "$c" 2>/dev/null)
	[ -z "$left" ] || bad "cgroups left for container $c: $left"
	[ -e "$T/runc-root/$c" ] && bad "runtime state left: $T/runc-root/$c"
done
echo "checked ${#ids[@]} containers for leftovers"
finish
