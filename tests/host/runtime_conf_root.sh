#!/usr/bin/env bash
# OCI config.md "root": path relative to the bundle, absolute, "." (the bundle is the root
# filesystem), a missing path is an error; readonly true makes the root read-only, false
# leaves it writable. Checked with ct_probe under minict and runc.
set -uo pipefail
source "$(dirname "$0")/runtime_conformance.bash"
conf_init root
B=$T/b
conf_bundle "$B"
echo relative >"$B/rootfs/marker"

# root.path relative to the bundle, readonly false: writable
cfg "$B" 'c["root"] = {"path": "rootfs", "readonly": False}'
for r in $RUNTIMES; do
	conf_run "$r" "$B" "${P}rel-$r" ct_probe cat /marker write /written
	check "$r" "root.path relative runs" '[ "$RC" = 0 ]'
	want "$r" "root.path relative is the bundle's rootfs" '^relative$'
	want "$r" "root.readonly false: / is writable" '^write /written ok$'
done

# root.path absolute
mkdir -p "$T/abs"
cp -a "$B/rootfs" "$T/abs/rootfs"
echo absolute >"$T/abs/rootfs/marker"
cfg "$B" "c['root'] = {'path': '$T/abs/rootfs'}"
for r in $RUNTIMES; do
	conf_run "$r" "$B" "${P}abs-$r" ct_probe cat /marker
	check "$r" "root.path absolute runs" '[ "$RC" = 0 ]'
	want "$r" "root.path absolute is used" '^absolute$'
done

# root.path "." : the bundle directory itself is the root filesystem
D=$T/dot
cp -a "$B/rootfs" "$D"
cp "$B/config.json" "$D/config.json"
echo dot >"$D/marker"
cfg "$D" 'c["root"] = {"path": "."}'
for r in $RUNTIMES; do
	conf_run "$r" "$D" "${P}dot-$r" ct_probe cat /marker stat /config.json
	check "$r" "root.path \".\" runs" '[ "$RC" = 0 ]'
	want "$r" "root.path \".\" is the bundle directory" '^dot$'
done

# root.readonly true: every write to / fails with EROFS, and / is mounted ro
cfg "$B" 'c["root"] = {"path": "rootfs", "readonly": True}'
for r in $RUNTIMES; do
	conf_run "$r" "$B" "${P}ro-$r" ct_probe write /ro-test mkdir /ro-dir mounts
	check "$r" "root.readonly true runs" '[ "$RC" = 0 ]'
	want "$r" "root.readonly: write to / fails EROFS" '^write /ro-test EROFS$'
	want "$r" "root.readonly: mkdir in / fails EROFS" '^mkdir /ro-dir EROFS$'
	want "$r" "root.readonly: / is mounted ro" '^mount / [^ ]+ ro[, ]'
done
[ ! -e "$B/rootfs/ro-test" ] || result minict "root.readonly: nothing written" 1 "$B/rootfs/ro-test exists"

# a root.path that does not exist: create fails, nothing is left
cfg "$B" 'c["root"] = {"path": "no-such-dir"}'
for r in $RUNTIMES; do
	rt "$r" create --bundle "$B" "${P}missing-$r" >"$T/out" 2>"$T/err" </dev/null
	RC=$? OUT=$T/out ERR=$T/err
	check "$r" "a missing root.path fails create" '[ "$RC" != 0 ]'
	check "$r" "no state after the failed create" '[ -z "$(state_field "$r" "${P}missing-$r" status)" ]'
	rt "$r" delete -f "${P}missing-$r" >/dev/null 2>&1
done
conf_done
