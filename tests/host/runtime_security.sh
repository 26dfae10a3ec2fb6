#!/usr/bin/env bash
# From inside a default minict container these must fail: mount, module load, writing
# /proc/sys, reading /proc/kcore, seeing/signalling host PIDs, reaching the host root through
# /proc/1/root or an inherited fd, mknod, raising hard rlimits, keyctl, unshare of a user
# namespace. With a user namespace, container root is an unprivileged uid on the host.
set -uo pipefail
source "$(dirname "$0")/runtime_lib.bash"
command -v gcc >/dev/null || skip "no gcc to build the probe"
T=$(mktemp -d /tmp/minict-sec.XXXXXX)
S=$T/state
chmod 755 "$T"
trap 'cleanup_state "$S"; rm -rf "$T"' EXIT
mk_rootfs "$T/rootfs"
gcc -static -O1 -Wall -o "$T/rootfs/bin/probe" "$ROOT/tests/host/runtime_probe.c" 2>"$T/gcc.log" ||
	skip "cannot build a static probe: $(head -n1 "$T/gcc.log")"
touch "$T/host-marker"
sleep 1000 &
hostpid=$!
trap 'kill $hostpid 2>/dev/null; cleanup_state "$S"; rm -rf "$T"' EXIT

out=$("$MINICT" --root "$S" run --rootfs "$T/rootfs" -- /bin/probe "$hostpid") || die "probe run failed: $out"
echo "$out"
for check in mount init_module finit_module write_proc_sys read_kcore signal_host_pid see_host_pid \
	mknod raise_hard_rlimit keyctl add_key unshare_user unshare_mount setns ptrace_host reboot \
	chroot_escape_open_by_handle swapon settimeofday; do
	line=$(grep "^$check " <<<"$out") || die "$check: no result"
	[[ "$line" == *" denied "* ]] || die "$check was allowed inside the container"
done
grep -q '^inherited_fds 0$' <<<"$out" || die "fds leaked into the container: $(grep inherited <<<"$out")"

# /proc/1/root is the container's root, not the host's
"$MINICT" --root "$S" run --rootfs "$T/rootfs" -- sh -c "test ! -e /proc/1/root$T/host-marker && test -e /proc/1/root/bin/probe" ||
	die "/proc/1/root reaches the host"
# the pid namespace hides host processes
n=$("$MINICT" --root "$S" run --rootfs "$T/rootfs" -- sh -c 'ls -d /proc/[0-9]* | wc -l')
[ "$n" -le 3 ] || die "container sees $n processes"

# user namespace: container root maps to an unprivileged host uid
mkdir -p "$T/ub"
cp -a "$T/rootfs" "$T/ub/rootfs"
chown -R 100000:100000 "$T/ub/rootfs"
(cd "$T/ub" && "$MINICT" spec) || die "spec"
edit_config "$T/ub" '
c["process"]["args"] = ["sleep", "100"]
c["linux"]["namespaces"].append({"type": "user"})
c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
c["mounts"] = [m for m in c["mounts"] if m["destination"] not in ("/sys", "/sys/fs/cgroup")]
'
"$MINICT" --root "$S" run -d --bundle "$T/ub" ${P}us1 || die "userns container"
pid=$("$MINICT" --root "$S" state ${P}us1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
uid=$(awk '/^Uid:/ {print $2}' "/proc/$pid/status")
[ "$uid" = 100000 ] || die "container root is host uid $uid, expected 100000"
inside=$("$MINICT" --root "$S" exec ${P}us1 id -u) || die "exec in userns container"
[ "$inside" = 0 ] || die "inside uid $inside"
"$MINICT" --root "$S" delete -f ${P}us1 || die "delete ${P}us1"
echo "security ok"
