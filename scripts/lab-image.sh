#!/usr/bin/env bash
# Build the lab's initramfs (busybox, lab/lab-init.sh as /init, the modules the lab needs before
# its root exists) for the stock cloud kernel; cached in $MINI_CACHE/lab by content.
# Writes build/lab.env, read by minilab: LAB_KERNEL, LAB_INITRD, LAB_KVER, LAB_MODDIR.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cache=${MINI_CACHE:-/var/cache/minivm}
. "$ROOT/scripts/initramfs-lib.sh"

# virtio-pci transport, virtio-fs for the shares, virtio-net for the agent's channel, overlay
# for the root, kvm_amd for nested virtualization. Everything else: modprobe inside the lab.
LAB_MODULES=(virtio_pci virtiofs virtio_net overlay kvm_amd)

kdir=$("$ROOT/scripts/kernel-fetch.sh")
kver=$(kernel_version "$kdir")
key=$( (sha256sum /bin/busybox "$ROOT/lab/lab-init.sh" "$ROOT/scripts/initramfs-lib.sh" | cut -d' ' -f1
	echo "$kdir $kver ${LAB_MODULES[*]}") | sha256sum | cut -c1-16)
initrd=$cache/lab/lab-$kver-$key.cpio
if [ ! -f "$initrd" ]; then
	stage=$(mktemp -d)
	trap 'rm -rf "$stage"' EXIT
	mkdir -p "$stage"/{proc,sys,dev,mnt,newroot}
	stage_busybox "$stage"
	stage_modules "$kdir/lib/modules/$kver" "$stage" "${LAB_MODULES[@]}"
	install -m 0755 "$ROOT/lab/lab-init.sh" "$stage/init"
	mkdir -p "$cache/lab"
	pack_cpio "$stage" "$initrd"
	echo "lab-image: built $initrd" >&2
fi
mkdir -p "$ROOT/build"
cat >"$ROOT/build/lab.env.tmp" <<EOT
LAB_KERNEL=$kdir/boot/vmlinuz-$kver
LAB_INITRD=$initrd
LAB_KVER=$kver
LAB_MODDIR=$kdir/lib/modules/$kver
EOT
mv "$ROOT/build/lab.env.tmp" "$ROOT/build/lab.env"
