#!/usr/bin/env bash
# minibench density's vm (minivm) and qemu backends end to end, where a stock kernel boots (the
# lab): `density --quick --backend vm,qemu` for the cpu workload (--guests GUESTS, 1 by default: see below) and OLTP
# (MariaDB from the rootfs image in every VM, the table prepared once; --guests 1), each with
# --repeat 1 (nested TCG is slow). Checks the table rows, every results.jsonl line against the
# schema of docs/bench.md, that each guest's sysbench figures are there, positive and agree
# with each other (events/s x total time = the events asked for, min <= avg <= p95 <= max),
# memory per guest (the VMM's RSS, the guest's RAM in it: more than a booted kernel, less than
# the VM's 512 MiB plus the VMM), the CSVs; and that a guest whose sysbench output is missing (a
# rootfs image without the workload) fails the run with one line and leaves no VM, mount or
# work directory behind. WORKLOADS="cpu oltp" adds OLTP (see below). No timing is asserted.
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

no_vm_left() { # WHAT
	local p
	p=$(pids_matching "$TMP/")
	[ -z "$p" ] || fail "$1: processes left: $(for x in $p; do tr '\0' ' ' <"/proc/$x/cmdline"; echo; done)"
	grep -q " $TMP/" /proc/self/mountinfo && fail "$1: mounts left under $TMP"
	return 0
}

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
	run_capture out rc "$MB" density --quick --workload "$w" --backend vm,qemu \
		--guests "$guests" --repeat 1 --out "$TMP/$w"
	if [ "$rc" -ne 0 ]; then # the guests' consoles say why a VM ended
		for c in "$TMP/$w"/work/guests/g*/console.log; do
			[ -f "$c" ] && echo "== $c" && tail -n 40 "$c"
		done
	fi
	expect_eq "minibench density $w ($out)" "$rc" 0
	echo "$out"
	for b in vm qemu; do
		for g in ${guests//,/ }; do
			grep -Eq "^$b +$g +[0-9]" <<<"$out" || fail "no table row for $b, $g guests: $out"
		done
	done
	no_vm_left "density $w"
	/usr/bin/python3 - "$TMP/$w" "$w" "$guests" <<'PY' || fail "density $w: results do not hold (above)"
import csv, json, math, os, sys
d, w, guests = sys.argv[1], sys.argv[2], [int(g) for g in sys.argv[3].split(",")]
backends, runs = ["vm", "qemu"], 1
want = {"experiment", "backend", "workload", "guests", "run", "metric", "value", "unit"}
units = {"total_time": "s", "events_per_s": "1/s", "lat_min": "ms", "lat_avg": "ms",
         "lat_max": "ms", "lat_p95": "ms", "start_ready": "ms", "ready_exit": "ms",
         "mem_rss": "MiB", "mem_pss": "MiB"}
if w == "oltp":
    units.update({"transactions_per_s": "1/s", "queries_per_s": "1/s",
                  "read_queries_per_s": "1/s", "write_queries_per_s": "1/s"})
per_batch = {"host_used": "MiB", "batch_wall": "ms"}
count, g = {}, {}
lines = open(os.path.join(d, "results.jsonl")).read().splitlines()
assert lines, "results.jsonl is empty"
for n, line in enumerate(lines, 1):
    r = json.loads(line)
    keys = set(r)
    assert want <= keys and keys - want <= {"guest"}, f"line {n}: keys {keys}"
    assert r["experiment"] == "density" and r["workload"] == w, f"line {n}: {r}"
    assert r["backend"] in backends and r["guests"] in guests, f"line {n}: {r}"
    assert 0 <= r["run"] < runs, f"line {n}: run {r['run']}"
    m, v = r["metric"], r["value"]
    assert isinstance(v, (int, float)) and math.isfinite(v), f"line {n}: value {v}"
    if m in units:
        assert r["unit"] == units[m], f"line {n}: unit {r['unit']} for {m}"
        assert 0 <= r["guest"] < r["guests"], f"line {n}: guest {r.get('guest')}"
        g.setdefault((r["backend"], r["guests"], r["run"], r["guest"]), {})[m] = v
    else:
        assert m in per_batch and "guest" not in r, f"line {n}: {r}"
        assert r["unit"] == per_batch[m], f"line {n}: unit {r['unit']}"
    count[(r["backend"], m)] = count.get((r["backend"], m), 0) + 1
for b in backends:
    for m in units:
        assert count.get((b, m)) == runs * sum(guests), f"{b}: {count.get((b, m))} {m} records"
    for m in per_batch:
        assert count.get((b, m)) == runs * len(guests), f"{b}: {count.get((b, m))} {m} records"
for key, x in g.items():
    t, rate = x["total_time"], x["events_per_s"]
    assert 0 < t < 3600 and 0 < rate, f"{key}: total time {t}, events/s {rate}"
    if w == "cpu":
        assert abs(rate * t - 300) <= 15, f"{key}: {rate}/s x {t} s is not 300 events"
    else:
        assert x["transactions_per_s"] > 0 and x["read_queries_per_s"] > 0, f"{key}: {x}"
        assert x["write_queries_per_s"] > 0, f"{key}: {x}"
        assert 4 < t < 60, f"{key}: total time {t} for a 5 s run"
    assert 0 < x["lat_min"] <= x["lat_avg"] <= x["lat_max"], f"{key}: latency {x}"
    assert x["lat_min"] <= x["lat_p95"] <= x["lat_max"], f"{key}: p95 {x}"
    assert x["start_ready"] > 0 and x["ready_exit"] > 0, f"{key}: {x}"
    # the VMM's memory holds the guest's: more than a booted kernel, at most 512 MiB + the VMM
    assert 32 < x["mem_pss"] <= x["mem_rss"] < 1024, f"{key}: memory {x}"
figs = {"cpu": ["total_time", "events_per_s", "lat_avg", "lat_p95", "lat_max"],
        "oltp": ["transactions_per_s", "read_queries_per_s", "write_queries_per_s", "lat_avg",
                 "lat_p95"]}[w] + ["mem_pss", "host_used"]
report = open(os.path.join(d, "report.md")).read()
assert f"# minibench density: {w}\n" in report, "report.md: heading"
for f in figs:
    rows = list(csv.DictReader(open(os.path.join(d, f"density-{w}-{f}.csv"))))
    assert len(rows) == len(backends) * len(guests), f"density-{w}-{f}.csv: {len(rows)} rows"
    for row in rows:
        assert float(row["min"]) <= float(row["median"]) <= float(row["max"]), f"{f}: {row}"
print(f"density {w}: {len(lines)} records, {len(g)} guests' results hold")
PY
done
echo "minibench density vm and qemu ok"
