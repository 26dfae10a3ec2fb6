#!/usr/bin/env bash
# Docker drives minict: a private dockerd (own socket, data root, exec root, pid file, its own
# containerd, cgroupfs driver, its own cgroup parent, no bridge/iptables/ip-forward) with
# `--add-runtime minict=$MINICT`; an image imported from a busybox rootfs tar. With
# `--runtime minict`: output, exit status, `run --rm true`, exec (output, status), stop (a
# process that traps TERM, one that doesn't), kill, pause/unpause, -m read back from the
# cgroup, --read-only, --user, --cap-drop; a default container's capability sets, NoNewPrivs
# and Seccomp equal those under `--runtime runc` in the same daemon. Afterwards: dockerd
# stopped by pid, no mount under its roots, no cgroup of its containers, no process left.
set -uo pipefail
source "$(dirname "$0")/runtime_lib.bash"
source "$(dirname "$0")/runtime_clients.bash"
source "$(dirname "$0")/dockerd.bash"
command -v dockerd >/dev/null || skip "dockerd is not installed (docker.io)"
# the client that matches Debian's daemon (a newer one may sit earlier in PATH)
DOCKER=/usr/bin/docker
[ -x "$DOCKER" ] || DOCKER=$(command -v docker) || skip "no docker client"
command -v containerd >/dev/null || skip "containerd is not installed"
command -v setpriv >/dev/null || skip "no setpriv (util-linux)"
runc_ok || skip "runc is not installed (the baseline of this test)"
grep -qw overlay /proc/filesystems || skip "no overlay filesystem for dockerd's overlay2"

MINICT=$(readlink -f "$MINICT") # dockerd resolves a relative path from its own cwd
T=$(mktemp -d /tmp/minict-docker.XXXXXX)
CGP=${P}docker # the cgroup parent of this daemon's containers
IMG=${P}busybox:latest
SOCK=$T/docker.sock
DPID=
# dockerd writes its trust key to /etc/docker/key.json, and containerd's shims put their
# sockets in /run/containerd/s, whatever the roots: remove them afterwards if they were not
# there before
had_key=0 had_runcd=0
[ -e /etc/docker/key.json ] && had_key=1
[ -e /run/containerd ] && had_runcd=1
dk() { "$DOCKER" -H "unix://$SOCK" "$@"; }

expect() { # name expected-output cmd...: a check that goes on when it fails
	local name=$1 want=$2 got rc
	shift 2
	got=$("$@" 2>"$T/err")
	rc=$?
	if [ $rc -ne 0 ]; then
		bad "$name: exit $rc, want 0 (output '$got'; stderr: $(tr '\n' ' ' <"$T/err"))"
	elif [ "$got" != "$want" ]; then
		bad "$name: got '$got', want '$want' (stderr: $(tr '\n' ' ' <"$T/err"))"
	else
		echo "ok: $name"
	fi
}
expect_rc() { # name expected-status cmd...
	local name=$1 want=$2 rc
	shift 2
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
	if [ "$rc" != "$want" ]; then
		bad "$name: exit $rc, want $want (stdout: $(tr '\n' ' ' <"$T/out"); stderr: $(tr '\n' ' ' <"$T/err"))"
	else
		echo "ok: $name"
	fi
}

stop_dockerd() {
	[ -n "$DPID" ] || return 0
	if kill -0 "$DPID" 2>/dev/null; then
		dk ps -aq 2>/dev/null | xargs -r "$DOCKER" -H "unix://$SOCK" rm -f >/dev/null 2>&1
		kill "$DPID"
		for _ in $(seq 60); do # dockerd stops its containerd and the shims first
			kill -0 "$DPID" 2>/dev/null || break
			sleep 0.5
		done
		kill -0 "$DPID" 2>/dev/null && { bad "dockerd $DPID ignored SIGTERM for 30 s"; kill -9 "$DPID"; }
	fi
	DPID=
}
# What the daemon and its containers left: processes naming our roots, mounts under them,
# cgroups below our cgroup parent.
docker_leftovers() {
	procs_mentioning "$T/" | sed 's/^/process /'
	mounts_under "$T" | sed 's/^/mount /'
	find /sys/fs/cgroup -mindepth 2 -maxdepth 4 -type d -path "*/$CGP/*" 2>/dev/null | sed 's/^/cgroup /'
	true
}
cleanup() {
	stop_dockerd
	local l
	l=$(docker_leftovers)
	if [ -n "$l" ]; then
		echo "FAIL: left behind after dockerd stopped:" >&2
		echo "$l" | sed 's/^/    /' >&2
		FAILS=$((FAILS + 1))
		mounts_under "$T" | sort -r | xargs -r -n1 umount -l 2>/dev/null
	fi
	# the (empty) cgroup parents dockerd made, deepest first
	find /sys/fs/cgroup -mindepth 2 -maxdepth 3 -type d -name "$CGP" -exec rmdir {} + 2>/dev/null
	[ $had_key = 0 ] && rm -f /etc/docker/key.json
	[ $had_runcd = 0 ] && rmdir /run/containerd/s /run/containerd 2>/dev/null
	rm -rf "$T"
}
trap 'cleanup; trap - EXIT; [ "$FAILS" -gt 0 ] && exit 1' EXIT

