#!/usr/bin/env bash
# Run every libFuzzer target (build/fuzz/*, from tests/fuzz/) for a short while: a crash, leak
# or sanitizer report fails the test. FUZZ_SECONDS sets the time per target (default 8).
. "$ROOT/tests/lib.sh"
cd "$ROOT" && make -s fuzz >/dev/null || fail "make fuzz failed"
shopt -s nullglob
targets=(build/fuzz/*)
[ ${#targets[@]} -gt 0 ] || skip "no fuzz targets"
for t in "${targets[@]}"; do
	name=$(basename "$t")
	corpus=build/fuzz-corpus/$name
	mkdir -p "$corpus"
	seeds=()
	[ -d "tests/fuzz/seeds/$name" ] && seeds=("tests/fuzz/seeds/$name")
	"$t" -max_total_time="${FUZZ_SECONDS:-8}" -timeout=10 -rss_limit_mb=2048 -print_final_stats=0 \
		"$corpus" "${seeds[@]}" >"build/fuzz-$name.log" 2>&1 ||
		{ tail -n 30 "build/fuzz-$name.log"; fail "fuzz target $name failed"; }
	echo "$name: $(grep -E '^Done [0-9]+ runs' "build/fuzz-$name.log" | tail -n 1)"
done
