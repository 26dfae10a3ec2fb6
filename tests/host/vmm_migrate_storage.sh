#!/usr/bin/env bash
# Copy-storage live migration on the host (docs/migration.md, "Copy-storage"), with the tiny
# counting guest: its kernel never drives the disk, but the image still has to arrive.
# - a source with a 64 MiB image holding data (random and patterned extents, an all-zero
#   written extent, the last sector) and holes, to a destination with a fresh sparse image
#   full of other data where the source has holes: the destination's image has the source's
#   checksum, the count goes on there, and the zeros and holes cost no data bytes; then on
#   from there with --postcopy=now (the disk complete at the switch-over): checksum equal;
# - a destination whose image has another size, or whose image is missing, is refused naming
#   the image, and the source goes on counting; a destination that cannot write its image
#   (read-only file) is refused before memory moves;
# - hostile DISK frames (vmm_migrate_stream.py disk-*): outside the image, not whole sectors,
#   a wrong data length, an unknown disk or kind, no copy-storage announced: refused with a
#   clear error, nothing written outside the image (its size unchanged).
. "$ROOT/tests/lib.sh"
. "$ROOT/tests/guests/lib.sh"
. "$ROOT/tests/guests/migrate_lib.sh"

IMG=$TMP/src.img
truncate -s 64M "$IMG"
head -c 3M /dev/urandom | dd of="$IMG" bs=1M seek=1 conv=notrunc status=none
yes minivm-copy-storage | head -c 5M | dd of="$IMG" bs=1M seek=20 conv=notrunc status=none
dd if=/dev/zero of="$IMG" bs=1M seek=40 count=2 conv=notrunc status=none # written zeros
printf 'last sector' | dd of="$IMG" bs=512 seek=$((64 * 2048 - 1)) conv=notrunc status=none
head -c 7000 /dev/urandom | dd of="$IMG" bs=1 seek=$((50 << 20)) conv=notrunc status=none
sum_src=$(sha256sum <"$IMG")

src s count --disk "$IMG"
wait_until "counting" counting "$TMP/s.out"

# refused NAME NEEDLE [options]: a destination with these options is refused naming NEEDLE
refused() {
	local n=$1 needle=$2
	shift 2
	dst "$n" "$@"
	run_capture out rc api migrate "$TMP/s.sock" --copy-storage "tcp:127.0.0.1:$dport"
	expect_eq "$n: migrate fails ($out; $(cat "$TMP/$n.err"))" "$rc" 1
	expect_contains "$n: the source's report names it" "$out" "$needle"
	wait "$dpid"
	local drc=$?
	expect_eq "$n: destination exit" "$drc" 125
	expect_contains "$n: the destination names it" "$(cat "$TMP/$n.err")" "$needle"
	[ ! -e "$TMP/$n.sock" ] || fail "$n: API socket left"
	goes_on s
}

truncate -s 32M "$TMP/small.img"
refused d1 "the image \`$TMP/small.img\` (virtio-blk0) is 33554432 bytes, the source's is 67108864" \
	--disk "$TMP/small.img"
expect_eq "the wrong-size image is untouched" "$(stat -c %s:%b "$TMP/small.img")" "33554432:0"
if [ "$(id -u)" != 0 ]; then
	truncate -s 64M "$TMP/ro.img"
	chmod 444 "$TMP/ro.img"
	refused d2 "open \`$TMP/ro.img\` (virtio-blk0) for writing" --disk "$TMP/ro.img,ro"
fi
# a missing image: the destination refuses at its start, naming it; a migration to it fails
run_capture out rc "$MINIVM" run --incoming tcp:127.0.0.1:0 --disk "$TMP/missing.img"
expect_eq "missing image: destination exit ($out)" "$rc" 125
expect_contains "missing image: named" "$out" "$TMP/missing.img"
[ ! -e "$TMP/missing.img" ] || fail "the missing image was created"
goes_on s

