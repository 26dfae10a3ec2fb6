#!/usr/bin/env bash
# root.path holds without a mount namespace of the container's own (config.md Root): with no
# "mount" namespace, or one joined by path, the process's / is still the bundle's rootfs (minict
# chroots there), never the host's. What would land in a shared mount table (mounts, masked
# paths, devices) is refused at create instead.
set -uo pipefail
source "$(dirname "$0")/runtime_lib.bash"
T=$(mktemp -d /tmp/minict-nomnt.XXXXXX)
S=$T/state
holder=
trap '[ -n "$holder" ] && kill $holder 2>/dev/null; cleanup_state "$S"; rm -rf "$T"' EXIT
B=$T/b
mk_bundle "$B" >/dev/null
echo inside >"$B/rootfs/marker"
M=("$MINICT" --root "$S")
fails=0
bad() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
# the process checks its own root: the marker is there, the host's bundle path is not
probe='cat /marker; [ -e '"$B"'/config.json ] && echo host-root-visible; true'
edit_config "$B" "c['process']['args']=['sh','-c','$probe']; c['process']['terminal']=False
c['linux']['namespaces']=[n for n in c['linux']['namespaces'] if n['type']!='mount']
c['mounts']=[]; c['linux'].pop('maskedPaths',None); c['linux'].pop('readonlyPaths',None)"

out=$("${M[@]}" run --bundle "$B" ${P}a 2>"$T/err") || bad "no mount namespace: run failed: $(cat "$T/err")"
[ "$out" = inside ] || bad "no mount namespace: the process saw '$out' (host root?)"
echo "ok: no mount namespace: / is the rootfs"

# joined by path: a mount namespace copied from the host's
unshare --mount --propagation private sleep 1000 &
holder=$!
for _ in $(seq 50); do
	[ "$(readlink /proc/$holder/ns/mnt)" != "$(readlink /proc/self/ns/mnt)" ] && break
	sleep 0.1
done
edit_config "$B" "c['linux']['namespaces'].append({'type':'mount','path':'/proc/$holder/ns/mnt'})"
out=$("${M[@]}" run --bundle "$B" ${P}b 2>"$T/err") || bad "joined mount namespace: run failed: $(cat "$T/err")"
[ "$out" = inside ] || bad "joined mount namespace: the process saw '$out' (host root?)"
echo "ok: joined mount namespace: / is the rootfs"
kill $holder
holder=

# mounts without a mount namespace of its own would go into the host's: refused
edit_config "$B" "c['linux']['namespaces']=[n for n in c['linux']['namespaces'] if n['type']!='mount']
c['mounts']=[{'destination':'/tmp','type':'tmpfs','source':'tmpfs'}]"
if "${M[@]}" run --bundle "$B" ${P}c 2>"$T/err" >/dev/null; then
	bad "mounts without a mount namespace were accepted"
else
	grep -q 'needs a mount namespace' "$T/err" || bad "unclear error: $(cat "$T/err")"
fi
[ -e "$S/${P}c" ] && bad "state left after the refused create"
grep -q " $B/rootfs/tmp " /proc/self/mountinfo && bad "a mount landed in the host's namespace"
echo "ok: mounts without a mount namespace refused"

[ $fails -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }
echo "all ok"
