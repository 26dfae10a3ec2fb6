#!/usr/bin/env bash
# OCI config-linux.md "devices" and "default devices", runtime-linux.md "dev symbolic links",
# and the device cgroup ("linux.resources.devices"): nodes created with type, major:minor,
# fileMode, uid, gid; the default nodes exist; /dev/fd, stdin, stdout, stderr are symlinks;
# an allowed node opens, a node the rules deny does not. minict and runc.
# The cgroup checks use c 240:7 (a local/experimental major with no driver: an allowed open
# reaches the kernel and fails ENXIO, a denied one fails EPERM in the device cgroup) and
# c 1:11 (/dev/kmsg, in no default rule); 1:3 etc. are in both runtimes' default allow list.
set -uo pipefail
source "$(dirname "$0")/runtime_conformance.bash"
conf_init devices
B=$T/b
conf_bundle "$B"
cfg "$B" '
c["linux"]["devices"] = [
  {"path": "/dev/conf-null", "type": "c", "major": 1, "minor": 3, "fileMode": 0o640, "uid": 1, "gid": 2},
  {"path": "/dev/conf-kmsg", "type": "c", "major": 1, "minor": 11, "fileMode": 0o666, "uid": 0, "gid": 0},
  {"path": "/dev/conf-loop", "type": "b", "major": 7, "minor": 200, "fileMode": 0o600, "uid": 0, "gid": 0},
  {"path": "/dev/conf-x", "type": "c", "major": 240, "minor": 7, "fileMode": 0o666, "uid": 0, "gid": 0}]
r = c["linux"].setdefault("resources", {}).setdefault("devices", [])
r.append({"allow": True, "type": "c", "major": 240, "minor": 7, "access": "rwm"})
'
echo "devices.cgroup rules: $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["linux"]["resources"]["devices"])' "$B/config.json")"
for r in $RUNTIMES; do
	conf_run "$r" "$B" "${P}d-$r" ct_probe stat /dev/conf-null /dev/conf-kmsg /dev/conf-loop \
		/dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty /dev/ptmx /dev/pts \
		/dev/fd /dev/stdin /dev/stdout /dev/stderr \
		write /dev/conf-x read /dev/conf-kmsg write /dev/null read /dev/zero read /dev/full
	check "$r" "runs with linux.devices" '[ "$RC" = 0 ]'
	want "$r" "devices: char node, major:minor, fileMode, uid, gid" '^stat /dev/conf-null char 1:3 0640 1 2$'
	want "$r" "devices: block node" '^stat /dev/conf-loop block 7:200 0600 0 0$'
	for d in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
		IFS=: read -r n ma mi <<<"$d"
		want "$r" "default device /dev/$n" "^stat /dev/$n char $ma:$mi "
	done
	want "$r" "default device /dev/ptmx (node or symlink to pts/ptmx)" '^stat /dev/ptmx (symlink|char 5:2) '
	want "$r" "default /dev/pts is a directory (devpts)" '^stat /dev/pts dir '
	for l in fd stdin stdout stderr; do
		want "$r" "dev symbolic link /dev/$l" "^stat /dev/$l symlink "
	done
	want "$r" "device cgroup: allowed c 240:7 passes the cgroup (ENXIO, not EPERM)" '^write /dev/conf-x (ok|ENXIO|ENODEV)$'
	want "$r" "device cgroup: c 1:11 is denied (default deny)" '^read /dev/conf-kmsg EPERM$'
	want "$r" "device cgroup: default /dev/null usable" '^write /dev/null ok$'
	want "$r" "device cgroup: default /dev/zero usable" '^read /dev/zero ok'
done
agree "devices" "${P}d" "stat /dev/conf" "stat /dev/null" "write /dev/conf-x"

# the device cgroup applies the rules in order (a later deny of "w" wins over the allow of
# "rwm"): c 240:7 can no longer be opened for writing, but still for reading
cfg "$B" 'c["linux"]["resources"]["devices"].append({"allow": False, "type": "c", "major": 240, "minor": 7, "access": "w"})'
for r in $RUNTIMES; do
	conf_run "$r" "$B" "${P}deny-$r" ct_probe write /dev/conf-x read /dev/conf-x
	check "$r" "runs with a deny rule" '[ "$RC" = 0 ]'
	want "$r" "device cgroup: a later deny w wins" '^write /dev/conf-x EPERM$'
	want "$r" "device cgroup: r is still allowed" '^read /dev/conf-x (ok|ENXIO|ENODEV)'
done
conf_done
