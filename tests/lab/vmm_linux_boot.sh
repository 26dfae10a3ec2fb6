#!/usr/bin/env bash
# minivm boots Debian's stock cloud kernel to guestinit with both boot protocols: the guest
# command's exit status becomes minivm's, the console works both ways, and the guest sees the
# vCPUs and memory it was given: bzImage with 1 vCPU, PVH with 2 (bzImage with 2 vCPUs:
# tests/lab/vmm_linux_timer.sh). Needs hardware-virtualization KVM (the lab, here).
. "$ROOT/tests/lib.sh"
need_stock_kernel_kvm
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# boot NAME KERNEL CPUS MEM INPUT -- CMD...: console to $TMP/NAME.out, timings to NAME.json.
# INPUT is typed once the guest printed SEEN, as a person would: a UART drops what arrives
# while the driver resets it (Linux reads and discards RBR when it opens the port).
boot() {
	local name=$1 kernel=$2 cpus=$3 mem=$4 input=$5
	shift 6
	mkfifo "$TMP/$name.in"
	(
		exec 3>"$TMP/$name.in"
		for _ in $(seq 600); do
			grep -q SEEN "$TMP/$name.out" 2>/dev/null && break
			sleep 0.5
		done
		printf '%s\n' "$input" >&3
	) &
	timeout 300 "$BIN/minivm" run --kernel "$kernel" --initrd "$MINIVM_INITRD" --cpus "$cpus" \
		--mem "$mem" --timings json -- "$@" <"$TMP/$name.in" >"$TMP/$name.out" 2>"$TMP/$name.json"
	local rc=$?
	wait
	return $rc
}
# The guest prints what it sees, reads one console line, echoes it with 1000 more characters
# and exits at once with a chosen status: everything it wrote must still reach the host.
probe='echo SEEN cpus=$(nproc) memkb=$(awk '"'"'/MemTotal/ {print $2}'"'"' /proc/meminfo); read l; echo GOT:$l; printf %01000d:END 7; exit $0'
tail_mark=$(printf %01000d:END 7)

check() { # NAME KERNEL CPUS MEM STATUS
	local name=$1 kernel=$2 cpus=$3 mem=$4 status=$5
	boot "$name" "$kernel" "$cpus" "${mem}M" "line-from-host-$name" -- /bin/sh -c "$probe" "$status"
	local rc=$? out
	out=$(tr -d '\r' <"$TMP/$name.out")
	expect_eq "$name: exit status (console: $(tail -n 5 "$TMP/$name.out"); stderr: $(cat "$TMP/$name.json"))" "$rc" "$status"
	expect_contains "$name: vCPUs seen" "$out" "SEEN cpus=$cpus "
	local kb
	kb=$(sed -n 's/.*SEEN cpus=[0-9]* memkb=\([0-9]*\).*/\1/p' <<<"$out")
	[ -n "$kb" ] || fail "$name: no MemTotal in: $out"
	# MemTotal is RAM minus what the kernel keeps for itself: between 70% and 100% of --mem.
	[ "$kb" -le $((mem * 1024)) ] && [ "$kb" -ge $((mem * 1024 * 7 / 10)) ] ||
		fail "$name: guest sees $kb KiB of --mem ${mem}M"
	expect_contains "$name: console input" "$out" "GOT:line-from-host-$name"
	expect_contains "$name: the command's last output before poweroff" "$out" "$tail_mark"
	# the timings line (the last of stderr): every milestone a number, in order; the end and the
	# status. awk, not python: python's start-up alone takes many seconds in the lab.
	local t init
	t=$(tail -n 1 "$TMP/$name.json")
	init=$(awk -v want="$status" '
		{ n = split("start setup entry init ready exit gone", m, " "); prev = -1
		  for (i = 1; i <= n; i++) {
			if (!match($0, "\"" m[i] "\":[0-9]+(\\.[0-9]+)?[,}]")) { print "no number for " m[i]; exit 1 }
			v = substr($0, RSTART + length(m[i]) + 3, RLENGTH - length(m[i]) - 4) + 0
			if (v < prev) { print m[i] " before the milestone ahead of it"; exit 1 }
			prev = v; if (m[i] == "init") init = v }
		  if (index($0, "\"end\":\"poweroff\"") == 0) { print "end is not poweroff"; exit 1 }
		  if (!match($0, "\"status\":[0-9]+[,}]") || substr($0, RSTART + 9, RLENGTH - 10) != want) {
			print "status is not " want; exit 1 }
		  print init }' <<<"$t") || fail "$name: timings: $init: $t"
	echo "$name: ok (cpus $cpus, ${kb} KiB of ${mem}M, to init $init ms)"
}

check bzimage-1cpu "$MINIVM_KERNEL" 1 256 7
check pvh-2cpu "$MINIVM_VMLINUX" 2 384 3
