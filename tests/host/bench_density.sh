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

python3 - "$TMP/out" ct native <<'PY' || fail "density results do not hold (above)"
import csv, json, os, sys, xml.etree.ElementTree as ET
d, backends = sys.argv[1], sys.argv[2:]
runs, guests, events = 3, [1, 2], 300
want = {"experiment", "backend", "workload", "guests", "run", "metric", "value", "unit"}
units = {"total_time": "s", "events_per_s": "1/s", "lat_min": "ms", "lat_avg": "ms",
         "lat_max": "ms", "lat_p95": "ms", "start_ready": "ms", "ready_exit": "ms",
         "mem_rss": "MiB", "mem_pss": "MiB"}
per_batch = {"host_used": "MiB", "batch_wall": "ms"}
count, g = {}, {}
lines = open(os.path.join(d, "results.jsonl")).read().splitlines()
assert lines, "results.jsonl is empty"
for n, line in enumerate(lines, 1):
    r = json.loads(line)
    keys = set(r)
    assert want <= keys and keys - want <= {"guest"}, f"line {n}: keys {keys}"
    assert r["experiment"] == "density" and r["workload"] == "cpu", f"line {n}: {r}"
    assert r["backend"] in backends and r["guests"] in guests, f"line {n}: {r}"
    assert 0 <= r["run"] < runs, f"line {n}: run {r['run']}"
    m, v = r["metric"], r["value"]
    assert isinstance(v, (int, float)), f"line {n}: value {v}"
    if m in units:
        assert r["unit"] == units[m], f"line {n}: unit {r['unit']} for {m}"
        assert 0 <= r["guest"] < r["guests"], f"line {n}: guest {r.get('guest')}"
        g.setdefault((r["backend"], r["guests"], r["run"], r["guest"]), {})[m] = v
    else:
        assert m in per_batch and "guest" not in r, f"line {n}: {r}"
        assert r["unit"] == per_batch[m], f"line {n}: unit {r['unit']}"
        assert 0 <= v < 65536 if m == "host_used" else 0 < v < 600000, f"line {n}: {m} {v}"
    count[(r["backend"], m)] = count.get((r["backend"], m), 0) + 1
for b in backends:
    for m in units:
        assert count.get((b, m)) == runs * sum(guests), f"{b}: {count.get((b, m))} {m} records"
    for m in per_batch:
        assert count.get((b, m)) == runs * len(guests), f"{b}: {count.get((b, m))} {m} records"
# plausible: sysbench's figures agree with each other and with what was asked
for key, x in g.items():
    t, rate = x["total_time"], x["events_per_s"]
    assert 0 < t < 600, f"{key}: total time {t}"
    assert 0 < rate, f"{key}: events/s {rate}"
    assert abs(rate * t - events) <= 0.05 * events, f"{key}: {rate}/s x {t} s is not {events} events"
    assert 0 < x["lat_min"] <= x["lat_avg"] <= x["lat_max"], f"{key}: latency {x}"
    assert x["lat_min"] <= x["lat_p95"] <= x["lat_max"], f"{key}: p95 {x}"
    # one thread: the requests' latencies add up to the run (avg is printed to 0.01 ms)
    assert abs(x["lat_avg"] * events / 1000 - t) <= 0.1 * t + 0.005 * events / 1000 * 2, \
        f"{key}: avg {x['lat_avg']} ms x {events} vs {t} s"
    assert x["start_ready"] > 0 and x["ready_exit"] > 0, f"{key}: {x}"
    # within the guest's 512 MiB, more than nothing: sysbench and a shell at least
    assert 0.5 < x["mem_pss"] <= x["mem_rss"] < 512, f"{key}: memory {x}"
figs = ["total_time", "events_per_s", "lat_avg", "lat_p95", "lat_max", "mem_pss", "host_used"]
report = open(os.path.join(d, "report.md")).read()
assert report.startswith("# minibench density: cpu\n"), "report.md: heading"
assert "## Environment" in report and "Beside the seed study" in report, "report.md: sections"
assert "35.94" in report and "3.59" in report, "report.md: the study's CPU figures"
for f in figs:
    name = f"density-cpu-{f}"
    rows = list(csv.DictReader(open(os.path.join(d, name + ".csv"))))
    assert len(rows) == len(backends) * len(guests), f"{name}.csv: {len(rows)} rows"
    for row in rows:
        per = 1 if f == "host_used" else int(row["guests"])
        assert int(row["n"]) == runs * per, f"{name}.csv: {row}"
        assert float(row["min"]) <= float(row["median"]) <= float(row["max"]), f"{name}.csv: {row}"
    svg = ET.parse(os.path.join(d, name + ".svg")).getroot()
    assert svg.tag == "{http://www.w3.org/2000/svg}svg", f"{name}.svg: root {svg.tag}"
    texts = [e.text for e in svg.iter("{http://www.w3.org/2000/svg}text")]
    for b in backends:
        assert b in texts, f"{name}.svg: no legend entry for {b}"
    assert f"]({name}.svg)" in report, f"report.md does not show {name}.svg"
env = json.load(open(os.path.join(d, "env.json")))
assert env["tools"]["minict"], "env.json: no minict version"
PY
echo "minibench density ok"
