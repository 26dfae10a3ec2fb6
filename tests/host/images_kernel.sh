#!/usr/bin/env bash
# make images KERNEL=... (docs/images.md): another kernel's .deb (Debian's generic amd64 flavour,
# from the package archive once, kept in $MINI_CACHE/debs) gets an initramfs whose load.list
# holds that kernel's modules (built for it, dependencies and soft dependencies first, built-in
# ones skipped); an unpacked tree with xz-compressed modules and no modules.dep gets them
# decompressed at build time (its kernel can't decompress), or, kept compressed, loaded by
# guestinit (MODULE_INIT_COMPRESSED_FILE, else busybox unxz) well enough to mount an ext4 root;
# bad KERNEL= values fail with one line and leave the cache as it was; minivm run warns when the
# initramfs's modules are for another kernel. Writes its own images.env, never the checkout's.
. "$ROOT/tests/lib.sh"
cache=${MINI_CACHE:-/var/cache/minivm}
eval "$(cd "$ROOT" && scripts/images.sh env)" || fail "make images first"
stock_kernel=$MINIVM_KERNEL stock_initrd=$MINIVM_INITRD stock_kver=$MINIVM_KVER
rootfs_img=${MINIVM_ROOTFS_IMG:-}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
export MINI_IMAGES_ENV=$TMP/images.env ROOTFS=0
images() { (cd "$ROOT" && scripts/images.sh build) && (cd "$ROOT" && scripts/images.sh env); }
initrd_file() { (cd "$TMP" && cpio -i --quiet --to-stdout "$2" <"$1"); }

# check_load_list INITRD KDIR KVER: every listed module is in the archive, built for KVER, and
# comes after the modules it depends on; every module the images ask for is listed or built in.
check_load_list() {
	local initrd=$1 kdir=$2 kver=$3 list x m dep seen=" "
	list=$(initrd_file "$initrd" lib/modules/load.list)
	rm -rf "$TMP/x" && mkdir "$TMP/x"
	(cd "$TMP/x" && cpio -i --quiet -d 'lib/modules/*' <"$initrd")
	expect_eq "lib/modules/kver" "$(cat "$TMP/x/lib/modules/kver")" "$kver"
	for x in $list; do
		m=$TMP/x$x
		[ -f "$m" ] || fail "load.list names $x, not in the initramfs"
		v=$(modinfo -F vermagic "$m" 2>/dev/null) || fail "$x: modinfo can't read it"
		expect_eq "vermagic of $x" "${v%% *}" "$kver"
		for dep in $(modinfo -F depends "$m" | tr ',' ' '); do
			[[ $seen == *" ${dep//-/_} "* ]] || fail "$x loads before its dependency $dep: $list"
		done
		x=$(basename "$x")
		x=${x%%.ko*}
		seen+="${x//-/_} "
	done
	for m in virtio_pci virtio_mmio virtio_blk virtio_net ext4; do
		[[ $seen == *" $m "* ]] || grep -qE "/$m\.ko" "$kdir/lib/modules/$kver/modules.builtin" ||
			fail "$m neither in load.list nor built into $kver: $list"
	done
	echo "$list"
}

# 1. A .deb of another flavour: generic amd64, where ext4 and crc32c are modules.
mkdir -p "$cache/debs"
pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
deb=
[ -n "$pkg" ] && deb=$(ls -1 "$cache/debs/${pkg}"_*.deb 2>/dev/null | tail -n 1)
if [ -z "$deb" ] && [ -n "$pkg" ]; then
	(cd "$cache/debs" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >/dev/null 2>&1) ||
		echo "apt-get download $pkg failed"
	deb=$(ls -1 "$cache/debs/${pkg}"_*.deb 2>/dev/null | tail -n 1)
