#!/usr/bin/env bash
# Fetch Debian's stock cloud kernel package into the cache (never into the host's /boot) and
# print the directory holding it. Cached by package version: a re-run is instant.
#   $MINI_CACHE/kernel/<package>_<version>/{boot/vmlinuz-*, vmlinux, lib/modules/<kver>/...}
set -euo pipefail
cache=${MINI_CACHE:-/var/cache/minivm}
meta=linux-image-cloud-amd64

newest_cached() {
	ls -1d "$cache"/kernel/*/.done 2>/dev/null | sort -V | tail -n 1 | xargs -r dirname
}

pkg=$(apt-cache depends "$meta" 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
ver=
[ -n "$pkg" ] && ver=$(apt-cache policy "$pkg" 2>/dev/null | awk '/Candidate:/ {print $2; exit}')
if [ -z "$pkg" ] || [ -z "$ver" ] || [ "$ver" = "(none)" ]; then
	dir=$(newest_cached)
	if [ -z "$dir" ]; then
		echo "kernel-fetch: can't resolve $meta (no package lists? run apt-get update) and nothing is cached in $cache/kernel" >&2
		exit 1
	fi
	echo "kernel-fetch: package lists unavailable, using cached $(basename "$dir")" >&2
	echo "$dir"
	exit 0
fi

dir=$cache/kernel/${pkg}_${ver}
if [ -f "$dir/.done" ]; then
	echo "$dir"
	exit 0
fi

tmp=$(mktemp -d "$cache/.kernel-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "kernel-fetch: downloading $pkg $ver" >&2
# apt would drop to the _apt user, which can't write our private (0700) folder: download as
# root instead of opening the folder to everyone.
(cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root "$pkg=$ver" >/dev/null 2>"$tmp/apt.log") || {
	cat "$tmp/apt.log" >&2
	echo "kernel-fetch: apt-get download $pkg=$ver failed" >&2
	exit 1
}
mkdir -p "$tmp/x"
dpkg-deb -x "$tmp"/"$pkg"_*.deb "$tmp/x"
kver=${pkg#linux-image-}
# modules.dep is made at install time, which we skip: make it here so modprobe works in the lab.
depmod -b "$tmp/x" "$kver"

# The uncompressed ELF vmlinux (PVH entry) from the bzImage: the payload (offset and length in
# the setup header at 0x248/0x24c, after (setup_sects+1)*512 bytes) is an LZ4 legacy stream
# followed by a 4-byte little-endian uncompressed size.
bz=$tmp/x/boot/vmlinuz-$kver
python3 - "$bz" "$tmp/payload.lz4" <<'PY'
import struct, sys
d = open(sys.argv[1], 'rb').read()
if d[0x202:0x206] != b'HdrS':
    sys.exit('kernel-fetch: %s is not a bzImage (no HdrS magic)' % sys.argv[1])
start = (d[0x1f1] + 1) * 512
off, length = struct.unpack('<II', d[0x248:0x250])
p = d[start + off:start + off + length]
if p[:4] != b'\x02\x21\x4c\x18':
    sys.exit('kernel-fetch: payload is not LZ4 (legacy); got %s' % p[:4].hex())
open(sys.argv[2], 'wb').write(p[:-4])
open(sys.argv[2] + '.size', 'w').write(str(struct.unpack('<I', p[-4:])[0]))
PY
lz4 -dcq "$tmp/payload.lz4" >"$tmp/x/vmlinux"
want=$(cat "$tmp/payload.lz4.size")
got=$(stat -c %s "$tmp/x/vmlinux")
if [ "$want" != "$got" ]; then
	echo "kernel-fetch: vmlinux is $got bytes, the bzImage says $want" >&2
	exit 1
fi
touch "$tmp/x/.done"
mkdir -p "$cache/kernel"
rm -rf "$dir"
mv "$tmp/x" "$dir"
echo "$dir"
