# Shared by tests/lab/vmm_migrate_devices.sh and vmm_snapshot_devices.sh (sourced; not a test:
# run-tests.sh runs tests/lab/*.sh only): a guest that reads tests/tools/udp_echo from its disk
# and serves UDP on GUEST:9000, and writes one numbered 512-byte block ("blk N", zero-padded)
# with O_DIRECT every 0.2 s from sector DATA, printing W:N, until the host writes STOP into
# sector CTL of the image; then DONE:N:END and GSHA (the sha256 of its blocks) on stdout, and
# exits 7 (devices_writer: that part alone). Shared by tests/lab/vmm_migrate_storage.sh too.
# Below them, the two tests' common set-up (devices_setup, devices_run, devices_boot,
# devices_observe, devices_probe) and what a failed one prints (devices_diag).
# Needs TMP, TOOLS, PY, GUEST set (devices_setup sets TMP); wait_for is tests/lib.sh's.
# Debugging: DEVICES_CMDLINE replaces the guest kernel's command line (e.g. loglevel=8),
# DEVICES_KEEP=DIR keeps the VMs' stdout, stderr and console logs there.

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
echo "GSHA:$(dd if=/dev/vda bs=512 skip='$DATA' count=$i iflag=direct 2>/dev/null | sha256sum | cut -d" " -f1):END"
exit 7'
}
# devices_stop FILE: tell the guest to stop writing
devices_stop() { printf 'STOP' | dd of="$1" bs=512 seek=$CTL conv=notrunc,sync status=none; }
# devices_end IMG OUT ERR PID WHAT: STOP the guest writing IMG, wait for its GSHA line in OUT,
# then for minivm PID, whose exit must be the guest command's status, 7 (reported by the restored
# or migrated guest's init: docs/snapshot.md); WHAT names the VM
devices_end() {
	local rc
	devices_stop "$1"
	wait_for "the guest's end ($(tail -n 3 "$2"))" 120 has_field GSHA "$2"
	wait "$4"
	rc=$?
	expect_eq "$5's exit (the guest command's status; $(tail -n 3 "$3"))" "$rc" 7
}
# field NAME FILE: the value the guest printed as NAME:<value>:END
field() { tr -d '\r' <"$2" | grep -ao "$1:[^:]*:END" | head -n 1 | sed "s/^$1:\(.*\):END$/\1/"; }
# lastw FILE: the last W:N's N
lastw() { tr -d '\r' <"$1" | grep -ao '^W:[0-9]*' | tail -n 1 | cut -d: -f2; }
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

# ---- the tests' common set-up (vmm_migrate_devices.sh, vmm_snapshot_devices.sh) ----

