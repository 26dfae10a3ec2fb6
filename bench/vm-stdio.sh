#!/usr/bin/env bash
# Streaming through the guest command's stdio (issue 12): SIZE bytes (default 256 MiB) of
# random data from a file on stdin, through `head -c SIZE` in the guest, to a file on stdout,
# checksum compared, on Debian's stock kernel and our initramfs:
#   minivm   minivm run -- head -c SIZE  (virtio-console ports minivm.stdin/stdout/stderr)
#   QEMU     -M pc -enable-kvm, virtio-serial-pci with three virtserialports of the same names
#            (guestinit opens them the same way): stdin a `pipe` chardev (a FIFO `cat` feeds;
#            QEMU 7.2's `file` chardev has no input-path), stdout and stderr `file` chardevs
# `head -c` rather than `cat` because QEMU's file chardev never tells the guest its input
# ended. The guest times the copy itself (/proc/uptime around it, so boot is left out); the
# whole run's wall time is shown too. Prints min/median/max of each, MiB/s of the copy.
# Run it where a stock kernel boots (the lab):
#   build/bin/minilab run -- env $(make -s images-env | tr '\n' ' ') bench/vm-stdio.sh
# env: RUNS (default 5), SIZE (bytes, default 268435456), BIN (default build/bin)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
RUNS=${RUNS:-5} SIZE=${SIZE:-268435456} BIN=${BIN:-$ROOT/build/bin}
[ -n "${MINIVM_KERNEL:-}" ] || eval "$(scripts/images.sh env)"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
head -c "$SIZE" /dev/urandom >"$TMP/in"
want=$(sha256sum <"$TMP/in" | cut -d' ' -f1)
# the guest prints "T <uptime before> <uptime after>" on stderr (no quotes: QEMU passes the
# command on the kernel command line)
# shellcheck disable=SC2016 # expanded by the guest's shell
gcmd='read a x </proc/uptime; head -c '"$SIZE"'; read b x </proc/uptime; echo T $a $b >&2'
APPEND="console=ttyS0 quiet panic=-1 no_timer_check"

one() { # WHO RUN: appends "WHO copy_s wall_s" to $TMP/results
	local who=$1 run=$2 s e t
	rm -f "$TMP/out" "$TMP/err"
	s=$(date +%s.%N)
	case $who in
	minivm)
		"$BIN/minivm" run --kernel "$MINIVM_KERNEL" --initrd "$MINIVM_INITRD" --mem 512M \
			-- /bin/sh -c "$gcmd" <"$TMP/in" >"$TMP/out" 2>"$TMP/err"
		;;
	qemu)
		rm -f "$TMP/cin.in" "$TMP/cin.out"
		mkfifo "$TMP/cin.in" "$TMP/cin.out"
		cat "$TMP/in" >"$TMP/cin.in" &
		local feeder=$!
		qemu-system-x86_64 -M pc -enable-kvm -cpu host -m 512M -smp 1 -nodefaults -no-user-config \
			-display none -no-reboot -serial null \
			-kernel "$MINIVM_KERNEL" -initrd "$MINIVM_INITRD" \
			-append "$APPEND -- /bin/sh -c \"$gcmd\"" \
			-device virtio-serial-pci,max_ports=4 \
			-chardev pipe,id=cin,path="$TMP/cin" \
			-chardev file,id=cout,path="$TMP/out" \
			-chardev file,id=cerr,path="$TMP/err" \
			-device virtserialport,chardev=cin,name=minivm.stdin,nr=1 \
			-device virtserialport,chardev=cout,name=minivm.stdout,nr=2 \
			-device virtserialport,chardev=cerr,name=minivm.stderr,nr=3 </dev/null
		kill "$feeder" 2>/dev/null || true
		wait "$feeder" 2>/dev/null || true
		;;
	esac
	e=$(date +%s.%N)
	got=$(sha256sum <"$TMP/out" | cut -d' ' -f1)
	if [ "$got" != "$want" ]; then
		echo "$who run $run: checksum differs ($(stat -c %s "$TMP/out") of $SIZE bytes); stderr: $(tail -c 300 "$TMP/err")" >&2
		exit 1
	fi
	t=$(awk '$1 == "T" {print $3 - $2}' "$TMP/err")
	[ -n "$t" ] || { echo "$who run $run: no timing: $(tail -c 300 "$TMP/err")" >&2; exit 1; }
	echo "$who $t $(echo "$e - $s" | bc)" >>"$TMP/results"
}
for r in $(seq "$RUNS"); do # alternate, so both see the same host load
	one minivm "$r"
	one qemu "$r"
done
python3 - "$TMP/results" "$SIZE" "$RUNS" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
size, runs = int(sys.argv[2]), sys.argv[3]
print(f"stdin -> `head -c {size}` -> stdout, {size >> 20} MiB, {runs} runs each, checksums equal; "
      f"{open('/proc/cpuinfo').read().count('processor')} host CPUs")
print(f"{'':8} {'copy s min/median/max':>26} {'MiB/s (median)':>15} {'whole run s min/median/max':>30}")
for who in ("minivm", "qemu"):
    c = sorted(float(r[1]) for r in rows if r[0] == who)
    w = sorted(float(r[2]) for r in rows if r[0] == who)
    med = statistics.median(c)
    mibs = (size / 2**20) / med if med > 0 else float("inf")
    print(f"{who:8} {c[0]:8.2f} {med:8.2f} {c[-1]:8.2f} {mibs:15.1f} {w[0]:9.2f} {statistics.median(w):9.2f} {w[-1]:9.2f}")
PY
