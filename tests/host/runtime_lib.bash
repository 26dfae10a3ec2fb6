# Helpers for the minict tests (sourced, not run). Provides:
#   MINICT            the binary under test ($BIN/minict, sanitized build by default)
#   mk_rootfs DIR     a busybox-static root filesystem
#   mk_bundle DIR     DIR/rootfs + DIR/config.json from `minict spec`
#   set_args DIR a b  set process.args of DIR/config.json
#   leftovers ID      print anything minict left behind for ID (cgroups, state, veth, mounts)
#   wait_secs S CMD   poll CMD until it succeeds, at most S seconds; lines FILE N, continuous FILE
ROOT=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BIN=${BIN:-$ROOT/build/san/bin}
[ -x "$BIN/minict" ] || BIN=$ROOT/build/bin
MINICT=$BIN/minict
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
skip() { echo "$*"; exit 77; }
die() { echo "FAIL: $*" >&2; exit 1; }
[ "$EUID" -eq 0 ] || skip "needs root"
[ -x "$MINICT" ] || skip "no minict binary (run make)"
[ -x /bin/busybox ] || skip "busybox-static is not installed"
command -v jq >/dev/null 2>&1 || JQ_MISSING=1

# mk_rootfs DIR [APPLET...]: every busybox applet, or only those named (the lab's emulated CPU
# makes hundreds of ln processes slow)
mk_rootfs() {
	local d=$1
	shift
	mkdir -p "$d"/{bin,sbin,etc,proc,sys,dev,tmp,root,usr/bin,usr/sbin}
	cp /bin/busybox "$d/bin/busybox"
	local a
	for a in ${*:-$(/bin/busybox --list)}; do
		[ -e "$d/bin/$a" ] || ln -s busybox "$d/bin/$a"
	done
	echo 'root:x:0:0:root:/root:/bin/sh' >"$d/etc/passwd"
	echo 'nobody:x:65534:65534:nobody:/:/bin/false' >>"$d/etc/passwd"
	echo 'root:x:0:' >"$d/etc/group"
	echo 'nogroup:x:65534:' >>"$d/etc/group"
	chmod 1777 "$d/tmp"
}

mk_bundle() {
	local d=$1
	mkdir -p "$d"
	mk_rootfs "$d/rootfs"
	(cd "$d" && "$MINICT" spec) || die "minict spec failed"
}

# set_args BUNDLE arg... : rewrite process.args with python3 (always present on Debian)
set_args() {
	local b=$1
	shift
	python3 - "$b/config.json" "$@" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["process"]["args"] = sys.argv[2:]
json.dump(c, open(p, "w"), indent=1)
PY
}

# edit_config BUNDLE PYTHON-EXPR-ON-c : e.g. 'c["process"]["args"]=["true"]'
edit_config() {
	python3 - "$1/config.json" "$2" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
exec(sys.argv[2])
json.dump(c, open(p, "w"), indent=1)
PY
}

# Anything left behind by container ID under state root SROOT.
leftovers() {
	local id=$1 sroot=$2
	[ -e "$sroot/$id" ] && echo "state dir $sroot/$id"
	find /sys/fs/cgroup -maxdepth 6 -type d -name "$id" 2>/dev/null | sed 's/^/cgroup /'
	grep -F "/$id/" /proc/self/mountinfo | sed 's/^/mount /'
	ip -o link show 2>/dev/null | grep -F "$(veth_name "$id")" | sed 's/^/veth /'
	true
}

# veth_name ID: minict's host-side veth for container ID: "mct" and the FNV-1a hash of the ID's
# bytes (runtime/network.c). Bash, not python: python's start-up takes seconds in the lab.
veth_name() {
	local LC_ALL=C s=$1 h=2166136261 i c
	for ((i = 0; i < ${#s}; i++)); do
		printf -v c '%d' "'${s:i:1}"
		h=$((((h ^ (c & 255)) * 16777619) & 0xffffffff))
	done
	printf 'mct%08x\n' "$h"
}

# Per-run prefix for container ids, names and interfaces: the lead's CI and engineers run these
# tests concurrently on one host, and cgroup paths (minict/<id>) are host-wide.
P=t$$-

# Delete every container of a state root (for EXIT traps: a failing test leaves nothing).
cleanup_state() {
	local s=$1 d
	for d in "$s"/*/; do
		[ -d "$d" ] && "$MINICT" --root "$s" delete -f "$(basename "$d")" >/dev/null 2>&1
	done
	true
}

# wait_secs SECONDS CMD...: run CMD every 0.05 s until it succeeds, at most SECONDS seconds
wait_secs() {
	local n=$(($1 * 20))
	shift
	while ! "$@"; do
		n=$((n - 1))
		[ $n -gt 0 ] || return 1
		sleep 0.05
	done
}
# lines FILE N: FILE has at least N lines
lines() { [ -s "$1" ] && [ "$(wc -l <"$1")" -ge "$2" ]; }
# continuous FILE: FILE is the log 1..N of a counter, each number once, in order
continuous() { # read once: the counter may append between two reads
	local c
	c=$(cat "$1")
	[ "$c" = "$(seq 1 "$(printf '%s\n' "$c" | wc -l)")" ]
}