# the destination's image: the right size, other data where the source has holes and zeros
DIMG=$TMP/dst.img
truncate -s 64M "$DIMG"
head -c 2M /dev/urandom | dd of="$DIMG" bs=1M seek=10 conv=notrunc status=none
head -c 1M /dev/urandom | dd of="$DIMG" bs=1M seek=40 conv=notrunc status=none
dst d --disk "$DIMG"
run_capture out rc api migrate "$TMP/s.sock" --copy-storage "tcp:127.0.0.1:$dport"
expect_eq "copy-storage migration ($out; $(cat "$TMP/d.err"))" "$rc" 0
wait "$spid"
expect_eq "source exit after migrating" "$?" 0
expect_eq "copy_storage in the report" "$(field copy_storage "$out")" true
expect_eq "disks" "$(field disks "$out")" 1
db=$(field disk_bytes "$out")
# data: 3 MiB + 5 MiB + 64 KiB blocks around 7000 bytes at 50 MiB + the last block
[ "$db" -ge $((8 << 20)) ] && [ "$db" -le $((9 << 20)) ] ||
	fail "disk_bytes $db: want the ~8.2 MiB of data only (holes and zeros as markers)"
dz=$(field disk_zero_bytes "$out")
expect_eq "the rest as zero markers (data $db, zeros $dz)" $((db + dz)) $((64 << 20))
bs=$(field bytes_sent "$out")
[ "$bs" -ge "$db" ] || fail "bytes_sent $bs < disk_bytes $db"
wait_until "the destination counts" counting "$TMP/d.out"
goes_on d
count_goes_on "s -> d" "$TMP/s.out" "$TMP/d.out"
expect_eq "the destination's image has the source's checksum" "$(sha256sum <"$DIMG")" "$sum_src"
expect_eq "the destination's image keeps its size" "$(stat -c %s "$DIMG")" 67108864
# the source's holes stay holes there (punched), so the copy is sparse too
alloc=$(($(stat -c %b "$DIMG") * 512))
[ "$alloc" -le $((12 << 20)) ] || fail "destination image allocates $alloc bytes"
echo "copy-storage: 64 MiB image, $db bytes of data, $dz as zeros, checksum equal, $alloc bytes allocated at the destination"

# on with post-copy (the disk is complete at the switch-over): d -> e, --postcopy=now
d_pid=$dpid
EIMG=$TMP/e.img
truncate -s 64M "$EIMG"
dst e --disk "$EIMG"
run_capture out rc api migrate "$TMP/d.sock" --copy-storage --postcopy=now "tcp:127.0.0.1:$dport"
expect_eq "copy-storage with post-copy ($out; $(cat "$TMP/e.err"))" "$rc" 0
expect_eq "post-copy in the report" "$(field postcopy "$out")" now
wait "$d_pid"
expect_eq "d's exit after migrating" "$?" 0
goes_on e
count_goes_on "d -> e" "$TMP/d.out" "$TMP/e.out"
expect_eq "e's image has the source's checksum" "$(sha256sum <"$EIMG")" "$sum_src"
stop_vm e "$dpid"
echo "copy-storage with --postcopy=now: checksum equal, the count goes on"

# hostile streams
for c in disk-outside disk-wrap disk-sector disk-length disk-big disk-index disk-kind \
	disk-zerodata disk-unannounced disk-many; do
	truncate -s 0 "$TMP/h.img"
	truncate -s 4M "$TMP/h.img"
	dst "h-$c" --disk "$TMP/h.img"
	python3 "$ROOT/tests/host/vmm_migrate_stream.py" "$c" "$dport"
	wait "$dpid"
	hrc=$?
	expect_eq "$c: exit ($(cat "$TMP/h-$c.err"))" "$hrc" 125
	expect_eq "$c: one error line" "$(grep -vc 'waiting for an incoming' "$TMP/h-$c.err")" 1
	expect_eq "$c: the image's size" "$(stat -c %s "$TMP/h.img")" 4194304
	case $c in
	disk-outside | disk-wrap) want="outside the image" ;;
	disk-sector) want="not whole sectors" ;;
	disk-length | disk-big) want="bytes of data for" ;;
	disk-index) want="disk 1, but 1 disk image was announced" ;;
	disk-kind) want="unknown kind 9" ;;
	disk-zerodata) want="zeros with 512 bytes of data" ;;
	disk-unannounced) want="the set-up announced no copy-storage" ;;
	disk-many) want="set-up: 99 disk images (at most 16)" ;;
	esac
	expect_contains "$c: the error" "$(cat "$TMP/h-$c.err")" "$want"
done
echo "hostile DISK frames refused, nothing written outside the image"
