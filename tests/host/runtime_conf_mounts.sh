#!/usr/bin/env bash
# OCI config.md "mounts": each entry mounted at its destination with its type and options,
# in the listed order (a later mount on the same destination is on top); bind mounts of a
# directory and of a file, with a source relative to the bundle, "ro" binds, tmpfs options
# (nosuid, nodev, noexec, size, mode); checked from inside with ct_probe under minict and runc.
set -uo pipefail
source "$(dirname "$0")/runtime_conformance.bash"
conf_init mounts
B=$T/b
conf_bundle "$B"
mkdir -p "$B/rootfs/conf/"{tmp,rotmp,bind,robind,order,rel} "$B/hostdir" "$T/order"
touch "$B/rootfs/etc/conf-file"
echo in-hostdir >"$B/hostdir/marker"
echo host-file >"$T/file"
echo on-top >"$T/order/marker"
cfg "$B" "T = '$T'
"'
c["mounts"] += [
  {"destination": "/conf/tmp", "type": "tmpfs", "source": "tmpfs",
   "options": ["nosuid", "nodev", "noexec", "size=1m", "mode=750"]},
  {"destination": "/conf/rotmp", "type": "tmpfs", "source": "tmpfs", "options": ["ro"]},
  {"destination": "/conf/bind", "type": "bind", "source": T + "/b/hostdir", "options": ["rbind", "rw"]},
  {"destination": "/conf/robind", "type": "bind", "source": T + "/b/hostdir", "options": ["rbind", "ro"]},
  {"destination": "/etc/conf-file", "type": "bind", "source": T + "/file", "options": ["bind", "ro"]},
  {"destination": "/conf/order", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]},
  {"destination": "/conf/order", "type": "bind", "source": T + "/order", "options": ["bind"]},
]
'
# runc 1.1.5 chmods a tmpfs mount point back to the mode the directory had before the mount,
# so the "mode=" option is lost when the destination exists (fixed in later runc releases).
runc_deviates "tmpfs mode=750" "runc 1.1.5 resets a tmpfs mount point to the directory's old mode"
for r in $RUNTIMES; do
	rm -f "$B/hostdir/written"
	conf_run "$r" "$B" "${P}m-$r" ct_probe mounts stat /conf/tmp write /conf/tmp/x \
		write /conf/rotmp/x cat /conf/bind/marker write /conf/bind/written \
		cat /conf/robind/marker write /conf/robind/x \
		cat /etc/conf-file write /etc/conf-file cat /conf/order/marker
	check "$r" "container with mounts runs" '[ "$RC" = 0 ]'
	want "$r" "tmpfs mounted with nosuid,nodev,noexec" '^mount /conf/tmp tmpfs [^ ]*nosuid,nodev,noexec'
	want "$r" "tmpfs size=1m" '^mount /conf/tmp tmpfs [^ ]+ [^ ]*size=1024k'
	want "$r" "tmpfs mode=750" '^stat /conf/tmp dir 0:0 0750 0 0$'
	want "$r" "tmpfs writable" '^write /conf/tmp/x ok$'
	want "$r" "tmpfs ro" '^write /conf/rotmp/x EROFS$'
	want "$r" "bind mount of a directory" '^mount /conf/bind '
	want "$r" "bind mount shows the source" '^in-hostdir$'
	want "$r" "rw bind writes through to the source" '^write /conf/bind/written ok$'
	check "$r" "rw bind: the write reached the host directory" '[ -f "$B/hostdir/written" ]'
	want "$r" "ro bind refuses writes" '^write /conf/robind/x EROFS$'
	want "$r" "ro bind is mounted ro" '^mount /conf/robind [^ ]+ ro[, ]'
	want "$r" "bind mount of a file" '^host-file$'
	want "$r" "ro bind of a file refuses writes" '^write /etc/conf-file EROFS$'
	want "$r" "mounts in order: the later mount on a destination is on top" '^on-top$'
	# the order of the two /conf/order entries in mountinfo: tmpfs first, then the bind
	check "$r" "mounts in order: mountinfo lists them in the config's order" \
		'[ "$(grep "^mount /conf/order " "$OUT" | cut -d" " -f3 | tr "\n" " ")" = "tmpfs ext4 " ] ||
		 [ "$(grep "^mount /conf/order " "$OUT" | cut -d" " -f3 | head -n1)" = tmpfs ]'
done
agree "mounts" "${P}m" "write" "in-hostdir" "host-file" "on-top"

# config.md: "Path values for bind mounts are either absolute or relative to the bundle"
cp "$B/config.json" "$T/config.mounts"
cfg "$B" 'c["mounts"].append({"destination": "/conf/rel", "type": "bind", "source": "hostdir", "options": ["bind"]})'
for r in $RUNTIMES; do
	(cd / && conf_run "$r" "$B" "${P}rel-$r" ct_probe cat /conf/rel/marker && echo "RC=$RC" >"$T/rc")
	RC=$(sed 's/RC=//' "$T/rc") OUT=$T/out.$r.${P}rel-$r ERR=$T/err.$r.${P}rel-$r
	check "$r" "bind source relative to the bundle (run from /)" '[ "$RC" = 0 ]'
	want "$r" "bind source relative to the bundle shows the bundle's directory" '^in-hostdir$'
done
cp "$T/config.mounts" "$B/config.json"

# a mount whose type the kernel does not know makes create fail, nothing left behind
cfg "$B" 'c["mounts"].append({"destination": "/conf/tmp", "type": "nosuchfs", "source": "none"})'
for r in $RUNTIMES; do
	rt "$r" create --bundle "$B" "${P}bad-$r" >"$T/out" 2>"$T/err" </dev/null
	RC=$? OUT=$T/out ERR=$T/err
	check "$r" "a mount that fails makes create fail" '[ "$RC" != 0 ]'
	check "$r" "no state after the failed create" '[ -z "$(state_field "$r" "${P}bad-$r" status)" ]'
	rt "$r" delete -f "${P}bad-$r" >/dev/null 2>&1
done
conf_done
