#!/usr/bin/env bash
# OCI config-linux.md "namespaces" and "user namespace mappings": each listed namespace is new
# (its inode differs from the runtime's), an unlisted one is the runtime's own, one given by
# path is joined (same inode as the holder's), the cgroup namespace roots /proc/self/cgroup at
# the container's cgroup; with a user namespace, uidMappings/gidMappings are written
# (/proc/self/uid_map) and container root is the mapped host uid. minict and runc.
set -uo pipefail
source "$(dirname "$0")/runtime_conformance.bash"
command -v unshare >/dev/null || skip "no unshare(1) for the namespace holder"
conf_init ns
B=$T/b
conf_bundle "$B"
host_ns() { stat -L -c %i "/proc/$1/ns/$2"; }

# 1. every namespace of the default spec (pid network ipc uts mount cgroup) is new; time and
# user are not listed, so they are the runtime's own
for r in $RUNTIMES; do
	conf_run "$r" "$B" "${P}new-$r" ct_probe ns cgroup status
	check "$r" "runs with new namespaces" '[ "$RC" = 0 ]'
	for ns in pid net ipc uts mnt cgroup; do
		want_not "$r" "namespaces: $ns is new" "^ns $ns $(host_ns self $ns)$"
	done
	want "$r" "namespaces: time not listed = the runtime's" "^ns time $(host_ns self time)$"
	want "$r" "namespaces: user not listed = the runtime's" "^ns user $(host_ns self user)$"
	want "$r" "pid namespace: the process is pid 1" '^pid 1$'
	want "$r" "cgroup namespace: memory cgroup is / inside" '^cgroup [0-9]+:memory:/$'
	want "$r" "cgroup namespace: the cgroup2 path is / inside" '^cgroup 0::/$'
done

# 2. network and ipc left out: the container shares the runtime's
cfg "$B" 'c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] not in ("network", "ipc")]'
for r in $RUNTIMES; do
	conf_run "$r" "$B" "${P}host-$r" ct_probe ns
	check "$r" "runs without network and ipc namespaces" '[ "$RC" = 0 ]'
	want "$r" "namespaces: network not listed = the runtime's" "^ns net $(host_ns self net)$"
	want "$r" "namespaces: ipc not listed = the runtime's" "^ns ipc $(host_ns self ipc)$"
	want_not "$r" "namespaces: uts still new" "^ns uts $(host_ns self uts)$"
done

# 3. joined by path: a holder process with its own net, ipc and uts namespaces
unshare --net --ipc --uts sleep 1000 &
holder=$!
CONF_EXTRA_CLEANUP="kill $holder 2>/dev/null"
for _ in $(seq 50); do
	[ "$(host_ns $holder net)" != "$(host_ns self net)" ] && break
	sleep 0.1
done
cfg "$B" "pid = $holder
"'
c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] not in ("network", "ipc", "uts")]
c["linux"]["namespaces"] += [{"type": "network", "path": "/proc/%d/ns/net" % pid},
                             {"type": "ipc", "path": "/proc/%d/ns/ipc" % pid},
                             {"type": "uts", "path": "/proc/%d/ns/uts" % pid}]
c.pop("hostname", None)
'
for r in $RUNTIMES; do
	conf_run "$r" "$B" "${P}join-$r" ct_probe ns
	check "$r" "runs with namespaces joined by path" '[ "$RC" = 0 ]'
	for ns in net ipc uts; do
		want "$r" "namespaces: $ns joined by path" "^ns $ns $(host_ns $holder $ns)$"
	done
	want_not "$r" "namespaces: pid still new" "^ns pid $(host_ns self pid)$"
done
kill $holder 2>/dev/null
wait $holder 2>/dev/null

# a path that is not a namespace of that type: create fails
cfg "$B" '
c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "network"]
c["linux"]["namespaces"].append({"type": "network", "path": "/proc/self/ns/uts"})'
for r in $RUNTIMES; do
	rt "$r" create --bundle "$B" "${P}badns-$r" >"$T/out" 2>"$T/err" </dev/null
	RC=$? OUT=$T/out ERR=$T/err
	check "$r" "namespaces: a path of the wrong type fails create" '[ "$RC" != 0 ]'
	rt "$r" delete -f "${P}badns-$r" >/dev/null 2>&1
done

# 4. user namespace with uid/gid mappings: inside uid 0 maps to host uid 100000
U=$T/u
conf_bundle "$U"
chown -R 100000:100000 "$U/rootfs"
chmod 755 "$U"
cfg "$U" '
c["linux"]["namespaces"].append({"type": "user"})
c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 200000, "size": 1000}]
c["mounts"] = [m for m in c["mounts"] if m["destination"] not in ("/sys", "/sys/fs/cgroup")]
c["process"]["args"] = ["ct_probe", "status", "ns", "cat", "/proc/self/uid_map", "cat", "/proc/self/gid_map"]
'
for r in $RUNTIMES; do
	id=${P}user-$r
	OUT=$T/out.$r.$id ERR=$T/err.$r.$id
	rt "$r" create --bundle "$U" "$id" >"$OUT" 2>"$ERR" </dev/null
	RC=$?
	check "$r" "user namespace: create" '[ "$RC" = 0 ]'
	pid=$(state_field "$r" "$id" pid)
	hostuid=$(awk '/^Uid:/ {print $2}' "/proc/${pid:-0}/status" 2>/dev/null)
	hostgid=$(awk '/^Gid:/ {print $2}' "/proc/${pid:-0}/status" 2>/dev/null)
	check "$r" "uidMappings: container root is host uid 100000" '[ "$hostuid" = 100000 ]'
	check "$r" "gidMappings: container root group is host gid 200000" '[ "$hostgid" = 200000 ]'
	rt "$r" start "$id" >>"$OUT" 2>>"$ERR"
	wait_status "$r" "$id" stopped
	want "$r" "user namespace: uid 0 inside" '^uid 0 0 0 0$'
	want "$r" "user namespace: new" "^ns user [0-9]+$"
	want_not "$r" "user namespace: not the runtime's" "^ns user $(host_ns self user)$"
	want "$r" "uidMappings written" '^ +0 +100000 +65536$'
	want "$r" "gidMappings written" '^ +0 +200000 +1000$'
	rt "$r" delete -f "$id" >/dev/null 2>&1
done
conf_done
