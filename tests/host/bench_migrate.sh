#!/usr/bin/env bash
# minibench migrate end to end: --quick --repeat 1 --no-warmup with every backend this host has
# (vm and qemu with the PVH test guest where /dev/kvm and QEMU are, ct where CRIU works, runc,
# the baseline, where CRIU works and runc is installed: its figures must be there, and the line
# of ct's downtime against runc's), idle
# and then dirty:32 for minivm: the table (a row per backend, the ratio to the baseline),
# results.jsonl of the documented schema (docs/bench.md) with sane values (the observer's
# downtime below its total, the tool's own downtime below its own total, more MiB sent than the
# 32 MiB the guest holds, a per-round series for each VM run whose pages add up to at least
# that), the CSVs, migrate-rounds.csv, report.md; no network namespace left behind; and one
# clear error for a bad workload, a bad rate and a backend migrate does not have.
. "$ROOT/tests/host/bench_lib.bash"
out='' rc=''

# the errors first: they need nothing
one_line_error "unknown workload" "unknown workload \`busy\` for migrate (known: idle, dirty:MIBPS)" \
	"$MB" migrate --workload busy --backend vm
one_line_error "dirty rate 0" "--workload dirty:MIBPS" "$MB" migrate --workload dirty:0 --backend vm
one_line_error "dirty rate not a number" "--workload dirty:MIBPS" "$MB" migrate --workload dirty:x
one_line_error "crun" "backend crun: not for migrate" "$MB" migrate --backend crun

backends=()
[ -c /dev/kvm ] && [ -f "$(dirname "$MB")/../tests/guests/pvh-guest.elf" ] && backends+=(vm)
[ -c /dev/kvm ] && command -v qemu-system-x86_64 >/dev/null && backends+=(qemu)
if "$ROOT/scripts/criu.sh" path >/dev/null 2>&1; then
	backends+=(ct)
	if command -v runc >/dev/null; then
		backends+=(runc)
	else
		echo "note: no runc here: the runc baseline is not measured" >&2
	fi
