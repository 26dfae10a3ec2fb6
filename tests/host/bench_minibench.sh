#!/usr/bin/env bash
# minibench latency end to end (ct and native, --quick, --record into a scratch page): the
# table, results.jsonl records of the documented schema (docs/bench.md) with sane values, the
# barrier in every batch (one release instant per batch, after the last guest's start and every
# guest's init; no workload ends before it), the CSVs, env.json, report.md and well-formed SVGs;
# the docker, docker-minict and podman backends the same way, each skipped where its engine can't
# start, leaving no directory or cgroup behind; and the one-line errors for an unknown
# experiment, backend or workload, a missing tool and a backend not there yet.
. "$ROOT/tests/host/bench_lib.bash"
[ -x /bin/busybox ] || skip "busybox-static is not installed"
out='' rc=''

run_capture out rc env RESULTS="$TMP/results.md" "$MB" latency --quick --backend ct,native \
	--out "$TMP/out" --record
expect_eq "minibench latency --quick ($out)" "$rc" 0
expect_table "$out" "backend       guests" ct native
grep -q '^<!-- section minibench-latency -->' "$TMP/results.md" ||
	fail "--record wrote no minibench-latency section into \$RESULTS"
grep -q '^ct  *1 ' "$TMP/results.md" || fail "--record: the section lacks the table"

# check_results DIR BACKEND... : results.jsonl against the schema (docs/bench.md) for a --quick
# run (3 runs at 1 and 2 guests unless RUNS/GUESTS say otherwise), the barrier in every batch,
# the CSVs, env.json, report.md and the SVGs
check_results() {
	python3 - "$@" <<'PY'
import csv, json, os, sys, xml.etree.ElementTree as ET
sys.path.insert(0, os.path.join(os.environ["ROOT"], "tests/host"))
from bench_results import records
d, backends = sys.argv[1], sys.argv[2:]
runs, guests = int(os.environ.get("RUNS", 3)), [int(g) for g in os.environ.get("GUESTS", "1,2").split(",")]
intervals = {"start_init", "start_ready", "ready_exit", "exit_gone", "start_gone"}
timeline = {"t_start", "t_init", "t_ready", "t_exit", "t_gone"}
count, t = {}, {}
for n, r in records(d, extra={"guest"}):
    assert r["experiment"] == "latency" and r["workload"] == "true", f"line {n}: {r}"
    assert r["backend"] in backends, f"line {n}: backend {r['backend']}"
    assert r["guests"] in guests and 0 <= r["run"] < runs, f"line {n}: {r}"
    assert r["unit"] == "ms", f"line {n}: unit {r['unit']}"
    v, m = r["value"], r["metric"]
    assert isinstance(v, (int, float)) and 0 <= v < 60000, f"line {n}: value {v} out of [0, 60 s)"
    if m in intervals or m in timeline:
        assert 0 <= r["guest"] < r["guests"], f"line {n}: guest {r.get('guest')}"
        if m != "t_start":
            assert v > 0 or m == "ready_exit", f"line {n}: {m} {v}"
        if m in timeline:
            t.setdefault((r["backend"], r["guests"], r["run"]), {}).setdefault(r["guest"], {})[m] = v
    else:
        assert m == "batch_wall" and "guest" not in r, f"line {n}: {r}"
    count[(r["backend"], m)] = count.get((r["backend"], m), 0) + 1
for b in backends:
    per_guest, batches = runs * sum(guests), runs * len(guests)
    for m in intervals | timeline:
        assert count.get((b, m)) == per_guest, f"{b}: {count.get((b, m))} {m} records, want {per_guest}"
    assert count.get((b, "batch_wall")) == batches, f"{b}: {count.get((b, 'batch_wall'))} batch_wall records, want {batches}"
# the barrier: in every batch all guests are released at one instant, after the last guest
# started and after every guest said it was up; no workload ends before the release
assert len(t) == len(backends) * runs * len(guests), f"{len(t)} batches with a timeline"
for (b, g, run), gs in t.items():
    assert len(gs) == g, f"{b} {g} guests run {run}: timelines of {len(gs)} guests"
    ready = {x["t_ready"] for x in gs.values()}
    assert len(ready) == 1, f"{b} {g} guests run {run}: ready differs between guests: {ready}"
    ready = ready.pop()
    last_start = max(x["t_start"] for x in gs.values())
    assert ready >= last_start, f"{b} {g} guests run {run}: released at {ready} before the last start {last_start}"
    for k, x in gs.items():
        assert x["t_start"] <= x["t_init"] <= ready <= x["t_exit"] <= x["t_gone"], \
            f"{b} {g} guests run {run}, guest {k}: milestones out of order: {x}"
figs = ["latency", "latency-init", "latency-ready", "latency-exit", "latency-gone", "latency-batch"]
report = open(os.path.join(d, "report.md")).read()
assert report.startswith("# minibench latency\n"), "report.md: heading"
assert "## Environment" in report and "Where: on this host" in report, "report.md: environment"
assert "Beside the seed study" in report and "440 ms" in report, "report.md: the study's figures"
for fig in figs:
    rows = list(csv.DictReader(open(os.path.join(d, fig + ".csv"))))
    assert len(rows) == len(backends) * len(guests), f"{fig}.csv: {len(rows)} rows"
    for row in rows:
        per = 1 if fig == "latency-batch" else int(row["guests"])
        assert int(row["n"]) == runs * per, f"{fig}.csv: {row}"
        assert float(row["min"]) <= float(row["median"]) <= float(row["max"]), f"{fig}.csv: {row}"
    svg = ET.parse(os.path.join(d, fig + ".svg")).getroot()   # well-formed XML, or this raises
    assert svg.tag == "{http://www.w3.org/2000/svg}svg", f"{fig}.svg: root {svg.tag}"
    texts = [e.text for e in svg.iter("{http://www.w3.org/2000/svg}text")]
    for b in backends:
        assert b in texts, f"{fig}.svg: no legend entry for {b}"
    assert f"]({fig}.svg)" in report, f"report.md does not show {fig}.svg"
    for b in backends:
        assert f"\n| {b} | {guests[0]} | " in report, f"report.md: no {b} row"
env = json.load(open(os.path.join(d, "env.json")))
assert env["kernel"]["release"] == os.uname().release, "env.json: kernel"
assert env["cpu"]["cores"] >= 1 and env["cpu"]["model"], "env.json: cpu"
assert env["tools"]["minict"], "env.json: no minict version"
PY
}
check_results "$TMP/out" ct native || fail "results of ct,native do not hold (above)"

