#!/usr/bin/env bash
# Every libFuzzer target (build/fuzz/*, from tests/fuzz/): replay its corpus (build/fuzz-corpus/,
# grown by earlier runs) and its seeds (tests/fuzz/seeds/), then fuzz it for a short while; a
# crash, leak, timeout or sanitizer report fails the test. FUZZ_SECONDS is each target's time,
# the replay included (libFuzzer always finishes the replay first); default 3, which keeps the
# whole test near a minute. Longer runs: FUZZ_SECONDS=600 (README.md).
. "$ROOT/tests/lib.sh"
secs=${FUZZ_SECONDS:-3}
[[ $secs =~ ^[1-9][0-9]*$ ]] || fail "FUZZ_SECONDS: a whole number of seconds > 0, not '$secs'"
cd "$ROOT" && make -s -j"$(nproc)" fuzz >/dev/null 2>&1 || fail "make fuzz failed (run it for the errors)"
n=0
for t in build/fuzz/*; do
	[ -f "$t" ] && [ -x "$t" ] || continue # build/fuzz/obj: the objects
	n=$((n + 1))
	name=$(basename "$t")
	corpus=build/fuzz-corpus/$name
	mkdir -p "$corpus"
	seeds=()
	[ -d "tests/fuzz/seeds/$name" ] && seeds=("tests/fuzz/seeds/$name")
	"$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=0 \
		"$corpus" "${seeds[@]}" >"build/fuzz-$name.log" 2>&1 ||
		{ tail -n 30 "build/fuzz-$name.log"; fail "fuzz target $name failed"; }
	grep -q 'INITED' "build/fuzz-$name.log" || fail "fuzz target $name: no replay of its corpus"
	echo "$name: replayed $(grep -Eo 'INITED cov: [0-9]+' "build/fuzz-$name.log" | tail -n 1)," \
		"$(grep -E '^Done [0-9]+ runs' "build/fuzz-$name.log" | tail -n 1)"
done
[ "$n" -gt 0 ] || skip "no fuzz targets"
