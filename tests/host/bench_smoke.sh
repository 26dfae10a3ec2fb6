#!/usr/bin/env bash
# The benchmarks still run and print their summaries (2 runs each, nothing recorded into
# docs/results.md), and bench/record.py keeps one section per benchmark in the page it writes.
. "$ROOT/tests/lib.sh"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
export RECORD=0

run_capture out rc "$ROOT/bench/ct-lifecycle.sh" 2 2
expect_eq "ct-lifecycle ($out)" "$rc" 0
expect_contains "ct-lifecycle summary" "$out" "minict/runc median ratio"
run_capture out rc env RUNS=2 "$ROOT/bench/boot-host.sh"
expect_eq "boot-host ($out)" "$rc" 0
expect_contains "boot-host summary" "$out" "exit ratio vs qemu microvm"
expect_contains "boot-host RSS" "$out" "minivm itself"

# record.py: sections are replaced, not appended; others stay; bad input is refused
page=$TMP/results.md
rec() { RECORD=1 RESULTS=$page "$ROOT/bench/record.py" "$@"; }
echo "first b" | rec bench-b "B" "cmd-b" "here" 2>/dev/null || fail "record b"
echo "first a" | rec bench-a "A" "cmd-a" "there" 2>/dev/null || fail "record a"
echo "second b" | rec bench-b "B" "cmd-b" "here" 2>/dev/null || fail "record b again"
expect_eq "sections, in order" "$(grep '^## ' "$page" | tr '\n' ' ')" "## A ## B "
expect_contains "a kept" "$(cat "$page")" "first a"
expect_contains "b replaced" "$(cat "$page")" "second b"
grep -q "first b" "$page" && fail "the old section b is still there"
expect_contains "rerun command" "$(cat "$page")" 'Rerun: `cmd-b` (here)'
run_capture out rc rec "Bad Id" "T" "c" "w" <<<"x"
expect_eq "bad id refused" "$rc" 1
expect_contains "bad id message" "$out" "bad section id"
run_capture out rc rec empty "T" "c" "w" </dev/null
expect_eq "empty summary refused" "$rc" 1
expect_contains "empty summary message" "$out" "empty summary"
[ "$(grep -c '^## ' "$page")" -eq 2 ] || fail "a refused record changed the page"
echo "benchmarks ok"
