#!/usr/bin/env bash
# Snapshot and restore of Debian's stock kernel (2 vCPUs, 256 MiB): a shell loop counts and
# reports how many soft-lockup / clocksource / watchdog / hung-task lines the kernel log holds;
# snapshot with "stop" through the API, the VM away a few seconds, restore: the loop goes on
# from the next number and the count of such lines does not grow. Needs hardware-virtualization
# KVM (the lab, here).
. "$ROOT/tests/lib.sh"
need_stock_kernel_kvm
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

lines() { grep -c '^n=' "$1" 2>/dev/null || true; }
has_lines() { [ "$(lines "$1")" -ge "$2" ]; }

loop='i=0; while :; do i=$((i+1)); echo n=$i w=$(dmesg | grep -ciE "soft lockup|clocksource|watchdog|hung task"); sleep 0.5; done'
"$BIN/minivm" run --kernel "$MINIVM_KERNEL" --initrd "$MINIVM_INITRD" --cpus 2 --mem 256M \
	--api "$TMP/a.sock" -- /bin/sh -c "$loop" </dev/null >"$TMP/out1" 2>"$TMP/err1" &
pid=$!
wait_for "the loop counts" 600 has_lines "$TMP/out1" 5
run_capture out rc "$BIN/minivm" snapshot --api "$TMP/a.sock" --stop "$TMP/snap"
expect_eq "snapshot --stop ($out)" "$rc" 0
wait "$pid"
expect_eq "exit after snapshot --stop ($(tail -n 3 "$TMP/err1"))" "$?" 0
last=$(grep '^n=' "$TMP/out1" | tail -n 1 | tr -d '\r')
n=${last#n=}
n=${n%% *}
w=${last##*w=}
sleep 3
"$BIN/minivm" run --restore "$TMP/snap" --api "$TMP/b.sock" </dev/null >"$TMP/out2" \
	2>"$TMP/err2" &
pid=$!
wait_for "the restored loop counts" 600 has_lines "$TMP/out2" 6
first=$(grep -m1 '^n=' "$TMP/out2" | tr -d '\r')
expect_eq "the restored loop goes on ($(tail -n 3 "$TMP/err2"))" "${first%% *}" "n=$((n + 1))"
for l in $(grep -o 'w=[0-9]*' "$TMP/out2"); do
	expect_eq "no new soft-lockup/clocksource lines after restore" "${l#w=}" "$w"
done
"$BIN/minivm" stop --api "$TMP/b.sock" >/dev/null || fail "stop the restored VM"
wait "$pid"
expect_eq "restored VM exit" "$?" 0
echo "stock kernel: restored at n=$((n + 1)) after n=$n, kernel-log warnings stay at $w"
