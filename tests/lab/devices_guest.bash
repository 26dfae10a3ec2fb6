# Shared by tests/lab/vmm_migrate_devices.sh and vmm_snapshot_devices.sh (sourced; not a test:
# run-tests.sh runs tests/lab/*.sh only): a guest that reads tests/tools/udp_echo from its disk
# and serves UDP on GUEST:9000, and writes one numbered 512-byte block ("blk N", zero-padded)
# with O_DIRECT every 0.2 s from sector DATA, printing W:N, until the host writes STOP into
# sector CTL of the image; then DONE:N:END and GSHA (the sha256 of its blocks) on stdout
# (devices_writer: that part alone). Shared by tests/lab/vmm_migrate_storage.sh too.
# Needs TMP, TOOLS, PY, GUEST set.

CTL=8192 DATA=16384
# devices_image FILE: the 64 MiB image with udp_echo at its start
devices_image() {
	truncate -s 64M "$1"
	dd if="$TOOLS/udp_echo" of="$1" conv=notrunc status=none
}
# devices_script: the guest command's shell script
devices_script() {
	local size
	size=$(stat -c %s "$TOOLS/udp_echo")
	# shellcheck disable=SC2016 # expanded by the guest's shell
	echo 'ip link set eth0 up && ip addr add '"$GUEST"'/24 dev eth0
dd if=/dev/vda of=/tmp/ue bs=4096 count='$(((size + 4095) / 4096))' 2>/dev/null
head -c '"$size"' /tmp/ue >/tmp/udp_echo && chmod +x /tmp/udp_echo
/tmp/udp_echo 9000 /tmp/ue.state 100000 &
echo "UP:$(tr : - </sys/class/net/eth0/address):END"
'"$(devices_writer 0.2)"
}
# devices_writer SECS: the part of the guest's script that writes the numbered blocks, one
# every SECS seconds, until STOP; then DONE and GSHA (tests/lab/vmm_migrate_storage.sh runs it
# alone)
devices_writer() {
	# shellcheck disable=SC2016 # expanded by the guest's shell
	echo 'i=0
while :; do
	echo "blk $i" | dd of=/dev/vda bs=512 count=1 seek=$(('$DATA'+i)) conv=sync,notrunc oflag=direct 2>/dev/null || echo "WERR:$i:END"
	echo "W:$i"
	i=$((i+1))
	dd if=/dev/vda bs=512 skip='$CTL' count=1 iflag=direct 2>/dev/null | grep -q STOP && break
	sleep '"$1"'
done
echo "DONE:$i:END"
echo "GSHA:$(dd if=/dev/vda bs=512 skip='$DATA' count=$i iflag=direct 2>/dev/null | sha256sum | cut -d" " -f1):END"'
}
# devices_stop FILE: tell the guest to stop writing
devices_stop() { printf 'STOP' | dd of="$1" bs=512 seek=$CTL conv=notrunc,sync status=none; }
# field NAME FILE: the value the guest printed as NAME:<value>:END
field() { tr -d '\r' <"$2" | grep -ao "$1:[^:]*:END" | head -n 1 | sed "s/^$1:\(.*\):END$/\1/"; }
# lastw FILE: the last W:N's N
lastw() { tr -d '\r' <"$1" | grep -ao '^W:[0-9]*' | tail -n 1 | cut -d: -f2; }
# wait_for DESC SECS CMD...: poll CMD every 0.2 s
wait_for() {
	local desc=$1 secs=$2 n=$(($2 * 5))
	shift 2
	while [ "$n" -gt 0 ]; do
		"$@" && return 0
		sleep 0.2
		n=$((n - 1))
	done
	fail "timed out ($secs s) waiting for: $desc"
}
grew() { [ "$(lastw "$1")" -ge "$2" ] 2>/dev/null; }
has_field() { [ -n "$(field "$1" "$2")" ]; }
# devices_check IMG OUT...: every W:N exactly once across the guest's outputs, the image's blocks
# and the guest's own checksum (in the last OUT) are what it wrote; sets done_n
devices_check() {
	local img=$1 last=${*: -1} want got
	shift
	done_n=$(field DONE "$last")
	[ -n "$done_n" ] || fail "the guest did not finish ($(tail -n 3 "$last"))"
	for f in "$@"; do
		[ -z "$(field WERR "$f")" ] || fail "a disk write failed in the guest ($f)"
	done
	cat "$@" | tr -d '\r' | grep -ao '^W:[0-9]*' | cut -d: -f2 >"$TMP/w.all"
	expect_eq "W:0..W:$((done_n - 1)) each once across the outputs" \
		"$(sort -n "$TMP/w.all" | uniq | wc -l) $(wc -l <"$TMP/w.all")" "$done_n $done_n"
	expect_eq "the output lines in order" "$(sort -n -c "$TMP/w.all" 2>&1)" ""
	want=$("$PY" -c 'import sys,hashlib
h=hashlib.sha256()
for i in range(int(sys.argv[1])):
    b=("blk %d\n" % i).encode(); h.update(b+bytes(512-len(b)))
print(h.hexdigest())' "$done_n")
	got=$(dd if="$img" bs=512 skip=$DATA count="$done_n" status=none | sha256sum | cut -d' ' -f1)
	expect_eq "the image holds every block the guest wrote" "$got" "$want"
	expect_eq "the guest's own checksum of its blocks" "$(field GSHA "$last")" "$want"
}