fi
[ ${#backends[@]} -gt 0 ] || skip "no backend migrate can run here (no /dev/kvm, no CRIU)"
list=$(
	IFS=,
	echo "${backends[*]}"
)
# bench/ct-migrate.sh's namespaces are cmb{s,d,o}PID
netns_before=$(ip netns list | grep -c '^cmb')

# check DIR WORKLOAD BACKEND...: the results of one --repeat 1 run
check() {
	python3 - "$@" <<'PY'
import csv, json, os, sys
sys.path.insert(0, os.path.join(os.environ["ROOT"], "tests/host"))
from bench_results import records
d, workload, backends = sys.argv[1], sys.argv[2], sys.argv[3:]
metrics = {"downtime_ms": "ms", "total_ms": "ms", "own_downtime_ms": "ms", "own_total_ms": "ms",
           "sent_mib": "MiB"}
v, rounds = {}, {}
for n, r in records(d, extra={"round"}):
    assert r["experiment"] == "migrate" and r["workload"] == workload, f"line {n}: {r}"
    assert r["backend"] in backends and r["guests"] == 1 and r["run"] == 0, f"line {n}: {r}"
    x = r["value"]
    assert isinstance(x, (int, float)) and 0 <= x < 600000, f"line {n}: value {x}"
    if "round" in r:
        assert r["backend"] in ("vm", "qemu"), f"line {n}: a round series for {r['backend']}"
        assert r["metric"] in ("round_pages", "round_dirty_mibps") and r["round"] >= 1, f"line {n}: {r}"
        if r["metric"] == "round_pages":
            rounds.setdefault(r["backend"], []).append(x)
        continue
    assert metrics.get(r["metric"]) == r["unit"], f"line {n}: {r['metric']} in {r['unit']}"
    assert (r["backend"], r["metric"]) not in v, f"line {n}: {r['metric']} twice for {r['backend']}"
    v[(r["backend"], r["metric"])] = x
for b in backends:
    g = {m: v.get((b, m)) for m in metrics}
    assert None not in g.values(), f"{b}: missing {[m for m in g if g[m] is None]}"
    assert 0 < g["downtime_ms"] < g["total_ms"], f"{b}: observer downtime {g['downtime_ms']} vs total {g['total_ms']}"
    # QEMU's query-migrate gives its downtime in whole ms: 0 is a sub-ms downtime, not a gap
    low = 0 if b == "qemu" else 1e-9
    assert low <= g["own_downtime_ms"] < g["own_total_ms"], f"{b}: own downtime {g['own_downtime_ms']} vs total {g['own_total_ms']}"
    # 32 MiB of non-zero pages (--quick) must all go
    assert 32 <= g["sent_mib"] < 1024, f"{b}: {g['sent_mib']} MiB sent"
    if b in ("vm", "qemu"):
        assert sum(rounds.get(b, [])) * 4096 >= 32 << 20, f"{b}: rounds {rounds.get(b)}"
for name in ("migrate-downtime", "migrate-total", "migrate-own-downtime", "migrate-own-total", "migrate-sent"):
    rows = list(csv.DictReader(open(os.path.join(d, name + ".csv"))))
    assert sorted(r["backend"] for r in rows) == sorted(backends), f"{name}.csv: {rows}"
    assert all(r["n"] == "1" and (float(r["median"]) > 0 or
               (name == "migrate-own-downtime" and r["backend"] == "qemu" and float(r["median"]) == 0))
               for r in rows), f"{name}.csv: {rows}"
    assert os.path.getsize(os.path.join(d, name + ".svg")) > 0, f"no {name}.svg"
rr = list(csv.DictReader(open(os.path.join(d, "migrate-rounds.csv"))))
assert {r["backend"] for r in rr} == {b for b in backends if b not in ("ct", "runc")}, f"migrate-rounds.csv: {rr}"
report = open(os.path.join(d, "report.md")).read()
for s in ("# minibench migrate", "## Downtime, by the observer", "service downtime (chapter 6)"):
    assert s in report, f"report.md lacks {s!r}"
PY
}

run_capture out rc "$MB" migrate --quick --repeat 1 --no-warmup --backend "$list" --out "$TMP/idle"
expect_eq "minibench migrate --backend $list ($out)" "$rc" 0
expect_contains "table" "$out" "backend  guests    n  down min    median"
for b in "${backends[@]}"; do
	grep -Eq "^$b +1 +1 +[0-9]" <<<"$out" || fail "no table row for $b: $out"
done
if [[ " ${backends[*]} " == *" runc "* ]]; then
	grep -Eq '^ct vs runc, the observer.s downtime min/median/max: [0-9.]+/[0-9.]+/[0-9.]+ vs [0-9.]+/[0-9.]+/[0-9.]+ ms, medians [0-9.]+x$' <<<"$out" ||
		fail "no line of ct against runc: $out"
fi
check "$TMP/idle" idle "${backends[@]}" || fail "idle: the results above"

# dirty: minivm only (its per-round dirty rate; QEMU's series is checked above), to keep it short
if [[ " ${backends[*]} " == *" vm "* ]]; then
	run_capture out rc "$MB" migrate --quick --repeat 1 --no-warmup --workload dirty:32 --backend vm \
		--out "$TMP/dirty"
	expect_eq "minibench migrate --workload dirty:32 ($out)" "$rc" 0
	check "$TMP/dirty" dirty:32 vm || fail "dirty:32: the results above"
	grep -q '"metric":"round_dirty_mibps"' "$TMP/dirty/results.jsonl" || fail "no dirty rate per round"
fi

expect_eq "ct-migrate.sh's network namespaces left" "$(ip netns list | grep -c '^cmb')" "$netns_before"
echo "ok: minibench migrate: ${backends[*]}, idle and (vm) dirty:32"