# the engines: docker and docker-minict in one private dockerd, podman with a private store.
# Each part is skipped (the rest still runs) where its engine cannot start here.
engine_part() { # NAME BACKENDS
	local name=$1 backends=$2 o r before after
	before=$(ls -d /tmp/mb-"$name".* 2>/dev/null)
	run_capture o r "$MB" latency --guests 1,2 --repeat 1 --backend "$backends" --out "$TMP/$name"
	after=$(ls -d /tmp/mb-"$name".* 2>/dev/null)
	[ "$before" = "$after" ] || fail "$name: left its directory behind: $after"
	[ -z "$(find /sys/fs/cgroup -maxdepth 2 -name "minibench-*-$name" 2>/dev/null)" ] ||
		fail "$name: left cgroups: $(find /sys/fs/cgroup -maxdepth 2 -name "minibench-*-$name")"
	if [ "$r" -ne 0 ]; then
		case $o in
		*"dockerd exited at start"* | *"dockerd did not answer"* | *"not installed"* | \
			*"podman import"*"failed"*)
			echo "skip: $name part: $o"
			return 0
			;;
		esac
		fail "$name: minibench latency failed: $o"
	fi
	RUNS=1 check_results "$TMP/$name" ${backends//,/ } || fail "results of $backends do not hold (above)"
	echo "ok: $name ($backends)"
}
engine_part docker docker,docker-minict
engine_part podman podman

# errors: one line, non-zero exit, and nothing measured
one_line_error "unknown backend" "unknown backend \`foo\`" "$MB" latency --backend ct,foo
one_line_error "unknown experiment" "unknown experiment \`boot\`" "$MB" boot --backend ct
one_line_error "unknown workload" "unknown workload \`sleep\`" "$MB" latency --workload sleep
one_line_error "missing tool" "crun is not installed (make deps)" \
	env PATH=/nonexistent "$MB" latency --backend native,crun --out "$TMP/none"
[ -e "$TMP/none" ] && fail "a refused run created its --out directory"
# vm: refused where a stock kernel can't boot (PVM, no /dev/kvm), else without its image
if [ "$(kvm_kind)" = hardware ]; then
	one_line_error "vm without its image" \
		"backend vm: the benchmark rootfs image \`/nonexistent\` is missing" \
		env MINIVM_ROOTFS_IMG=/nonexistent "$MB" latency --backend vm
else
	one_line_error "vm without hardware virtualization" \
		"backend vm: latency boots a stock kernel, which needs hardware virtualization" \
		"$MB" latency --backend vm
fi
one_line_error "bad --guests" "--guests 0 is out of range" "$MB" latency --guests 1,0
echo "minibench ok"