dockerd_start || die "dockerd start"

mk_rootfs_tar "$T/rootfs" "$T/rootfs.tar"
dk import "$T/rootfs.tar" "$IMG" >/dev/null || die "docker import"
M=(run --rm --network none --runtime minict)
R=(run --rm --network none --runtime runc)

# --- the basics
expect "run: output" "hi" dk "${M[@]}" "$IMG" echo hi
expect_rc "run: exit status 7" 7 dk "${M[@]}" "$IMG" sh -c 'exit 7'
expect_rc "run --rm true" 0 dk "${M[@]}" "$IMG" true

# --- a default container's security, against runc in the same daemon
r=$(dk "${R[@]}" "$IMG" sh -c "$SEC_CMD" 2>"$T/rerr") || bad "runc default container: $(cat "$T/rerr")"
if m=$(dk "${M[@]}" "$IMG" sh -c "$SEC_CMD" 2>"$T/merr"); then
	same_as_runc "default container: caps, NoNewPrivs, Seccomp" "$m" "$r"
else
	bad "default container under minict: $(tr '\n' ' ' <"$T/merr")"
fi

# --- options
expect "-m 64m inside" 67108864 dk "${M[@]}" -m 64m "$IMG" sh -c \
	'cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max'
expect "--read-only" "ro" dk "${M[@]}" --read-only "$IMG" sh -c 'touch /x 2>/dev/null && echo rw || echo ro'
expect "--read-only: /dev/shm stays writable" "shm-ok" dk "${M[@]}" --read-only "$IMG" \
	sh -c 'touch /dev/shm/x && echo shm-ok'
r=$(dk "${R[@]}" --user 1000:1000 "$IMG" id 2>/dev/null)
expect "--user 1000:1000 (as runc: $r)" "$r" dk "${M[@]}" --user 1000:1000 "$IMG" id
case $r in uid=1000\ gid=1000*) ;; *) bad "--user under runc printed '$r'" ;; esac
expect "--cap-drop chown" "denied" dk "${M[@]}" --cap-drop chown "$IMG" \
	sh -c 'chown 1 /tmp 2>/dev/null && echo allowed || echo denied'
expect "without --cap-drop, chown works" "allowed" dk "${M[@]}" "$IMG" \
	sh -c 'chown 1 /tmp 2>/dev/null && echo allowed || echo denied'
r=$(dk "${R[@]}" --cap-drop all "$IMG" sh -c "$SEC_CMD" 2>/dev/null)
if m=$(dk "${M[@]}" --cap-drop all "$IMG" sh -c "$SEC_CMD" 2>"$T/merr"); then
	same_as_runc "--cap-drop all: caps, NoNewPrivs, Seccomp" "$m" "$r"
else
	bad "--cap-drop all under minict: $(tr '\n' ' ' <"$T/merr")"
fi

# --- a long-running container: exec, memory limit on the host, pause/unpause, kill
if dk run -d --network none --runtime minict --name ${P}d -m 64m "$IMG" sleep 1000 >"$T/cid" 2>"$T/merr"; then
	cid=$(cat "$T/cid")
	expect "exec: output" "in" dk exec ${P}d echo in
	expect_rc "exec: exit status 4" 4 dk exec ${P}d sh -c 'exit 4'
	f=/sys/fs/cgroup/memory/$CGP/$cid/memory.limit_in_bytes
	[ -f "$f" ] || f=/sys/fs/cgroup/unified/$CGP/$cid/memory.max
	if [ -f "$f" ]; then
		[ "$(cat "$f")" = 67108864 ] && echo "ok: -m 64m on the host ($f)" || bad "-m 64m: $f has $(cat "$f")"
	else
		bad "-m 64m: no memory cgroup $CGP/$cid on the host"
	fi
	# docker top asks the runtime (`ps --format json`), docker stats reads the cgroups via the shim
	expect "top lists the container's process" "sleep 1000" sh -c \
		"$DOCKER -H unix://$SOCK top ${P}d | grep -o 'sleep 1000\$'"
	expect "stats: memory limit" "64MiB" sh -c \
		"$DOCKER -H unix://$SOCK stats --no-stream --format '{{.MemUsage}}' ${P}d | sed 's|.* / ||'"
	expect_rc "pause" 0 dk pause ${P}d
	expect "paused" "paused" dk inspect -f '{{.State.Status}}' ${P}d
	expect_rc "unpause" 0 dk unpause ${P}d
	expect "running after unpause" "running" dk inspect -f '{{.State.Status}}' ${P}d
	expect "exec after unpause" "back" dk exec ${P}d echo back
	expect_rc "kill" 0 dk kill ${P}d
	expect_rc "wait after kill" 0 dk wait ${P}d
	expect "exit code after kill" "137" dk inspect -f '{{.State.ExitCode}}' ${P}d
	expect_rc "rm" 0 dk rm ${P}d
