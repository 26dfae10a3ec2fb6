#!/usr/bin/env bash
# minibench latency end to end (ct and native, --quick): the table, results.jsonl records of the
# documented schema (docs/bench.md) with sane values, the CSV, env.json; and the one-line errors
# for an unknown experiment, backend or workload, a missing tool and a backend not there yet.
. "$ROOT/tests/lib.sh"
MB=$BIN/minibench
[ -x "$MB" ] || MB=$ROOT/build/bin/minibench
[ -x "$MB" ] || skip "no minibench binary (run make)"
[ "$(id -u)" -eq 0 ] || skip "needs root"
[ -x /bin/busybox ] || skip "busybox-static is not installed"
[ -x "$(dirname "$MB")/minict" ] || skip "no minict next to minibench (run make)"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
out='' rc=''
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

run_capture out rc "$MB" latency --quick --backend ct,native --out "$TMP/out"
expect_eq "minibench latency --quick ($out)" "$rc" 0
expect_contains "table header" "$out" "backend  guests"
for b in ct native; do
	for g in 1 2; do
		grep -Eq "^$b +$g +[0-9]" <<<"$out" || fail "no table row for $b, $g guests: $out"
	done
done

python3 - "$TMP/out" <<'PY' || fail "results files do not match the schema (above)"
import csv, json, os, sys
d = sys.argv[1]
want = {"experiment", "backend", "workload", "guests", "run", "metric", "value", "unit"}
count = {}
with open(os.path.join(d, "results.jsonl")) as f:
    lines = f.read().splitlines()
assert lines, "results.jsonl is empty"
for n, line in enumerate(lines, 1):
    r = json.loads(line)
    keys = set(r)
    assert want <= keys, f"line {n}: missing {want - keys}"
    assert keys - want <= {"guest"}, f"line {n}: unexpected keys {keys - want}"
    assert r["experiment"] == "latency" and r["workload"] == "true", f"line {n}: {r}"
    assert r["backend"] in ("ct", "native"), f"line {n}: backend {r['backend']}"
    assert r["guests"] in (1, 2) and 0 <= r["run"] < 3, f"line {n}: {r}"
    assert r["unit"] == "ms", f"line {n}: unit {r['unit']}"
    v = r["value"]
    assert isinstance(v, (int, float)) and 0 < v < 30000, f"line {n}: value {v} out of (0, 30 s)"
    if r["metric"] == "start_exit":
        assert 0 <= r["guest"] < r["guests"], f"line {n}: guest {r.get('guest')}"
    else:
        assert r["metric"] == "batch_wall" and "guest" not in r, f"line {n}: {r}"
    k = (r["backend"], r["metric"])
    count[k] = count.get(k, 0) + 1
for b in ("ct", "native"):
    # 3 runs at 1 and at 2 guests: 3 * (1 + 2) guests, 3 * 2 batches
    assert count.get((b, "start_exit")) == 9, f"{b}: {count.get((b, 'start_exit'))} start_exit records, want 9"
    assert count.get((b, "batch_wall")) == 6, f"{b}: {count.get((b, 'batch_wall'))} batch_wall records, want 6"
rows = list(csv.DictReader(open(os.path.join(d, "latency.csv"))))
assert len(rows) == 4, f"latency.csv: {len(rows)} rows, want 4"
for row in rows:
    assert int(row["n"]) == 3 * int(row["guests"]), f"latency.csv: {row}"
    assert float(row["min"]) <= float(row["median"]) <= float(row["max"]), f"latency.csv: {row}"
env = json.load(open(os.path.join(d, "env.json")))
assert env["kernel"]["release"] == os.uname().release, "env.json: kernel"
assert env["cpu"]["cores"] >= 1 and env["cpu"]["model"], "env.json: cpu"
assert env["tools"]["minict"], "env.json: no minict version"
PY

# errors: one line, non-zero exit, and nothing measured
one_line_error() { # WHAT NEEDLE CMD...
	local what=$1 needle=$2 o r
	shift 2
	run_capture o r "$@"
	[ "$r" -ne 0 ] || fail "$what: exit status 0"
	expect_contains "$what" "$o" "$needle"
	[ "$(wc -l <<<"$o")" -eq 1 ] || fail "$what: more than one line: $o"
}
one_line_error "unknown backend" "unknown backend \`foo\`" "$MB" latency --backend ct,foo
one_line_error "unknown experiment" "unknown experiment \`boot\`" "$MB" boot --backend ct
one_line_error "unknown workload" "unknown workload \`sleep\`" "$MB" latency --workload sleep
one_line_error "missing tool" "crun is not installed (make deps)" \
	env PATH=/nonexistent "$MB" latency --backend native,crun --out "$TMP/none"
[ -e "$TMP/none" ] && fail "a refused run created its --out directory"
one_line_error "vm not yet" "backend vm: not yet" "$MB" latency --backend vm
one_line_error "bad --guests" "--guests 0 is out of range" "$MB" latency --guests 1,0
echo "minibench ok"
