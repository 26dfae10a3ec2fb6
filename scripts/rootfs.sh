#!/usr/bin/env bash
# The benchmark root filesystem (docs/images.md), cached outside the clone:
#   rootfs.sh build   debootstrap --variant=minbase of $ROOTFS_SUITE plus $ROOTFS_PACKAGES, kept
#                     as a directory (containers, native) and an ext4 image (VMs); print the
#                     folder holding both
#   rootfs.sh path    print that folder if it is built, else fail (nothing is built)
#
#   $MINI_CACHE/rootfs/<suite>-<key>/root/        the tree
#   $MINI_CACHE/rootfs/<suite>-<key>/rootfs.ext4  mkfs.ext4 -d of the tree, content + 1 GiB
# <key> hashes the suite, the package list and this script. The build runs in a temporary
# folder next to it and is renamed into place when complete (a failed or interrupted build
# leaves nothing under that name); a lock serialises concurrent builds; a second run is instant.
set -euo pipefail
cache=${MINI_CACHE:-/var/cache/minivm}
suite=${ROOTFS_SUITE:-bookworm}
# What the benchmarks run. busybox: a shell and tools the same in every guest.
read -r -a pkgs <<<"${ROOTFS_PACKAGES:-sysbench mariadb-server fio iperf3 stress-ng busybox}"
headroom_mib=1024

key=$( (echo "$suite ${pkgs[*]}"; cat "$0") | sha256sum | cut -c1-16)
out=$cache/rootfs/$suite-$key

say() { echo "rootfs: $*" >&2; }

# The Debian mirror apt uses here (deb822 .sources or one-line lists), else deb.debian.org.
mirror() {
	if [ -n "${ROOTFS_MIRROR:-}" ]; then
		echo "$ROOTFS_MIRROR"
		return
	fi
	local m
	m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
		grep -oE '(^URIs:|^deb)[[:space:]]+(\[[^]]*\][[:space:]]+)?https?://[^[:space:]]+/debian/?([[:space:]]|$)' |
		grep -oE 'https?://[^[:space:]]+' | head -n 1) || true
	echo "${m:-http://deb.debian.org/debian}"
}

# Mounts below DIR (deepest first) and processes whose root is inside DIR.
mounts_below() { awk -v d="$1" '$2 == d || index($2, d "/") == 1 {print $2}' /proc/self/mounts | sort -r; }
procs_inside() {
	local p r
	for p in /proc/[0-9]*; do
		r=$(readlink "$p/root" 2>/dev/null) || continue
		case $r in "$1" | "$1"/*) echo "${p#/proc/}" ;; esac
	done
}
# Leave nothing behind: end the processes the build started in the tree, unmount, remove.
teardown() {
	local dir=$1 p m
	for p in $(procs_inside "$dir"); do kill -KILL "$p" 2>/dev/null || true; done
	for m in $(mounts_below "$dir"); do umount "$m" 2>/dev/null || umount -l "$m" || true; done
}

build() {
	if [ -f "$out/.done" ]; then
		echo "$out"
		return
	fi
	if [ "$(id -u)" -ne 0 ]; then
		say "building the root filesystem needs root (debootstrap, chroot)"
		exit 1
	fi
	for t in debootstrap mkfs.ext4 chroot; do
		command -v "$t" >/dev/null || { say "$t is missing (make deps)"; exit 1; }
	done
	mkdir -p "$cache/rootfs"
	exec 9>"$cache/rootfs/.lock"
	flock 9
	if [ -f "$out/.done" ]; then # another build finished while we waited
		echo "$out"
		return
	fi
	local tmp m start=$SECONDS
	tmp=$(mktemp -d "$cache/rootfs/.build-XXXXXX")
	chmod 0755 "$tmp"
	trap 'teardown "'"$tmp"'"; rm -rf --one-file-system "'"$tmp"'"' EXIT
	m=$(mirror)
	say "building $suite (minbase) with ${pkgs[*]} from $m (a few minutes, once)"
	mkdir -p "$cache/rootfs/debs"
	debootstrap --variant=minbase --cache-dir="$cache/rootfs/debs" "$suite" "$tmp/root" "$m" \
		>"$tmp/debootstrap.log" 2>&1 || {
		tail -n 20 "$tmp/debootstrap.log" >&2
		say "debootstrap $suite from $m failed (log above)"
		exit 1
	}
	# No service may start inside the tree while packages install (mariadb would).
	printf '#!/bin/sh\nexit 101\n' >"$tmp/root/usr/sbin/policy-rc.d"
	chmod 0755 "$tmp/root/usr/sbin/policy-rc.d"
	cp /etc/resolv.conf "$tmp/root/etc/resolv.conf" 2>/dev/null || true
	mount -t proc proc "$tmp/root/proc"
	chroot "$tmp/root" env DEBIAN_FRONTEND=noninteractive LC_ALL=C apt-get install -y -q \
		--no-install-recommends "${pkgs[@]}" >"$tmp/apt.log" 2>&1 || {
		tail -n 20 "$tmp/apt.log" >&2
		say "apt-get install ${pkgs[*]} in the new tree failed (log above)"
		exit 1
	}
	chroot "$tmp/root" apt-get clean
	teardown "$tmp"
	[ -z "$(mounts_below "$tmp")" ] || { say "mounts left under $tmp"; exit 1; }
	rm -f "$tmp/root/usr/sbin/policy-rc.d"
	rm -rf "$tmp/root/var/lib/apt/lists/"* "$tmp/root/tmp/"* "$tmp/root/var/log/"*.log
	: >"$tmp/root/etc/resolv.conf"
	echo minivm-guest >"$tmp/root/etc/hostname"
	# for VMs: the tree in an ext4 image, content plus headroom (sparse: only the content
	# takes room on the host)
	local kib size_mib
	kib=$(du -sk --apparent-size "$tmp/root" | cut -f1)
	size_mib=$((kib * 11 / 10 / 1024 + headroom_mib))
	mkfs.ext4 -q -F -L minivm-root -d "$tmp/root" "$tmp/rootfs.ext4" "${size_mib}M" \
		>"$tmp/mkfs.log" 2>&1 || {
		cat "$tmp/mkfs.log" >&2
		say "mkfs.ext4 -d failed"
		exit 1
	}
	e2fsck -fn "$tmp/rootfs.ext4" >"$tmp/e2fsck.log" 2>&1 || {
		cat "$tmp/e2fsck.log" >&2
		say "the new ext4 image does not pass e2fsck -fn"
		exit 1
	}
	printf '%s\n' "suite=$suite" "packages=${pkgs[*]}" "mirror=$m" "size_mib=$size_mib" \
		"built=$(date -u +%FT%TZ)" "seconds=$((SECONDS - start))" >"$tmp/info"
	touch "$tmp/.done"
	rm -rf --one-file-system "$out"
	mv "$tmp" "$out"
	trap - EXIT
	# older keys (another package list) are dropped: the tree is ~0.5 GB
	local d
	for d in "$cache/rootfs/$suite"-*; do
		[ "$d" = "$out" ] || [ ! -f "$d/.done" ] || rm -rf --one-file-system "$d"
	done
	say "built $out in $((SECONDS - start)) s"
	echo "$out"
}

case ${1:-} in
build) build ;;
path)
	[ -f "$out/.done" ] || { say "not built yet: run make rootfs"; exit 1; }
	echo "$out"
	;;
*)
	echo "usage: $0 build|path" >&2
	exit 2
	;;
esac