else
	bad "run -d: $(tr '\n' ' ' <"$T/merr")"
fi

# --- stop: a process that traps TERM exits by itself; one that doesn't is killed after -t
if dk run -d --network none --runtime minict --name ${P}trap "$IMG" \
	sh -c 'trap "echo got-term; exit 0" TERM; echo ready; while :; do sleep 1; done' >/dev/null 2>"$T/merr"; then
	for _ in $(seq 60); do # the trap is set once "ready" is logged
		dk logs ${P}trap 2>/dev/null | grep -q ready && break
		sleep 0.5
	done
	expect_rc "stop -t 20 (TERM trapped)" 0 dk stop -t 20 ${P}trap
	expect "stop: exit code of the trapping process" "0" dk inspect -f '{{.State.ExitCode}}' ${P}trap
	expect "stop: the trap ran" "got-term" sh -c "$DOCKER -H unix://$SOCK logs ${P}trap 2>&1 | grep got-term"
	dk rm -f ${P}trap >/dev/null 2>&1
else
	bad "run -d (trap): $(tr '\n' ' ' <"$T/merr")"
fi
if dk run -d --network none --runtime minict --name ${P}noterm "$IMG" sleep 1000 >/dev/null 2>"$T/merr"; then
	expect_rc "stop -t 1 (TERM ignored by PID 1)" 0 dk stop -t 1 ${P}noterm
	expect "stop: killed after the timeout" "137" dk inspect -f '{{.State.ExitCode}}' ${P}noterm
	dk rm -f ${P}noterm >/dev/null 2>&1
else
	bad "run -d (no trap): $(tr '\n' ' ' <"$T/merr")"
fi

# --- around the start: a failing command, kill/stop/rm -f racing `docker start`/`run -d`.
# docker drives create, start, kill and delete itself; afterwards no init may sit on its
# exec.fifo (created, never started) and no cgroup of those containers may stay
waiting_inits() { # minict inits of this daemon blocked opening exec.fifo
	local p
	for p in /proc/[0-9]*; do
		[ "$(cat "$p/wchan" 2>/dev/null)" = wait_for_partner ] || continue
		tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF "$T/" && echo "${p#/proc/}"
	done
	true
}
around_start_clean() { # WHAT
	local l i
	for i in $(seq 25); do # the shim's delete may trail the client by a moment
		l=$(waiting_inits)
		[ -z "$l" ] && [ -z "$(dk ps -aq)" ] && break
		sleep 0.2
	done
	[ -z "$l" ] || bad "$1: inits left waiting on exec.fifo: $l"
	[ -z "$(dk ps -aq)" ] || bad "$1: containers left: $(dk ps -a --format '{{.Names}} {{.Status}}')"
	l=$(find /sys/fs/cgroup -mindepth 2 -maxdepth 4 -type d -path "*/$CGP/*" 2>/dev/null)
	[ -z "$l" ] && echo "ok: $1: nothing left" || bad "$1: cgroups left: $l"
}
expect_rc "run of a missing command: 127" 127 dk "${M[@]}" "$IMG" /nonexistent
around_start_clean "a failing command"
# race NAME SETUP START ACT AFTER: at 0, 50 and 200 ms after START (in the background) went off,
# ACT races it; then START is waited for and AFTER cleans up; SETUP runs first (each a command
# or function, given NAME, output dropped)
race() {
	local name=$1 setup=$2 start=$3 act=$4 after=$5 d sp
	for d in 0 0.05 0.2; do
		$setup "$name" >/dev/null 2>&1
		$start "$name" >/dev/null 2>&1 &
		sp=$!
		sleep $d
		$act "$name" >/dev/null 2>&1
		wait $sp
		$after "$name" >/dev/null 2>&1
	done
}
mk_created() { dk create --network none --runtime minict --name "$1" "$IMG" sleep 100; }
run_d() { dk run -d --network none --runtime minict --name "$1" "$IMG" sleep 100; }
dk_start() { dk start "$1"; }
dk_kill() { dk kill "$1"; }
dk_stop() { dk stop -t 1 "$1"; }
dk_rm() { dk rm -f "$1"; }
stop_rm() { dk stop -t 1 "$1"; dk rm -f "$1"; }
race ${P}ks mk_created dk_start dk_kill dk_rm
around_start_clean "kill racing start"
race ${P}st true run_d dk_stop stop_rm
around_start_clean "stop racing run -d"
race ${P}rf true run_d dk_rm dk_rm
around_start_clean "rm -f racing run -d"

# --- the same default container under runc still works (the baseline is sane)
expect "runc baseline: output" "hi" dk "${R[@]}" "$IMG" echo hi

dk rmi -f "$IMG" >/dev/null 2>&1
stop_dockerd
l=$(docker_leftovers)
[ -z "$l" ] && echo "ok: nothing left after dockerd stopped"
finish
