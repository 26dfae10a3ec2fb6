#!/usr/bin/env bash
# minibench density's vm (minivm) and qemu backends end to end, where a stock kernel boots (the
# lab): `density --quick --backend vm,qemu` for the cpu workload (--guests GUESTS, 1 by default:
# see below) and, with WORKLOADS="cpu oltp", OLTP (MariaDB from the rootfs image in every VM, the
# table prepared once; --guests 1), each with --repeat 1 (nested TCG is slow). Checks the table
# rows and, with tests/host/bench_density_check.py (the host's density tests use it too), every
# results.jsonl line against the schema of docs/bench.md, that each guest's sysbench figures are
# there, positive and agree with each other (events/s x total time = the events asked for, min
# <= avg <= p95 <= max), memory per guest (the VMM's RSS, the guest's RAM in it: more than a
# booted kernel, less than the VM's 512 MiB plus the VMM), the CSVs, SVGs and report.md; and
# that a guest whose sysbench output is missing (a rootfs image without the workload) fails the
# run with one line and leaves no VM, mount or work directory behind. No timing is asserted.
. "$ROOT/tests/lib.sh"
need_stock_kernel_kvm
[ -f "${MINIVM_ROOTFS_IMG:-}" ] || skip "no rootfs image (make images)"
[ -x "${MINIVM_ROOTFS_DIR:-}/usr/bin/sysbench" ] || skip "no benchmark rootfs (make images)"
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 missing"
[ "$(id -u)" -eq 0 ] || skip "needs root"
MB=$BIN/minibench
[ -x "$MB" ] || skip "no minibench binary (run make)"
# OLTP is not in the default run: in the lab its QEMU guest's kernel panicked during the timed run
# in 1 of 2 runs (2026-12-02, with the same kernel and image that passed the time before), which
# is the lab's emulated nested SVM more than either VMM; run it with WORKLOADS="cpu oltp".
WORKLOADS=${WORKLOADS:-cpu}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
# the lab's /tmp is a tmpfs: the guests' disk copies are sparse there
TMP=$(mktemp -d)
trap 'rm -rf --one-file-system "$TMP"' EXIT

. "$ROOT/tests/lab/bench_vm.bash" # vm_bench_ran, no_vm_left

# A rootfs image with no sysbench (nor shell): the guest never runs the workload; one line, a
# non-zero status, nothing left.
mkfs.ext4 -q -F "$TMP/empty.ext4" 64M
run_capture out rc env MINIVM_ROOTFS_IMG="$TMP/empty.ext4" "$MB" density --quick --workload cpu \
	--backend vm --guests 1 --repeat 1 --out "$TMP/bad"
[ "$rc" -ne 0 ] || fail "a guest without sysbench: exit status 0: $out"
expect_contains "a guest without sysbench" "$out" "minibench: density cpu, 1 guest, warm-up: vm guest 1 of 1"
expect_contains "a guest without sysbench" "$out" "before its script reported a status"
[ "$(wc -l <<<"$out")" -eq 1 ] || fail "a guest without sysbench: more than one line: $out"
no_vm_left "a guest without sysbench"
echo "a guest without its sysbench output fails the run: $out"

# One guest per backend: with two L2 guests at once the lab's emulated nested SVM crashes a guest
# early (a triple fault, minivm's KVM_EXIT_SHUTDOWN at the reset vector, with nothing on the
# console; 2 of 3 vm,qemu runs on 2026-12-02) or the lab's own kernel (stack guard page hit in a
# vCPU thread, 3 times that night). GUESTS=1,2 tries more where the hardware is real.
GUESTS=${GUESTS:-1}
for w in $WORKLOADS; do
	guests=$GUESTS
	[ "$w" = cpu ] || guests=1
	# --no-warmup: each batch is a boot and a run in nested TCG, and a warm-up adds one per
	# backend that checks nothing the timed run does not (the run above fails in its warm-up)
	run_capture out rc "$MB" density --quick --workload "$w" --backend vm,qemu \
		--guests "$guests" --repeat 1 --no-warmup --out "$TMP/$w"
	vm_bench_ran "minibench density $w" "$rc" "$out" "$TMP/$w/work/guests" "$guests"
	no_vm_left "density $w"
	"$PY" "$ROOT/tests/host/bench_density_check.py" "$TMP/$w" "$w" 1 "vm qemu" "$guests" ||
		fail "density $w: results do not hold (above)"
done
echo "minibench density vm and qemu ok"
