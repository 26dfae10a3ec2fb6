#!/usr/bin/env bash
# Guest images, cached outside the clone (in $MINI_CACHE; docs/images.md):
#   images.sh build   the kernel (Debian's stock cloud kernel, or KERNEL=...), its vmlinux, the
#                     initramfs that matches it, and the benchmark root filesystem (ROOTFS=0:
#                     not that one)
#   images.sh env     print MINIVM_* assignments (absolute paths) for scripts to eval
# The assignments are also kept in build/images.env ($MINI_IMAGES_ENV), per checkout, since
# the initramfs carries this checkout's guestinit.
#   KERNEL=PATH...    another kernel: linux-image-*.deb (+ Ubuntu's linux-modules-*.deb) or an
#                     unpacked tree with boot/vmlinuz-* and lib/modules/<kver> (kernel-import.sh)
#   MODULES_COMPRESSED=auto|keep|decompress  compressed modules (.ko.xz/.zst/.gz) stay
#                     compressed only when the kernel can decompress them (auto: its config has
#                     CONFIG_MODULE_DECOMPRESS and that algorithm), else are decompressed here
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cache=${MINI_CACHE:-/var/cache/minivm}
envfile=${MINI_IMAGES_ENV:-$ROOT/build/images.env}
. "$ROOT/scripts/initramfs-lib.sh"

# Modules the guest initramfs carries, loaded by guestinit in this order (deps resolved;
# those built into the kernel are skipped). ext4: for a root disk (minivm.root=); virtio_console:
# the guest command's stdio (early, so its ports come up while the others load).
GUEST_MODULES=(virtio_pci virtio_console virtio_mmio virtio_blk virtio_net ext4)

build() {
	local kdir kver guestinit key initrd
	mkdir -p "$cache"
	if [ -n "${KERNEL:-}" ]; then
		kdir=$("$ROOT/scripts/kernel-import.sh" "$KERNEL")
	else
		kdir=$("$ROOT/scripts/kernel-fetch.sh")
	fi
	kver=$(kernel_version "$kdir")
	local compressed=${MODULES_COMPRESSED:-auto}
	case $compressed in auto | keep | decompress) ;; *)
		echo "images: MODULES_COMPRESSED=$compressed: want auto, keep or decompress" >&2
		exit 1
		;;
	esac
	guestinit=$ROOT/build/bin/guestinit
	if [ ! -x "$guestinit" ]; then
		echo "images: $guestinit is missing (run make first)" >&2
		exit 1
	fi
	key=$( (sha256sum "$guestinit" /bin/busybox "$ROOT/scripts/initramfs-lib.sh" | cut -d' ' -f1
		echo "$kdir $kver ${GUEST_MODULES[*]} $compressed") | sha256sum | cut -c1-16)
	initrd=$cache/initrd/guest-$kver-$key.cpio
	if [ ! -f "$initrd" ]; then
		stage=$(mktemp -d)
		trap 'rm -rf "${stage:-}"' EXIT
		mkdir -p "$stage"/{proc,sys,dev,tmp,run,mnt,root,etc}
		stage_busybox "$stage"
		MODULES_COMPRESSED=$compressed KERNEL_CONFIG=$kdir/boot/config-$kver \
			stage_modules "$kdir/lib/modules/$kver" "$stage" "${GUEST_MODULES[@]}"
		# which kernel these modules are for: guestinit says it, minivm run compares it
		# with the kernel's own version string (vmm/boot/kver.c)
		echo "$kver" >"$stage/lib/modules/kver"
		cp "$guestinit" "$stage/init"
		mkdir -p "$cache/initrd"
		pack_cpio "$stage" "$initrd"
		echo "images: built $initrd" >&2
		# each guestinit change makes a new one: keep the newest few (other checkouts may
		# still point at a recent one)
		ls -1t "$cache"/initrd/guest-"$kver"-*.cpio | tail -n +9 | xargs -r rm -f --
	fi
	local vmlinux=$kdir/vmlinux rootfs_dir='' rootfs_img='' r
	[ -f "$vmlinux" ] || vmlinux=
	if [ "${ROOTFS:-1}" != 0 ]; then
		# not fatal: the kernel and initramfs are still good (offline with a cached kernel)
		if r=$("$ROOT/scripts/rootfs.sh" build); then
			rootfs_dir=$r/root rootfs_img=$r/rootfs.ext4
		else
			echo "images: no benchmark rootfs (see above); MINIVM_ROOTFS_* stay empty" >&2
		fi
	elif r=$("$ROOT/scripts/rootfs.sh" path 2>/dev/null); then
		rootfs_dir=$r/root rootfs_img=$r/rootfs.ext4
	fi
	mkdir -p "$(dirname "$envfile")"
	cat >"$envfile.tmp" <<EOT
MINIVM_KERNEL=$kdir/boot/vmlinuz-$kver
MINIVM_VMLINUX=$vmlinux
MINIVM_INITRD=$initrd
MINIVM_KVER=$kver
MINIVM_ROOTFS_DIR=$rootfs_dir
MINIVM_ROOTFS_IMG=$rootfs_img
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
