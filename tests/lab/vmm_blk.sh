#!/usr/bin/env bash
# virtio-blk against the stock kernel (docs/virtio.md, "virtio-blk: a request's path"):
#  1. host -> guest: the host writes random bytes into the image, the guest reads them with
#     O_DIRECT and prints their sha256;
#  2. guest -> host: the guest writes a known pattern with O_DIRECT (busybox dd oflag=direct)
#     and conv=fsync (a FLUSH), the host checks the image's bytes;
#  3. a read-only second disk: the guest sees it read-only and a write to it fails; the
#     image is unchanged;
#  4. the flushed data survives a restart: a second VM reads it back;
#  5. both engines (io_uring and the thread pool), each with a `direct` disk and a buffered one.
# The console mixes kernel messages in, so the guest prints each result as NAME:value:END.
. "$ROOT/tests/lib.sh"
need_stock_kernel_kvm
TMP=$(mktemp -d)
mnt=
cleanup() {
	if [ -n "$mnt" ]; then
		umount "$mnt"
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT
# `direct` needs O_DIRECT on the images' file system: the lab's /tmp is a tmpfs (no O_DIRECT
# before Linux 6.6), so the images then live on an ext4 on a loop device of our own.
if ! dd if=/dev/zero of="$TMP/probe" bs=4096 count=1 oflag=direct status=none 2>/dev/null; then
	modprobe loop 2>/dev/null # the lab loads what it needs
	truncate -s 256M "$TMP/fs.img"
	mkfs.ext4 -q -F "$TMP/fs.img" || fail "mkfs.ext4 for the images"
	mkdir "$TMP/fs"
	mount -o loop "$TMP/fs.img" "$TMP/fs" || fail "loop-mount the images' file system"
	mnt=$TMP/fs
fi
rm -f "$TMP/probe"
IMG=${mnt:-$TMP}
field() { tr -d '\r' <"$2" | grep -ao "$1:[^:]*:END" | head -n 1 | sed "s/^$1:\(.*\):END$/\1/"; }
vm() { # NAME MINIVM-ARGS... -- CMD: console to $TMP/NAME.out
	local name=$1
	shift
	timeout 300 "$BIN/minivm" run --kernel "$MINIVM_KERNEL" --initrd "$MINIVM_INITRD" "$@" \
		</dev/null >"$TMP/$name.out" 2>"$TMP/$name.err"
}
check_vm() { # NAME RC
	expect_eq "$1: exit status ($(tail -n 5 "$TMP/$1.out"); $(cat "$TMP/$1.err"))" "$2" 0
}
pattern() { yes minivm-blk-pattern-0123456789 | head -c $((4 << 20)); }
want_pattern=$(pattern | sha256sum | cut -d' ' -f1)

# The guest's helpers: wait for a disk, sha256 of COUNT 64 KiB blocks from block SKIP.
# shellcheck disable=SC2016 # expanded by the guest's shell
lib='wait_disk() { i=0; while [ ! -b "$1" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; }
sha() { dd if="$1" bs=65536 skip="$2" count="$3" iflag=direct 2>/dev/null | sha256sum | cut -d" " -f1; }
wait_disk /dev/vda; wait_disk /dev/vdb; wait_disk /dev/vdc'

# One VM per engine (each boot costs tens of seconds under the lab's TCG): vda with `direct`,
# vdc buffered, vdb read-only; then one more VM reads back what the first one flushed.
head -c $((4 << 20)) /dev/urandom >"$TMP/host.bin"
want_host=$(sha256sum <"$TMP/host.bin" | cut -d' ' -f1)
for engine in uring threads; do
	tag=$engine
	for d in a c; do
		rm -f "$IMG/$d.img"
		truncate -s 64M "$IMG/$d.img"
		dd if="$TMP/host.bin" of="$IMG/$d.img" bs=1M seek=1 conv=notrunc status=none
	done
	yes ro-disk | head -c $((8 << 20)) >"$IMG/b.img"
	b_before=$(sha256sum <"$IMG/b.img")

	# shellcheck disable=SC2016
	script="$lib"'
printf "SIZE:%s:END\n" "$(cat /sys/block/vda/size)"
printf "RO:%s %s %s:END\n" "$(cat /sys/block/vda/ro)" "$(cat /sys/block/vdb/ro)" "$(cat /sys/block/vdc/ro)"
printf "SERIAL:%s:END\n" "$(cat /sys/block/vda/serial)"
for d in vda vdc; do
	printf "READ_$d:%s:END\n" "$(sha /dev/$d 16 64)"
	yes minivm-blk-pattern-0123456789 | head -c 4194304 |
		dd of=/dev/$d bs=65536 seek=128 iflag=fullblock oflag=direct conv=fsync 2>/dev/null
	printf "WRITE_$d:%s:END\n" "$?"
	printf "WRITTEN_$d:%s:END\n" "$(sha /dev/$d 128 64)"
done
dd if=/dev/zero of=/dev/vdb bs=4096 count=1 oflag=direct conv=fsync 2>/dev/null
printf "ROWRITE:%s:END\n" "$?"
printf "ROREAD:%s:END\n" "$(dd if=/dev/vdb bs=4096 count=1 iflag=direct 2>/dev/null | head -c 8)"'
	vm "$tag-1" --disk "$IMG/a.img,engine=$engine,direct" \
		--disk "$IMG/b.img,ro,engine=$engine" --disk "$IMG/c.img,engine=$engine" \
		-- /bin/sh -c "$script"
	check_vm "$tag-1" $?
	out=$TMP/$tag-1.out
	expect_eq "$tag: capacity (sectors)" "$(field SIZE "$out")" $((64 << 11))
	expect_eq "$tag: read-only flags of vda, vdb, vdc" "$(field RO "$out")" "0 1 0"
	serial=$(field SERIAL "$out")
	[ ${#serial} -eq 20 ] && [ "${serial#mv}" != "$serial" ] ||
		fail "$tag: serial '$serial' (want 20 characters starting with mv)"
	for d in a c; do
		dtag="$tag, vd$d ($([ $d = a ] && echo direct || echo buffered))"
		expect_eq "$dtag: host -> guest bytes" "$(field READ_vd$d "$out")" "$want_host"
		expect_eq "$dtag: guest write status" "$(field WRITE_vd$d "$out")" 0
		expect_eq "$dtag: guest reads its write back" "$(field WRITTEN_vd$d "$out")" \
			"$want_pattern"
		got=$(dd if="$IMG/$d.img" bs=1M skip=8 count=4 status=none | sha256sum | cut -d' ' -f1)
		expect_eq "$dtag: guest -> host bytes in the image" "$got" "$want_pattern"
		got=$(dd if="$IMG/$d.img" bs=1M skip=1 count=4 status=none | sha256sum | cut -d' ' -f1)
		expect_eq "$dtag: the host's bytes untouched" "$got" "$want_host"
	done
	[ "$(field ROWRITE "$out")" != 0 ] || fail "$tag: a write to the read-only disk succeeded"
	expect_eq "$tag: read-only disk readable" "$(field ROREAD "$out")" "ro-disk"
	expect_eq "$tag: read-only image unchanged" "$(sha256sum <"$IMG/b.img")" "$b_before"
	echo "$tag: ok"
done

# A new VM sees what the last one flushed (the thread pool's images).
# shellcheck disable=SC2016
vm again --disk "$IMG/a.img,direct" -- /bin/sh -c \
	'i=0; while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
printf "AGAIN:%s:END\n" "$(dd if=/dev/vda bs=65536 skip=128 count=64 iflag=direct 2>/dev/null | sha256sum | cut -d" " -f1)"'
check_vm again $?
expect_eq "after a restart" "$(field AGAIN "$TMP/again.out")" "$want_pattern"
echo "ok"