# devices_setup NS...: skip unless a stock kernel boots here, we are root and have /dev/net/tun
# and the tools; then TMP, pids (killed at exit) and vms (described when the test fails), the
# network namespaces NS... with lo up (deleted at exit), IMG (devices_image) and script
# (devices_script). Needs GUEST.
devices_setup() {
	need_stock_kernel_kvm
	[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, taps)"
	[ -c /dev/net/tun ] || modprobe tun 2>/dev/null
	[ -c /dev/net/tun ] || skip "no /dev/net/tun"
	local t n
	for t in udp_echo udp_observer; do
		[ -x "$TOOLS/$t" ] || fail "no $TOOLS/$t (make test-bins)"
	done
	TMP=$(mktemp -d)
	pids=() vms=() devices_ns=("$@")
	trap devices_cleanup EXIT
	for n in "$@"; do
		ip netns add "$n" || skip "cannot make a network namespace"
		ip -n "$n" link set lo up
	done
	IMG=$TMP/disk.img
	devices_image "$IMG"
	script=$(devices_script)
}
# The exit trap: a failed test first describes its VMs (devices_diag), then the processes in
# pids are killed, the namespaces deleted and TMP removed.
devices_cleanup() {
	local rc=$? p n
	[ "$rc" = 0 ] || [ "$rc" = 77 ] || devices_diag >&2
	# DEVICES_KEEP=DIR: the VMs' stdout, stderr and console logs are kept there
	[ -z "${DEVICES_KEEP:-}" ] || { mkdir -p "$DEVICES_KEEP" &&
		cp "$TMP"/*.out "$TMP"/*.err "$TMP"/*.con "$DEVICES_KEEP"/ 2>/dev/null; }
	for p in "${pids[@]}"; do
		kill -KILL "$p" 2>/dev/null
	done
	wait 2>/dev/null
	for n in "${devices_ns[@]}"; do
		ip netns del "$n" 2>/dev/null
	done
	rm -rf "$TMP"
}
# devices_run NS NAME ARGS...: `minivm run ARGS` in namespace NS, its control socket, console
# log, stdout and stderr TMP/NAME.{sock,con,out,err}; its pid in $pid, in pids and in vms
devices_run() {
	local ns=$1 name=$2
	shift 2
	ip netns exec "$ns" "$BIN/minivm" run --api "$TMP/$name.sock" --console-log "$TMP/$name.con" \
		"$@" </dev/null >"$TMP/$name.out" 2>"$TMP/$name.err" &
	pid=$!
	pids+=("$pid")
	vms+=("$name:$pid")
}
# devices_boot NS NAME NET: the guest booted with the disk IMG and the card --net NET (its MAC
# given as mac=) in namespace NS (devices_run); returns once its eth0 is up with that MAC and it
# writes its disk
devices_boot() {
	local mac
	mac=$(echo "$3" | grep -o 'mac=[0-9a-f:]*' | cut -d= -f2 | tr : -)
	devices_run "$1" "$2" --kernel "$MINIVM_KERNEL" --initrd "$MINIVM_INITRD" --mem 256M \
		${DEVICES_CMDLINE:+--cmdline "$DEVICES_CMDLINE"} --disk "$IMG" --net "$3" \
		-- /bin/sh -c "$script"
	wait_for "the guest's eth0 ($(tail -n 5 "$TMP/$2.err"))" 300 has_field UP "$TMP/$2.out"
	expect_eq "the guest's MAC" "$(field UP "$TMP/$2.out")" "$mac"
	wait_for "the guest writes its disk" 60 grew "$TMP/$2.out" 3
}
# devices_observe NS NAME: an observer in NS probing the guest every 1 ms for up to 600 s in
# the background (TMP/NAME, TMP/NAME.err; its pid in $obs and pids); returns at its first reply
# (up to 120 s: ARP, a slow lab)
devices_observe() {
	ip netns exec "$1" "$TOOLS/udp_observer" "$GUEST" 9000 600 >"$TMP/$2" 2>"$TMP/$2.err" &
	obs=$!
	pids+=("$obs")
	wait_for "a UDP reply ($2: $(cat "$TMP/$2.err"))" 120 grep -q "first reply" "$TMP/$2.err"
}
# devices_probe NS NAME SECS: an observer in NS for SECS seconds (TMP/NAME, TMP/NAME.err);
# prints how many probes the guest answered
devices_probe() {
	ip netns exec "$1" "$TOOLS/udp_observer" "$GUEST" 9000 "$3" >"$TMP/$2" 2>"$TMP/$2.err"
	grep -o '"replies":[0-9]*' "$TMP/$2" | cut -d: -f2
}
# devices_ticks PID: "TID (NAME) TICKS" per thread of PID (user + system time), sorted by TID
# (one awk: the lab spawns processes slowly under load; minivm's thread names have no spaces)
devices_ticks() {
	awk '{print $1, $2, $14 + $15}' /proc/"$1"/task/*/stat 2>/dev/null | sort
}
# devices_diag: what each VM in vms was doing, for a failed test (a guest that stopped making
# progress after a restore or a migration, docs/snapshot.md "When a restored guest stalls"):
# whether it runs, its last W:N and output, minivm's stderr and the guest kernel's console,
# and while it runs the control API's status, the CPU each of its threads used over a second
# (a spinning vCPU or device thread) and, with gdb, where its threads are.
devices_diag() {
	local v name p
	echo "==== the VMs at the failure ($(date +%T), load $(cut -d' ' -f1-3 /proc/loadavg))"
	for v in "${vms[@]}"; do
		name=${v%%:*} p=${v#*:}
		echo "== $name (pid $p): $(kill -0 "$p" 2>/dev/null && echo running || echo ended), last W:$(lastw "$TMP/$name.out" 2>/dev/null)"
		echo "-- its stdout (last 5 lines):"
		tail -n 5 "$TMP/$name.out" 2>/dev/null | tr -d '\r'
		echo "-- minivm's stderr (last 15 lines):"
		tail -n 15 "$TMP/$name.err" 2>/dev/null
		echo "-- the guest's console (last 40 lines):"
		tail -n 40 "$TMP/$name.con" 2>/dev/null | tr -d '\r'
		kill -0 "$p" 2>/dev/null || continue
		echo "-- status: $("$BIN/minivm" status --api "$TMP/$name.sock" 2>&1)"
		devices_ticks "$p" >"$TMP/ticks.a"
		sleep 1
		devices_ticks "$p" >"$TMP/ticks.b"
		# (files, not <(...): the lab has no /dev/fd)
		echo "-- CPU ticks per thread in 1 s (of $(getconf CLK_TCK)): $(join "$TMP/ticks.a" "$TMP/ticks.b" | awk '{printf "%s %d, ", $2, $5 - $3}')"
		if command -v gdb >/dev/null; then
			echo "-- its threads:"
			timeout 60 gdb -p "$p" -batch -ex "thread apply all bt 10" 2>&1 |
				grep -E '^(Thread|#)' | head -n 120
		fi
	done
}
