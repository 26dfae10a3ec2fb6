#!/usr/bin/env bash
# minict bad input: each case must fail with one clear line naming the field or state, exit
# non-zero, and leave nothing behind (state dir, cgroups, mounts, veths, processes).
set -uo pipefail
source "$(dirname "$0")/runtime_lib.bash"
T=$(mktemp -d /tmp/minict-bad.XXXXXX)
S=$T/state
trap 'cleanup_state "$S"; ip link del mctbad$(($$ % 100000)) 2>/dev/null; rm -rf "$T"' EXIT
mk_bundle "$T/ref"
set_args "$T/ref" sleep 100
m() { "$MINICT" --root "$S" "$@"; }
n=0

# expect_fail NAME PATTERN CMD... : CMD fails, stderr has one line matching PATTERN, no leftovers
expect_fail() {
	local name=$1 pat=$2
	shift 2
	n=$((n + 1))
	"$@" >"$T/out" 2>"$T/err" && die "$name: succeeded"
	grep -Eq -- "$pat" "$T/err" || die "$name: message '$(cat "$T/err")' lacks /$pat/"
	[ "$(grep -vc 'AddressSanitizer\|^$' "$T/err")" -le 1 ] || die "$name: more than one line: $(cat "$T/err")"
	local left
	left=$(leftovers "${P}case$n" "$S")
	[ -z "$left" ] || die "$name: left behind: $left"
	echo "ok: $name -> $(head -n1 "$T/err")"
}

# case_bundle EXPR : a bundle whose config.json is edited by python EXPR on c
case_bundle() {
	local b=$T/b$((n + 1))
	rm -rf "$b"
	mkdir -p "$b"
	cp -a "$T/ref/config.json" "$b/"
	ln -s "$T/ref/rootfs" "$b/rootfs"
	[ -n "$1" ] && edit_config "$b" "$1"
	echo "$b"
}
create() { m create --bundle "$1" "${P}case$((n + 1))"; }

b=$(case_bundle ''); echo '{"ociVersion": "1.0.2", "process": {' >"$b/config.json"
expect_fail "malformed JSON" 'invalid JSON' create "$b"
b=$(case_bundle 'c["process"]["args"] = "sh"')
expect_fail "args not an array" 'process\.args: expected an array' create "$b"
b=$(case_bundle 'c["process"]["user"]["uid"] = "root"')
expect_fail "uid of wrong type" 'process\.user\.uid: expected an integer' create "$b"
b=$(case_bundle 'c["hostname"] = 5')
expect_fail "hostname of wrong type" 'hostname: expected a string' create "$b"
b=$(case_bundle 'del c["process"]')
expect_fail "missing process" 'process: missing' create "$b"
b=$(case_bundle 'c["root"]["path"] = "../../"')
expect_fail "relative rootfs is outside the bundle" 'root\.path: .*outside the bundle' create "$b"
b=$(case_bundle 'c["root"]["path"] = "/nonexistent-rootfs"')
expect_fail "missing rootfs" 'root\.path: rootfs .*No such file' create "$b"
b=$(case_bundle 'c["linux"]["namespaces"].append({"type": "bogus"})')
expect_fail "unknown namespace type" 'linux\.namespaces\[6\]\.type: unknown namespace type "bogus"' create "$b"
b=$(case_bundle 'c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read", "notasyscall"], "action": "SCMP_ACT_ALLOW"}]}')
expect_fail "bad seccomp syscall" 'seccomp\.syscalls\[0\]\.names\[1\]: unknown syscall "notasyscall"' create "$b"
b=$(case_bundle 'c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_EXPLODE"}]}')
expect_fail "bad seccomp action" 'seccomp\.syscalls\[0\]\.action: unknown seccomp action "SCMP_ACT_EXPLODE"' create "$b"
b=$(case_bundle 'c["process"]["capabilities"]["bounding"].append("CAP_FLY")')
expect_fail "unknown capability" 'capabilities\.bounding\[[0-9]+\]: unknown capability' create "$b"
b=$(case_bundle 'c["mounts"].append({"destination": "relative/path", "type": "tmpfs", "source": "tmpfs"})')
expect_fail "relative mount destination" 'mounts\[7\]\.destination: .* is not absolute' create "$b"
b=$(case_bundle 'c["linux"]["resources"]["memory"] = {"limit": "lots"}')
expect_fail "memory limit of wrong type" 'linux\.resources\.memory\.limit: expected an integer' create "$b"
# failures inside the container's init name the step
b=$(case_bundle 'c["mounts"].append({"destination": "/mnt", "type": "nosuchfs", "source": "x"})')
expect_fail "bad mount type (child step)" 'create: mounts\[7\] /mnt: mount nosuchfs' create "$b"
b=$(case_bundle 'c["process"]["cwd"] = "/does/not/exist"')
expect_fail "missing cwd (child step)" 'chdir to process\.cwd' create "$b"
b=$(case_bundle 'c["process"]["args"] = ["/bin/not-there"]')
expect_fail "missing executable (child step)" 'exec `/bin/not-there`' create "$b"
b=$(case_bundle 'c["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 1048576, "hard": 1048576}]')
expect_fail "rlimit above the hard limit" 'setrlimit RLIMIT_NOFILE .*CAP_SYS_RESOURCE' create "$b"

# ids and states
m run -d --bundle "$T/ref" ${P}good || die "create ${P}good"
expect_fail "duplicate id" "container \"${P}good\" already exists" m create --bundle "$T/ref" ${P}good
expect_fail "unknown id (state)" 'container "nope" does not exist' m state nope
expect_fail "unknown id (kill)" 'container "nope" does not exist' m kill nope
expect_fail "invalid id" 'invalid container id' m create --bundle "$T/ref" '../x'
expect_fail "start on a running container" "container \"${P}good\" is running, not created" m start ${P}good
expect_fail "delete of a running container" "container \"${P}good\" is running: stop it first or use --force" m delete ${P}good
expect_fail "bad signal" 'invalid signal "SIGFOO"' m kill ${P}good SIGFOO
m delete -f ${P}good || die "delete -f ${P}good"
[ -z "$(leftovers ${P}good "$S")" ] || die "${P}good left behind"

# short form: the veth must go when the container fails after networking is set up
n=$((n + 1))
"$MINICT" --root "$S" run --rootfs "$T/ref/rootfs" --id "${P}case$n" --net bridge=mctbad$(($$ % 100000)),ip=10.199.$(($$ % 250)).2/24 \
	-- /no/such/binary >"$T/out" 2>"$T/err" && die "short form with a missing binary succeeded"
grep -q 'exec `/no/such/binary`' "$T/err" || die "short form message: $(cat "$T/err")"
ip link show "$(veth_name "${P}case$n")" >/dev/null 2>&1 && die "veth left behind"
[ -z "$(leftovers "${P}case$n" "$S")" ] || die "short form left behind"
expect_fail "short form: bad --memory" '--memory' m run --rootfs "$T/ref/rootfs" --memory 12Q -- true
expect_fail "short form: bad --net" '--net: bad ip' m run --rootfs "$T/ref/rootfs" --net bridge=x,ip=300.1.1.1/24 -- true
expect_fail "short form: missing rootfs" '--rootfs `/nonexistent`' m run --rootfs /nonexistent -- true
# no stray processes: nothing still runs from the state root or the bundles
pgrep -f "$T" >/dev/null && die "processes left: $(pgrep -af "$T")"
echo "bad input ok ($n cases)"
