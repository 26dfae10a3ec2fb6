#!/usr/bin/env bash
# The stock kernel with our initramfs boots into the benchmark rootfs image on a virtio disk
# (guestinit's minivm.root=: wait for /dev/vda, mount it, switch_root, run the command there;
# docs/images.md), with hardware KVM: QEMU microvm (virtio-blk over virtio-mmio, so the
# initramfs's virtio_mmio is exercised too), and minivm --disk IMG,ro (virtio-blk-pci) with
# `--cmdline 'DEFAULT minivm.root=/dev/vda,ro'` (--cmdline replaces the default line, so the test
# takes that from --help and adds the root). In the new root mariadbd and sysbench start from the
# disk, and sysbench runs its cpu test for a second. The cached image is never written (QEMU
# snapshot=on, minivm ,ro). tests/host/images.sh does the QEMU part under TCG on any host.
. "$ROOT/tests/lib.sh"
need_stock_kernel_kvm
[ -n "${MINIVM_ROOTFS_IMG:-}" ] || eval "$(cd "$ROOT" && scripts/images.sh env)"
[ -f "${MINIVM_ROOTFS_IMG:-}" ] || skip "no rootfs image (make images)"
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 missing"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# shellcheck disable=SC2016 # expanded by the guest's shell
probe='echo ROOT-$(cat /etc/hostname)-$(stat -f -c %T /)-$(test -e /init && echo init || echo noinit); mariadbd --version | cut -c1-12; sysbench --version; sysbench cpu --cpu-max-prime=2000 --time=1 run | grep -o events.per.second:; echo END-OF-PROBE'
check() { # NAME OUTPUT
	expect_contains "$1: switch_root into the image (console: $(tail -n 20 <<<"$2"))" "$2" \
		"ROOT-minivm-guest-ext2/ext3-noinit"
	expect_contains "$1: mariadbd runs from the disk" "$2" "mariadbd  Ve"
	expect_contains "$1: sysbench runs from the disk" "$2" "sysbench 1."
	expect_contains "$1: sysbench cpu runs" "$2" "events per second:"
	expect_contains "$1: the command ran to its end" "$2" "END-OF-PROBE"
	echo "$1: booted into the rootfs image"
}

out=$(timeout 600 qemu-system-x86_64 -M microvm -accel kvm -cpu host -m 512 -nodefaults \
	-no-user-config -display none -serial stdio -no-reboot -kernel "$MINIVM_KERNEL" \
	-initrd "$MINIVM_INITRD" \
	-drive id=root,file="$MINIVM_ROOTFS_IMG",if=none,format=raw,snapshot=on \
	-device virtio-blk-device,drive=root \
	-append "console=ttyS0 panic=-1 quiet minivm.root=/dev/vda -- /bin/sh -c \"$probe\"" 2>&1)
check "QEMU microvm" "$(tr -d '\r' <<<"$out")"

# minivm --disk: the default command line (from --help) and the root parameter.
base=$("$BIN/minivm" run --help 2>&1 | sed -n 's/.*replaces the default `\(.*\)`.*/\1/p')
[ -n "$base" ] || base="console=ttyS0 quiet panic=-1 no_timer_check"
timeout 600 "$BIN/minivm" run --kernel "$MINIVM_KERNEL" --initrd "$MINIVM_INITRD" --mem 512M \
	--disk "$MINIVM_ROOTFS_IMG,ro" --cmdline "$base minivm.root=/dev/vda,ro" \
	-- /bin/sh -c "$probe" </dev/null >"$TMP/minivm.out" 2>"$TMP/minivm.err"
rc=$?
expect_eq "minivm --disk: exit status ($(cat "$TMP/minivm.err"))" "$rc" 0
check "minivm --disk" "$(tr -d '\r' <"$TMP/minivm.out")"
