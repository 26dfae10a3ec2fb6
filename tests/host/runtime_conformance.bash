# Helpers for the OCI conformance tests (tests/host/runtime_conf_*.sh; sourced, not run).
# Each test builds a bundle that asks for one thing, runs tests/tools/ct_probe inside it under
# minict and, where runc is installed, under runc, and checks the probe's output against what
# the runtime spec says. A check that fails under minict fails the test; a check that fails
# under runc fails it too, unless the test declared that runc breaks the spec there
# (runc_deviates), in which case it is reported and minict alone is held to the spec.
#
#   conf_init NAME          temp dir $T, state roots, a busybox rootfs with the probe, traps
#   conf_bundle DIR         DIR/config.json from `minict spec` + DIR/rootfs (with /bin/ct_probe),
#                           linux.cgroupsPath relative (under the caller's own cgroup)
#   cfg DIR PYTHON          edit DIR/config.json (c is the config)
#   rt RUNTIME ARGS...      run `minict|runc --root <its state root> ARGS...`
#   conf_run RUNTIME DIR ID [ARGS...]  `run --bundle DIR ID`; stdout in $OUT, stderr in $ERR,
#                           exit status in $RC; ARGS replace process.args (ct_probe ...)
#   want RUNTIME WHAT REGEX  check that a line of $OUT matches REGEX (grep -E)
#   want_not RUNTIME WHAT REGEX
#   check RUNTIME WHAT COND  check that the shell condition COND holds
#   runc_deviates WHAT WHY  WHAT (a check's name) is where runc breaks the spec
#   agree WHAT BASE KEY...  the probe lines starting with each KEY are the same in the outputs
#                           of containers BASE-minict and BASE-runc
#   conf_done               prints the summary, exits 0 or 1
source "$(dirname "${BASH_SOURCE[0]}")/runtime_lib.bash"
command -v python3 >/dev/null || skip "no python3"

RUNC=${RUNC-$(command -v runc 2>/dev/null || true)}
RUNTIMES="minict"
if [ -n "$RUNC" ] && [ -x "$RUNC" ] && [ -z "${CONF_NO_RUNC:-}" ]; then
	RUNTIMES="minict runc"
fi

# the probe: the sanitized build's tools (run-tests.sh exports TOOLS), the plain build's, or
# built here with gcc
find_probe() {
	local d
	for d in "${TOOLS:-}" "$ROOT/build/san/tests/tools" "$ROOT/build/tests/tools"; do
		if [ -n "$d" ] && [ -x "$d/ct_probe" ] &&
			! grep -q __asan_init "$d/ct_probe" 2>/dev/null; then
			echo "$d/ct_probe"
			return 0
		fi
	done
	command -v gcc >/dev/null || return 1
	gcc -std=gnu11 -O2 -static -o "$T/ct_probe" "$ROOT/tests/tools/ct_probe.c" 2>"$T/gcc.log" || return 1
	echo "$T/ct_probe"
}

FAILS=()
RUNC_KNOWN=()
declare -A DEVIATES=()

