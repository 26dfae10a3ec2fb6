#!/usr/bin/env bash
# `make images KERNEL=...`: bring another kernel into the cache, in the layout kernel-fetch.sh
# gives the stock one, and print its folder:
#   <dir>/boot/vmlinuz-<kver>, <dir>/boot/config-<kver> (when shipped), <dir>/vmlinux (when the
#   bzImage payload could be unpacked), <dir>/lib/modules/<kver>/{kernel/...,modules.dep,...}
# KERNEL is one or more paths (separated by blanks or commas), either
#   - Debian or Ubuntu .deb packages: linux-image-* and, for Ubuntu, the linux-modules-* (and
#     linux-modules-extra-*) that carry its modules; all unpacked with dpkg-deb -x into
#     $MINI_CACHE/kernel/deb-<key>, <key> from the packages' sha256; or
#   - one unpacked tree: a folder with boot/vmlinuz-* and lib/modules/<kver>; copied into
#     $MINI_CACHE/kernel/tree-<key>, <key> from its file names, sizes and times.
# depmod runs when modules.dep is missing. Cached: a re-run is instant. A failure leaves nothing.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cache=${MINI_CACHE:-/var/cache/minivm}
die() {
	echo "images: KERNEL=$spec: $*" >&2
	exit 1
}
spec=$*
read -r -a paths <<<"${spec//,/ }"
[ ${#paths[@]} -gt 0 ] || die "no path given"

debs=() tree=
for p in "${paths[@]}"; do
	[ -e "$p" ] || die "$p: no such file or directory"
	if [ -d "$p" ]; then
		[ ${#paths[@]} -eq 1 ] || die "$p: a folder is given alone, not with other paths"
		tree=$(cd "$p" && pwd)
	elif [ -f "$p" ]; then
		dpkg-deb -f "$p" Package >/dev/null 2>&1 || die "$p: not a .deb package (dpkg-deb can't read it)"
		debs+=("$(cd "$(dirname "$p")" && pwd)/$(basename "$p")")
	else
		die "$p: neither a .deb file nor a folder"
	fi
done

if [ -n "$tree" ]; then
	vmlinuz=("$tree"/boot/vmlinuz-*)
	[ -f "${vmlinuz[0]}" ] || die "no boot/vmlinuz-* in $tree"
	[ ${#vmlinuz[@]} -eq 1 ] || die "${#vmlinuz[@]} kernels in $tree/boot (want one)"
	kver=${vmlinuz[0]##*/vmlinuz-}
	[ -d "$tree/lib/modules/$kver" ] || die "no lib/modules/$kver in $tree (the modules of boot/vmlinuz-$kver)"
	key=$( (cd "$tree" && find boot lib/modules -maxdepth 6 -printf '%P %s %T@\n' 2>/dev/null | LC_ALL=C sort) |
		sha256sum | cut -c1-16)
	dir=$cache/kernel/tree-$key
else
	key=$(sha256sum "${debs[@]}" | cut -d' ' -f1 | LC_ALL=C sort | sha256sum | cut -c1-16)
	dir=$cache/kernel/deb-$key
fi
if [ -f "$dir/.done" ]; then
	echo "$dir"
	exit 0
fi

mkdir -p "$cache/kernel"
tmp=$(mktemp -d "$cache/.kernel-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/x"
if [ -n "$tree" ]; then
	mkdir -p "$tmp/x/boot" "$tmp/x/lib/modules"
	cp -a "$tree/boot/vmlinuz-$kver" "$tmp/x/boot/"
	[ -f "$tree/boot/config-$kver" ] && cp -a "$tree/boot/config-$kver" "$tmp/x/boot/"
	cp -a --reflink=auto "$tree/lib/modules/$kver" "$tmp/x/lib/modules/"
else
	for d in "${debs[@]}"; do
		dpkg-deb -x "$d" "$tmp/x" 2>"$tmp/dpkg.log" || die "dpkg-deb -x $d failed: $(cat "$tmp/dpkg.log")"
	done
	# Ubuntu and newer Debian ship /lib as usr/lib
	if [ -d "$tmp/x/usr/lib/modules" ] && [ ! -e "$tmp/x/lib" ]; then
		ln -s usr/lib "$tmp/x/lib"
	fi
	vmlinuz=("$tmp"/x/boot/vmlinuz-*)
	[ -f "${vmlinuz[0]}" ] || die "not a kernel package: no boot/vmlinuz-* in ${debs[*]##*/}"
	[ ${#vmlinuz[@]} -eq 1 ] || die "${#vmlinuz[@]} kernels in the packages (want one)"
	kver=${vmlinuz[0]##*/vmlinuz-}
	[ -d "$tmp/x/lib/modules/$kver" ] || die "no lib/modules/$kver in the packages: for Ubuntu, add the linux-modules-$kver .deb (and linux-modules-extra-$kver for virtio_net/virtio_blk when they are modules)"
fi
moddir=$tmp/x/lib/modules/$kver
# installed modules (not only the built-in list) need a modules.dep to be ordered
if [ ! -s "$moddir/modules.dep" ]; then
	[ -f "$moddir/modules.builtin" ] || die "no modules.builtin in lib/modules/$kver (not a kernel's module tree?)"
	depmod -b "$tmp/x" "$kver" 2>"$tmp/depmod.log" || die "depmod failed: $(cat "$tmp/depmod.log")"
fi
dd if="$tmp/x/boot/vmlinuz-$kver" bs=1 skip=514 count=4 2>/dev/null | grep -q HdrS ||
	die "boot/vmlinuz-$kver is not a bzImage (no HdrS magic)"
# the uncompressed ELF vmlinux (PVH entry), when the payload's format is one we can unpack
python3 "$ROOT/scripts/vmlinux.py" "$tmp/x/boot/vmlinuz-$kver" "$tmp/x/vmlinux" ||
	echo "images: no vmlinux for $kver (PVH boot unavailable; the bzImage boots)" >&2
touch "$tmp/x/.done"
rm -rf "$dir"
mv "$tmp/x" "$dir"
echo "images: imported $kver into $dir" >&2
echo "$dir"
