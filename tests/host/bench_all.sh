#!/usr/bin/env bash
# minibench all end to end, small: `all --quick --guests 1 --repeat 1 --no-warmup --backend
# ct,native,vm --out DIR` (--no-warmup: the pipeline is checked, not the figures; the warm-up
# batches were half the run): latency and density cpu, fileio and oltp each into
# DIR/EXPERIMENT with its own report, ct and native in every one; vm skipped where a stock
# kernel can't boot (kvm_kind in tests/lib.sh: no /dev/kvm, PVM, or neither vmx nor svm) with
# the reason on stderr and in DIR/report.md; DIR/report.md's experiments table, skip table and
# each experiment's table; nothing left behind (cgroups, mounts). A failing experiment fails
# the run naming it (an unusable rootfs: the density experiments are skipped, not failed).
# Skipped (77) where the rootfs is not built. No timing is asserted.
. "$ROOT/tests/host/bench_lib.bash"
out='' rc=''

dir=${MINIVM_ROOTFS_DIR:-}
[ -n "$dir" ] || dir=$(sed -n 's/^MINIVM_ROOTFS_DIR=//p' "$ROOT/build/images.env" 2>/dev/null)
[ -x "$dir/usr/bin/sysbench" ] || skip "the benchmark rootfs is not built (make images)"
export MINIVM_ROOTFS_DIR=$dir

stock=0
[ "$(kvm_kind)" = hardware ] && stock=1

before_cg=$(find /sys/fs/cgroup -maxdepth 2 -name 'minibench-*' 2>/dev/null | sort)
backends=ct,native
[ $stock = 0 ] && backends=ct,native,vm
run_capture out rc "$MB" all --quick --guests 1 --repeat 1 --no-warmup --backend "$backends" --out "$TMP/all"
expect_eq "minibench all ($out)" "$rc" 0
for e in latency density-cpu density-fileio density-oltp; do
	expect_contains "stderr" "$out" "minibench: all: $e (ct, native)"
	[ -s "$TMP/all/$e/report.md" ] || fail "no $e/report.md"
	[ -s "$TMP/all/$e/results.jsonl" ] || fail "no $e/results.jsonl"
done
report=$(cat "$TMP/all/report.md")
expect_contains "report" "$report" "# minibench all"
for e in latency density-cpu density-fileio density-oltp; do
	expect_contains "report" "$report" "| $e | ct, native | [report]($e/report.md) |"
	expect_contains "report" "$report" "## $e"
done
expect_contains "report" "$report" "sysbench cpu --cpu-max-prime=30000"
grep -Eq '^ct +1 +1 ' <<<"$report" || fail "report.md: no table row for ct"
if [ $stock = 0 ]; then
	expect_contains "stderr" "$out" "minibench: all: density-cpu: skipping vm: "
	expect_contains "report" "$report" "| vm | latency, density-cpu, density-fileio, density-oltp | "
fi
after_cg=$(find /sys/fs/cgroup -maxdepth 2 -name 'minibench-*' 2>/dev/null | sort)
[ "$before_cg" = "$after_cg" ] || fail "cgroups left behind: $after_cg"
grep -q " $TMP/all/" /proc/self/mountinfo && fail "mounts left under $TMP/all"

# an unbuilt rootfs: latency runs, every density experiment is skipped with the reason
run_capture out rc env MINIVM_ROOTFS_DIR="$TMP/nothing" "$MB" all --quick --guests 1 --repeat 1 \
	--no-warmup --backend ct --out "$TMP/norootfs"
expect_eq "minibench all without the rootfs ($out)" "$rc" 0
expect_contains "stderr" "$out" "minibench: all: density-oltp: skipping ct: density: no sysbench"
expect_contains "report" "$(cat "$TMP/norootfs/report.md")" "| density-cpu | - | not run: "
echo "minibench all ok"
