# Helpers for the minibench tests (sourced, not run): tests/lib.sh and
#   MB                the binary under test ($BIN/minibench, else build/bin's); the test is
#                     skipped without it, without root or without minict beside it
#   TMP               a scratch directory, removed at exit
#   one_line_error WHAT NEEDLE CMD...  CMD fails with one line of output containing NEEDLE
#   expect_table TEXT HEADER BACKEND...  minibench's TEXT has the table's HEADER and a row per
#                     BACKEND at 1 and 2 guests
. "$ROOT/tests/lib.sh"
MB=$BIN/minibench
[ -x "$MB" ] || MB=$ROOT/build/bin/minibench
[ -x "$MB" ] || skip "no minibench binary (run make)"
[ "$(id -u)" -eq 0 ] || skip "needs root"
[ -x "$(dirname "$MB")/minict" ] || skip "no minict next to minibench (run make)"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

one_line_error() { # WHAT NEEDLE CMD...
	local what=$1 needle=$2 o r
	shift 2
	run_capture o r "$@"
	[ "$r" -ne 0 ] || fail "$what: exit status 0"
	expect_contains "$what" "$o" "$needle"
	[ "$(wc -l <<<"$o")" -eq 1 ] || fail "$what: more than one line: $o"
}

expect_table() { # TEXT HEADER BACKEND...
	local text=$1 b g
	expect_contains "table header" "$text" "$2"
	shift 2
	for b in "$@"; do
		for g in 1 2; do
			grep -Eq "^$b +$g +[0-9]" <<<"$text" || fail "no table row for $b, $g guests: $text"
		done
	done
}
