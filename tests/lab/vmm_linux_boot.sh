#!/usr/bin/env bash
# minivm boots Debian's stock cloud kernel to guestinit with both boot protocols: the guest
# command's exit status becomes minivm's, the console works both ways, and the guest sees the
# vCPUs and memory it was given. Needs hardware-virtualization KVM (the lab, here).
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
	python3 - "$TMP/$name.json" "$status" <<'PY' || fail "$name: timings: $(cat "$TMP/$name.json")"
import json, sys
t = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
names = ["start", "setup", "entry", "init", "ready", "exit", "gone"]
vals = [t[n] for n in names]
assert all(isinstance(v, (int, float)) for v in vals), vals
assert vals == sorted(vals), vals
assert t["end"] == "poweroff" and t["status"] == int(sys.argv[2]), t
PY
	echo "$name: ok (cpus $cpus, ${kb} KiB of ${mem}M, to init $(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])["init"])' "$TMP/$name.json") ms)"
}

check bzimage-1cpu "$MINIVM_KERNEL" 1 256 7
check pvh-2cpu "$MINIVM_VMLINUX" 2 384 3
check bzimage-2cpu "$MINIVM_KERNEL" 2 256 0