fi
[ -n "$deb" ] || deb=$(ls -1 "$cache"/debs/linux-image-*-amd64_*.deb 2>/dev/null | tail -n 1)
[ -n "$deb" ] || skip "no linux-image-amd64 .deb (package lists? run apt-get update)"
kver=$(basename "$deb")
kver=${kver#linux-image-}
kver=${kver%%_*}
env_deb=$(KERNEL=$deb images) || fail "make images KERNEL=$deb failed"
eval "$env_deb"
expect_eq "KERNEL=.deb: kver" "$MINIVM_KVER" "$kver"
[ "$MINIVM_KVER" != "$stock_kver" ] || fail "the test kernel is the stock one ($kver)"
kdir=${MINIVM_KERNEL%/boot/*}
[ -s "$MINIVM_VMLINUX" ] || fail "no vmlinux extracted for $kver"
deb_initrd=$MINIVM_INITRD deb_kernel=$MINIVM_KERNEL
list=$(check_load_list "$MINIVM_INITRD" "$kdir" "$kver") || exit 1
grep -q '/ext4.ko$' <<<"$list" || fail "ext4 (a module in $kver) not in load.list: $list"
c=$(grep -n '/crc32c_generic.ko$' <<<"$list" | cut -d: -f1)
e=$(grep -n '/ext4.ko$' <<<"$list" | cut -d: -f1)
[ -n "$c" ] && [ "$c" -lt "$e" ] || fail "crc32c_generic (ext4's soft dependency) not before ext4: $list"
echo "KERNEL=$(basename "$deb"): $(wc -l <<<"$list") modules for $kver"
again=$(KERNEL=$deb images) || fail "second make images KERNEL=.deb failed"
expect_eq "KERNEL=.deb, second run: same images" "$again" "$env_deb"

# 2. An unpacked tree with xz-compressed modules and no modules.dep (made once per module list,
# kept in the cache so that its key, from names, sizes and times, stays the same).
tree=$cache/test-trees/xz-$kver-$(sha256sum <<<"$list" | cut -c1-12)
if [ ! -d "$tree" ]; then
	rm -rf "$cache/test-trees/xz-$kver"* # trees of earlier module lists
	mkdir -p "$tree.tmp/boot" "$tree.tmp/lib/modules/$kver"
	cp "$kdir/boot/vmlinuz-$kver" "$kdir/boot/config-$kver" "$tree.tmp/boot/"
	cp "$kdir/lib/modules/$kver"/modules.{builtin,builtin.modinfo,order} "$tree.tmp/lib/modules/$kver/"
	for x in $list; do
		rel=$(grep -E "(^|/)$(basename "$x"):" "$kdir/lib/modules/$kver/modules.dep" | cut -d: -f1)
		mkdir -p "$tree.tmp/lib/modules/$kver/$(dirname "$rel")"
		xz --check=crc32 -c "$kdir/lib/modules/$kver/$rel" >"$tree.tmp/lib/modules/$kver/$rel.xz"
	done
	mv "$tree.tmp" "$tree"
fi
eval "$(KERNEL=$tree images)" || fail "make images KERNEL=$tree failed"
expect_eq "KERNEL=tree: kver" "$MINIVM_KVER" "$kver"
list=$(check_load_list "$MINIVM_INITRD" "${MINIVM_KERNEL%/boot/*}" "$kver") || exit 1
grep -q '\.xz$' <<<"$list" && fail "xz modules kept for a kernel without CONFIG_MODULE_DECOMPRESS: $list"
for x in $list; do
	expect_eq "$x decompressed" "$(head -c 4 "$TMP/x$x" | tail -c 3)" "ELF"
done
eval "$(KERNEL=$tree MODULES_COMPRESSED=keep images)" || fail "MODULES_COMPRESSED=keep failed"
list=$(initrd_file "$MINIVM_INITRD" lib/modules/load.list)
grep -q '/ext4\.ko\.xz$' <<<"$list" || fail "MODULES_COMPRESSED=keep: no ext4.ko.xz in $list"
xz_initrd=$MINIVM_INITRD xz_kernel=$MINIVM_KERNEL
echo "KERNEL=tree with .ko.xz: decompressed at build time, or kept"

# 3. Bad input: one line, nothing new in the cache.
state() { (cd "$cache" && find . -maxdepth 2 -not -path './criu*' -not -path './lab*' | LC_ALL=C sort); }
before=$(state)
printf 'not a package\n' >"$TMP/junk.deb"
mkdir -p "$TMP/pkg/DEBIAN" "$TMP/pkg/usr/share/doc/minivm-dummy"
printf 'Package: minivm-dummy\nVersion: 1.0\nArchitecture: all\nMaintainer: t <t@t>\nDescription: not a kernel\n' >"$TMP/pkg/DEBIAN/control"
echo hi >"$TMP/pkg/usr/share/doc/minivm-dummy/README"
dpkg-deb -b "$TMP/pkg" "$TMP/dummy.deb" >/dev/null || fail "dpkg-deb -b failed"
mkdir -p "$TMP/emptytree/boot"
for bad in "/nonexistent/linux-image.deb:no such file" "$TMP/junk.deb:not a .deb" \
	"$TMP/dummy.deb:not a kernel package" "$TMP/emptytree:no boot/vmlinuz"; do
	run_capture out rc env KERNEL="${bad%:*}" bash -c "cd '$ROOT' && scripts/images.sh build"
	[ "$rc" != 0 ] || fail "KERNEL=${bad%:*} succeeded"
	expect_contains "KERNEL=${bad%:*}: message" "$out" "${bad##*:}"
	expect_eq "KERNEL=${bad%:*}: lines of output ($out)" "$(wc -l <<<"$out")" 1
done
expect_eq "cache after bad KERNEL= values" "$(state)" "$before"
echo "bad KERNEL= values fail with one line and leave the cache alone"

# 4. minivm run warns when the initramfs's modules are for another kernel (a warning at load
# time: the VM does not need to boot, so this host's /dev/kvm is enough, whatever it is).
if [ -c /dev/kvm ]; then
	run_capture out rc timeout 3 "$BIN/minivm" run --kernel "$stock_kernel" --initrd "$deb_initrd" --mem 256M -- true
	expect_contains "mismatch warning" "$out" "holds modules for kernel $kver but the kernel \`$stock_kernel\` is $stock_kver"
	run_capture out rc timeout 3 "$BIN/minivm" run --kernel "$deb_kernel" --initrd "$deb_initrd" --mem 256M -- true
	[[ $out != *"holds modules for kernel"* ]] || fail "warning for a matching pair: $out"
	run_capture out rc timeout 3 "$BIN/minivm" run --kernel "$stock_kernel" --initrd "$stock_initrd" --mem 256M -- true
	[[ $out != *"holds modules for kernel"* ]] || fail "warning for the stock pair: $out"
	echo "minivm run warns on a kernel/modules mismatch only"
fi

# 5. The compressed modules load in the guest (this kernel can't decompress: guestinit falls
# back to busybox unxz), ext4 among them: the root disk mounts.
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 missing"
[ -f "$rootfs_img" ] || skip "no rootfs image (make images)"
# shellcheck disable=SC2016 # expanded by the guest's shell
out=$(timeout 300 qemu-system-x86_64 -accel tcg -M q35 -cpu max -m 512 -nodefaults \
	-no-user-config -serial stdio -display none -no-reboot -kernel "$xz_kernel" \
	-initrd "$xz_initrd" -drive file="$rootfs_img",if=virtio,format=raw,snapshot=on \
	-append 'console=ttyS0 panic=-1 quiet minivm.root=/dev/vda -- /bin/sh -c "echo ROOT-$(uname -r)-$(stat -f -c %T /)-$(grep -c ^ext4 /proc/modules)"' 2>&1)
expect_contains "compressed modules, switch_root (console: $(tail -n 20 <<<"$out"))" "$out" "ROOT-$kver-ext2/ext3-1"
[[ $out != *"guestinit: finit_module"* && $out != *"can't decompress"* ]] ||
	fail "module errors: $(grep guestinit <<<"$out")"
echo "xz modules load in the guest; ext4 root mounted with $kver"
