#!/usr/bin/env bash
# Guest images, cached outside the clone (in $MINI_CACHE):
#   images.sh build   fetch the stock cloud kernel, extract vmlinux, build the initramfs
#   images.sh env     print MINIVM_* assignments (absolute paths) for scripts to eval
# The assignments are also kept in build/images.env, per checkout, since the initramfs carries
# this checkout's guestinit.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cache=${MINI_CACHE:-/var/cache/minivm}
envfile=$ROOT/build/images.env
. "$ROOT/scripts/initramfs-lib.sh"

# Modules the guest initramfs carries, loaded by guestinit in this order (deps resolved).
GUEST_MODULES=(virtio_pci virtio_blk virtio_net)

build() {
	local kdir kver guestinit key initrd
	mkdir -p "$cache"
	kdir=$("$ROOT/scripts/kernel-fetch.sh")
	kver=$(kernel_version "$kdir")
	guestinit=$ROOT/build/bin/guestinit
	if [ ! -x "$guestinit" ]; then
		echo "images: $guestinit is missing (run make first)" >&2
		exit 1
	fi
	key=$( (sha256sum "$guestinit" /bin/busybox "$ROOT/scripts/initramfs-lib.sh" | cut -d' ' -f1
		echo "$kdir $kver ${GUEST_MODULES[*]}") | sha256sum | cut -c1-16)
	initrd=$cache/initrd/guest-$kver-$key.cpio
	if [ ! -f "$initrd" ]; then
		stage=$(mktemp -d)
		trap 'rm -rf "${stage:-}"' EXIT
		mkdir -p "$stage"/{proc,sys,dev,tmp,run,mnt,root,etc}
		stage_busybox "$stage"
		stage_modules "$kdir/lib/modules/$kver" "$stage" "${GUEST_MODULES[@]}"
		cp "$guestinit" "$stage/init"
		mkdir -p "$cache/initrd"
		pack_cpio "$stage" "$initrd"
		echo "images: built $initrd" >&2
		# each guestinit change makes a new one: keep the newest few (other checkouts may
		# still point at a recent one)
		ls -1t "$cache"/initrd/guest-*.cpio | tail -n +9 | xargs -r rm -f --
	fi
	mkdir -p "$(dirname "$envfile")"
	cat >"$envfile.tmp" <<EOT
MINIVM_KERNEL=$kdir/boot/vmlinuz-$kver
MINIVM_VMLINUX=$kdir/vmlinux
MINIVM_INITRD=$initrd
MINIVM_KVER=$kver
EOT
	mv "$envfile.tmp" "$envfile"
}

case ${1:-} in
build) build ;;
env)
	if [ ! -f "$envfile" ]; then
		echo "images: not built yet: run make images" >&2
		exit 1
	fi
	cat "$envfile"
	;;
*)
	echo "usage: $0 build|env" >&2
	exit 2
	;;
esac
