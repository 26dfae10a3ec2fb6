#!/usr/bin/env bash
# minibench density end to end on the benchmark rootfs (make images): `density --quick
# --workload cpu --backend ct,native --guests 1,2` with --out and --record (into a scratch page
# through RESULTS): the table, every results.jsonl line against the schema of docs/bench.md with
# values present, positive and plausible (sysbench's own figures agree with each other: events/s
# x total time = the events asked for, avg latency x events ~ total time, min <= avg <= max),
# memory per guest, the CSVs, report.md beside the study, well-formed SVGs, nothing left behind
# (cgroups, mounts); and the one-line errors (unknown workload, vm and qemu without their
# images, a rootfs without sysbench).
# The engines (docker, podman): tests/host/bench_density_engines.sh. Skipped (77) where the
# rootfs is not built. No timing is asserted.
. "$ROOT/tests/host/bench_lib.bash"
out='' rc=''

# errors first (they also tell whether the rootfs is there): one line, non-zero, nothing made
one_line_error "unknown workload" "unknown workload \`true\` for density (known: cpu, fileio, oltp)" \
	"$MB" density --workload true
one_line_error "vm without a kernel" \
	"backend vm: the guest kernel \`$TMP/nothing\` is missing (make images, or set MINIVM_KERNEL)" \
	env MINIVM_KERNEL="$TMP/nothing" "$MB" density --backend ct,vm
one_line_error "qemu without an image" \
	"backend qemu: the benchmark rootfs image \`$TMP/nothing\` is missing (make images" \
	env MINIVM_ROOTFS_IMG="$TMP/nothing" "$MB" density --backend qemu
one_line_error "no sysbench" "(make images builds it)" \
	env MINIVM_ROOTFS_DIR="$TMP/nothing" "$MB" density --backend native --out "$TMP/none"
[ -e "$TMP/none" ] && fail "a refused run created its --out directory"

# the rootfs, found as minibench finds it: $MINIVM_ROOTFS_DIR, build/images.env (make images),
# scripts/rootfs.sh path
dir=${MINIVM_ROOTFS_DIR:-}
[ -n "$dir" ] || dir=$(sed -n 's/^MINIVM_ROOTFS_DIR=//p' "$ROOT/build/images.env" 2>/dev/null)
[ -n "$dir" ] || dir=$("$ROOT/scripts/rootfs.sh" path 2>/dev/null)/root
[ -x "$dir/usr/bin/sysbench" ] || skip "the benchmark rootfs is not built (make images)"

before_cg=$(find /sys/fs/cgroup -maxdepth 2 -name 'minibench-*' 2>/dev/null | sort)
run_capture out rc env RESULTS="$TMP/results.md" "$MB" density --quick --workload cpu \
	--backend ct,native --guests 1,2 --out "$TMP/out" --record
expect_eq "minibench density --quick ($out)" "$rc" 0
expect_table "$out" "backend  guests" ct native
after_cg=$(find /sys/fs/cgroup -maxdepth 2 -name 'minibench-*' 2>/dev/null | sort)
[ "$before_cg" = "$after_cg" ] || fail "cgroups left behind: $after_cg"
grep -q " $TMP/out/" /proc/self/mountinfo && fail "mounts left under $TMP/out"
grep -q '^<!-- section minibench-density-cpu -->' "$TMP/results.md" ||
	fail "--record wrote no minibench-density-cpu section into \$RESULTS"

python3 "$ROOT/tests/host/bench_density_check.py" "$TMP/out" cpu 3 "ct native" 1,2 ||
	fail "density results do not hold (above)"
report=$(cat "$TMP/out/report.md")
expect_contains "report.md" "$report" "Beside the seed study"
# the study's CPU figures
expect_contains "report.md" "$report" "35.94"
expect_contains "report.md" "$report" "3.59"
grep -Eq '"minict": *"[^"]' "$TMP/out/env.json" || fail "env.json: no minict version: $(cat "$TMP/out/env.json")"
echo "minibench density ok"
