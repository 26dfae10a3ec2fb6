#!/usr/bin/env bash
# make images: the stock kernel (bzImage and its vmlinux with a PVH entry note), the initramfs
# (newc, guestinit as /init, busybox, virtio modules listed in load order), all absolute paths
# in images-env; and the image boots unchanged under QEMU (TCG, no KVM needed) to our command.
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
for f in init bin/busybox bin/sh lib/modules/load.list lib/modules/virtio_pci.ko; do
	grep -qx "$f" <<<"$files" || fail "initramfs lacks $f"
done
list=$(cd /tmp && cpio -i --quiet --to-stdout lib/modules/load.list <"$MINIVM_INITRD")
expect_eq "first module loaded" "$(head -n 1 <<<"$list" | xargs basename)" "virtio_pci_legacy_dev.ko"
grep -n virtio_ring.ko <<<"$list" | cut -d: -f1 | {
	read -r ring
	vpci=$(grep -n '/virtio_pci.ko' <<<"$list" | cut -d: -f1)
	[ "$ring" -lt "$vpci" ] || fail "virtio_ring loads after virtio_pci"
}

command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 missing"
# q35, not microvm: TCG on a busy host can fail PIT calibration, and q35 has HPET and a PM timer
out=$(timeout 300 qemu-system-x86_64 -accel tcg -M q35 -cpu max -m 256 -nodefaults \
	-no-user-config -serial stdio -display none -no-reboot -kernel "$MINIVM_KERNEL" \
	-initrd "$MINIVM_INITRD" \
	-append 'console=ttyS0 panic=-1 -- /bin/sh -c "echo hello from $(uname -r)"' 2>&1)
expect_contains "guest output under QEMU" "$out" "hello from $MINIVM_KVER"
expect_contains "guest powered off" "$out" "reboot: Power down"
echo "images are complete and boot under QEMU"
