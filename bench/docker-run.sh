#!/usr/bin/env bash
# `docker run --rm --network none IMAGE true` latency: `--runtime minict` against
# `--runtime runc` in the same private dockerd, interleaved run by run (the runtime that goes
# first alternates from round to round), after two warm-up runs of each. The image is a
# `docker import` of a busybox-static rootfs. This measures the whole docker path (client,
# dockerd, containerd, shim, runtime create/start/delete); the runtime is one part of it.
#
# The daemon is set up as in tests/host/runtime_docker.sh: /usr/bin/docker (the client that
# matches Debian's daemon), its own socket, data root, exec root, pid file, config file (its
# trust key kept under the private root through deprecated-key-path) and containerd, vfs
# storage, the cgroupfs driver with a cgroup parent of its own, no bridge/iptables/ip-forward,
# `--add-runtime minict=ABSOLUTE-PATH`, and setpriv --pdeathsig so it dies with this script.
# Afterwards it is stopped by pid, and nothing of it is left (processes, mounts, cgroups).
#
# The summary goes to docs/results.md (RECORD=0 skips that).
#
# usage: bench/docker-run.sh [RUNS (default 20)]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${1:-20}
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { echo "usage: bench/docker-run.sh [RUNS]" >&2; exit 2; }
MINICT=${MINICT:-$ROOT/build/bin/minict}
[ "$(id -u)" -eq 0 ] || { echo "needs root" >&2; exit 1; }
[ -x "$MINICT" ] || { echo "build minict first (make -s build/bin/minict)" >&2; exit 1; }
MINICT=$(readlink -f "$MINICT") # dockerd resolves a relative path from its own cwd
DOCKER=/usr/bin/docker
for c in "$DOCKER" dockerd containerd runc setpriv /bin/busybox; do
	command -v "$c" >/dev/null || { echo "docker-run: $c is not installed" >&2; exit 1; }
done
MINICT_BENCH=$MINICT
# shellcheck source=SCRIPTDIR/../tests/host/runtime_lib.bash
source "$ROOT/tests/host/runtime_lib.bash" # mk_rootfs
# shellcheck source=SCRIPTDIR/../tests/host/dockerd.bash
source "$ROOT/tests/host/dockerd.bash"
MINICT=$MINICT_BENCH

T=$(mktemp -d /tmp/docker-bench.XXXXXX)
CGP=minict-bench-$$-docker # the cgroup parent of this daemon's containers
IMG=minict-bench-$$-busybox:latest
SOCK=$T/docker.sock
DPID=
BPID=
# dockerd may still write /etc/docker/key.json, and containerd's shims put their sockets in
# /run/containerd/s whatever the roots: remove them afterwards only if they were not there
had_key=0 had_runcd=0
[ -e /etc/docker/key.json ] && had_key=1
[ -e /run/containerd ] && had_runcd=1
dk() { "$DOCKER" -H "unix://$SOCK" "$@"; }

stop_dockerd() {
	[ -n "$DPID" ] || return 0
	if kill -0 "$DPID" 2>/dev/null; then
		dk ps -aq 2>/dev/null | xargs -r "$DOCKER" -H "unix://$SOCK" rm -f >/dev/null 2>&1 || true
		kill "$DPID" 2>/dev/null || true
		for _ in $(seq 60); do # dockerd stops its containerd and the shims first
			kill -0 "$DPID" 2>/dev/null || break
			sleep 0.5
		done
		if kill -0 "$DPID" 2>/dev/null; then
			echo "docker-run: dockerd $DPID ignored SIGTERM for 30 s, killing it" >&2
			kill -9 "$DPID" 2>/dev/null || true
		fi
	fi
	wait "$DPID" 2>/dev/null || true
	DPID=
}
mounts_under() {
	awk -v d="$1" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo
}
procs_under() { # pids whose command line mentions $T/
	local f c
	for f in /proc/[0-9]*/cmdline; do
		c=$(tr '\0' ' ' 2>/dev/null <"$f") || continue
		[[ "$c" == *"$T/"* ]] && { f=${f#/proc/}; echo "${f%/cmdline} $c"; }
	done
	true
}
cleanup() {
	local rc=$? l
	set +e
	if [ -n "$BPID" ]; then # the timing driver, interrupted
		kill "$BPID" 2>/dev/null
		wait "$BPID" 2>/dev/null
	fi
	stop_dockerd
	l=$( (procs_under | sed 's/^/process /'; mounts_under "$T" | sed 's/^/mount /'
		find /sys/fs/cgroup -mindepth 2 -maxdepth 4 -type d -path "*/$CGP/*" 2>/dev/null |
			sed 's/^/cgroup /') || true)
	if [ -n "$l" ]; then
		echo "docker-run: left behind after dockerd stopped:" >&2
		printf '    %s\n' "${l//$'\n'/$'\n    '}" >&2
		mounts_under "$T" | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
		[ "$rc" -ne 0 ] || rc=1
	fi
	# the (empty) cgroup parents dockerd made, deepest first
	find /sys/fs/cgroup -mindepth 2 -maxdepth 3 -depth -type d -name "$CGP" -exec rmdir {} + 2>/dev/null || true
	[ $had_key = 0 ] && rm -f /etc/docker/key.json
	[ $had_runcd = 0 ] && rmdir /run/containerd/s /run/containerd 2>/dev/null
	rm -rf "$T"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

dockerd_start || exit 1

mk_rootfs "$T/rootfs"
tar -C "$T/rootfs" -cf "$T/rootfs.tar" .
dk import "$T/rootfs.tar" "$IMG" >/dev/null

# in the background, so that a TERM to this script runs the trap at once (it stops the driver)
python3 - "$RUNS" "$DOCKER" "$SOCK" "$IMG" >"$T/summary.txt" <<'PY' &
import os, statistics, subprocess, sys, time

RUNS, DOCKER, SOCK, IMG = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
runtimes = ["minict", "runc"]
WARM = 2

def once(rt):
    cmd = [DOCKER, "-H", "unix://" + SOCK, "run", "--rm", "--network", "none",
           "--runtime", rt, IMG, "true"]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit("docker-run: `%s` failed (status %d): %s" %
                         (" ".join(cmd), p.returncode, p.stderr.decode().strip()))
    return dt * 1000

lat = {rt: [] for rt in runtimes}
for i in range(RUNS + WARM):
    for rt in (runtimes if i % 2 == 0 else runtimes[::-1]):   # alternate who goes first
        ms = once(rt)
        if i >= WARM:
            lat[rt].append(ms)

print("docker-run: `docker run --rm --network none IMAGE true`, %d runs each (interleaved, "
      "after %d warm-ups each), one dockerd (vfs, cgroupfs), busybox image" % (RUNS, WARM))
print("%-8s %9s %9s %9s" % ("runtime", "min ms", "median", "max ms"))
med = {rt: statistics.median(v) for rt, v in lat.items()}
for rt in runtimes:
    v = lat[rt]
    print("%-8s %9.1f %9.1f %9.1f" % (rt, min(v), med[rt], max(v)))
print("minict/runc median ratio: %.2f" % (med["minict"] / med["runc"]))
PY
BPID=$!
wait "$BPID"
BPID=
dk rmi -f "$IMG" >/dev/null 2>&1 || true
stop_dockerd
cat "$T/summary.txt"
"$ROOT/bench/record.py" docker-run "docker run --rm: minict vs runc in one dockerd" \
	"bench/docker-run.sh $RUNS" "on this host" <"$T/summary.txt"
