#!/usr/bin/env bash
# podman drives minict: `podman --runtime minict run --rm IMAGE cmd` with an image imported
# from a busybox rootfs tarball, with -m, --pids-limit, --cap-drop, --network none,
# --read-only, -e, -w, -it, exit codes, detached + exec + pause/unpause + rm -f; no
# container cgroup left afterwards; and a default container's capability sets, NoNewPrivs
# and seccomp mode equal those under `podman --runtime runc`.
set -uo pipefail
source "$(dirname "$0")/runtime_lib.bash"
source "$(dirname "$0")/runtime_clients.bash"
command -v podman >/dev/null || skip "podman is not installed"
command -v script >/dev/null || skip "no script(1) for the -it case"
T=$(mktemp -d /tmp/minict-podman.XXXXXX)
IMG=localhost/minict-test-busybox-$$:latest
trap 'podman rm -f -t 0 ${P}mct-podman-d >/dev/null 2>&1; podman rmi -f $IMG >/dev/null 2>&1; rm -rf "$T"' EXIT
mk_rootfs "$T/rootfs"
tar -C "$T/rootfs" -cf "$T/rootfs.tar" . || die "tar"
podman import "$T/rootfs.tar" "$IMG" >/dev/null 2>&1 || skip "podman import does not work here"
# root lacks CAP_SYS_RESOURCE here and the open-files hard limit is 20000
PR=(podman --runtime "$MINICT" run --rm --ulimit nofile=4096:4096 --ulimit nproc=4096:4096)

expect() { # name expected-output cmd...
	local name=$1 want=$2 got
	shift 2
	got=$("$@" 2>"$T/err") || die "$name: exit $? ($(cat "$T/err"))"
	[ "$got" = "$want" ] || die "$name: got '$got', want '$want' ($(cat "$T/err"))"
	echo "ok: $name"
}
cid_cgroups() { find /sys/fs/cgroup -maxdepth 6 -type d -name "*$1*" 2>/dev/null; }

# a default container's security, against runc under the same podman
if runc_ok; then
	RR=(podman --runtime "$(command -v runc)" run --rm --ulimit nofile=4096:4096 --ulimit nproc=4096:4096)
	r=$("${RR[@]}" "$IMG" sh -c "$SEC_CMD" 2>"$T/err") || bad "podman --runtime runc: $(cat "$T/err")"
	if m=$("${PR[@]}" "$IMG" sh -c "$SEC_CMD" 2>"$T/err"); then
		same_as_runc "podman default container: capabilities, NoNewPrivs, Seccomp" "$m" "$r"
	else
		bad "podman default container under minict: $(cat "$T/err")"
	fi
else
	echo "runc is not installed: the comparison with runc is not made"
fi

expect "echo" "hi" "${PR[@]}" "$IMG" echo hi
expect "memory -m" "67108864" "${PR[@]}" -m 64m "$IMG" sh -c \
	'cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max'
expect "--pids-limit" "10" "${PR[@]}" --pids-limit 10 "$IMG" sh -c \
	'cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max'
expect "--cap-drop all" "CapEff:	0000000000000000" "${PR[@]}" --cap-drop all "$IMG" grep CapEff /proc/self/status
expect "--cap-drop chown" "denied" "${PR[@]}" --cap-drop chown "$IMG" sh -c 'chown 1 /tmp 2>/dev/null && echo allowed || echo denied'
expect "--network none" "lo" "${PR[@]}" --network none "$IMG" sh -c "ls /sys/class/net"
expect "--read-only" "ro" "${PR[@]}" --read-only "$IMG" sh -c 'touch /x 2>/dev/null && echo rw || echo ro'
expect "-e -w" "bar /tmp" "${PR[@]}" -e FOO=bar -w /tmp "$IMG" sh -c 'echo $FOO $(pwd)'
"${PR[@]}" "$IMG" sh -c 'exit 5'
[ $? -eq 5 ] || die "exit status not propagated"
echo "ok: exit status"
"${PR[@]}" "$IMG" /no/such/cmd 2>"$T/err" && die "missing command succeeded"
grep -q 'no/such/cmd' "$T/err" || die "missing command message: $(cat "$T/err")"
echo "ok: missing command reported"
out=$(echo | script -qec "${PR[*]} -it $IMG sh -c 'tty; echo in-tty'" /dev/null | tr -d '\r')
grep -q '^/dev/pts/0$' <<<"$out" && grep -q '^in-tty$' <<<"$out" || die "-it: $out"
echo "ok: -it"

# detached, exec, pause/unpause, rm -f
podman --runtime "$MINICT" run -d --name ${P}mct-podman-d --ulimit nofile=4096:4096 --ulimit nproc=4096:4096 \
	--cidfile "$T/cid" "$IMG" sleep 1000 >/dev/null || die "run -d"
cid=$(cat "$T/cid")
expect "exec" "in" podman exec ${P}mct-podman-d echo in
podman exec ${P}mct-podman-d sh -c 'exit 4'
[ $? -eq 4 ] || die "exec exit status"
podman pause ${P}mct-podman-d >/dev/null || die "pause"
[ "$(podman inspect -f '{{.State.Status}}' ${P}mct-podman-d)" = paused ] || die "not paused"
podman unpause ${P}mct-podman-d >/dev/null || die "unpause"
[ -n "$(cid_cgroups "$cid")" ] || die "no cgroup for the running container"
podman rm -f -t 0 ${P}mct-podman-d >/dev/null || die "rm -f"
[ -z "$(cid_cgroups "$cid")" ] || die "cgroups left: $(cid_cgroups "$cid")"

[ "$FAILS" -eq 0 ] || exit 1
echo "podman ok"
