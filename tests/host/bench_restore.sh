#!/usr/bin/env bash
# minibench latency --from-snapshot end to end: --quick --repeat 1 --no-warmup with vm and (where
# QEMU is installed) qemu, the PVH test guest restored from a saved state: the table (a row per
# backend, the ratio to QEMU), results.jsonl of the documented schema (docs/bench.md) with sane
# values (every figure there once per backend and above 0, minivm's own main()-to-KVM_RUN below
# its restore-to-running, the small footprint's saved data a few MiB at most, the large one's
# at least the 200 MiB of non-zero pages the guest holds), the CSVs with one sample per backend
# and the SVGs, report.md beside the study; no VMM left running; and one clear error for a
# backend it does not have, a --workload and --from-snapshot on another experiment.
. "$ROOT/tests/host/bench_lib.bash"
out='' rc=''

one_line_error "ct" "backend ct: not for latency --from-snapshot" \
	"$MB" latency --from-snapshot --backend ct
one_line_error "workload" "latency --from-snapshot takes no --workload" \
	"$MB" latency --from-snapshot --workload true --backend vm
one_line_error "density" "--from-snapshot is latency's" "$MB" density --from-snapshot

[ -c /dev/kvm ] || skip "no /dev/kvm"
[ -f "$(dirname "$MB")/../tests/guests/pvh-guest.elf" ] || skip "no test guest (make all)"
backends=(vm)
command -v qemu-system-x86_64 >/dev/null && backends+=(qemu)
list=$(
	IFS=,
	echo "${backends[*]}"
)

run_capture out rc "$MB" latency --from-snapshot --quick --repeat 1 --no-warmup --backend "$list" \
	--out "$TMP/r"
expect_eq "minibench latency --from-snapshot --backend $list ($out)" "$rc" 0
expect_contains "table" "$out" "backend  guests    n restore min    median       max full median"
for b in "${backends[@]}"; do
	grep -Eq "^$b +1 +1 +[0-9]" <<<"$out" || fail "no table row for $b: $out"
done
left=$(pids_matching "$TMP/r")
[ -z "$left" ] || fail "VMMs left running: $(for p in $left; do tr '\0' ' ' <"/proc/$p/cmdline"; echo; done)"

python3 - "$TMP/r" "${backends[@]}" <<'PY' || fail "the results above"
import csv, os, sys
sys.path.insert(0, os.path.join(os.environ["ROOT"], "tests/host"))
from bench_results import records
d, backends = sys.argv[1], sys.argv[2:]
figures = ["restore_to_running", "restore_full_to_running", "boot_to_running"]
sizes = ["restore_saved_mib", "restore_full_saved_mib"]
v = {}
for n, r in records(d, extra={"guest"}):
    assert r["experiment"] == "latency" and r["workload"] == "restore", f"line {n}: {r}"
    assert r["backend"] in backends and r["guests"] == 1 and r["run"] == 0, f"line {n}: {r}"
    m, x = r["metric"], r["value"]
    want = "MiB" if m in sizes else "ms"
    assert m in figures + sizes + ["vmm_restore_entry"] and r["unit"] == want, f"line {n}: {r}"
    assert isinstance(x, (int, float)) and 0 < x < 600000, f"line {n}: value {x}"
    assert (r["backend"], m) not in v, f"line {n}: {m} twice for {r['backend']}"
    v[(r["backend"], m)] = x
for b in backends:
    g = {m: v.get((b, m)) for m in figures + sizes}
    assert None not in g.values(), f"{b}: missing {[m for m in g if g[m] is None]}"
    # a few pages touched (minivm: the memory file's data; QEMU: its whole state file)
    assert g["restore_saved_mib"] < 16, f"{b}: small footprint saved {g['restore_saved_mib']} MiB"
    # the 200 MiB of random bytes, and not much else
    assert 200 <= g["restore_full_saved_mib"] < 256, f"{b}: large footprint saved {g['restore_full_saved_mib']} MiB"
entry = v.get(("vm", "vmm_restore_entry"))
assert entry is not None, "vm: no vmm_restore_entry"
assert entry < v[("vm", "restore_to_running")], f"vm: entry {entry} ms after its heartbeat"
assert ("qemu", "vmm_restore_entry") not in v, "qemu has no minivm milestones"
for name in ("latency-restore", "latency-restore-full", "latency-restore-boot"):
    rows = list(csv.DictReader(open(os.path.join(d, name + ".csv"))))
    assert sorted(r["backend"] for r in rows) == sorted(backends), f"{name}.csv: {rows}"
    assert all(r["n"] == "1" and float(r["median"]) > 0 for r in rows), f"{name}.csv: {rows}"
    assert os.path.getsize(os.path.join(d, name + ".svg")) > 0, f"no {name}.svg"
report = open(os.path.join(d, "report.md")).read()
for s in ("# minibench latency --from-snapshot", "## Restore to running, small footprint",
          "| backend | median | cold boot median | restore / boot |"):
    assert s in report, f"report.md lacks {s!r}"
PY
echo "ok: minibench latency --from-snapshot: ${backends[*]}"
