#!/usr/bin/env bash
# make images: the stock kernel (bzImage and its vmlinux with a PVH entry note), the initramfs
# (newc, guestinit as /init, busybox, virtio modules listed in load order, the kernel version in
# lib/modules/kver), the benchmark rootfs (a tree with the benchmark binaries, an ext4 image that
# passes e2fsck), all absolute paths in images-env; the image boots unchanged under QEMU (TCG,
# no KVM needed) to our command, and into the rootfs image (minivm.root=/dev/vda, switch_root).
. "$ROOT/tests/lib.sh"
eval "$(cd "$ROOT" && make -s images-env)" || fail "make images-env failed"
for v in MINIVM_KERNEL MINIVM_VMLINUX MINIVM_INITRD; do
	p=${!v}
	case $p in /*) ;; *) fail "$v is not absolute: $p" ;; esac
	[ -s "$p" ] || fail "$v=$p is missing or empty"
done
expect_eq "bzImage magic" "$(dd if="$MINIVM_KERNEL" bs=1 skip=514 count=4 2>/dev/null)" "HdrS"
expect_eq "vmlinux ELF magic" "$(head -c 4 "$MINIVM_VMLINUX" | tail -c 3)" "ELF"
readelf -n "$MINIVM_VMLINUX" | grep -q 'Xen.*0x00000012' ||
	readelf -n "$MINIVM_VMLINUX" | grep -q 'Unknown note type: (0x00000012)' ||
	fail "vmlinux has no XEN_ELFNOTE_PHYS32_ENTRY (PVH) note"
files=$(cpio -it --quiet <"$MINIVM_INITRD") || fail "initramfs is not a cpio archive"
for f in init bin/busybox bin/sh lib/modules/load.list lib/modules/kver lib/modules/virtio_pci.ko; do
	grep -qx "$f" <<<"$files" || fail "initramfs lacks $f"
done
list=$(cd /tmp && cpio -i --quiet --to-stdout lib/modules/load.list <"$MINIVM_INITRD")
expect_eq "first module loaded" "$(head -n 1 <<<"$list" | xargs basename)" "virtio_pci_legacy_dev.ko"
grep -n virtio_ring.ko <<<"$list" | cut -d: -f1 | {
	read -r ring
	vpci=$(grep -n '/virtio_pci.ko' <<<"$list" | cut -d: -f1)
	[ "$ring" -lt "$vpci" ] || fail "virtio_ring loads after virtio_pci"
}

expect_eq "lib/modules/kver" "$(cd /tmp && cpio -i --quiet --to-stdout lib/modules/kver <"$MINIVM_INITRD")" "$MINIVM_KVER"
# every module listed is in the archive and was built for this kernel
for m in $list; do
	grep -qx "${m#/}" <<<"$files" || fail "load.list names $m, not in the initramfs"
done
mods=$(mktemp -d)
trap 'rm -rf "$mods"' EXIT
(cd "$mods" && cpio -i --quiet -d 'lib/modules/*.ko' <"$MINIVM_INITRD")
for m in "$mods"/lib/modules/*.ko; do
	v=$(modinfo -F vermagic "$m") || fail "$m: not a module"
	expect_eq "vermagic of $(basename "$m")" "${v%% *}" "$MINIVM_KVER"
done
grep -q '/virtio_mmio.ko$' <<<"$list" || fail "virtio_mmio.ko not in load.list: $list"

# The benchmark rootfs
for v in MINIVM_ROOTFS_DIR MINIVM_ROOTFS_IMG; do
	[ -n "${!v:-}" ] || fail "images-env has no $v (make images builds the rootfs; ROOTFS=0 skips it)"
done
[ -d "$MINIVM_ROOTFS_DIR" ] || fail "MINIVM_ROOTFS_DIR=$MINIVM_ROOTFS_DIR is not a folder"
for b in sysbench fio iperf3 stress-ng busybox; do
	[ -x "$MINIVM_ROOTFS_DIR/usr/bin/$b" ] || [ -x "$MINIVM_ROOTFS_DIR/bin/$b" ] ||
		fail "rootfs lacks $b"
done
[ -x "$MINIVM_ROOTFS_DIR/usr/sbin/mariadbd" ] || [ -x "$MINIVM_ROOTFS_DIR/usr/sbin/mysqld" ] ||
	fail "rootfs lacks mariadbd/mysqld"
[ ! -e "$MINIVM_ROOTFS_DIR/usr/sbin/policy-rc.d" ] || fail "rootfs still has the build's policy-rc.d"
e2fsck -fn "$MINIVM_ROOTFS_IMG" >/dev/null 2>&1 || fail "e2fsck -fn $MINIVM_ROOTFS_IMG: $(e2fsck -fn "$MINIVM_ROOTFS_IMG" 2>&1 | tail -n 5)"
[ -z "$(awk -v c="${MINI_CACHE:-/var/cache/minivm}/rootfs" 'index($2, c) == 1' /proc/self/mounts)" ] ||
	fail "mounts left under the rootfs cache"
# cached: a second build is instant
t0=$(date +%s%N)
(cd "$ROOT" && scripts/rootfs.sh build >/dev/null) || fail "rootfs.sh build (cached) failed"
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$ms" -lt 2000 ] || fail "cached rootfs build took $ms ms"

command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 missing"
# q35, not microvm: TCG on a busy host can fail PIT calibration, and q35 has HPET and a PM timer
out=$(timeout 300 qemu-system-x86_64 -accel tcg -M q35 -cpu max -m 256 -nodefaults \
	-no-user-config -serial stdio -display none -no-reboot -kernel "$MINIVM_KERNEL" \
	-initrd "$MINIVM_INITRD" \
	-append 'console=ttyS0 panic=-1 -- /bin/sh -c "echo hello from $(uname -r)"' 2>&1)
expect_contains "guest output under QEMU" "$out" "hello from $MINIVM_KVER"
expect_contains "guest powered off" "$out" "reboot: Power down"

# Into the rootfs: guestinit mounts the virtio disk and switches root (snapshot=on: the cached
# image is never written). Once minivm has --disk, tests/lab/vmm_rootfs.sh does it with minivm.
# shellcheck disable=SC2016 # expanded by the guest's shell
out=$(timeout 300 qemu-system-x86_64 -accel tcg -M q35 -cpu max -m 512 -nodefaults \
	-no-user-config -serial stdio -display none -no-reboot -kernel "$MINIVM_KERNEL" \
	-initrd "$MINIVM_INITRD" -drive file="$MINIVM_ROOTFS_IMG",if=virtio,format=raw,snapshot=on \
	-append 'console=ttyS0 panic=-1 quiet minivm.root=/dev/vda -- /bin/sh -c "echo ROOT-$(cat /etc/hostname)-$(stat -f -c %T /)-$(test -e /init && echo init || echo noinit); mariadbd --version | cut -c1-20; echo x >/root/w && echo WROTE"' 2>&1)
expect_contains "switch_root into the rootfs image (hostname, ext4, no /init)" "$out" "ROOT-minivm-guest-ext2/ext3-noinit"
expect_contains "rootfs binaries run" "$out" "mariadbd  Ver"
expect_contains "rootfs is writable" "$out" "WROTE"
echo "images are complete and boot under QEMU, into the rootfs too"