conf_cleanup() {
	local rt d
	for rt in $RUNTIMES; do
		for d in "$T/state-$rt"/*/; do
			[ -d "$d" ] && rt "$rt" delete -f "$(basename "$d")" >/dev/null 2>&1
		done
	done
	[ -n "${CONF_EXTRA_CLEANUP:-}" ] && eval "$CONF_EXTRA_CLEANUP"
	rm -rf "$T"
}

conf_init() {
	T=$(mktemp -d "/tmp/minict-conf-$1.XXXXXX")
	chmod 755 "$T"
	trap conf_cleanup EXIT
	PROBE=$(find_probe) || skip "no ct_probe (make test-bins) and no gcc to build it"
	mk_rootfs "$T/base"
	cp "$PROBE" "$T/base/bin/ct_probe"
	echo "runtimes: $RUNTIMES; probe: $PROBE"
}

conf_bundle() {
	local d=$1
	mkdir -p "$d"
	cp -a "$T/base" "$d/rootfs"
	(cd "$d" && "$MINICT" spec) || die "minict spec failed"
	cfg "$d" "c['linux']['cgroupsPath'] = '${P}conf-' + '$(basename "$d")'"
}

cfg() { edit_config "$@"; }

rt() {
	local r=$1
	shift
	case $r in
	minict) "$MINICT" --root "$T/state-minict" "$@" ;;
	runc) "$RUNC" --root "$T/state-runc" "$@" ;;
	*) die "unknown runtime $r" ;;
	esac
}

# conf_run RUNTIME BUNDLE ID [ARGS...]
conf_run() {
	local r=$1 b=$2 id=$3
	shift 3
	if [ $# -gt 0 ]; then
		set_args "$b" "$@"
	fi
	OUT=$T/out.$r.$id
	ERR=$T/err.$r.$id
	# a runtime that hangs must not hang the test: give up after CONF_TIMEOUT seconds (the
	# EXIT trap deletes what is left)
	local bin=$MINICT
	[ "$r" = runc ] && bin=$RUNC
	timeout -k 5 "${CONF_TIMEOUT:-30}" "$bin" --root "$T/state-$r" run --bundle "$b" "$id" \
		>"$OUT" 2>"$ERR" </dev/null
	RC=$?
	[ "$RC" = 124 ] && echo "timeout: $r run $id did not finish in ${CONF_TIMEOUT:-30} s" >>"$ERR"
	return 0
}

runc_deviates() {
	DEVIATES[$1]=$2
}

# record one result: RUNTIME WHAT OK(0/1) DETAIL
result() {
	local r=$1 what=$2 ok=$3 detail=$4
	if [ "$ok" = 0 ]; then
		if [ "$r" = runc ] && [ -n "${DEVIATES[$what]:-}" ]; then
			echo "note: runc agrees with the spec on '$what' after all (declared deviation: ${DEVIATES[$what]})"
		else
			echo "ok   $r: $what"
		fi
		return 0
	fi
	if [ "$r" = runc ] && [ -n "${DEVIATES[$what]:-}" ]; then
		echo "runc deviates from the spec: $what (${DEVIATES[$what]}): $detail"
		RUNC_KNOWN+=("$what")
		return 0
	fi
	echo "FAIL $r: $what: $detail"
	FAILS+=("$r: $what")
	return 1
}

outdump() {
	printf 'exit %s; stdout: %s; stderr: %s' "$RC" "$(tail -c 600 "$OUT" | tr '\n' '|')" \
		"$(tail -c 400 "$ERR" | tr '\n' '|')"
}

want() {
	local r=$1 what=$2 re=$3
	if grep -qE -- "$re" "$OUT"; then
		result "$r" "$what" 0 ""
	else
		result "$r" "$what" 1 "no line matches /$re/ ($(outdump))"
	fi
}

want_not() {
	local r=$1 what=$2 re=$3
	if grep -qE -- "$re" "$OUT"; then
		result "$r" "$what" 1 "a line matches /$re/: $(grep -E -- "$re" "$OUT" | head -n 3 | tr '\n' '|')"
	else
		result "$r" "$what" 0 ""
	fi
}

check() {
	local r=$1 what=$2 cond=$3
	if eval "$cond"; then
		result "$r" "$what" 0 ""
	else
		result "$r" "$what" 1 "[ $cond ] is false ($(outdump))"
	fi
}

# agree WHAT BASE KEY...: the lines that start with KEY are the same in the outputs of the
# containers BASE-minict and BASE-runc
agree() {
	local what=$1 base=$2 k
	shift 2
	[[ " $RUNTIMES " == *" runc "* ]] || return 0
	[ -n "${DEVIATES[$what]:-}" ] && return 0
	for k in "$@"; do
		local a b
		a=$(grep -E "^$k( |$)" "$T/out.minict.$base-minict" 2>/dev/null)
		b=$(grep -E "^$k( |$)" "$T/out.runc.$base-runc" 2>/dev/null)
		if [ "$a" != "$b" ]; then
			echo "FAIL minict and runc disagree on $what ($k): minict '$a' runc '$b'"
			FAILS+=("agree: $what ($k)")
		fi
	done
}

# the value of a field of `RUNTIME state ID` (status, pid, bundle, ...), or "" if state fails
state_field() {
	rt "$1" state "$2" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin).get(sys.argv[1], ""))' "$3" 2>/dev/null
}

# wait (at most ~10 s) for a container to reach STATUS
wait_status() {
	local r=$1 id=$2 want=$3 i
	for i in $(seq 100); do
		[ "$(state_field "$r" "$id" status)" = "$want" ] && return 0
		sleep 0.1
	done
	return 1
}

conf_done() {
	echo
	[ ${#RUNC_KNOWN[@]} -gt 0 ] && echo "runc breaks the spec in: ${RUNC_KNOWN[*]}"
	if [ ${#FAILS[@]} -gt 0 ]; then
		echo "FAILED ${#FAILS[@]} check(s):"
		printf '  %s\n' "${FAILS[@]}"
		exit 1
	fi
	echo "all checks passed ($RUNTIMES)"
	exit 0
}
